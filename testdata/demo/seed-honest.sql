-- make demo's second signal: the golden "wf_demo" model, trained walk-forward
-- by the trainer's own fold rules on six of the demo's per-bar inputs
-- (btc_f00..btc_f05, loaded by seed.sql), with its out-of-fold predictions in
-- the artifact. It shows a look-ahead replay refused and the same window
-- written point in time. psql variable: wf_sha (the artifact sha).
\set ON_ERROR_STOP on

INSERT INTO model_registry (id, family, purpose, symbol, interval, horizon_bars, feature_set, random_seed,
                            artifact_uri, artifact_sha256, status, version)
VALUES ('44444444-4444-4444-4444-444444444444', 'lightgbm', 'regime', 'BTCUSDT', '1h', 4,
        '{"names": [], "derived": [], "label_feature": "label_up_4h", "label_version": 1}', 7,
        'file:///trainer/artifacts/not/read/by/the/service.pkl', :'wf_sha', 'live', 1);

INSERT INTO signal_definition (signal_id, name, model_id, horizon, status, description)
VALUES ('55555555-5555-5555-5555-555555555555', 'btc_regime_wf_1h', '44444444-4444-4444-4444-444444444444',
        INTERVAL '4 hours', 'active', 'demo signal: a walk-forward regime model with out-of-fold history');

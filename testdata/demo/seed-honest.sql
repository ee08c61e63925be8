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

-- The demo's label, label_up_4h v1 (both demo models name it), so that
-- /monitoring/performance has matured labels to join: synthetic, a function of
-- the bar's own demo inputs (btc_f00..btc_f04, the formula seed.sql writes) plus
-- a deterministic noise, the rule the wf_demo model was trained on. The newest
-- 5 bars have none yet, as a label that reads 4 bars ahead would not.
-- psql variable: last (the newest bar, as for seed.sql).
SET TIME ZONE 'UTC';
INSERT INTO feature_registry (feature_name, version, family, transformer_ref, inputs, symbols, intervals, pit_safe, ffill_policy, max_ffill_age_hours, label_direction)
VALUES ('label_up_4h', 1, 'label', 'demo.label', '{}', ARRAY['BTCUSDT'], ARRAY['1h'], false, NULL, NULL, 'forward');

INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
SELECT 'label_up_4h', 1, 'BTCUSDT', '1h', ts,
       CASE WHEN x[1] + 0.5 * x[2] - 0.4 * x[3] + x[4] * x[5] + 0.6 * (2 * ((abs(sin(h * 12.9898) * 43758.5453))::numeric % 1) - 1) > 0 THEN 1 ELSE 0 END,
       '33333333-3333-3333-3333-333333333333'
FROM generate_series(:'last'::timestamptz - INTERVAL '2 years' + INTERVAL '1 hour', :'last'::timestamptz - INTERVAL '5 hours', INTERVAL '1 hour') AS ts,
     LATERAL (SELECT extract(epoch FROM ts) / 3600 AS h) AS hh,
     LATERAL (SELECT array_agg(round(sin(h * (k + 1) * 0.0137 + k)::numeric, 6)::float8 ORDER BY k) AS x
              FROM generate_series(0, 4) AS k) AS xs;
ANALYZE feature_values;

-- Demo and benchmark data: one signal on the golden "demo" model and two
-- years of hourly BTCUSDT features (39 per-bar inputs) plus one global daily
-- macro input that is forward-filled (cap 48 h). Values are deterministic
-- functions of time, rounded to 6 decimal places.
-- psql variables: sha (the artifact sha), gap (1 = leave a 5-hour hole in btc_f07),
-- last (optional: the newest bar, default 2026-11-30 23:00 UTC; make demo passes
-- the current hour, so its data ends now whenever it runs), hole (optional: where
-- the 5-hour hole starts, default 182 days 13 hours before last, 2026-06-01
-- 10:00 for the default last). The data covers the two years up to last.
\set ON_ERROR_STOP on
SET TIME ZONE 'UTC';
\if :{?last}
\else
\set last '2026-11-30 23:00:00+00'
\endif
\if :{?hole}
\else
SELECT :'last'::timestamptz - INTERVAL '182 days 13 hours' AS hole \gset
\endif

INSERT INTO model_registry (id, family, purpose, symbol, interval, horizon_bars, feature_set, random_seed,
                            artifact_uri, artifact_sha256, status, version)
VALUES ('11111111-1111-1111-1111-111111111111', 'lightgbm', 'directional', 'BTCUSDT', '1h', 4,
        '{"names": [], "derived": [], "label_feature": "label_up_4h", "label_version": 1}', 7,
        'file:///trainer/artifacts/not/read/by/the/service.pkl', :'sha', 'live', 1);

INSERT INTO signal_definition (signal_id, name, model_id, horizon, status, description)
VALUES ('22222222-2222-2222-2222-222222222222', 'btc_direction_1h', '11111111-1111-1111-1111-111111111111',
        INTERVAL '4 hours', 'active', 'demo signal: P(up over 4h) from the golden demo model');

INSERT INTO feature_registry (feature_name, version, family, transformer_ref, inputs, symbols, intervals, pit_safe, ffill_policy, max_ffill_age_hours)
SELECT format('btc_f%s', lpad(k::text, 2, '0')), 1, 'momentum', 'demo.sin', '{}', ARRAY['BTCUSDT'], ARRAY['1h'], true, NULL, NULL
FROM generate_series(0, 38) AS k;
INSERT INTO feature_registry (feature_name, version, family, transformer_ref, inputs, symbols, intervals, pit_safe, ffill_policy, max_ffill_age_hours)
VALUES ('macro_dxy_1d', 1, 'macro', 'demo.cos', '{}', NULL, NULL, true, 'last_value', 48);

INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
SELECT format('btc_f%s', lpad(k::text, 2, '0')), 1, 'BTCUSDT', '1h', ts,
       round(sin(extract(epoch FROM ts) / 3600 * (k + 1) * 0.0137 + k)::numeric, 6),
       '33333333-3333-3333-3333-333333333333'
FROM generate_series(0, 38) AS k,
     generate_series(:'last'::timestamptz - INTERVAL '2 years' + INTERVAL '1 hour', :'last'::timestamptz, INTERVAL '1 hour') AS ts;

INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
SELECT 'macro_dxy_1d', 1, '', '', ts, round(cos(extract(epoch FROM ts) / 86400 * 0.1)::numeric, 6),
       '33333333-3333-3333-3333-333333333333'
FROM generate_series(date_trunc('day', :'last'::timestamptz - INTERVAL '2 years' + INTERVAL '1 hour'),
                     date_trunc('day', :'last'::timestamptz), INTERVAL '1 day') AS ts;

DELETE FROM feature_values
WHERE :gap = 1 AND feature_name = 'btc_f07' AND ts >= :'hole'::timestamptz AND ts < :'hole'::timestamptz + INTERVAL '5 hours';

ANALYZE feature_values;

#!/usr/bin/env bash
# make demo: a local PostgreSQL with the production-shaped schema, the golden
# demo models and two years of hourly BTCUSDT features ending at the current
# hour; the service on 127.0.0.1:8000; calls to every endpoint; a look-ahead
# replay refused and the same window written point in time; the rows it wrote.
# DEMO_KEEP=1 keeps serving (and PostgreSQL running) until Ctrl-C.
# DEMO_STORE=s3 serves the artifact from an S3-compatible store (moto, on
# loopback) instead of the directory, cached in build/demo-cache.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PORT=${DEMO_PG_PORT:-55432}
PG_DIR=build/demo-pg
BIN=bin/blackheart-inference
TOKEN=${INFERENCE_AUTH_TOKEN:-dev-token}
API=http://127.0.0.1:${INFERENCE_PORT:-8000}
SHA=$(.venv/bin/python -c 'import json; print(json.load(open("testdata/golden/cases/demo.json"))["sha"])')
WF_SHA=$(.venv/bin/python -c 'import json; print(json.load(open("testdata/golden/cases/wf_demo.json"))["sha"])')
# The data ends at the current hour, whenever the demo runs.
LAST=$(date -u +%Y-%m-%dT%H:00:00Z)
START=$(date -u -d "$LAST - 2 years + 1 hour" +%Y-%m-%dT%H:00:00Z)
SIGNAL=22222222-2222-2222-2222-222222222222
WF_SIGNAL=55555555-5555-5555-5555-555555555555
PSQL=(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres)
S3_PORT=${DEMO_S3_PORT:-55433}
svc=""
s3=""

cleanup() {
  if [ -n "$svc" ] && kill -TERM "$svc" 2>/dev/null; then wait "$svc" 2>/dev/null || true; fi
  if [ -n "$s3" ] && kill "$s3" 2>/dev/null; then wait "$s3" 2>/dev/null || true; fi
  scripts/pgcluster.sh stop "$PG_DIR" "$PG_PORT"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
call() { # call METHOD PATH [BODY]
  # shellcheck disable=SC2016 # the single quotes are printed, around the body
  echo "\$ curl -X $1 $API$2 ${3:+-d '$3'}"
  curl -sS -X "$1" "$API$2" -H "X-Inference-Token: $TOKEN" -H "X-Agent-Name: demo" \
       -H 'Content-Type: application/json' ${3:+-d "$3"} -w '\n[HTTP %{http_code}, %{time_total}s]\n' \
    | sed -e '$!s/^/  /'
}

step "PostgreSQL on 127.0.0.1:$PG_PORT (data in $PG_DIR)"
scripts/pgcluster.sh stop "$PG_DIR" "$PG_PORT"
rm -rf "$PG_DIR"
scripts/pgcluster.sh start "$PG_DIR" "$PG_PORT"
"${PSQL[@]}" -d postgres -c 'CREATE DATABASE blackheart'
"${PSQL[@]}" -d blackheart -f storage/schema/schema.sql
start=$(date +%s.%N)
# signal_history has monthly partitions and no DEFAULT one (CONTRACT §6):
# make sure the ones the demo's window needs exist, whatever the date.
"${PSQL[@]}" -d blackheart -v first="$START" -v last="$LAST" <<'SQL'
SET TIME ZONE 'UTC';
SELECT format('CREATE TABLE signal_history_%s PARTITION OF signal_history FOR VALUES FROM (%L) TO (%L)',
              to_char(m, 'YYYY_MM'), m, m + INTERVAL '1 month')
FROM generate_series(date_trunc('month', :'first'::timestamptz), date_trunc('month', :'last'::timestamptz), INTERVAL '1 month') AS m
WHERE to_regclass('signal_history_' || to_char(m, 'YYYY_MM')) IS NULL
\gexec
SQL
HOLE=$(date -u -d "$LAST - 30 days - 12 hours" +%Y-%m-%dT%H:00:00Z)
"${PSQL[@]}" -d blackheart -v sha="$SHA" -v gap=1 -v last="$LAST" -v hole="$HOLE" -f testdata/demo/seed.sql
"${PSQL[@]}" -d blackheart -v wf_sha="$WF_SHA" -v last="$LAST" -f testdata/demo/seed-honest.sql
printf 'schema + demo data loaded in %.1fs: ' "$(echo "$(date +%s.%N) - $start" | bc)"
"${PSQL[@]}" -d blackheart -At -c "SELECT count(*) || ' feature values, ' || count(DISTINCT feature_name) || ' features' FROM feature_values"

export INFERENCE_ARTIFACT_DIR=testdata/golden/artifacts
if [ "${DEMO_STORE:-}" = s3 ]; then
  step "S3-compatible store on 127.0.0.1:$S3_PORT (moto), bucket demo, artifact uploaded"
  .venv-s3/bin/python -m moto.server -H 127.0.0.1 -p "$S3_PORT" > build/demo-s3.log 2>&1 &
  s3=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$S3_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sSf -X PUT "http://127.0.0.1:$S3_PORT/demo" -o /dev/null
  curl -sSf -X PUT "http://127.0.0.1:$S3_PORT/demo/artifacts/${SHA:0:2}/$SHA.pkl" -H 'Content-Type: application/octet-stream' \
       --data-binary @"testdata/golden/artifacts/${SHA:0:2}/$SHA.pkl" -o /dev/null
  echo "s3://demo/artifacts/${SHA:0:2}/$SHA.pkl uploaded"
  rm -rf build/demo-cache && mkdir -p build/demo-cache
  export INFERENCE_ARTIFACT_DIR=build/demo-cache
  export INFERENCE_ARTIFACT_STORE="s3://demo/artifacts?region=us-east-1&endpoint=http://127.0.0.1:$S3_PORT"
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-demo} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-demo-secret}
fi

DSN="postgres://postgres@127.0.0.1:$PG_PORT/blackheart?sslmode=disable&options=-c%20role%3Dblackheart_research"
step "blackheart-inference serve on $API (artifact $SHA from ${INFERENCE_ARTIFACT_STORE:-$INFERENCE_ARTIFACT_DIR})"
INFERENCE_DB_DSN="$DSN" INFERENCE_AUTH_TOKEN="$TOKEN" \
  "$BIN" serve > build/demo-service.log 2>&1 &
svc=$!
for _ in $(seq 1 100); do
  curl -sf "$API/healthz" >/dev/null 2>&1 && break
  kill -0 "$svc" 2>/dev/null || { cat build/demo-service.log; exit 1; }
  sleep 0.1
done

# /readyz says 503 "loading" until the working set is loaded: wait for it.
for _ in $(seq 1 300); do
  curl -sf "$API/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

step "health and readiness"
call GET /healthz
call GET /readyz

RUN_BODY='{"signal_id":"'$SIGNAL'","symbol":"BTCUSDT","ts":"'"$LAST"'","interval_name":"1h","source":"stream"}'
step "one bar: the newest hour ($LAST)"
call POST /inference/run "$RUN_BODY"

step "why that value: the same bar explained (LightGBM's own TreeSHAP; nothing written), the five largest shown"
echo "\$ curl -X POST $API/inference/explain -d '{... the same body ...}'"
curl -sS -X POST "$API/inference/explain" -H "X-Inference-Token: $TOKEN" -H "X-Agent-Name: demo" -H 'Content-Type: application/json' \
     -d "$RUN_BODY" \
  | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("  value %r (written: %s)" % (r["value"], json.dumps(r["written"])))
for e in r["explanations"]:
    print("  %s: bias %.6f + contributions = raw_score %.6f (additivity error %.1e, tolerance %.0e)" % (
        e["space"], e["bias"], e["raw_score"], e["additivity_error"], e["tolerance"]))
    for c in e["contributions"][:5]:
        print("    %-14s value %-22r contribution %+.6f" % (c["feature"], c["value"], c["contribution"]))
    print("    ... %d more" % (len(e["contributions"]) - 5))
'

step "every bar the demo model is honest for, up to now (btc_f07 has a 5-hour hole from $HOLE)"
echo "  (its artifact records the spec window 2024-12-01 → 2026-05-31 23:00:00.0005 and no walk-forward folds:"
echo "   honest_from is the window's end plus the trainer's 7-day embargo, so its first honest bar is 2026-06-08T00:00)"
call POST /inference/backfill '{"signal_id":"'$SIGNAL'","symbol":"BTCUSDT","interval_name":"1h","start":"2026-06-08T00:00:00Z","end":"'"$(date -u -d "$LAST + 1 hour" +%Y-%m-%dT%H:00:00Z)"'","source":"historical_replay"}'

step "point-in-time honesty: the walk-forward model's timeline (blackheart-inference vintage)"
"$BIN" vintage --dir testdata/golden/artifacts --sha "$WF_SHA" --window 2025-12-01T00:00:00Z 2026-04-13T00:00:00Z | sed 's/^/  /'

step "a look-ahead replay, exactly as the orchestrator sends it: refused, nothing written"
WF_BODY='{"signal_id":"'$WF_SIGNAL'","symbol":"BTCUSDT","interval_name":"1h","start":"2025-12-01T00:00:00Z","end":"2026-04-13T00:00:00Z","source":"historical_replay"'
call POST /inference/backfill "$WF_BODY}"
"${PSQL[@]}" -d blackheart -At -c "SELECT count(*) || ' rows of btc_regime_wf_1h in signal_history' FROM signal_history WHERE signal_id = '$WF_SIGNAL'" | sed 's/^/  /'

step "the same window point in time: the trainer's out-of-fold values before honest_from, the served model's from it"
call POST /inference/backfill "$WF_BODY,\"mode\":\"point_in_time\"}"
"${PSQL[@]}" -d blackheart -c "SELECT meta->>'vintage' AS vintage, meta->'oof_fold'->>'fold' AS fold, count(*) AS rows, min(ts) AS first_ts, max(ts) AS last_ts
  FROM signal_history WHERE signal_id = '$WF_SIGNAL' GROUP BY 1, 2 ORDER BY min(ts)"

step "the feature service's bar-close webhook (exactly what it sends: no agent header)"
echo "\$ curl -X POST $API/inference/batch-predict -d '{\"compute_run_id\": \"bar_event\"}'"
curl -sS -X POST "$API/inference/batch-predict" -H "X-Inference-Token: $TOKEN" -H 'Content-Type: application/json' \
     -d '{"compute_run_id": "bar_event"}' -w '\n[HTTP %{http_code}, %{time_total}s]\n' | sed -e '$!s/^/  /'
call GET /streaming/status

step "drift: the sidecar's feature form (last 7 days against the 90 before), then the demo signal as its model sees it"
call GET "/monitoring/drift?features=btc_f00,btc_f01,btc_f07:1&symbol=BTCUSDT&interval=1h&live_days=7&baseline_days=90"
echo "\$ blackheart-inference drift --signal 22222222-2222-2222-2222-222222222222 --live-days 7"
INFERENCE_DB_DSN="$DSN" "$BIN" drift --signal 22222222-2222-2222-2222-222222222222 --live-days 7 > build/demo-drift.txt
head -n 16 build/demo-drift.txt | sed 's/^/  /'
echo "  … ($(wc -l < build/demo-drift.txt) lines in build/demo-drift.txt)"

step "refusals are envelopes with an error_code"
call POST /inference/run '{"signal_id":"'$SIGNAL'","symbol":"BTCUSDT","ts":"'"$(date -u -d "$HOLE + 2 hours" +%Y-%m-%dT%H:00:00Z)"'","interval_name":"1h"}'
call POST /inference/run '{"signal_id":"'$SIGNAL'","symbol":"ETHUSDT","ts":"'"$LAST"'","interval_name":"1h"}'
call POST /inference/run '{"signal_id":"'$SIGNAL'","symbol":"BTCUSDT","ts":"2026-01-01T00:00:00Z","interval_name":"1h","source":"historical_replay"}'

step "realized performance: the walk-forward signal's last 90 days against its matured labels, beside its own out-of-fold history"
NINETY=$(date -u -d "$LAST - 90 days" +%Y-%m-%dT%H:00:00Z)
call POST /inference/backfill '{"signal_id":"'$WF_SIGNAL'","symbol":"BTCUSDT","interval_name":"1h","start":"'"$NINETY"'","end":"'"$(date -u -d "$LAST + 1 hour" +%Y-%m-%dT%H:00:00Z)"'","source":"historical_replay"}'
echo "\$ blackheart-inference performance --signal $WF_SIGNAL   (GET /monitoring/performance as a table)"
INFERENCE_DB_DSN="$DSN" INFERENCE_ARTIFACT_DIR="$INFERENCE_ARTIFACT_DIR" "$BIN" performance --signal "$WF_SIGNAL" | sed 's/^/  /'
echo "\$ curl -X GET $API/monitoring/performance?signal_id=$SIGNAL   (the demo model: no out-of-fold history, trained on other data)"
curl -sS "$API/monitoring/performance?signal_id=$SIGNAL" -H "X-Inference-Token: $TOKEN" -w '\n' \
  | python3 -c 'import json, sys; r = json.load(sys.stdin); print("  verdict %s: %s; rows %s; reference %s" % (r["verdict"], r["reason"], r["rows"], r["reference"]["source"]))'

step "a replay that means it (\"lookahead\": \"allow\"): written, every row marked in meta.vintage"
call POST /inference/backfill '{"signal_id":"'$SIGNAL'","symbol":"BTCUSDT","interval_name":"1h","start":"2026-05-01T00:00:00Z","end":"2026-05-08T00:00:00Z","source":"historical_replay","lookahead":"allow"}'

step "the audit of what signal_history holds for the demo signal (blackheart-inference vintage --signal; reads only)"
INFERENCE_DB_DSN="$DSN" INFERENCE_ARTIFACT_DIR="$INFERENCE_ARTIFACT_DIR" "$BIN" vintage --signal "$SIGNAL" | sed '$d' | sed 's/^/  /'

step "signal_history"
"${PSQL[@]}" -d blackheart -c "SELECT source, count(*) AS rows, min(ts) AS first_ts, max(ts) AS last_ts FROM signal_history GROUP BY source"
"${PSQL[@]}" -d blackheart -c "SELECT ts, round(value::numeric, 6) AS value, source, created_by, updated_by, meta->>'spec_name' AS spec, meta->>'vintage' AS vintage, meta->>'compute_run_id' AS compute_run_id FROM signal_history ORDER BY ts DESC, spec LIMIT 6"

step "metrics (GET /metrics, a few of the series; alert rules in deploy/prometheus/alerts.yml)"
curl -s "$API/metrics" | grep -E '^blackheart_inference_(requests_total\{[^}]*route="/inference/(run|backfill)"|signal_rows_written_total|signal_rows_vintage_total|lookahead_refusals_total|backfill_rows_total|model_cache_(hits|misses)_total|predicted_rows_total|build_info|ready|db_pool_(acquired|max)_connections|evaluator_mismatches_total)' | head -n 26

if [ "${DEMO_STORE:-}" = s3 ]; then
  step "the artifact cache (filled by one verified download)"
  find build/demo-cache -type f
fi

step "service log (last 3 lines)"
tail -n 3 build/demo-service.log

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  step "serving on $API until Ctrl-C (PostgreSQL on 127.0.0.1:$PG_PORT, database blackheart)"
  wait "$svc"
fi

#!/usr/bin/env bash
# make api-fuzz (inside make test): Schemathesis generates requests from the
# OpenAPI document the live service serves at /openapi.json and runs every
# check against the service on loopback, backed by a throwaway PostgreSQL with
# the production schema and the demo data (a real signal, two years of
# features). Bounded and deterministic: API_FUZZ_EXAMPLES per operation
# (default 50), a fixed seed. Any failure fails the step.
# Usage: scripts/api-fuzz.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:?usage: api-fuzz.sh BINARY}
PG_PORT=${API_FUZZ_PG_PORT:-55442}
PORT=${API_FUZZ_PORT:-58123}
PG_DIR=build/api-fuzz-pg-$PG_PORT
LOG=build/api-fuzz-service.log
TOKEN=api-fuzz-token-0123456789abcdef0123456789
API=http://127.0.0.1:$PORT
SHA=$(.venv/bin/python -c 'import json; print(json.load(open("testdata/golden/cases/demo.json"))["sha"])')
PSQL=(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres)
svc=""

cleanup() {
  if [ -n "$svc" ] && kill -TERM "$svc" 2>/dev/null; then wait "$svc" 2>/dev/null || true; fi
  scripts/pgcluster.sh stop "$PG_DIR" "$PG_PORT"
}
trap cleanup EXIT

mkdir -p build
scripts/pgcluster.sh stop "$PG_DIR" "$PG_PORT"
rm -rf "$PG_DIR"
scripts/pgcluster.sh start "$PG_DIR" "$PG_PORT"
"${PSQL[@]}" -d postgres -c 'CREATE DATABASE blackheart'
"${PSQL[@]}" -d blackheart -f storage/schema/schema.sql
"${PSQL[@]}" -d blackheart -v sha="$SHA" -v gap=1 -f testdata/demo/seed.sql

INFERENCE_DB_DSN="postgres://postgres@127.0.0.1:$PG_PORT/blackheart?sslmode=disable&options=-c%20role%3Dblackheart_research" \
INFERENCE_AUTH_TOKEN="$TOKEN" INFERENCE_PORT="$PORT" INFERENCE_ARTIFACT_DIR=testdata/golden/artifacts \
INFERENCE_STREAMING_ENABLED=true INFERENCE_LOG_LEVEL=warn \
  "$BIN" serve > "$LOG" 2>&1 &
svc=$!
for _ in $(seq 1 100); do
  curl -sf "$API/readyz" >/dev/null 2>&1 && break
  kill -0 "$svc" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.1
done

# --checks all, in all modes (valid and invalid data), every phase; the
# deterministic mode keeps no example database, so no earlier run steers this one.
.venv-api/bin/schemathesis --config-file testdata/api-fuzz/schemathesis.toml run "$API/openapi.json" \
  --header "X-Inference-Token: $TOKEN" \
  --checks all --mode all \
  --max-examples "${API_FUZZ_EXAMPLES:-50}" --generation-deterministic \
  --workers 1 --request-timeout 30 \
  --no-color --warnings off
kill -0 "$svc" 2>/dev/null || { echo "the service died under the tester:"; tail -n 20 "$LOG"; exit 1; }
echo "schemathesis: no failures"

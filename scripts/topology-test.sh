#!/usr/bin/env bash
# The production topology (CONTRACT §9) as a test, with podman:
#   - a bridge network shaped like blackheart_default, made for this run;
#   - PostgreSQL in a container with the production schema and the demo data;
#   - the inference container of each flavour (artifacts mounted read-only,
#     configuration from an env file, the port published on 127.0.0.1 only);
#   - a peer container playing the feature service.
# It shows that the peer's bar-close webhook, sent exactly as the feature
# service sends it, is served by container name; that the host reaches run
# and backfill through the published loopback port; that a client outside
# the allowlist is reset before a byte is served; that the image's own health
# check works; that SIGTERM drains an in-flight backfill; and that every row
# written is bit-identical to the same calls against the bare binary.
# Traffic stays on this machine: loopback and the network this test creates.
# Writes start-to-ready times to build/containers/topology.env.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/containers-env.sh
. scripts/containers-env.sh
# shellcheck source=/dev/null
. build/containers/images.env

run_id=$$
net=blackheart_default_test$run_id
octet=$((100 + run_id % 100))
subnet=10.89.$octet.0/24
gateway=10.89.$octet.1
peer_ip=10.89.$octet.10
intruder_ip=10.89.$octet.66
pg=bh-topology-pg-$run_id
pg_port=$(free_ports $((20000 + run_id % 4000 * 3)) 3) # below the ephemeral range
svc_port=$((pg_port + 1))
bare_port=$((pg_port + 2))
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
work=build/containers/topology-$run_id
signal=22222222-2222-2222-2222-222222222222
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres)
passed=0
failed=0
bare=""
mkdir -p "$work"

cleanup() {
  [ -n "$bare" ] && kill -TERM "$bare" 2>/dev/null && wait "$bare" 2>/dev/null
  podman ps -a --format '{{.Names}}' | grep -E -- "-$run_id\$" | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

ok() { echo "  ok: $*"; passed=$((passed + 1)); }
fail() { echo "  FAIL: $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
ready() { curl -sf -m 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }
wait_ready() { # wait_ready PORT [SINCE]: seconds from SINCE (default now) until /readyz is 200
  local start=${2:-$(date +%s.%N)}
  for _ in $(seq 1 300); do
    if ready "$1"; then echo "$(date +%s.%N) - $start" | bc; return 0; fi
    sleep 0.1
  done
  return 1
}
post() { # post PORT PATH BODY: the orchestrator's call (token, agent, JSON)
  curl -sS -m 120 -o "$work/last.json" -w '%{http_code}' -X POST "http://127.0.0.1:$1$2" \
    -H "X-Inference-Token: $token" -H 'X-Agent-Name: research-orchestrator' -H 'Content-Type: application/json' -d "$3"
}
answered_after_sigterm() { # answered_after_sigterm LOG: a backfill's 200 logged after "shutting down"
  sed -n '/"msg":"shutting down"/,$p' "$1" | grep -q '"msg":"request".*"/inference/backfill".*"status":200'
}
own_ca_bundle() { # own_ca_bundle CONTAINER: a CA bundle, not the host's, and no trace of the lent one
  podman cp "$1:/etc/ssl/certs/ca-certificates.crt" "$work/image-ca.crt" 2>/dev/null || return 1
  [ -s "$work/image-ca.crt" ] && ! cmp -s "$work/image-ca.crt" "$HOST_CA" \
    && ! podman cp "$1:/run/secrets/hostca" "$work/lent-ca.crt" 2>/dev/null
}
peer_webhook() { # peer_webhook CONTAINER: the feature service's call from its own container; on failure, where the time went
  local sent
  sent=$(date -u +%Y-%m-%dT%H:%M:%S)
  if podman run --rm --network "$net" --ip "$peer_ip" "$BASE_TOOLS" \
       curl -sS --fail-with-body --max-time 30 -X POST http://blackheart-inference:8000/inference/batch-predict \
         -H "X-Inference-Token: $token" -H 'Content-Type: application/json' -d '{"compute_run_id": "bar_event"}' -o /dev/null \
         -w 'peer: %{remote_ip} resolved at %{time_namelookup} s, connected at %{time_connect} s, first byte at %{time_starttransfer} s, HTTP %{http_code}\n' \
       > "$work/peer.out" 2>&1; then
    return 0
  fi
  # Diagnostics only: did the request reach the service, and how long did it take there?
  sed 's/^/    /' "$work/peer.out"
  echo "    sent at $sent; the service's log since (waiting up to 60 s for the request's line):"
  for _ in $(seq 1 60); do
    podman logs "$1" 2>&1 | grep -q '"path":"/inference/batch-predict"' && break
    sleep 1
  done
  podman logs --since "$sent" "$1" 2>&1 | cut -c1-400 | sed 's/^/    /'
  return 1
}
rows() { # rows DB: every row's bits, the source of truth for comparisons
  "${PSQL[@]}" -d "$1" -At -c "SELECT ts, encode(float8send(value), 'hex'), coalesce(encode(float8send(confidence), 'hex'), 'null'),
    meta->>'artifact_sha256' FROM signal_history ORDER BY signal_id, symbol, ts"
}

echo "== network $net ($subnet), PostgreSQL container $pg (published on 127.0.0.1:$pg_port)"
podman network create --subnet "$subnet" --gateway "$gateway" "$net" >/dev/null
start_test_postgres "$pg" "$net" "$pg_port"
for db in bare cgo purego; do "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db TEMPLATE seeded"; done

# The calls both deployments answer. The demo data ends on 2026-11-30, so
# batch-predict's window (max_gap) reaches back to it from today, and no
# further: the newest ready bar is the same for both, whatever the date.
max_gap=$(( ($(date +%s) - $(date -d 2026-11-30T00:00:00Z +%s)) / 3600 + 24 ))
[ "$max_gap" -ge 24 ] || max_gap=24
run_body='{"signal_id":"'$signal'","symbol":"BTCUSDT","ts":"2026-11-30T12:00:00Z","interval_name":"1h","source":"stream"}'
backfill_body='{"signal_id":"'$signal'","symbol":"BTCUSDT","interval_name":"1h","start":"2024-12-01T00:00:00Z","end":"2026-12-01T00:00:00Z","source":"historical_replay","lookahead":"allow"}'
common_env() { # common_env DB: the configuration both deployments share
  printf '%s\n' INFERENCE_PROFILE=prod "INFERENCE_AUTH_TOKEN=$token" "INFERENCE_STREAMING_MAX_GAP_HOURS=$max_gap" \
    "INFERENCE_BACKFILL_CHUNK_BARS=1000"
}

BIN_HOST=bin/blackheart-inference
echo "== the bare binary ($BIN_HOST) on 127.0.0.1:$bare_port"
mapfile -t shared < <(common_env)
env -i PATH="$PATH" "${shared[@]}" INFERENCE_PORT="$bare_port" INFERENCE_ARTIFACT_DIR=testdata/golden/artifacts \
  INFERENCE_DB_DSN="postgres://postgres@127.0.0.1:$pg_port/bare?sslmode=disable&options=-c%20role%3Dblackheart_research" \
  "$BIN_HOST" serve > "$work/bare.log" 2>&1 &
bare=$!
wait_ready "$bare_port" >/dev/null || { tail -n 5 "$work/bare.log"; fail "bare binary ready"; }
check "bare: run 200" [ "$(post "$bare_port" /inference/run "$run_body")" = 200 ]
check "bare: batch-predict 200" [ "$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$bare_port/inference/batch-predict" \
  -H "X-Inference-Token: $token" -H 'Content-Type: application/json' -d '{"compute_run_id": "bar_event"}')" = 200 ]
check "bare: backfill 200" [ "$(post "$bare_port" /inference/backfill "$backfill_body")" = 200 ]
kill -TERM "$bare"; wait "$bare" || true; bare=""
rows bare > "$work/rows-bare.txt"
check "bare: 17 515 rows" [ "$(wc -l < "$work/rows-bare.txt")" = 17515 ]

ready_line=""
for flavor in cgo purego; do
  upper=$(echo "$flavor" | tr '[:lower:]' '[:upper:]')
  image_var=IMAGE_$upper
  image=${!image_var}
  name=blackheart-inference-$flavor-$run_id
  envfile=$work/inference-$flavor.env
  { common_env
    echo "INFERENCE_DB_DSN=postgres://postgres@$pg:5432/$flavor?sslmode=disable&options=-c%20role%3Dblackheart_research"
    if [ "$flavor" = purego ]; then echo "INFERENCE_ALLOWED_CLIENTS=$gateway/32,$peer_ip/32"; fi
  } > "$envfile"
  echo "== $flavor: $image as $name (alias blackheart-inference), 127.0.0.1:$svc_port -> 8000$( [ "$flavor" = purego ] && echo ", allowlist $gateway/32,$peer_ip/32")"
  launched=$(date +%s.%N)
  podman run -d --name "$name" --network "$net" --network-alias blackheart-inference --restart unless-stopped \
    -p "127.0.0.1:$svc_port:8000" --stop-timeout 60 -v "$(pwd)/testdata/golden/artifacts:/artifacts:ro" \
    --env-file "$envfile" --health-interval disable "$image" >/dev/null 2>>"$work/podman.err"
  secs=$(wait_ready "$svc_port" "$launched") || { podman logs "$name" | tail -n 5; fail "$flavor: ready"; continue; }
  ok "$flavor: ready through the published port $(printf '%.2f' "$secs") s after podman run"
  ready_line="$ready_line START_TO_READY_${upper}_SECONDS=$secs"
  listening=$(podman logs "$name" 2>/dev/null | grep '"msg":"listening"' || true)
  check "$flavor: the start-up line names container mode and the allowlist" \
    grep -q '"network_mode":"container".*"allowed_clients":\["127.0.0.0/8","::1/128","10.89.'"$octet"'.' <<<"$listening"
  check "$flavor: podman healthcheck (the binary asks itself) is healthy" podman healthcheck run "$name"
  check "$flavor: the image has its own CA bundle, not the host's lent to the build" own_ca_bundle "$name"

  check "$flavor: host run through 127.0.0.1:$svc_port is 200" [ "$(post "$svc_port" /inference/run "$run_body")" = 200 ]
  # The feature service, exactly: the literal body, the token, no agent
  # header, 30 s timeout, any non-2xx is failure (curl --fail-with-body).
  check "$flavor: peer's batch-predict by container name is 2xx" peer_webhook "$name"
  check "$flavor: the webhook's row carries compute_run_id bar_event and the default agent" [ "$("${PSQL[@]}" -d "$flavor" -At -c \
    "SELECT count(*) FROM signal_history WHERE meta->>'compute_run_id' = 'bar_event' AND created_by = 'anonymous' AND source = 'stream'")" = 1 ]
  check "$flavor: host backfill through 127.0.0.1:$svc_port is 200" [ "$(post "$svc_port" /inference/backfill "$backfill_body")" = 200 ]
  rows "$flavor" > "$work/rows-$flavor.txt"
  check "$flavor: every row bit-identical to the bare binary's (17 515)" cmp -s "$work/rows-bare.txt" "$work/rows-$flavor.txt"

  if [ "$flavor" = purego ]; then
    if podman run --rm --network "$net" --ip "$intruder_ip" "$BASE_TOOLS" \
         curl -sS --max-time 10 -o /dev/null http://blackheart-inference:8000/healthz 2>"$work/intruder.err"; then
      fail "$flavor: a client outside the allowlist ($intruder_ip) was served"
    else
      ok "$flavor: a client outside the allowlist ($intruder_ip) is refused ($(tr -d '\n' < "$work/intruder.err"))"
    fi
    refused=$(curl -sS "http://127.0.0.1:$svc_port/metrics" | awk '/^blackheart_inference_connections_refused_total/ {print $2}')
    check "$flavor: the refusal is counted in /metrics (connections_refused_total=$refused)" [ "${refused:-0}" -ge 1 ]
  fi

  # SIGTERM while a backfill runs: it drains within the stop timeout, the
  # backfill completes (every chunk committed whole) and the process exits 0.
  "${PSQL[@]}" -d "$flavor" -c 'DELETE FROM signal_history'
  post "$svc_port" /inference/backfill "$backfill_body" > "$work/drain-status" &
  inflight=$!
  sleep 0.3
  podman stop -t 60 "$name" >/dev/null 2>>"$work/podman.err"
  wait "$inflight" || true
  check "$flavor: SIGTERM mid-backfill: the backfill still answered 200" [ "$(cat "$work/drain-status")" = 200 ]
  check "$flavor: ... and every chunk is there (17 515 rows)" [ "$("${PSQL[@]}" -d "$flavor" -At -c 'SELECT count(*) FROM signal_history')" = 17515 ]
  check "$flavor: ... the process drained and exited 0" [ "$(podman inspect --format '{{.State.ExitCode}}' "$name")" = 0 ]
  podman logs "$name" > "$work/$flavor.log" 2>/dev/null
  check "$flavor: ... SIGTERM came while the backfill ran: it answered after the drain began" answered_after_sigterm "$work/$flavor.log"
  check "$flavor: ... its log says it stopped" grep -q '"msg":"stopped"' "$work/$flavor.log"
  podman rm -f "$name" >/dev/null 2>>"$work/podman.err"
done

echo "$ready_line" | tr ' ' '\n' | sed '/^$/d' > build/containers/topology.env
echo "topology: $passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# deploy/rollout.sh against real containers (podman): a first deployment, a
# good image rolling forward while a client polls (the seconds without
# service are measured), a bad one (a DSN that never connects) rolled back
# with the old version serving again, an empty artifact directory refused
# with nothing changed, and --dry-run changing nothing.
# Writes the swap's downtime to build/containers/rollout.env.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/containers-env.sh
. scripts/containers-env.sh
# shellcheck source=/dev/null
. build/containers/images.env

run_id=$$
net=blackheart_default_rollout$run_id
octet=$((100 + (run_id + 50) % 100))
pg=bh-rollout-pg-$run_id
name=blackheart-inference-$run_id
pg_port=$(free_ports $((15000 + run_id % 2500 * 2)) 2) # below the ephemeral range
port=$((pg_port + 1))
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
work=build/containers/rollout-$run_id
mkdir -p "$work/empty-artifacts"
passed=0
failed=0
poller=""

cleanup() {
  [ -n "$poller" ] && kill "$poller" 2>/dev/null
  podman ps -a --format '{{.Names}}' | grep -E -- "-$run_id(-previous)?\$" | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
ok() { echo "  ok: $*"; passed=$((passed + 1)); }
fail() { echo "  FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
image_of() { podman container inspect --format '{{.Image}}' "$1" 2>/dev/null; }
id_of() { podman image inspect --format '{{.Id}}' "$1"; }
serves() { # serves: the deployed service answers a run with 200
  [ "$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/inference/run" \
      -H "X-Inference-Token: $token" -H 'Content-Type: application/json' \
      -d '{"signal_id":"22222222-2222-2222-2222-222222222222","symbol":"BTCUSDT","ts":"2026-11-30T12:00:00Z","interval_name":"1h"}')" = 200 ]
}
rollout() { # rollout LOG ARGS...: deploy/rollout.sh with this test's network, port and podman
  local log=$1; shift
  deploy/rollout.sh --engine podman --image "$repo" --name "$name" --network "$net" --port "$port" --stop-timeout 60 \
    --artifacts testdata/golden/artifacts --local "$@" > "$work/$log" 2>&1
}

echo "== network $net, PostgreSQL $pg"
podman network create --subnet "10.89.$octet.0/24" "$net" >/dev/null
start_test_postgres "$pg" "$net" "$pg_port"
psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE DATABASE blackheart TEMPLATE seeded'
printf '%s\n' INFERENCE_PROFILE=prod "INFERENCE_AUTH_TOKEN=$token" \
  "INFERENCE_DB_DSN=postgres://postgres@$pg:5432/blackheart?sslmode=disable&options=-c%20role%3Dblackheart_research" > "$work/good.env"
# A database that is never there: the service starts, /readyz stays 503.
printf '%s\n' INFERENCE_PROFILE=prod "INFERENCE_AUTH_TOKEN=$token" \
  "INFERENCE_DB_DSN=postgres://postgres@$pg:1/blackheart?sslmode=disable&connect_timeout=1" > "$work/bad.env"
repo=${IMAGE_CGO%:*}
tag_a=${IMAGE_CGO##*:}
tag_b=${IMAGE_PUREGO##*:}

echo "== first deployment: $repo:$tag_a"
check "a first deployment rolls forward" rollout first.log --tag "$tag_a" --env-file "$work/good.env" --tries 30 --interval 1
check "... and serves" serves

echo "== a good swap to $repo:$tag_b while a client polls /readyz every 20 ms"
( while true; do
    if curl -sf -m 1 -o /dev/null "http://127.0.0.1:$port/readyz"; then echo "$(date +%s.%N) up"; else echo "$(date +%s.%N) down"; fi
    sleep 0.02
  done ) > "$work/poll.txt" &
poller=$!
check "a good image rolls forward" rollout good.log --tag "$tag_b" --env-file "$work/good.env" --tries 30 --interval 1
sleep 0.5
kill "$poller"; wait "$poller" 2>/dev/null || true; poller=""
check "... it runs the new image" [ "$(image_of "$name")" = "$(id_of "$repo:$tag_b")" ]
check "... the previous container is gone, its image kept" podman image exists "$repo:$tag_a"
check "... it reported what ran before" grep -q "previous: $name runs $repo:$tag_a (" "$work/good.log"
check "... and serves" serves
downtime=$(awk '$2 == "down" { if (!s) s = $1; e = $1 } $2 == "up" && s { d = $1 - s; if (d > m) m = d; s = 0 } END { printf "%.2f", m }' "$work/poll.txt")
polls=$(wc -l < "$work/poll.txt")
ok "swap downtime: ${downtime} s without an answer from /readyz ($polls polls)"
echo "SWAP_DOWNTIME_SECONDS=$downtime" > build/containers/rollout.env

echo "== a bad image (its DSN never connects) is rolled back"
set +e
rollout bad.log --tag "$tag_a" --env-file "$work/bad.env" --tries 4 --interval 1
rc=$?
set -e
check "the bad rollout exits 3" [ "$rc" = 3 ]
check "... saying it rolled back" grep -q "ROLLED BACK: $name runs" "$work/bad.log"
check "... the previous image ($tag_b) runs again" [ "$(image_of "$name")" = "$(id_of "$repo:$tag_b")" ]
check "... and serves" serves
check "... no container is left behind" [ "$(podman ps -a --format '{{.Names}}' | grep -c -- "$name")" = 1 ]

echo "== refusals and --dry-run change nothing"
set +e
rollout empty.log --tag "$tag_a" --env-file "$work/good.env" --artifacts "$work/empty-artifacts"
rc=$?
set -e
check "an artifact directory without *.pkl is refused (exit 2)" [ "$rc" = 2 ]
check "... saying why" grep -q "holds no \*.pkl" "$work/empty.log"
check "--dry-run succeeds" rollout dry.log --tag "$tag_a" --env-file "$work/good.env" --dry-run
check "... printing the commands" grep -q "^+ podman run -d --name $name --restart unless-stopped" "$work/dry.log"
check "... and still $tag_b runs and serves" [ "$(image_of "$name")" = "$(id_of "$repo:$tag_b")" ]
check "... serving" serves

echo "rollout: $passed passed, $failed failed"
if [ "$failed" != 0 ]; then
  for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done
fi
[ "$failed" = 0 ]

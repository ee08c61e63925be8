#!/usr/bin/env bash
# deploy/rollout.sh: replace the running blackheart-inference container with a
# new image the way Blackheart's deploy job does, and roll back when the new
# one never turns ready. Works with docker or podman (the same flags).
#
#   deploy/rollout.sh --tag 1a2b3c4d --artifacts /srv/artifacts --env-file /srv/inference.env
#
# Steps, each printed as it is decided:
#   1. refuse when the artifact directory holds no *.pkl;
#   2. get the new image BEFORE touching the running container: pull it
#      (default), build it (--build CONTEXT), or use a local one (--local);
#   3. keep the previous container (renamed <name>-previous, stopped) and so
#      its image and configuration;
#   4. start the new container: --restart unless-stopped, the network, the
#      port published on the host's 127.0.0.1 only, --stop-timeout, the
#      artifacts read-only at /artifacts, the env file;
#   5. ask http://127.0.0.1:PORT/readyz up to --tries times, --interval apart;
#   6. ready: remove the previous container (its image stays). Never ready:
#      print the new container's last log lines, remove it, restart the
#      previous one, wait for it to be ready, exit 3.
# --dry-run prints every command and runs none of those that change anything.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: deploy/rollout.sh --tag TAG --artifacts DIR --env-file FILE [options]
  --image REPO          image repository (default blackheart-inference)
  --tag TAG             the new image's tag, e.g. the commit's first 8 characters (required)
  --artifacts DIR       host artifact directory, mounted read-only at /artifacts (required)
  --env-file FILE       the service's configuration (required)
  --name NAME           container name (default blackheart-inference)
  --network NET         container network (default blackheart_default)
  --port PORT           published on 127.0.0.1:PORT -> 8000 (default 8000)
  --stop-timeout S      seconds SIGTERM may drain before SIGKILL (default 60)
  --tries N             readiness checks (default 12)
  --interval S          seconds between them (default 10)
  --engine E            docker or podman (default: docker if installed, else podman)
  --build CONTEXT       build the image from CONTEXT instead of pulling it
  --local               use an image already present instead of pulling it
  --dry-run             print the commands, change nothing
USAGE
}

image=blackheart-inference tag="" artifacts="" env_file="" name=blackheart-inference
network=blackheart_default port=8000 stop_timeout=60 tries=12 interval=10 engine="" source=pull
context="" dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --artifacts) artifacts=$2; shift 2 ;;
    --env-file) env_file=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --network) network=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --stop-timeout) stop_timeout=$2; shift 2 ;;
    --tries) tries=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --build) source=build; context=$2; shift 2 ;;
    --local) source=local; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "rollout: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { echo "rollout: $*"; }
die() { echo "rollout: REFUSED: $*" >&2; exit 2; }
# change runs a command that changes something; under --dry-run it only prints it.
change() {
  echo "+ $*"
  if [ "$dry_run" = 0 ]; then "$@"; fi
}

[ -n "$tag" ] || die "--tag is required"
[ -n "$artifacts" ] || die "--artifacts is required"
[ -n "$env_file" ] || die "--env-file is required"
for n in "$port" "$stop_timeout" "$tries" "$interval"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "--port, --stop-timeout, --tries and --interval take whole numbers, not '$n'"
done
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1; then engine=docker; else engine=podman; fi
fi
case "$engine" in docker|podman) ;; *) die "--engine must be docker or podman, not '$engine'" ;; esac
command -v "$engine" >/dev/null 2>&1 || die "$engine is not installed"
command -v curl >/dev/null 2>&1 || die "curl is needed to ask /readyz"
[ -r "$env_file" ] || die "the env file $env_file cannot be read"
[ -d "$artifacts" ] || die "the artifact directory $artifacts does not exist"
artifacts=$(cd "$artifacts" && pwd)
if [ -z "$(find "$artifacts" -name '*.pkl' -print -quit)" ]; then
  die "the artifact directory $artifacts holds no *.pkl: deploying would serve nothing (nothing was changed)"
fi
new=$image:$tag
readyz=http://127.0.0.1:$port/readyz
say "$engine; $new as $name on $network, 127.0.0.1:$port -> 8000, artifacts $artifacts (read-only), env $env_file"

# 2. The new image first: nothing running is touched until it is here.
case "$source" in
  pull) say "pulling $new before touching the running container"; change "$engine" pull "$new" ;;
  build) say "building $new from $context"; change "$engine" build -t "$new" "$context" ;;
  local) say "using the local image $new"
         "$engine" image inspect "$new" >/dev/null 2>&1 || die "no local image $new" ;;
esac

exists() { "$engine" container inspect "$1" >/dev/null 2>&1; }
wait_ready() { # wait_ready WHAT: 0 once /readyz answers 200
  local i
  for i in $(seq 1 "$tries"); do
    if curl -sf -m 5 -o /dev/null "$readyz"; then
      say "$1 is ready (check $i of $tries)"
      return 0
    fi
    say "$1 not ready (check $i of $tries)"
    if [ "$i" -lt "$tries" ]; then sleep "$interval"; fi
  done
  return 1
}

# 3. Keep the previous container, stopped, for the rollback.
previous=""
if exists "$name-previous"; then
  say "removing $name-previous, left by an earlier rollout"
  change "$engine" rm -f "$name-previous"
fi
if exists "$name"; then
  previous=$("$engine" container inspect --format '{{.Config.Image}} ({{.Image}})' "$name")
  say "previous: $name runs $previous; keeping it, stopped, as $name-previous"
  change "$engine" stop -t "$stop_timeout" "$name"
  change "$engine" rename "$name" "$name-previous"
else
  say "no container $name runs: a first deployment, nothing to roll back to"
fi

# 4. The new container, as production runs it.
change "$engine" run -d --name "$name" --restart unless-stopped --network "$network" \
  -p "127.0.0.1:$port:8000" --stop-timeout "$stop_timeout" -v "$artifacts:/artifacts:ro" \
  --env-file "$env_file" "$new"
if [ "$dry_run" = 1 ]; then
  say "dry run: would ask $readyz up to $tries times, $interval s apart, and roll back to ${previous:-nothing} if never ready"
  exit 0
fi

# 5 and 6.
if wait_ready "$new"; then
  if [ -n "$previous" ]; then change "$engine" rm "$name-previous"; fi
  say "ROLLED FORWARD: $name runs $new (the previous image stays: ${previous:-none})"
  exit 0
fi
say "$new never turned ready after $tries checks; its last log lines:"
"$engine" logs --tail 20 "$name" 2>&1 | sed 's/^/    /' || true
change "$engine" rm -f "$name"
if [ -z "$previous" ]; then
  say "FAILED: nothing to roll back to; no container $name runs"
  exit 3
fi
say "rolling back to $previous"
change "$engine" rename "$name-previous" "$name"
change "$engine" start "$name"
if wait_ready "the previous image $previous"; then
  say "ROLLED BACK: $name runs $previous again; $new was not deployed"
else
  say "ROLLED BACK, BUT NOT READY: $name runs $previous and does not answer $readyz"
fi
exit 3

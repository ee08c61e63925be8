#!/usr/bin/env bash
# Sourced by the container scripts: podman as this machine class runs it,
# configured by a file of the project's own (never /etc/containers):
#   - the runc runtime (crun refuses this kernel's hybrid cgroups);
#   - ulimits no higher than this shell's own (a container asking for more
#     than its parent has fails to start);
#   - cgroupfs and file-based events (no systemd here).
# shellcheck shell=bash
CONTAINERS_CONF="$(pwd)/build/containers/containers.conf"
export CONTAINERS_CONF
mkdir -p "$(dirname "$CONTAINERS_CONF")"
_nofile=$(ulimit -n); _nproc=$(ulimit -u)
[ "$_nofile" = unlimited ] && _nofile=4096
[ "$_nproc" = unlimited ] && _nproc=4096
[ "$_nofile" -gt 4096 ] && _nofile=4096
[ "$_nproc" -gt 4096 ] && _nproc=4096
cat > "$CONTAINERS_CONF.tmp" <<CONF
[containers]
default_ulimits = ["nofile=$_nofile:$_nofile", "nproc=$_nproc:$_nproc"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
mv -f "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
unset _nofile _nproc

# The base images this machine bootstraps from Debian packages (no registry
# is reachable); elsewhere the Dockerfile's public defaults apply.
export BASE_SLIM=localhost/blackheart-base/debian:bookworm-slim
export BASE_GOLANG=localhost/blackheart-base/golang:bookworm
export BASE_TOOLS=localhost/blackheart-base/tools:bookworm
export DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The host's CA bundle, lent to build steps that fetch over HTTPS (pip, the Go
# module proxy) and never copied into an image.
export HOST_CA=/etc/ssl/certs/ca-certificates.crt

# free_ports FIRST COUNT prints the lowest port from FIRST on where COUNT
# consecutive TCP ports have no socket at all. Callers pick FIRST below the
# kernel's ephemeral range (ip_local_port_range, 32768+ here), so no client
# connection can take one of them between this check and the bind.
free_ports() {
  local p=$1 n=$2 used
  used=$(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -un)
  while :; do
    local ok=1 k
    for ((k = 0; k < n; k++)); do
      if grep -qx "$((p + k))" <<<"$used"; then ok=0; break; fi
    done
    [ "$ok" = 1 ] && { echo "$p"; return; }
    p=$((p + n))
  done
}

# containers_unavailable explains why containers cannot run and how to opt out.
containers_unavailable() {
  cat >&2 <<MSG

containers cannot run on this machine: $*
make test builds both images and runs the deployment tests (container network,
rollout) with podman (the runc runtime, base images bootstrapped by mmdebstrap).
To run everything else and skip only those: SKIP_CONTAINERS=1 make test
MSG
  exit 1
}

# start_test_postgres NAME NETWORK PORT: PostgreSQL 15 in a container on
# NETWORK (alias postgres), published on 127.0.0.1:PORT, trusting its peers,
# with a database "seeded": the production schema and the demo data, from
# which each test copies its own (CREATE DATABASE … TEMPLATE seeded).
start_test_postgres() {
  local name=$1 network=$2 port=$3 sha
  sha=$(.venv/bin/python -c 'import json; print(json.load(open("testdata/golden/cases/demo.json"))["sha"])')
  podman run -d --name "$name" --network "$network" --network-alias postgres -p "127.0.0.1:$port:5432" \
    --user postgres "$BASE_TOOLS" sh -c 'initdb -D /tmp/pg -A trust -U postgres >/dev/null \
      && echo "host all all 0.0.0.0/0 trust" >> /tmp/pg/pg_hba.conf \
      && exec postgres -D /tmp/pg -c listen_addresses="*" -k /tmp' >/dev/null
  for _ in $(seq 1 300); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
  "${psql[@]}" -d postgres -c 'CREATE DATABASE seeded'
  "${psql[@]}" -d seeded -f storage/schema/schema.sql
  "${psql[@]}" -d seeded -v sha="$sha" -v gap=1 -f testdata/demo/seed.sql
}

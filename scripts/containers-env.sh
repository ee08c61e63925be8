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
BASE_SLIM=localhost/blackheart-base/debian:bookworm-slim
BASE_GOLANG=localhost/blackheart-base/golang:bookworm
BASE_TOOLS=localhost/blackheart-base/tools:bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The host's CA bundle, lent to build steps that fetch over HTTPS (pip, the Go
# module proxy) and never copied into an image.
HOST_CA=/etc/ssl/certs/ca-certificates.crt

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

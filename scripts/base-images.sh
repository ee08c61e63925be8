#!/usr/bin/env bash
# Bootstraps the base images from Debian packages, once per machine (no image
# registry is reachable here): bookworm-slim with mmdebstrap, then the build
# base (compilers + this machine's Go) and the test tools (PostgreSQL, curl)
# on top of it. An image already present is kept; REBUILD_BASES=1 redoes all.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/containers-env.sh
. scripts/containers-env.sh

have() { podman image exists "$1" && [ "${REBUILD_BASES:-0}" != 1 ]; }

if have "$BASE_SLIM"; then
  echo "base: $BASE_SLIM present"
else
  echo "base: $BASE_SLIM from $DEBIAN_MIRROR (mmdebstrap, minbase, no docs/man/locales)"
  tar=build/containers/bookworm-slim.tar
  # shellcheck disable=SC2016 # $1 is the hook's own argument: the new root
  mmdebstrap --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --aptopt='APT::Install-Recommends "false"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$tar" "$DEBIAN_MIRROR"
  podman import --quiet --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tar" "$BASE_SLIM" >/dev/null
  rm -f "$tar"
fi
podman run --rm --network none "$BASE_SLIM" true 2>build/containers/probe.err \
  || containers_unavailable "a trivial container did not run: $(tail -n 3 build/containers/probe.err)"

if have "$BASE_GOLANG"; then
  echo "base: $BASE_GOLANG present"
else
  goroot=$(go env GOROOT)
  echo "base: $BASE_GOLANG ($BASE_SLIM + gcc, make, git + $("$goroot/bin/go" version | cut -d' ' -f3) from $goroot)"
  podman build --quiet --pull=never --format docker --build-arg BASE="$BASE_SLIM" -v "$goroot:/host-go:ro" \
    -t "$BASE_GOLANG" -f deploy/images/golang.Containerfile deploy/images >/dev/null
fi

if have "$BASE_TOOLS"; then
  echo "base: $BASE_TOOLS present"
else
  echo "base: $BASE_TOOLS ($BASE_SLIM + postgresql-15, curl; tests only)"
  podman build --quiet --pull=never --format docker --build-arg BASE="$BASE_SLIM" \
    -t "$BASE_TOOLS" -f deploy/images/tools.Containerfile deploy/images >/dev/null
fi

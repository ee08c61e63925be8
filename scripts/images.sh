#!/usr/bin/env bash
# Builds both images from the one Dockerfile with podman, against the base
# images scripts/base-images.sh bootstrapped: localhost/blackheart-inference
# tagged <sha8> (cgo) and <sha8>-purego, <sha8> being the commit's first 8
# characters (with -dirty when the work tree has changes). The host's CA
# bundle is lent to the build for pip and the Go module proxy, never copied.
# Prints each image's size and build time; writes build/containers/images.env.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/containers-env.sh
. scripts/containers-env.sh

sha8=$(git rev-parse --short=8 HEAD 2>/dev/null || echo nogit000)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then sha8="$sha8-dirty"; fi
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
repo=localhost/blackheart-inference
ca_args=()
if [ -f "$HOST_CA" ]; then
  # A build secret: mounted only for the steps that fetch, never in a layer.
  ca_args=(--secret "id=hostca,src=$HOST_CA" --build-arg PIP_CERT=/run/secrets/hostca --build-arg SSL_CERT_FILE=/run/secrets/hostca)
fi

for flavor in cgo purego; do
  tag=$sha8
  [ "$flavor" = purego ] && tag=$sha8-purego
  start=$(date +%s.%N)
  podman build --quiet --pull=never --format docker \
    --build-arg FLAVOR="$flavor" --build-arg VERSION="$sha8" --build-arg REVISION="$revision" \
    --build-arg BUILD_IMAGE="$BASE_GOLANG" --build-arg RUNTIME_IMAGE="$BASE_SLIM" \
    "${ca_args[@]}" -t "$repo:$tag" . >/dev/null
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  size=$(podman image inspect --format '{{.Size}}' "$repo:$tag")
  printf 'image %s:%s (%s) built in %.0f s, %d MB\n' "$repo" "$tag" "$flavor" "$secs" $((size / 1000000)) >&2
  upper=$(echo "$flavor" | tr '[:lower:]' '[:upper:]')
  printf 'IMAGE_%s=%s:%s\nIMAGE_%s_BYTES=%s\nIMAGE_%s_BUILD_SECONDS=%.1f\n' "$upper" "$repo" "$tag" "$upper" "$size" "$upper" "$secs"
done > build/containers/images.env.tmp
mv build/containers/images.env.tmp build/containers/images.env
cat build/containers/images.env

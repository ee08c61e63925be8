# syntax=docker/dockerfile:1
# blackheart-inference: two images from one file.
#   docker build --format docker --build-arg FLAVOR=cgo    -t blackheart-inference:<sha8> .        (default)
#   docker build --format docker --build-arg FLAVOR=purego -t blackheart-inference:<sha8>-purego .
# Base images are build args. Where a registry is reachable the public
# defaults below apply (pin them by digest there: name@sha256:…); on machines
# without one, scripts/images.sh bootstraps them from Debian packages and
# passes them in. The two steps that fetch over HTTPS (pip, the Go module
# proxy) may be lent a CA bundle as the build secret "hostca", e.g.
#   --secret id=hostca,src=/etc/ssl/certs/ca-certificates.crt \
#   --build-arg PIP_CERT=/run/secrets/hostca --build-arg SSL_CERT_FILE=/run/secrets/hostca
# (pip reads PIP_CERT, Go SSL_CERT_FILE): mounted for those steps only, never
# written to a layer. Without it they use the image's own bundle.
ARG FLAVOR=cgo
ARG BUILD_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-venv libgomp1 ca-certificates make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
ARG PIP_CERT
ARG SSL_CERT_FILE
# Modules, then the native libraries (cgo only), then the sources: each layer
# survives edits to what follows it, and both flavours share the first.
COPY go.mod go.sum ./
RUN --mount=type=secret,id=hostca,required=false go mod download
ARG FLAVOR
COPY Makefile ./
COPY third_party/ third_party/
RUN --mount=type=secret,id=hostca,required=false \
    if [ "$FLAVOR" = cgo ]; then make --no-print-directory image-libs; fi
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    make --no-print-directory binary FLAVOR="$FLAVOR" VERSION="$VERSION" \
 && ./bin/blackheart-inference --version

FROM ${RUNTIME_IMAGE} AS runtime-cgo
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgomp1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# lib_lightgbm.so, and libxgboost.so in the wheel's layout so that its RPATH
# ($ORIGIN/../../xgboost_cpu.libs) still finds the libgomp it bundles.
COPY --from=build /src/third_party/lightgbm/lib/lib_lightgbm.so /usr/local/lib/blackheart/
COPY --from=build /src/third_party/xgboost/lib/ /usr/local/lib/blackheart/xgb/
RUN printf '%s\n' /usr/local/lib/blackheart /usr/local/lib/blackheart/xgb/xgboost/lib > /etc/ld.so.conf.d/blackheart.conf \
 && ldconfig
COPY --from=build /src/bin/blackheart-inference /usr/local/bin/blackheart-inference

# purego: the static binary and CA certificates (s3:// and gs:// over HTTPS),
# nothing else: no shell, no package manager.
FROM scratch AS runtime-purego
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/bin/blackheart-inference /usr/local/bin/blackheart-inference

FROM runtime-${FLAVOR}
ARG FLAVOR
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/rfkih/blackheart-inference
LABEL org.opencontainers.image.title="blackheart-inference" \
      org.opencontainers.image.description="Blackheart's model-serving service (${FLAVOR} build)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
# Container network mode (CONTRACT D14): bind all interfaces of the
# container, serve only the allowlisted client networks, require a real
# token. Publish the port on the host's loopback only: -p 127.0.0.1:8000:8000.
ENV INFERENCE_NETWORK_MODE=container \
    INFERENCE_HOST=0.0.0.0 \
    INFERENCE_PORT=8000 \
    INFERENCE_ARTIFACT_DIR=/artifacts \
    INFERENCE_SHUTDOWN_TIMEOUT=45s
EXPOSE 8000
USER 65532:65532
STOPSIGNAL SIGTERM
# /readyz is 503 "loading" until the working set is loaded: 20-46 s for
# 1 000 models here (docs/benchmarks.md), hence the start period.
HEALTHCHECK --interval=10s --timeout=5s --start-period=90s --retries=3 \
  CMD ["/usr/local/bin/blackheart-inference", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/blackheart-inference"]
CMD ["serve"]

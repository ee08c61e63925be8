# syntax=docker/dockerfile:1
# One image, two flavours:
#   docker build --build-arg FLAVOR=cgo    .  # lib_lightgbm.so from the pinned wheel (default)
#   docker build --build-arg FLAVOR=purego .  # static pure-Go binary, distroless-style
# Every build step is a Makefile target that `make test` (and so CI) also runs.
# The service binds loopback only: run it with --network host, never -p 0.0.0.0:…
ARG FLAVOR=cgo

FROM golang:1.26-bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG FLAVOR
RUN if [ "$FLAVOR" = "cgo" ]; then make build; else make build-purego && cp bin/blackheart-inference-purego bin/blackheart-inference; fi

FROM debian:bookworm-slim AS runtime-cgo
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/third_party/lightgbm/lib/lib_lightgbm.so /usr/local/lib/blackheart/lib_lightgbm.so
# The wheel's layout is kept so libxgboost.so's RPATH finds the libgomp it bundles.
COPY --from=build /src/third_party/xgboost/lib/ /usr/local/lib/blackheart/xgb/
ENV LD_LIBRARY_PATH=/usr/local/lib/blackheart:/usr/local/lib/blackheart/xgb/xgboost/lib
COPY --from=build /src/bin/blackheart-inference /usr/local/bin/blackheart-inference

FROM gcr.io/distroless/static-debian12:nonroot AS runtime-purego
COPY --from=build /src/bin/blackheart-inference /usr/local/bin/blackheart-inference

FROM runtime-${FLAVOR}
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/blackheart-inference"]

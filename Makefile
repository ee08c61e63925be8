# blackheart-inference — every set-up step lives here, so a fresh clone on a
# fresh machine needs nothing but `make test` (or `make demo`).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
GO ?= go
VENV := .venv
VPY := $(VENV)/bin/python
S3VENV := .venv-s3
APIVENV := .venv-api
SIDECARVENV := .venv-sidecar
LGBM_LIB := third_party/lightgbm/lib/lib_lightgbm.so
XGB_LIB := third_party/xgboost/lib/xgboost/lib/libxgboost.so
BIN := bin/blackheart-inference
GOLDEN_OUT := build/golden
STEP := scripts/step.sh
ifeq ($(MAKELEVEL),0)
_ := $(shell rm -f build/.step)  # a fresh run times its own steps only
endif

MODULE := github.com/rfkih/blackheart-inference
# FLAVOURED prints the packages whose build or tests link native: the only
# ones the purego tag or CGO_ENABLED=0 changes.
FLAVOURED = for p in $$($(GO) list ./...); do $(GO) list -test -deps "$$p" | grep -xF '$(MODULE)/native' >/dev/null && echo "$$p" || true; done | tr '\n' ' ' | sed 's/ $$//'
# NORACE_TESTS: sequential differentials of millions of rows through both
# predictors, which the race detector slows sixfold and cannot check (one
# goroutine); the concurrency tests race both predictors.
NORACE_TESTS := ^TestGoEvalAgreesWith(LightGBM|XGBoost)OffGolden$$
# PUREGO_SKIP: end-to-end tests whose subject is no predictor's (drain,
# outages, numeric decoding): the same Go code in both builds, run in the
# cgo pass; every other end-to-end test holds goeval to Python's bits.
PUREGO_SKIP := ^(TestShutdownDrainsOrRollsBackAnInFlightBackfill|TestShutdownLogsTheRowsItCommitted|TestDemoNumericsDecodeAsPostgres|TestDatabaseOutageAndRecovery|TestStoreOutageAndRecovery)$$

.PHONY: test demo deps system-deps container-deps images container-test venv s3-server api-tester image-libs binary native golden golden-check lint vet alerts-check api-fuzz build build-purego bench bench-service bench-drift bench-explain bench-scale bench-fleet bench-research bench-sidecar bench-performance clean

## test: the whole suite, both build flavours, golden regeneration check.
## Each test runs where its build differs, once: the cgo pass races every
## package; the purego tag (and CGO_ENABLED=0, which selects the same files)
## changes only the packages that link native (FLAVOURED), so purego reruns
## those. The static binary itself (CGO_ENABLED=0: Go's own resolver) runs
## the production topology in its image.
test: deps golden-check lint alerts-check
	@$(STEP) "go test -race, cgo build (LightGBM/XGBoost from the wheels; PostgreSQL per package)"
	$(GO) test -race -count=1 -skip '$(NORACE_TESTS)' ./...
	@$(STEP) "no race detector: goeval against the C libraries off the goldens; glibc exp/expf/logf against goeval, 10^8 random inputs each, FMA and SSE2"
	BLACKHEART_LIBM_INPUTS=100000000 $(GO) test -count=1 -run '$(NORACE_TESTS)|^TestLibmMatchesGlibc$$' ./native/
	@$(STEP) "go test -tags purego (the pure-Go twin): native under -race; cmd's end-to-end suite (raced in the cgo pass)"
	flavoured=$$($(FLAVOURED)); test "$$flavoured" = "$(MODULE)/cmd/blackheart-inference $(MODULE)/native" || { echo "the packages linking native are now: $$flavoured; update the purego pass"; exit 1; }
	$(GO) test -race -count=1 -tags purego ./native/
	$(GO) test -count=1 -tags purego -skip '$(PUREGO_SKIP)' ./cmd/blackheart-inference/
	@$(STEP) "build both binaries"
	$(MAKE) --no-print-directory build build-purego
	$(MAKE) --no-print-directory api-fuzz
ifeq ($(SKIP_CONTAINERS),1)
	@echo "!! SKIPPED (SKIP_CONTAINERS=1): both images, the production-topology test and the rollout test"
else
	$(MAKE) --no-print-directory container-test
endif
	@$(STEP) done

deps: system-deps native s3-server api-tester
	@$(STEP) "Go modules"
	$(GO) mod download

## system-deps: libgomp1 (lib_lightgbm.so links against it), PostgreSQL
## server and client (tests and the demo run throwaway clusters), curl, bc,
## promtool (Debian's prometheus package) for the alert rules, shellcheck
system-deps:
	@$(STEP) "system packages (apt, only what is missing)"
	@missing=""; \
	ldconfig -p | grep -q 'libgomp\.so\.1' || missing="$$missing libgomp1"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v psql >/dev/null || missing="$$missing postgresql-client"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v bc >/dev/null || missing="$$missing bc"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v shellcheck >/dev/null || missing="$$missing shellcheck"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(VENV)/.stamp: requirements.txt
	@$(STEP) "Python venv with the pinned wheels (requirements.txt)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --progress-bar off --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.stamp

## s3-server: moto's S3 server in its own venv, for the object-store tests
$(S3VENV)/.stamp: requirements-s3.txt
	@$(STEP) "S3-compatible test server (moto, requirements-s3.txt)"
	$(PYTHON) -m venv $(S3VENV)
	$(S3VENV)/bin/pip install --progress-bar off --disable-pip-version-check -r requirements-s3.txt
	touch $@

s3-server: $(S3VENV)/.stamp

## api-tester: Schemathesis in its own venv, for make api-fuzz
$(APIVENV)/.stamp: requirements-api.txt
	@$(STEP) "API tester (Schemathesis, requirements-api.txt)"
	$(PYTHON) -m venv $(APIVENV)
	$(APIVENV)/bin/pip install --progress-bar off --disable-pip-version-check -r requirements-api.txt
	touch $@

api-tester: $(APIVENV)/.stamp

$(LGBM_LIB): $(VENV)/.stamp third_party/lightgbm/VERSION third_party/lightgbm/lib_lightgbm.so.sha256 third_party/lightgbm/fetch.sh
	third_party/lightgbm/fetch.sh $(VPY)

$(XGB_LIB): $(VENV)/.stamp third_party/xgboost/VERSION third_party/xgboost/sha256sums third_party/xgboost/fetch.sh
	third_party/xgboost/fetch.sh $(VPY)

## native: lib_lightgbm.so and libxgboost.so from the pinned wheels, for the cgo build
native: system-deps $(LGBM_LIB) $(XGB_LIB)

## golden: regenerate the committed golden corpus with real Python LightGBM
golden: venv
	$(VPY) testdata/golden/generate.py testdata/golden

## golden-check: the generator must reproduce the committed corpus byte for byte
golden-check: venv
	@$(STEP) "golden corpus: re-run the Python generator, diff byte for byte"
	rm -rf $(GOLDEN_OUT)
	$(VPY) testdata/golden/generate.py $(GOLDEN_OUT)
	diff -r --exclude=generate.py --exclude=README.md --exclude=__pycache__ --exclude=blackheart_train testdata/golden $(GOLDEN_OUT)
	@echo "golden corpus reproduced byte for byte"

## lint: gofmt, go vet (both flavours), import rules per package, cgo only
## in native/, no Go file over 400 lines, no function over 80 (cmd/lint);
## shellcheck on every shell script
lint: vet
	$(GO) run ./cmd/lint
	shellcheck -x deploy/*.sh scripts/*.sh third_party/*/fetch.sh

## container-deps: podman (with the runc runtime) and mmdebstrap, for the images
container-deps:
	@$(STEP) "container tools (apt, only what is missing): podman, runc, mmdebstrap"
	@missing=""; \
	command -v podman >/dev/null || missing="$$missing podman"; \
	command -v runc >/dev/null || missing="$$missing runc"; \
	command -v mmdebstrap >/dev/null || missing="$$missing mmdebstrap"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } \
	    || { echo "containers cannot run on this machine: apt could not install$$missing."; \
	         echo "To run everything else and skip only the image and deployment tests: SKIP_CONTAINERS=1 make test"; exit 1; }; \
	fi

## images: both images from the Dockerfile, with podman, on bases
## bootstrapped from Debian packages (build/containers/images.env)
images: container-deps build
	@$(STEP) "base images from Debian packages (mmdebstrap; once per machine)"
	scripts/base-images.sh
	@$(STEP) "both images from the Dockerfile (podman build; cgo and purego)"
	scripts/images.sh

## container-test: the production topology and the rollout, on real containers
container-test: images
	@$(STEP) "production topology: container network, peer webhook, loopback-published port, allowlist, drain, bits vs the bare binary"
	scripts/topology-test.sh
	@$(STEP) "deploy/rollout.sh: roll forward, roll back, refusals, swap downtime"
	scripts/rollout-test.sh

## alerts-check: the example alert rules are valid and fire on synthetic series
alerts-check:
	@$(STEP) "alert rules: promtool check rules + promtool test rules"
	cd deploy/prometheus && promtool check rules alerts.yml && promtool test rules alerts_test.yml

## api-fuzz: Schemathesis, every check, against the live cgo binary on loopback
## (PostgreSQL with the demo data); bounded, deterministic, zero failures
api-fuzz: $(APIVENV)/.stamp venv build
	@$(STEP) "Schemathesis against the live service's /openapi.json (all checks, 50 examples per operation)"
	scripts/api-fuzz.sh $(BIN)

vet:
	@$(STEP) "lint: gofmt, go vet (both flavours), import rules and sizes"
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$unformatted" || { echo "gofmt needed: $$unformatted"; exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./...

## demo: local PostgreSQL + demo data, the service on 127.0.0.1:8000, every endpoint called
demo: deps build
	@$(STEP) done
	scripts/demo.sh

## build: the cgo binary, linked against the wheel's lib_lightgbm.so (rpath set)
build: native
	$(GO) build -o $(BIN) ./cmd/blackheart-inference

## image-libs and binary are the image build's steps (Dockerfile): the two
## pinned wheels alone (no numpy stack) for their native libraries, then one
## binary of FLAVOR (cgo|purego) stamped with VERSION.
NATIVE_VENV := .venv-native
image-libs:
	$(PYTHON) -m venv $(NATIVE_VENV)
	$(NATIVE_VENV)/bin/pip install --progress-bar off --disable-pip-version-check --no-deps \
	  lightgbm==$$(cat third_party/lightgbm/VERSION) xgboost-cpu==$$(cat third_party/xgboost/VERSION)
	third_party/lightgbm/fetch.sh $(NATIVE_VENV)/bin/python
	third_party/xgboost/fetch.sh $(NATIVE_VENV)/bin/python

FLAVOR ?= cgo
VERSION ?= dev
binary:
	CGO_ENABLED=$(if $(filter purego,$(FLAVOR)),0,1) $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/blackheart-inference

## build-purego: a static pure-Go binary
build-purego:
	CGO_ENABLED=0 $(GO) build -o $(BIN)-purego ./cmd/blackheart-inference

## bench: Go benchmarks for both flavours and the Python reference, same inputs
bench: deps
	mkdir -p build
	$(GO) test -run '^$$' -bench '^BenchmarkPredict' -benchtime 2s -count 3 ./native/ | tee build/bench-cgo.txt
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench '^BenchmarkPredict' -benchtime 2s -count 3 ./native/ | tee build/bench-purego.txt
	$(VPY) testdata/bench/python_predict.py | tee build/bench-python.txt

## bench-service: the two-year backfill, /inference/run at 500 req/s and
## sequentially (and against PostgreSQL's own floor: a one-row SELECT round
## trip plus a one-row upsert commit), eight concurrent backfills; PostgreSQL with fsync off AND
## on (production durability), the disk's own fdatasync latency beside them
bench-service: deps
	mkdir -p build
	@$(STEP) "the disk: pg_test_fsync"
	$$(ls /usr/lib/postgresql/*/bin/pg_test_fsync | head -1) -f build/pg_test_fsync.tmp -s 2 | grep -E 'fdatasync|^\s+open_datasync' | head -4 | tee build/bench-service.txt
	rm -f build/pg_test_fsync.tmp
	for fsync in off on; do \
	  echo "== PostgreSQL fsync=$$fsync" | tee -a build/bench-service.txt; \
	  BLACKHEART_BENCH_FSYNC=$$fsync $(GO) test -run '^$$' -bench 'RunUnderLoad|BackfillTwoYears' -benchtime 1x -count 3 ./cmd/blackheart-inference/ | tee -a build/bench-service.txt; \
	  BLACKHEART_BENCH_FSYNC=$$fsync $(GO) test -run '^$$' -bench 'RunSequential' -benchtime 2000x ./cmd/blackheart-inference/ | tee -a build/bench-service.txt; \
	  BLACKHEART_BENCH_FSYNC=$$fsync $(GO) test -run '^$$' -bench 'RunVersusFloor' -benchtime 1x -count 3 ./cmd/blackheart-inference/ | tee -a build/bench-service.txt; \
	  BLACKHEART_BENCH_FSYNC=$$fsync $(GO) test -run '^$$' -bench 'EightConcurrentBackfills' -benchtime 1x -count 2 ./cmd/blackheart-inference/ | tee -a build/bench-service.txt; \
	done
	@$(STEP) done

## bench-drift: one per-signal drift computation (40 inputs, 1h, 90-day training window,
## 7-day live; with and without a 30-day holdout) and the sidecar-form feature drift,
## PostgreSQL fsync off and on
bench-drift: deps
	mkdir -p build
	for fsync in off on; do \
	  echo "== PostgreSQL fsync=$$fsync" | tee -a build/bench-drift.txt; \
	  BLACKHEART_BENCH_FSYNC=$$fsync $(GO) test -run '^$$' -bench 'SignalDrift|FeatureDrift' -benchtime 30x -count 3 ./cmd/blackheart-inference/ | tee -a build/bench-drift.txt; \
	done

## bench-explain: TreeSHAP per row (this build's LightGBM, goeval, Python's
## pred_contrib on the same rows) and the two-year backfill with
## INFERENCE_EXPLAIN_TOP_K=0 and 5 on the same database, PostgreSQL fsync off and on
bench-explain: deps
	mkdir -p build
	$(GO) test -run '^$$' -bench 'Contributions10k' -benchtime 3x ./native/ | tee build/bench-explain.txt
	$(VPY) testdata/bench/python_contrib.py | tee -a build/bench-explain.txt
	for fsync in off on; do \
	  echo "== PostgreSQL fsync=$$fsync" | tee -a build/bench-explain.txt; \
	  BLACKHEART_BENCH_FSYNC=$$fsync $(GO) test -run '^$$' -bench 'BackfillTwoYears' -benchtime 1x -count 3 ./cmd/blackheart-inference/ | tee -a build/bench-explain.txt; \
	done

## bench-scale: a bar close of 10, 100 and 1 000 signals (one replica; two; and
## every signal alone, INFERENCE_STREAMING_GROUP_SIZE=1) and batch-predict with
## 1 000 signals, PostgreSQL fsync on
bench-scale: deps
	mkdir -p build
	BLACKHEART_BENCH_FSYNC=on $(GO) test -run '^$$' -bench 'BarCloseAtScale' -benchtime 3x ./cmd/blackheart-inference/ | tee build/bench-scale.txt
	BH_SCALE_REPLICAS=2 BLACKHEART_BENCH_FSYNC=on $(GO) test -run '^$$' -bench 'BarCloseAtScale' -benchtime 3x -v ./cmd/blackheart-inference/ | grep -E '^Bench|bar close' | tee -a build/bench-scale.txt
	BH_STREAM_GROUP_SIZE=1 BLACKHEART_BENCH_FSYNC=on $(GO) test -run '^$$' -bench 'BarCloseAtScale' -benchtime 3x ./cmd/blackheart-inference/ | tee -a build/bench-scale.txt
	BLACKHEART_BENCH_FSYNC=on $(GO) test -run '^$$' -bench 'BatchPredictAtScale' -benchtime 3x ./cmd/blackheart-inference/ | tee -a build/bench-scale.txt

## bench-fleet: every signal on a model of its own (issue 28): bar closes of
## 10, 100 and 1 000 distinct models, batch-predict over 1 000 from cold and
## warm, and two replicas, today's binaries (cgo, purego) beside the one
## built from BASE_REV, in one run, PostgreSQL fsync on; then what a model
## costs by kind in both builds, the preload, and the drift pass at 1 000
## signals. The fleet (real Python LightGBM, the issue's shape) is generated
## once into FLEET_DIR.
FLEET_DIR := build/fleet-1000
BASE_REV ?= f52324b
BASE_BIN := bin/blackheart-inference-$(BASE_REV)
bench-fleet: deps venv build build-purego
	test -f $(FLEET_DIR)/fleet.json || $(VPY) testdata/fleet/fleet.py $(FLEET_DIR) --count 1000 --trees 400 --leaves 31 --inputs 36 --bars 26
	rm -rf build/base && mkdir -p build/base
	git archive $(BASE_REV) | tar -x -C build/base
	ln -sfn $(CURDIR)/third_party/lightgbm/lib build/base/third_party/lightgbm/lib
	ln -sfn $(CURDIR)/third_party/xgboost/lib build/base/third_party/xgboost/lib
	cd build/base && $(GO) build -o $(CURDIR)/$(BASE_BIN) ./cmd/blackheart-inference
	BH_FLEET_DIR=$(CURDIR)/$(FLEET_DIR) BH_FLEET_BINS=$(BASE_REV)=$(CURDIR)/$(BASE_BIN),cgo=$(CURDIR)/$(BIN),purego=$(CURDIR)/$(BIN)-purego \
	  BLACKHEART_BENCH_FSYNC=on $(GO) test -run '^$$' -bench 'DistinctModels' -benchtime 1x -timeout 60m -v ./cmd/blackheart-inference/ \
	  | grep -E '^Benchmark|batch-predict|RSS after|replica [0-9]|readyz|fsync=' | tee build/bench-fleet.txt
	BH_FLEET_DIR=$(CURDIR)/$(FLEET_DIR) $(GO) test -run '^$$' -bench 'ModelFootprint|Preload' -benchtime 1x ./cmd/blackheart-inference/ | grep -E '^Benchmark' | tee -a build/bench-fleet.txt
	BH_FLEET_DIR=$(CURDIR)/$(FLEET_DIR) $(GO) test -tags purego -run '^$$' -bench 'ModelFootprint|Preload' -benchtime 1x ./cmd/blackheart-inference/ | grep -E '^Benchmark' | tee -a build/bench-fleet.txt
	BLACKHEART_BENCH_FSYNC=on $(GO) test -run '^$$' -bench 'DriftPass' -benchtime 1x ./cmd/blackheart-inference/ | grep -E '^Benchmark' | tee -a build/bench-fleet.txt

## bench-performance: one realized-performance report (90 days of a 1h
## signal, its OOF reference included) over HTTP, PostgreSQL fsync off and on
bench-performance: deps
	mkdir -p build
	: > build/bench-performance.txt
	for fsync in off on; do \
	  BLACKHEART_BENCH_FSYNC=$$fsync $(GO) test -run '^$$' -bench 'PerformanceReport' -benchtime 20x -count 3 ./cmd/blackheart-inference/ | grep -E '^Benchmark|fsync=' | tee -a build/bench-performance.txt; \
	done

## bench-sidecar: ours beside the original Python sidecar in one run, each its
## own process on one database (sequential runs against PostgreSQL's floor,
## 8 and 32 concurrent callers, the two-year backfill, peak RSS, every bar's
## bits compared); SIDECAR_DIR is a checkout of rfkih/inference (not fetched:
## only package registries are reachable here), PostgreSQL fsync on, then off
bench-sidecar: deps
	@if [ ! -d "$(SIDECAR_DIR)/src/blackheart_inference" ]; then \
	  echo "bench-sidecar: set SIDECAR_DIR to a checkout of rfkih/inference (git clone https://github.com/rfkih/inference)" >&2; exit 2; fi
	mkdir -p build
	[ -x $(SIDECARVENV)/bin/python ] || $(PYTHON) -m venv $(SIDECARVENV)
	$(SIDECARVENV)/bin/pip install --progress-bar off --disable-pip-version-check -q -r requirements-sidecar.txt
	: > build/bench-sidecar.txt
	for fsync in on off; do \
	  BH_SIDECAR_DIR=$$(realpath "$(SIDECAR_DIR)") BH_SIDECAR_PYTHON=$(CURDIR)/$(SIDECARVENV)/bin/python BLACKHEART_BENCH_FSYNC=$$fsync \
	    $(GO) test -run '^$$' -bench 'VersusSidecar' -benchtime 1x -v ./cmd/blackheart-inference/ | grep -vE '^(=== |goos|goarch|pkg|cpu)' | tee -a build/bench-sidecar.txt; \
	done

## bench-research: five years of 1h and of 5m bars backfilled as consecutive
## 49 999-bar calls over HTTP (21 million feature rows are loaded first, ~4 min),
## PostgreSQL fsync on
bench-research: deps
	mkdir -p build
	BLACKHEART_BENCH_FSYNC=on $(GO) test -run '^$$' -bench 'ResearchBackfill' -benchtime 1x -timeout 60m ./cmd/blackheart-inference/ | tee build/bench-research.txt

clean:
	rm -rf bin build

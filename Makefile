# Starling: the two commands are `make demo` and `make test`; see README.md.
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= debug
BUILD_FLAGS := -c $(CONFIG)
BIN = $(shell $(SWIFT) build $(BUILD_FLAGS) --show-bin-path)
APT_PACKAGES := curl libmosquitto-dev mosquitto mosquitto-clients libzstd-dev zstd libsqlite3-dev libssl-dev \
	libxnnpack-dev libpthreadpool-dev python3 python3-venv
VENV := .venv
PY_PACKAGES := onnxruntime onnx numpy scikit-learn paho-mqtt
TEST_PY_PACKAGES := 'tritonclient[http]' numpy
BENCH_APT_PACKAGES := wrk
## MLflow (the hub API benchmark's peer) gets a venv of its own: its pins need not match ORT's.
MLFLOW_VENV := .venv-mlflow
## Flower (the federated benchmark's peer) gets a venv of its own too.
FLWR_VENV := .venv-flwr

.PHONY: all deps build test test-deps demo bench bench-deps check-layering format clean agent-release

all: build

## deps: install the system packages the build and tests need (idempotent, quiet when present)
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

## test-deps: a venv with the stock Triton HTTP client, which the agent's OIP tests run unchanged
test-deps: deps
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/python -c "import tritonclient.http, numpy" 2>/dev/null || \
	  $(VENV)/bin/pip install -q $(TEST_PY_PACKAGES)

## test: every unit and integration test, plus the dependency rules of the package layout
test: deps test-deps check-layering
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	SWIFT_BACKTRACE=enable=yes,interactive=no,threads=crashed,registers=none,images=none \
	  $(SWIFT) test --skip-build $(BUILD_FLAGS)

check-layering: deps
	@python3 scripts/check_layering.py

## demo: train, quantize and package a digits model, then run a device agent on Mosquitto and update it
demo: build
	@scripts/demo.sh "$(BIN)"

## bench: release build, ONNX Runtime and paho-mqtt from pip, ratios against ORT, zstd, openssl,
## mosquitto_pub, mosquitto_sub, MLflow, the agent's floor route and Python's sqlite3 (see docs/benchmarks.md);
## BENCH_ONLY=packages,transport runs only those sections (BENCH_ONLY=agent: the agent alone;
## BENCH_STATIC=1 adds a --static-swift-stdlib starling-agent)
bench-deps: deps
	@missing=""; for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/python -c "import onnxruntime, onnx, numpy, sklearn, paho.mqtt" 2>/dev/null || \
	  $(VENV)/bin/pip install -q $(PY_PACKAGES)
	@if [[ ",$${BENCH_ONLY:-hub}," == *",hub,"* ]] && ! $(MLFLOW_VENV)/bin/python -c "import mlflow" 2>/dev/null; then \
	  python3 -m venv $(MLFLOW_VENV) && $(MLFLOW_VENV)/bin/pip install -q mlflow; \
	fi
	@if [[ ",$${BENCH_ONLY:-federated}," == *",federated,"* ]] && ! $(FLWR_VENV)/bin/python -c "import flwr, numpy" 2>/dev/null; then \
	  python3 -m venv $(FLWR_VENV) && $(FLWR_VENV)/bin/pip install -q flwr==1.42.0 numpy; \
	fi

# BENCH_STATIC=1: the agent section also sizes and runs starling-agent built with
# --static-swift-stdlib; that build recompiles the agent's modules (about 6 min here) and the
# dynamic build after it does again, so it is not the default.
bench: bench-deps
	@if [ "$${BENCH_STATIC:-0}" = 1 ] && [[ ",$${BENCH_ONLY:-agent}," == *",agent,"* ]]; then \
	  $(SWIFT) build -c release --static-swift-stdlib --product starling-agent && mkdir -p "$${BENCH_OUT:-out/bench}" && \
	  cp "$$($(SWIFT) build -c release --show-bin-path)/starling-agent" "$${BENCH_OUT:-out/bench}/starling-agent-static"; \
	fi
	$(SWIFT) build -c release --product starling-bench
	$(SWIFT) build -c release --product starling
	$(SWIFT) build -c release --product starling-transport-bench
	$(SWIFT) build -c release --product starling-agent
	$(SWIFT) build -c release --product starling-store-bench
	$(SWIFT) build -c release --product starling-hub
	$(SWIFT) build -c release --product starling-hub-ingest-bench
	@BENCH_COMMAND="make bench$${BENCH_ONLY:+ BENCH_ONLY=$$BENCH_ONLY}" BENCH_MLFLOW_PYTHON="$(MLFLOW_VENV)/bin/python" \
	  BENCH_FLWR_PYTHON="$(FLWR_VENV)/bin/python" \
	  BENCH_AGENT_STATIC="$$(f="$${BENCH_OUT:-out/bench}/starling-agent-static"; [ "$${BENCH_STATIC:-0}" = 1 ] && realpath "$$f")" \
	  Benchmarks/run.sh "$$($(SWIFT) build -c release --show-bin-path)" "$(VENV)/bin/python"

## agent-release: the build for devices: a release starling-agent with the Swift runtime linked in
## (nothing of Swift to install on the device, and about 4 MiB less memory), stripped, in out/starling-agent
agent-release: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static --product starling-agent
	@mkdir -p out && cp "$$($(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/starling-agent" out/ && \
	  { ! command -v strip >/dev/null || strip out/starling-agent; } && echo "out/starling-agent ($$(du -h out/starling-agent | cut -f1))"

format:
	$(SWIFT) format --in-place --recursive Sources Tests Benchmarks --configuration .swift-format

clean:
	rm -rf .build .build-static out

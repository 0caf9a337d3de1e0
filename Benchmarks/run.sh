#!/usr/bin/env bash
# make bench: Starling's int8 runtime and training against ONNX Runtime and scikit-learn.
#
#   Benchmarks/run.sh <release-bin-dir> <python-with-onnxruntime>
#
# Builds the ONNX models (out/bench/), then runs every case on both sides, interleaved (ORT,
# Starling, ORT, ... alternating who goes first) so both share the machine's noise: each of
# BENCH_REPEATS repeats (default 5) runs 1 thread (pinned with taskset to CPU BENCH_CPU, default 1)
# and 2 threads (unpinned). Every run is its own process and prints one JSON line into
# out/bench/results.jsonl; Benchmarks/report.py then prints the table and writes
# out/bench/report.md.
#
# Sections: int8, layers, fp32, backends, training (Starling vs ONNX Runtime / scikit-learn),
# packages (package create/verify vs zstd and openssl, and package sizes vs fp32 ONNX) and
# transport (MQTT QoS 1 publish throughput vs mosquitto_pub and paho-mqtt) and agent (the
# agent's OIP inference over HTTP beside its floor route, RSS, feedback rows/s while serving beside
# Python's sqlite3, binary size: Benchmarks/agent-http/run.sh) and hub (telemetry ingest through
# FleetMonitor beside mosquitto_sub, starling-hub-ingest-bench; the REST API beside MLflow's model
# registry, Benchmarks/hub-api/run.sh). BENCH_ONLY (comma separated, e.g.
# BENCH_ONLY=packages,transport) runs only those; BENCH_OUT (default out/bench)
# is the output directory, whose results.jsonl starts empty on every run.
set -euo pipefail
bin="$(cd "$1" && pwd)"
py="$2"
cd "$(dirname "$0")/.."
out="${BENCH_OUT:-out/bench}"
only="${BENCH_ONLY:-int8,layers,fp32,backends,training,packages,transport,agent,hub,fleet,federated}"
repeats="${BENCH_REPEATS:-5}"
cpu="${BENCH_CPU:-1}"
results="$out/results.jsonl"
mkdir -p "$out"
started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# want <section>: true when BENCH_ONLY selects it.
want() { [[ ",$only," == *",$1,"* ]]; }
for section in ${only//,/ }; do
  case "$section" in
    int8 | layers | fp32 | backends | training | packages | transport | agent | hub | fleet | federated) ;;
    *) echo "run.sh: unknown section '$section' in BENCH_ONLY" >&2 && exit 2 ;;
  esac
done

if want int8 || want layers || want fp32 || want backends || want packages; then
  echo "== models (ONNX Runtime's quantize_static, QDQ, per-channel) -> $out"
  "$py" Benchmarks/ort/make_models.py "$out"
  echo "   Starling backends here: $("$bin/starling-bench" --list-backends)"
fi
: >"$results"

# pinned <threads> <command...>: 1 thread runs on one CPU only, 2 threads on both cores.
pinned() {
  local threads="$1"
  shift
  if [ "$threads" = 1 ] && command -v taskset >/dev/null; then taskset -c "$cpu" "$@"; else "$@"; fi
}

# settle: wait until the CPUs were at least 90 % idle for one second (other work on the machine
# finished), at most BENCH_SETTLE seconds (default 15); counts the times it gave up.
busy_starts=0
settles=0
settle() {
  local waited=0 a b
  settles=$((settles + 1))
  while [ "$waited" -lt "${BENCH_SETTLE:-15}" ]; do
    a=($(head -1 /proc/stat))
    sleep 1
    b=($(head -1 /proc/stat))
    local idle=$((b[4] + b[5] - a[4] - a[5])) total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    [ $((100 * idle)) -lt $((90 * total)) ] || return 0
    waited=$((waited + 1))
  done
  busy_starts=$((busy_starts + 1))
}

# ort|starling <case> <model> <batch> <threads> [extra flags]
ort() {
  pinned "$4" "$py" Benchmarks/ort/bench_ort.py --case "$1" --model "$out/$2.onnx" --batch "$3" --threads "$4" "${@:5}" >>"$results"
}
starling() {
  pinned "$4" "$bin/starling-bench" --case "$1" --model "$out/$2.onnx" --batch "$3" --threads "$4" "${@:5}" >>"$results"
}

# pair <case> <model> <batch> [identity model]: both sides, 1 and 2 threads, every repeat.
# The identity model (ORT only) measures the Python call overhead next to a latency case.
pair() {
  local name="$1" model="$2" batch="$3" identity="${4:-}"
  for rep in $(seq "$repeats"); do
    settle
    for threads in 1 2; do
      if [ $((rep % 2)) = 1 ]; then
        ort "$name" "$model" "$batch" "$threads"
        starling "$name" "$model" "$batch" "$threads"
      else
        starling "$name" "$model" "$batch" "$threads"
        ort "$name" "$model" "$batch" "$threads"
      fi
      [ -z "$identity" ] || ort "$name.overhead" "$identity" "$batch" "$threads"
    done
  done
  echo "   $name done ($(($(date +%s) - started)) s; busy at $busy_starts of $settles starts so far)"
}

if want int8; then
  echo "== int8 (the targets)"
  pair mlp1024.int8.b1024 mlp1024.int8 1024
  pair mlp1024.int8.b1 mlp1024.int8 1 identity1024
  pair digits.int8.b1 digits.int8 1 identity64
  pair cnn.int8.b64 cnn.int8 64
fi

if want layers; then
  echo "== the CNN's two conv blocks alone (context)"
  pair cnn_conv1.int8.b64 cnn_conv1.int8 64
  pair cnn_conv2.int8.b64 cnn_conv2.int8 64
fi

if want fp32; then
  echo "== fp32 (context; Starling's float32 runner is single-threaded)"
  pair mlp1024.fp32.b1024 mlp1024.fp32 1024
  pair mlp1024.fp32.b1 mlp1024.fp32 1
  pair digits.fp32.b1 digits.fp32 1
  pair cnn.fp32.b64 cnn.fp32 64
fi

if want backends; then
  echo "== Starling's other int8 backends (context, 1 thread, once)"
  for backend in xnnpack reference; do
    settle
    quick=()
    [ "$backend" = reference ] && quick=(--warmup-ms 0 --rounds 5 --budget-ms 1000)
    starling mlp1024.int8.b1024 mlp1024.int8 1024 1 --backend "$backend" "${quick[@]}"
    starling mlp1024.int8.b1 mlp1024.int8 1 1 --backend "$backend"
    starling digits.int8.b1 digits.int8 1 1 --backend "$backend"
    starling cnn.int8.b64 cnn.int8 64 1 --backend "$backend" "${quick[@]}"
  done
  echo "   backends done ($(($(date +%s) - started)) s)"
fi

epochs="${BENCH_EPOCHS:-40}"
lr="${BENCH_LR:-0.002}"
if want training; then
  echo "== central training of the digits MLP 64-128-64-10"
  for rep in $(seq "$repeats"); do
    settle
    for threads in 1 2; do
      "$py" Benchmarks/train_bench.py starling --bin "$bin" --epochs "$epochs" --lr "$lr" --threads "$threads" --cpu "$cpu" >>"$results"
      "$py" Benchmarks/train_bench.py sklearn --python "$py" --epochs "$epochs" --lr "$lr" --threads "$threads" --cpu "$cpu" >>"$results"
    done
  done
  echo "   training done ($(($(date +%s) - started)) s)"
fi

# Package benchmark: a ~10 MB int8 model packaged and verified by Starling (API and CLI) beside
# zstd -3 / zstd -d and openssl's Ed25519 on the same file; every repeat is a fresh process
# (BENCH_PACKAGE_ROUNDS rounds inside, default 7), pinned to one CPU with the tools it starts.
if want packages; then
  echo "== model packages: create and verify beside zstd and openssl; sizes beside fp32 ONNX"
  "$py" Benchmarks/package_model.py "$out"
  "$bin/starling-bench" sizes --dir "$out" digits mlp1024 cnn mlp10m >>"$results"
  for rep in $(seq "$repeats"); do
    settle
    pinned 1 "$bin/starling-bench" package --model "$out/mlp10m.int8.onnx" --work "$out/packages" --cli "$bin/starling" \
      --rounds "${BENCH_PACKAGE_ROUNDS:-7}" >>"$results"
  done
  rm -rf "$out/packages"
  echo "   packages done ($(($(date +%s) - started)) s)"
fi

# Transport benchmark: starling-transport-bench starts its own Mosquitto and prints a table;
# report_packages.py turns it into result lines. One round per process, BENCH_TRANSPORT_REPEATS
# processes (default 3); the report takes the median. BENCH_TRANSPORT_MESSAGES (default 50000)
# stays below 65536: paho_pub.py queues every message at once, and paho-mqtt's 16-bit message
# ids then wrap onto messages still in flight, so a run of 100000 never sees its last PUBACK.
if want transport; then
  echo "== MQTT QoS 1 publish throughput, 64 B: Starling vs mosquitto_pub and paho-mqtt"
  for rep in $(seq "${BENCH_TRANSPORT_REPEATS:-3}"); do
    settle
    "$bin/starling-transport-bench" --paho-python "$py" --rounds 1 --messages "${BENCH_TRANSPORT_MESSAGES:-50000}" \
      >"$out/transport.txt"
    "$py" Benchmarks/report_packages.py transport-rows "$out/transport.txt" >>"$results"
  done
  echo "   transport done ($(($(date +%s) - started)) s)"
fi

# Agent benchmark: Benchmarks/agent-http/run.sh (wrk against `starling-agent serve` and `run`,
# RSS, feedback while serving, binary size) writes its JSON lines; BENCH_AGENT_STATIC names a
# --static-swift-stdlib build of starling-agent to size and measure beside the dynamic one.
if want agent; then
  echo "== agent: OIP infer vs the floor route (wrk), RSS, feedback while serving, binary size"
  settle
  agent_variants="serve run run:inference.maxWaitMicroseconds=0"
  [ -z "${BENCH_AGENT_STATIC:-}" ] || agent_variants="$agent_variants static-run"
  AGENT_HTTP_VARIANTS="${AGENT_HTTP_VARIANTS:-$agent_variants}" AGENT_STATIC_BIN="${BENCH_AGENT_STATIC:-}" AGENT_PYTHON="$py" \
    Benchmarks/agent-http/run.sh "$bin" "$out" >>"$results"
  echo "   agent done ($(($(date +%s) - started)) s)"
fi

# Fleet rollouts (issue 5): a ~1 MB package to ROLLOUT_DEVICES (1,000) simulated agents, first
# device-side (assignments and chunks from one CLI process: the floor), then driven by the hub
# (enrolment through the API, one 100 % rollout). Each prints a JSON line into results.jsonl.
if want fleet; then
  echo "== fleet: 1,000 simulated agents, device side then through the hub"
  Benchmarks/fleet/rollout_sim.sh "$bin" "$out" | grep '^{' >>"$results" || true
  Benchmarks/fleet/rollout_hub.sh "$bin" "$out" | grep '^{' >>"$results" || true
  echo "   fleet done ($(($(date +%s) - started)) s)"
fi

# Federated learning (issue 6), against Flower 1.42 in the same run (BENCH_FLWR_PYTHON, default
# .venv-flwr/bin/python): streaming FedAvg over K = 1,000 updates × P = 1M float32 against Flower's
# aggregate(), then the digits comparison on Flower's split (same inits, same batches) and
# Starling's best configurations. Text reports in $out/federated-*.txt.
if want federated; then
  echo "== federated: aggregation (1,000 × 1M) and digits vs Flower 1.42"
  flwr_py="${BENCH_FLWR_PYTHON:-.venv-flwr/bin/python}"
  BIN="$bin/starling-bench" PY="$flwr_py" Benchmarks/federated/aggregate.sh 1000 1000000 3 2>&1 | tee "$out/federated-aggregate.txt"
  STARLING="$bin/starling" PYTHON="$flwr_py" OUT="$out/federated" Benchmarks/federated/digits.sh 2>&1 | tee "$out/federated-digits.txt"
  Benchmarks/federated/round_agents.sh "$bin" 20 10 2>&1 | tee "$out/federated-round.txt" | grep '^{' >>"$results" || true
  echo "   federated done ($(($(date +%s) - started)) s)"
fi

# Hub benchmark (issue 5). Ingest: starling-hub-ingest-bench, one process per repeat
# (BENCH_HUB_REPEATS, default 3), each running the hub and mosquitto_sub sides on fresh brokers,
# the order alternating; BENCH_HUB_MESSAGES (default 300000) timed messages from 4 publisher
# processes to 1,000 enrolled devices. API: Benchmarks/hub-api/run.sh with the Python that has
# mlflow (BENCH_MLFLOW_PYTHON, default .venv-mlflow/bin/python).
if want hub; then
  echo "== hub: telemetry ingest beside mosquitto_sub; REST API beside MLflow's model registry"
  for rep in $(seq "${BENCH_HUB_REPEATS:-3}"); do
    settle
    sides="hub,mosquitto_sub"
    [ $((rep % 2)) = 1 ] || sides="mosquitto_sub,hub"
    "$bin/starling-hub-ingest-bench" --messages "${BENCH_HUB_MESSAGES:-300000}" --sides "$sides" >>"$results"
  done
  echo "   hub ingest done ($(($(date +%s) - started)) s)"
  settle
  HUB_API_ROUNDS="${HUB_API_ROUNDS:-3}" Benchmarks/hub-api/run.sh "$bin" "$out" "${BENCH_MLFLOW_PYTHON:-.venv-mlflow/bin/python}" \
    >>"$results"
  echo "   hub API done ($(($(date +%s) - started)) s)"
fi

swift_version=$( (swift --version 2>/dev/null || true) | head -1)
revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
"$py" - "$out/meta.json" <<EOF
import json, sys
json.dump({
    "command": "${BENCH_COMMAND:-${BENCH_ONLY:+BENCH_ONLY=$BENCH_ONLY }${BENCH_OUT:+BENCH_OUT=$BENCH_OUT }Benchmarks/run.sh $1 $2}",
    "repeats": $repeats,
    "cpu": $cpu,
    "busy_starts": $busy_starts,
    "settles": $settles,
    "settle_limit": ${BENCH_SETTLE:-15},
    "seconds": $(($(date +%s) - started)),
    "swift": "$swift_version",
    "revision": "$revision",
    "load_before": "$load_before",
    "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)",
    "epochs": $epochs,
    "lr": $lr,
    "sections": "$only",
}, open(sys.argv[1], "w"), indent=2)
EOF
"$py" Benchmarks/report.py "$out"

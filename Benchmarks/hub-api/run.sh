#!/usr/bin/env bash
# Hub API benchmark (issue 5): p50 / p99 and requests/s of list, get-model and get-version with
# 50 concurrent clients, `starling-hub serve` beside MLflow's model registry in the same run.
#
#   Benchmarks/hub-api/run.sh <release-bin-dir> <out-dir> <python-with-mlflow>
#
# Needs wrk, the release `starling` and `starling-hub` in <release-bin-dir>, and a Python with
# mlflow. Starts `starling-hub serve --data DIR --port 0` (viewer and operator tokens from
# `starling-hub token create`) and `mlflow server --backend-store-uri sqlite:///... --workers 2`,
# seeds both with HUB_API_MODELS models (default 200) x HUB_API_VERSIONS versions (default 5)
# through their REST APIs (seed.py; the hub's version bodies are the digits int8 .starling file),
# then for HUB_API_ROUNDS rounds (default 3) runs `wrk -t2 -c50 -dHUB_API_SECONDS (default 20)
# --latency` on each endpoint, hub then MLflow, the order swapped every round:
#   list     GET /api/v1/models?limit=50     GET /api/2.0/mlflow/registered-models/search?max_results=50
#   get      GET /api/v1/models/{name}       GET /api/2.0/mlflow/registered-models/get?name=
#   version  GET .../versions/{version}      GET /api/2.0/mlflow/model-versions/get?name=&version=
# (names and versions rotate through every seeded one). Nothing is pinned: both servers and wrk
# share the machine's cores. Prints JSON lines ("section":"hub"): the seeding, one per wrk run,
# and one summary per endpoint (medians over rounds, hub / MLflow ratios).
set -euo pipefail
bin="$(cd "$1" && pwd)"
cd "$(dirname "$0")/../.."
out="$2"
py="$3"
work="$out/hub-api"
models="${HUB_API_MODELS:-200}"
versions="${HUB_API_VERSIONS:-5}"
rounds="${HUB_API_ROUNDS:-3}"
seconds="${HUB_API_SECONDS:-20}"
command -v wrk >/dev/null || { echo "hub-api: wrk is missing (apt-get install wrk)" >&2; exit 2; }
"$py" -c "import mlflow" 2>/dev/null || { echo "hub-api: $py has no mlflow (pip install mlflow)" >&2; exit 2; }
rm -rf "$work"
mkdir -p "$work/paths"

model="$out/digits-int8.starling"
if [ ! -f "$model" ]; then
  "$bin/starling" model train --data data/digits.csv --label label --split data/digits_dirichlet05_20clients.json \
    --arch mlp:128,64 --scale divide:16 --epochs 40 --lr 0.002 --out "$out/digits.starling" >/dev/null
  "$bin/starling" model quantize "$out/digits.starling" --calibration data/digits.csv --out "$model" >/dev/null
fi

# Servers run in process groups of their own (setsid), so that MLflow's uvicorn workers stop
# with their parent: cleanup signals each group by its id.
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# wait_for <log> <pattern>: until the pattern appears in the log (at most 60 s).
wait_for() {
  for _ in $(seq 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "hub-api: '$2' never appeared in $1:" >&2
  tail -20 "$1" >&2
  exit 1
}

# The hub.
hub_data="$work/hub-data"
operator=$("$bin/starling-hub" token create --role operator --subject bench-seed --data "$hub_data" 2>/dev/null)
viewer=$("$bin/starling-hub" token create --role viewer --subject bench-wrk --data "$hub_data" 2>/dev/null)
setsid "$bin/starling-hub" serve --data "$hub_data" --port 0 >"$work/hub.log" 2>&1 &
pids+=($!)
wait_for "$work/hub.log" "listening on"
hub_url="http://$(sed -n 's/^listening on //p' "$work/hub.log" | head -1)"

# MLflow: its registry on SQLite, two workers.
mlflow_port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mlflow_bin="$(dirname "$py")/mlflow"
setsid "$mlflow_bin" server --backend-store-uri "sqlite:///$PWD/$work/mlflow.db" --default-artifact-root "$PWD/$work/mlflow-artifacts" \
  --host 127.0.0.1 --port "$mlflow_port" --workers 2 >"$work/mlflow.log" 2>&1 &
pids+=($!)
mlflow_url="http://127.0.0.1:$mlflow_port"
# MLflow takes 10 s to start on an idle machine here, over 100 s beside builds.
for _ in $(seq 3000); do curl -sf "$mlflow_url/health" >/dev/null && break; sleep 0.1; done
curl -sf "$mlflow_url/health" >/dev/null || { echo "hub-api: mlflow did not start:" >&2; tail -20 "$work/mlflow.log" >&2; exit 1; }

"$py" Benchmarks/hub-api/seed.py hub "$hub_url" "$operator" "$model" "$models" "$versions" "$work/paths"
"$py" Benchmarks/hub-api/seed.py mlflow "$mlflow_url" "$models" "$versions" "$work/paths"

# measure <side> <endpoint> <round>: one wrk run, its JSON line with the run's labels.
measure() {
  local side="$1" endpoint="$2" round="$3" url auth=()
  if [ "$side" = hub ]; then url="$hub_url" auth=(-H "Authorization: Bearer $viewer"); else url="$mlflow_url"; fi
  local line
  line=$(PATHS_FILE="$work/paths/$side-$endpoint.txt" wrk -t2 -c50 -d"${seconds}s" --latency "${auth[@]}" \
    -s Benchmarks/hub-api/wrk.lua "$url" | tail -1)
  echo "{\"section\":\"hub\",\"case\":\"api\",\"side\":\"$side\",\"endpoint\":\"$endpoint\",\"round\":$round,\"connections\":50,${line:1}" \
    | tee -a "$work/runs.jsonl"
}

for round in $(seq "$rounds"); do
  for endpoint in list get version; do
    if [ $((round % 2)) = 1 ]; then
      measure hub "$endpoint" "$round"
      measure mlflow "$endpoint" "$round"
    else
      measure mlflow "$endpoint" "$round"
      measure hub "$endpoint" "$round"
    fi
  done
done

"$py" - "$work/runs.jsonl" "$models" "$versions" <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
for endpoint in ("list", "get", "version"):
    summary = {"section": "hub", "case": "api_summary", "endpoint": endpoint, "models": int(sys.argv[2]),
               "versions_per_model": int(sys.argv[3]), "rounds": 0}
    for side in ("hub", "mlflow"):
        mine = [r for r in runs if r["side"] == side and r["endpoint"] == endpoint]
        summary["rounds"] = len(mine)
        for field in ("p50_us", "p99_us", "rps", "bytes_per_response"):
            summary[f"{side}_{field}"] = statistics.median(r[field] for r in mine)
        summary[f"{side}_failed"] = sum(r["errors"] + r["non_2xx"] for r in mine)
    pairs = {(r["round"], r["side"]): r for r in runs if r["endpoint"] == endpoint}
    rounds = sorted({r for r, _ in pairs})
    for field in ("p50_us", "p99_us", "rps"):
        summary[f"hub_over_mlflow_{field}"] = statistics.median(pairs[(r, "hub")][field] / pairs[(r, "mlflow")][field] for r in rounds)
    print(json.dumps(summary))
EOF

#!/usr/bin/env bash
# Measures starling-agent's resident memory while it answers a federated task on the digits
# MLP: train and sign a digits model, start Mosquitto and an agent (privacy.inputs=full, a
# device key), label ROWS predictions over its HTTP API, publish a fit task frame (written by the
# opt-in FederatedTaskFileTests) and wait for the signed update. Prints VmRSS before the task,
# the peak sampled while training (from /proc every 20 ms), VmRSS a second after the update,
# and VmHWM (the whole run's peak).
# Usage: scripts/fl-agent-rss.sh BIN_DIR SCRATCH_PATH [ROWS] [EPOCHS]
set -euo pipefail
bin="$1"
scratch="$2"
rows="${3:-1500}"
epochs="${4:-5}"
cd "$(dirname "$0")/.."
out=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$bin/starling" model train --data data/digits.csv --label label --arch mlp:128,64 --scale divide:16 \
  --epochs 5 --seed 7 --quiet --name digits --out "$out/digits-fp32.starling"
"$bin/starling" model quantize "$out/digits-fp32.starling" --calibration data/digits.csv --label label \
  --out "$out/digits-int8.starling" >/dev/null
"$bin/starling" keys generate --out "$out/keys" --name hub >/dev/null
"$bin/starling" keys generate --out "$out/keys" --name dev-1 >/dev/null
"$bin/starling" keys trust "$out/keys/hub.pub" --ring "$out/trust.json" >/dev/null
"$bin/starling" package create "$out/digits-int8.starling" --name digits --version 1.0.0 \
  --key "$out/keys/hub.key" --out "$out/digits.pkg" >/dev/null

port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$out/mosquitto.conf"
mosquitto -c "$out/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
broker_pid=$!
agent_pid=""
sub_pid=""
cleanup() {
  [ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null || true
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
cat >"$out/agent.json" <<JSON
{"device": {"id": "dev-1", "keyFile": "$out/keys/dev-1.key"}, "dataDirectory": "$out/data",
 "profile": {"name": "x86-64-gateway", "directory": "firmware-profiles"},
 "http": {"port": 0}, "mqtt": {"host": "127.0.0.1", "port": $port}, "privacy": {"inputs": "full"},
 "trust": {"ringFile": "$out/trust.json"}, "models": {"bootstrap": "$out/digits.pkg"}}
JSON
"$bin/starling-agent" run --config "$out/agent.json" >"$out/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 200); do grep -q "serving on" "$out/agent.log" && break; sleep 0.1; done
api="http://$(grep -o 'serving on [0-9.:]*' "$out/agent.log" | head -1 | cut -d' ' -f3)"

python3 - "$api" "$rows" <<'PY'
import csv, json, sys, urllib.request
api, rows = sys.argv[1], int(sys.argv[2])
name = json.load(urllib.request.urlopen(api + "/v2/models/digits"))["inputs"][0]["name"]
def post(path, body):
    request = urllib.request.Request(api + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))
with open("data/digits.csv") as f:
    reader = csv.reader(f)
    next(reader)
    for i, row in enumerate(reader):
        if i >= rows: break
        post("/v2/models/digits/infer", {"id": f"r{i}", "inputs": [{"name": name, "shape": [1, 64], "datatype": "FP32", "data": [float(v) for v in row[:64]]}]})
        post("/v2/models/digits/feedback", {"id": f"r{i}", "label": row[64]})
PY
sleep 2  # the prediction log flushes in the background

STARLING_FL_MODEL="$out/digits-int8.starling" STARLING_FL_TASK_OUT="$out/task.bin" STARLING_FL_EPOCHS="$epochs" \
  swift test --skip-build --scratch-path "$scratch" --filter FederatedTaskFileTests >/dev/null
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$agent_pid/status"; }
before=$(status VmRSS)
mosquitto_sub -p "$port" -t "starling/v1/devices/dev-1/fl/update" -C 1 -W 600 >/dev/null &
sub_pid=$!
sleep 0.5
mosquitto_pub -p "$port" -q 1 -t "starling/v1/devices/dev-1/fl/task" -f "$out/task.bin"
peak=0
while kill -0 "$sub_pid" 2>/dev/null; do
  rss=$(status VmRSS)
  [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 0.02
done
sub_pid=""
sleep 1
grep "federated" "$out/agent.log" || true
echo "rows=$rows epochs=$epochs VmRSS before the task: ${before} kB; peak VmRSS while answering: ${peak} kB;" \
  "VmRSS 1 s after: $(status VmRSS) kB; VmHWM: $(status VmHWM) kB"

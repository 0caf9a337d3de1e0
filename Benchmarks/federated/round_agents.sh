#!/usr/bin/env bash
# Federated round wall time with N real `starling-agent` processes over Mosquitto, and the agents'
# memory while training (issue 6). Mosquitto enforcing the hub's accounts, `starling-hub`, N agents
# (each with its own SQLite store, its Dirichlet partition of digits as labelled local traffic),
# 1.0.0 trained on the hub and rolled out to all, then one round of ITERATIONS fit iterations
# (FedAdam, int8 both ways, all N devices each time). Prints per-iteration wall times (open to
# close, from the round's history), their median, and the agents' RSS (VmRSS before the round,
# VmHWM after it) as a JSON line at the end.
#
#   Benchmarks/federated/round_agents.sh BIN_DIR [N=20] [ITERATIONS=10]
set -euo pipefail
bin="$(realpath "$1")"
n="${2:-20}"
iterations="${3:-10}"
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
split=data/digits_dirichlet05_20clients.json
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out: '$2' in $1" >&2; return 1; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT

broker_port=$(free_port)
cat >"$out/hub.json" <<JSON
{"dataDirectory": "$out/hub", "http": {"port": 0}, "mqtt": {"host": "127.0.0.1", "port": $broker_port},
 "broker": {"pidFile": "$out/mosquitto.pid"}, "rollouts": {"tickSeconds": 0.5}, "rounds": {"tickSeconds": 0.05}}
JSON
"$bin/starling-hub" broker-config --config "$out/hub.json" --port "$broker_port" --pid-file "$out/mosquitto.pid" \
  --out "$out/mosquitto.conf" >/dev/null
mosquitto -c "$out/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
pids+=($!)
"$bin/starling-hub" serve --config "$out/hub.json" >"$out/hub.log" 2>&1 &
pids=("$!" "${pids[@]}")
wait_for "$out/hub.log" "listening on"
wait_for "$out/hub.log" "broker session up"
export STARLING_HUB_URL="http://$(grep -o 'listening on [0-9.:]*' "$out/hub.log" | head -1 | cut -d' ' -f3)"
export STARLING_HUB_TOKEN=$("$bin/starling-hub" token create --role admin --subject bench --data "$out/hub" 2>/dev/null)

"$bin/starling" registry create digits >/dev/null
"$bin/starling" dataset upload digits data/digits.csv >/dev/null
"$bin/starling" registry train digits 1.0.0 --dataset digits --label label --split "$split" --arch mlp:64 \
  --scale divide:16 --epochs 10 --lr 0.003 --seed 3 >/dev/null

agents=()
agent_pids=()
for i in $(seq -w 1 "$n"); do
  id="dev-$i"
  "$bin/starling" fleet enroll "$id" --labels "fleet=bench" --profile x86-64-gateway --out "$out/$id/bundle" >/dev/null
  "$bin/starling-agent" run --config "$out/$id/bundle/agent.json" --set "dataDirectory=$out/$id/data" \
    --set http.port=0 --set "trust.ringFile=$out/$id/bundle/trust.json" \
    --set "mqtt.passwordFile=$out/$id/bundle/mqtt-password" --set "device.keyFile=$out/$id/bundle/device.key" \
    --set profile.directory=firmware-profiles --set telemetry.intervalSeconds=2 --set updates.probationSeconds=1 \
    --set privacy.inputs=full >"$out/$id/agent.log" 2>&1 &
  pids=("$!" "${pids[@]}")
  agent_pids+=("$!")
done
for i in $(seq -w 1 "$n"); do
  wait_for "$out/dev-$i/agent.log" "serving on"
  agents+=(--agent "dev-$i=$(grep -o 'serving on [0-9.:]*' "$out/dev-$i/agent.log" | head -1 | cut -d: -f2):bench")
done
id=$("$bin/starling" rollout create --model digits --version 1.0.0 --target fleet=bench --phases 100% \
  --min-devices 1 --observe 1s --on-fail pause --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$bin/starling" rollout watch "$id" --interval 1s >/dev/null
# Labelled local traffic (each agent its own partition) for a while, then quiet: the gateway
# profile trains only when idle.
python3 scripts/fleet_traffic.py run "${agents[@]}" --data data/digits.csv --split "$split" --stats "$out/traffic.json" &
traffic=$!
sleep "${TRAFFIC_SECONDS:-20}"
kill -TERM "$traffic" && wait "$traffic" 2>/dev/null || true
rss_before=$(for p in "${agent_pids[@]}"; do awk '/VmRSS/ {print $2}' "/proc/$p/status"; done | paste -sd,)

round=$("$bin/starling" round start --model digits --select fleet=bench --rounds "$iterations" --min-clients "$n" \
  --deadline 60s --local-epochs 2 --lr 0.1 --encoding int8 --down-encoding int8 --strategy fedadam \
  --strategy-option eta=0.05 --min-examples 5 --no-evaluate --version 1.1.0 --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$bin/starling" round watch "$round" --interval 1s
hwm=$(for p in "${agent_pids[@]}"; do awk '/VmHWM/ {print $2}' "/proc/$p/status"; done | paste -sd,)
"$bin/starling" round show "$round" --json >"$out/round.json"
python3 - "$out/round.json" "$rss_before" "$hwm" "$n" <<'PY'
import json, statistics, sys
round = json.load(open(sys.argv[1]))
fits = [h for h in round["history"] if h["kind"] == "fit"]
millis = [h["millis"] for h in fits]
before = [int(x) / 1024 for x in sys.argv[2].split(",")]
peak = [int(x) / 1024 for x in sys.argv[3].split(",")]
print(f"iterations (ms, open to close): {millis}")
print(f"median {statistics.median(millis):.0f} ms; participants {[len(h['participants']) for h in fits]}")
print(f"agent RSS before the round: median {statistics.median(before):.1f} MiB; high-water after: median "
      f"{statistics.median(peak):.1f} MiB, max {max(peak):.1f} MiB")
print(json.dumps({"bench": "federated-round", "agents": int(sys.argv[4]), "iterations": len(fits),
                  "median_ms": statistics.median(millis), "millis": millis, "status": round["status"],
                  "rss_before_mib_median": statistics.median(before), "rss_hwm_mib_median": statistics.median(peak),
                  "rss_hwm_mib_max": max(peak)}))
PY

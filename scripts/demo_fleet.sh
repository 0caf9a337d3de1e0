#!/usr/bin/env bash
# The fleet part of `make demo`: Mosquitto enforcing the accounts the hub writes, the hub, and
# eight agents in two groups on loopback, each with its own SQLite store and its own partition of
# digits as local traffic with feedback. The hub trains 1.0.0, which goes canary → all; 2.0.0 (a
# deliberate regression, also trained on the hub) is rolled back by the accuracy gate; 2.1.0 (the
# model of step 5, uploaded) goes canary → half → all and becomes `production` through a
# four-eyes approval. Then a federated round on the eight agents' own feedback produces 2.2.0,
# which the rollout machinery ships. Ends with a table and shuts everything down.
#
#   scripts/demo_fleet.sh <bin-dir> <int8-model-to-upload-as-2.1.0>
set -euo pipefail
bin="$1"
v21_model="$2"
cd "$(dirname "$0")/.."
out=out/demo/fleet
rm -rf "$out" && mkdir -p "$out"
split=data/digits_dirichlet05_20clients.json
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for FILE TEXT: until the log has the text (30 s at most)
  for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2 && tail -20 "$1" >&2 && return 1
}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== 10. A broker that enforces the hub's accounts and ACL, and the hub"
broker_port=$(free_port)
cat >"$out/hub.json" <<JSON
{"dataDirectory": "$out/hub", "http": {"port": 0},
 "mqtt": {"host": "127.0.0.1", "port": $broker_port},
 "broker": {"pidFile": "$out/mosquitto.pid"},
 "registry": {"fourEyes": true}, "rollouts": {"tickSeconds": 1}}
JSON
"$bin/starling-hub" broker-config --config "$out/hub.json" --port "$broker_port" --pid-file "$out/mosquitto.pid" \
  --out "$out/mosquitto.conf"
mosquitto -c "$out/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
pids+=($!)
"$bin/starling-hub" serve --config "$out/hub.json" >"$out/hub.log" 2>&1 &
hub_pid=$!
pids=("$hub_pid" "${pids[@]}")
wait_for "$out/hub.log" "listening on"
wait_for "$out/hub.log" "broker session up"
export STARLING_HUB_URL="http://$(grep -o 'listening on [0-9.:]*' "$out/hub.log" | head -1 | cut -d' ' -f3)"
export STARLING_HUB_TOKEN=$("$bin/starling-hub" token create --role admin --subject ops --data "$out/hub" 2>/dev/null)
approver=$("$bin/starling" token create --role operator --subject quinn --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')
echo "   hub at $STARLING_HUB_URL; tokens for ops (admin) and quinn (operator)"

echo
echo "== 11. Upload the digits data to the hub; the hub trains, quantizes, signs and registers 1.0.0"
"$bin/starling" registry create digits --description "UCI digits, MLP 64-128-64-10, int8" --four-eyes >/dev/null
"$bin/starling" dataset upload digits data/digits.csv
"$bin/starling" registry train digits 1.0.0 --dataset digits --label label --split "$split" --arch mlp:128,64 \
  --scale divide:16 --epochs 40 --lr 0.002 --seed 7

echo
echo "== 12. Enrol eight devices in two groups and start their agents"
agents=()
for i in 1 2 3 4 5 6 7 8; do
  id="dev-0$i"
  site=$([ $((i % 2)) = 1 ] && echo north || echo south)
  "$bin/starling" fleet enroll "$id" --labels "site=$site,fleet=demo" --profile x86-64-gateway --out "$out/$id/bundle" >/dev/null
  "$bin/starling-agent" run --config "$out/$id/bundle/agent.json" --set "dataDirectory=$out/$id/data" \
    --set http.port=0 --set "trust.ringFile=$out/$id/bundle/trust.json" \
    --set "mqtt.passwordFile=$out/$id/bundle/mqtt-password" --set "device.keyFile=$out/$id/bundle/device.key" \
    --set profile.directory=firmware-profiles \
    --set telemetry.intervalSeconds=2 --set updates.probationSeconds=2 --set privacy.inputs=full \
    >"$out/$id/agent.log" 2>&1 &
  pids=("$!" "${pids[@]}")
done
"$bin/starling" group set north site=north >/dev/null
"$bin/starling" group set south site=south >/dev/null
for i in 1 2 3 4 5 6 7 8; do
  id="dev-0$i"
  wait_for "$out/$id/agent.log" "serving on"
  site=$([ $((i % 2)) = 1 ] && echo north || echo south)
  agents+=(--agent "$id=$(grep -o 'serving on [0-9.:]*' "$out/$id/agent.log" | head -1 | cut -d: -f2):$site")
done
python3 scripts/fleet_traffic.py run "${agents[@]}" --data data/digits.csv --split "$split" --stats "$out/traffic.json" &
pids=("$!" "${pids[@]}")
sleep 3
"$bin/starling" group list
"$bin/starling" fleet list

echo
echo "== 13. Roll out 1.0.0: a canary of two, then everyone (a first version: constant gates, pause on failure)"
id=$("$bin/starling" rollout create --model digits --version 1.0.0 --target fleet=demo --phases 25%,100% \
  --gate 'error_rate <= 0.05' --min-devices 2 --observe 10s --on-fail pause --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$bin/starling" rollout watch "$id" --interval 2s

echo
echo "== 14. 2.0.0 is a deliberate regression (one epoch at a tiny learning rate): its canaries' accuracy fails the gate"
"$bin/starling" registry train digits 2.0.0 --dataset digits --label label --split "$split" --arch mlp:128,64 \
  --scale divide:16 --epochs 1 --lr 0.00002 --seed 11 --parent 1.0.0
id=$("$bin/starling" rollout create --model digits --version 2.0.0 --target fleet=demo --phases 25%,50%,100% \
  --gate 'accuracy >= baseline - 0.05' --gate 'error_rate <= baseline + 0.01' --gate 'p95_latency <= 2 * baseline + 5' \
  --min-devices 2 --observe 15s --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
if "$bin/starling" rollout watch "$id" --interval 2s; then
  echo "the regression was not rolled back" >&2 && exit 1
fi
echo "   rolled back, as it must be; every device runs 1.0.0 again"

echo
echo "== 15. 2.1.0 (the retrained model of step 5) goes canary → half → all, then production with four eyes"
"$bin/starling" registry upload digits 2.1.0 "$v21_model" --parent 1.0.0 --training-run demo-step-5
id=$("$bin/starling" rollout create --model digits --version 2.1.0 --target fleet=demo --phases 25%,50%,100% \
  --gate 'accuracy >= baseline - 0.05' --gate 'error_rate <= baseline + 0.01' --gate 'p95_latency <= 2 * baseline + 5' \
  --min-devices 2 --observe 10s --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$bin/starling" rollout watch "$id" --interval 2s
approval=$("$bin/starling" registry request-approval digits --alias production --version 2.1.0 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
if "$bin/starling" registry approve digits "$approval" 2>/dev/null; then
  echo "a self-approval was accepted" >&2 && exit 1
fi
echo "   ops cannot approve its own request; quinn approves:"
"$bin/starling" registry approve digits "$approval" --token "$approver"
"$bin/starling" registry aliases digits

echo
echo "== 16. Federated learning: the eight agents train 2.1.0 further on their own labelled traffic"
echo "   (no raw data leaves a device: int8 updates signed with each device's key; FedAvg with server momentum)"
round=$("$bin/starling" round start --model digits --from-version 2.1.0 --select fleet=demo --rounds 4 --min-clients 6 \
  --deadline 60s --local-epochs 1 --lr 0.05 --encoding int8 --down-encoding float16 --min-examples 10 \
  --strategy fedavgm --strategy-option server_momentum=0.5 --version 2.2.0 --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$bin/starling" round watch "$round"

echo
echo "== 17. The federated 2.2.0 ships like any version: canary, then everyone"
id=$("$bin/starling" rollout create --model digits --version 2.2.0 --target fleet=demo --phases 50%,100% \
  --gate 'accuracy >= baseline - 0.05' --gate 'error_rate <= baseline + 0.01' --min-devices 2 --observe 10s --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$bin/starling" rollout watch "$id" --interval 2s

echo
echo "== 18. The fleet now"
"$bin/starling" fleet list
echo
python3 scripts/fleet_traffic.py summary --stats "$out/traffic.json" --hub "$STARLING_HUB_URL" --token "$STARLING_HUB_TOKEN"
echo
echo "   logs: $out/hub.log, $out/dev-0*/agent.log, $out/mosquitto.log; hub metrics: $STARLING_HUB_URL/metrics"

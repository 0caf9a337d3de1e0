#!/usr/bin/env bash
# make demo: train a digits classifier, quantize it to int8, compare the two, sign it into a fleet
# package (and a delta), show what a device refuses; then run a device agent on a real broker,
# predict and label over its HTTP API, and roll out 1.1.0 to it as a signed delta.
set -euo pipefail
bin="$1"
cd "$(dirname "$0")/.."
out=out/demo
mkdir -p "$out"
split=data/digits_dirichlet05_20clients.json

echo "== 1. Train an MLP 64-128-64-10 on the digits training rows"
"$bin/starling" model train --data data/digits.csv --label label --split "$split" \
  --arch mlp:128,64 --scale divide:16 --epochs 40 --lr 0.002 --seed 7 --quiet --out "$out/digits-fp32.starling"

echo
echo "== 2. Quantize to int8 (static, calibrated on the training rows)"
"$bin/starling" model quantize "$out/digits-fp32.starling" --calibration data/digits.csv --split "$split" \
  --out "$out/digits-int8.starling"

echo
echo "== 3. fp32 vs int8 on the 360 held-out test rows"
"$bin/starling" model compare "$out/digits-fp32.starling" "$out/digits-int8.starling" \
  --data data/digits.csv --split "$split"

echo
echo "== 4. Sign and compress it into a fleet package; a device-side check accepts it"
rm -rf "$out/keys" "$out"/*.pkg "$out/trust.json"
"$bin/starling" keys generate --out "$out/keys" --name hub-demo
"$bin/starling" keys trust "$out/keys/hub-demo.pub" --ring "$out/trust.json"
"$bin/starling" package create "$out/digits-int8.starling" --name digits --version 1.0.0 \
  --key "$out/keys/hub-demo.key" --profiles x86-64-gateway,raspberry-pi-4 --out "$out/digits-1.0.0.pkg"
"$bin/starling" package verify "$out/digits-1.0.0.pkg" --trust "$out/trust.json" --profile raspberry-pi-4
"$bin/starling" package inspect "$out/digits-1.0.0.pkg"

echo
echo "== 5. Retrain for a second version and ship it as a delta against 1.0.0"
"$bin/starling" model train --data data/digits.csv --label label --split "$split" \
  --arch mlp:128,64 --scale divide:16 --epochs 45 --lr 0.002 --seed 8 --quiet --out "$out/digits-v2-fp32.starling"
"$bin/starling" model quantize "$out/digits-v2-fp32.starling" --calibration data/digits.csv --split "$split" \
  --out "$out/digits-v2-int8.starling"
"$bin/starling" package create "$out/digits-v2-int8.starling" --name digits --version 1.1.0 --parent 1.0.0 \
  --key "$out/keys/hub-demo.key" --base "$out/digits-1.0.0.pkg" --out "$out/digits-1.1.0-delta.pkg"
"$bin/starling" package create "$out/digits-v2-int8.starling" --name digits --version 1.1.0 --parent 1.0.0 \
  --key "$out/keys/hub-demo.key" --out "$out/digits-1.1.0.pkg" >/dev/null
"$bin/starling" package verify "$out/digits-1.1.0-delta.pkg" --trust "$out/trust.json" --base "$out/digits-1.0.0.pkg"
echo "   full package $(stat -c %s "$out/digits-1.1.0.pkg") bytes, delta $(stat -c %s "$out/digits-1.1.0-delta.pkg") bytes"
echo "   (a model retrained from scratch shares little with 1.0.0; fine-tuned versions give smaller deltas)"

echo
echo "== 6. What a device refuses: a flipped byte, and a package signed by a key it does not trust"
cp "$out/digits-1.0.0.pkg" "$out/tampered.pkg"
size=$(stat -c %s "$out/tampered.pkg")
printf '\xff' | dd of="$out/tampered.pkg" bs=1 seek=$((size - 100)) conv=notrunc status=none
if "$bin/starling" package verify "$out/tampered.pkg" --trust "$out/trust.json"; then
  echo "a tampered package was accepted" >&2; exit 1
fi
"$bin/starling" keys generate --out "$out/keys" --name intruder >/dev/null
"$bin/starling" package create "$out/digits-int8.starling" --name digits --version 9.9.9 \
  --key "$out/keys/intruder.key" --out "$out/intruder.pkg" >/dev/null
if "$bin/starling" package verify "$out/intruder.pkg" --trust "$out/trust.json"; then
  echo "a package signed by an unknown key was accepted" >&2; exit 1
fi
echo "   both refused, as they must be"

echo
echo "== 7. Start a broker and the device agent; it installs 1.0.0 and serves it"
rm -rf "$out/device" && mkdir -p "$out/device"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
broker_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n' "$broker_port" \
  >"$out/device/mosquitto.conf"
mosquitto -c "$out/device/mosquitto.conf" >"$out/device/mosquitto.log" 2>&1 &
broker_pid=$!
agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
}
trap cleanup EXIT
cat >"$out/device/agent.json" <<JSON
{"device": {"id": "demo-device"}, "dataDirectory": "$out/device/data",
 "profile": {"name": "x86-64-gateway", "directory": "firmware-profiles"},
 "http": {"port": 0}, "mqtt": {"host": "127.0.0.1", "port": $broker_port},
 "trust": {"ringFile": "$out/trust.json"}, "models": {"bootstrap": "$out/digits-1.0.0.pkg"},
 "updates": {"probationSeconds": 2}, "telemetry": {"intervalSeconds": 5}}
JSON
"$bin/starling-agent" check-config --config "$out/device/agent.json"
"$bin/starling-agent" run --config "$out/device/agent.json" >"$out/device/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do grep -q "serving on" "$out/device/agent.log" && break; sleep 0.1; done
api="http://$(grep -o 'serving on [0-9.:]*' "$out/device/agent.log" | head -1 | cut -d' ' -f3)"
body=$(awk -F, 'NR == 2 { printf "{\"id\":\"demo-1\",\"inputs\":[{\"name\":\"pixels\",\"shape\":[1,64],\"datatype\":\"FP32\",\"data\":["; for (i = 1; i <= 64; i++) printf "%s%s", $i, (i < 64 ? "," : ""); printf "]}]}" }' data/digits.csv)
input=$(curl -s "$api/v2/models/digits" | python3 -c 'import json, sys; print(json.load(sys.stdin)["inputs"][0]["name"])')
body=${body/\"pixels\"/\"$input\"}
echo "   POST $api/v2/models/digits/infer (the first test row, a $(awk -F, 'NR == 2 { print $NF }' data/digits.csv)):"
curl -s -H 'Content-Type: application/json' --data "$body" "$api/v2/models/digits/infer" | cut -c1-160; echo
echo "   POST feedback: $(curl -s -H 'Content-Type: application/json' --data '{"id": "demo-1", "label": "0"}' "$api/v2/models/digits/feedback")"

echo
echo "== 8. The operator assigns 1.1.0 as a delta: signed, fetched in chunks, verified, swapped in, on probation, committed"
"$bin/starling" device assign --broker "127.0.0.1:$broker_port" --device demo-device \
  --package "$out/digits-1.1.0-delta.pkg" --key "$out/keys/hub-demo.key" --wait-seconds 60
echo "   the agent now answers with: $(curl -s -H 'Content-Type: application/json' --data "$body" "$api/v2/models/digits/infer" | python3 -c 'import json, sys; print("model", json.load(sys.stdin)["model_version"])')"

echo
echo "== 9. A downgrade to 1.0.0 without a signed rollback order is refused; 1.1.0 keeps serving"
if "$bin/starling" device assign --broker "127.0.0.1:$broker_port" --device demo-device \
  --package "$out/digits-1.0.0.pkg" --key "$out/keys/hub-demo.key" --wait-seconds 20; then
  echo "a downgrade was accepted" >&2; exit 1
fi
echo "   the agent still answers with: $(curl -s -H 'Content-Type: application/json' --data "$body" "$api/v2/models/digits/infer" | python3 -c 'import json, sys; print("model", json.load(sys.stdin)["model_version"])')"
echo "   its metrics: $(curl -s "$api/metrics" | grep -c '^starling_agent') series, e.g. $(curl -s "$api/metrics" | grep '^starling_agent_model_info')"
echo "   the agent's log: $out/device/agent.log"
cleanup
trap - EXIT

echo
scripts/demo_fleet.sh "$bin" "$out/digits-v2-int8.starling"

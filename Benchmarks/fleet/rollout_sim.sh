#!/usr/bin/env bash
# Device-side rollout benchmark: a ~1 MB signed package to N simulated agents (default 1,000)
# on loopback, until every one runs the new version; beside it, in the same run, the broker's
# raw floor: the same bytes (N package-sized QoS 1 publishes) streamed to one subscriber.
#
#   Benchmarks/fleet/rollout_sim.sh <release-bin-dir> [out-dir]
#
# Needs mosquitto and the release `starling`, `starling-agent` and `starling-transport-bench` in
# <release-bin-dir>. Steps:
#   1. trains and quantizes an int8 MLP on data/digits.csv (ROLLOUT_ARCH, default mlp:1024,1024: a
#      package of about 1 MB) and signs it as digits 2.0.0 with a throw-away key;
#   2. starts Mosquitto on a free loopback port with the queue limits the fleet needs (the values
#      of TransportMQTT.MosquittoConfiguration: no message-count limit, 64 MiB per client, 1,000
#      in flight, 16 MiB messages; Mosquitto's default of 1,000 queued messages drops QoS 1);
#   3. starts `starling-agent simulate --count N` (all devices on digits 1.0.0, no model bytes,
#      stores in out-dir/fleet/data, emptied first) and waits until all are connected;
#   4. runs `starling device assign-many`: one signed assignment per device, published retained,
#      chunks served once by an in-process ChunkServer, events followed until every device
#      committed 2.0.0; its time runs from the first assignment published to the last commit;
#   5. stops the simulator (every device publishes offline) and prints its summary.
# RSS (VmRSS; VmHWM = peak) and CPU seconds of the broker, the simulator and the assigning CLI
# are read from /proc during and after the rollout.
#
# Prints JSON lines ("section":"fleet-rollout"): the rollout, the simulator's summary, the
# processes, the raw floor, and the ratio rollout / floor.
set -euo pipefail
bin="$(cd "$1" && pwd)"
cd "$(dirname "$0")/../.."
out="${2:-out/bench}"
count="${ROLLOUT_DEVICES:-1000}"
arch="${ROLLOUT_ARCH:-mlp:1024,1024}"
rate="${ROLLOUT_CONNECT_RATE:-200}"
work="$out/fleet"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
command -v mosquitto >/dev/null || { echo "fleet: mosquitto is missing" >&2; exit 2; }

model="$work/digits-big-int8.starling"
if [ ! -f "$model" ]; then
  "$bin/starling" model train --data data/digits.csv --label label --arch "$arch" --scale divide:16 --epochs 2 \
    --seed 1 --out "$work/digits-big.starling" --quiet >/dev/null
  "$bin/starling" model quantize "$work/digits-big.starling" --calibration data/digits.csv --out "$model" >/dev/null
fi
rm -rf "$work/keys" "$work/trust.json" "$work/digits-2.0.0.pkg"
"$bin/starling" keys generate --out "$work/keys" --name hub >/dev/null
"$bin/starling" keys trust "$work/keys/hub.pub" --ring "$work/trust.json" >/dev/null
"$bin/starling" package create "$model" --name digits --version 2.0.0 --key "$work/keys/hub.key" \
  --out "$work/digits-2.0.0.pkg" >/dev/null
package_bytes=$(stat -c %s "$work/digits-2.0.0.pkg")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 0
max_queued_bytes $((64 << 20))
message_size_limit $((16 << 20))
set_tcp_nodelay true
user $(id -un)
log_dest file $work/mosquitto.log
log_type error
log_type warning
listener $port 127.0.0.1
protocol mqtt
CONF
rm -f "$work/mosquitto.log"
ulimit -n "$(ulimit -Hn)"
mosquitto -c "$work/mosquitto.conf" &
broker=$!
sim=""
cleanup() {
  [ -n "$sim" ] && kill "$sim" 2>/dev/null || true
  kill "$broker" 2>/dev/null || true
}
trap cleanup EXIT
sleep 0.5

# /proc readings: "rss_kb hwm_kb cpu_seconds" of a process.
usage() {
  local pid=$1
  local rss hwm ticks
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  ticks=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat")
  echo "$rss $hwm $(python3 -c "print(round($ticks / $(getconf CLK_TCK), 2))")"
}

rm -rf "$work/data"
"$bin/starling-agent" simulate --count "$count" --data "$work/data" --trust "$work/trust.json" \
  --profile x86-64-gateway --profile-directory firmware-profiles --model digits --version 1.0.0 \
  --broker "127.0.0.1:$port" --connect-rate "$rate" --json >"$work/simulate.log" 2>&1 &
sim=$!
start=$(date +%s.%N)
until grep -q "connected $count updating" "$work/simulate.log"; do
  kill -0 "$sim" 2>/dev/null || { cat "$work/simulate.log" >&2; exit 1; }
  sleep 0.5
done
connected=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
sleep 2
read -r sim_rss0 _ sim_cpu0 <<<"$(usage "$sim")"
read -r broker_rss0 _ broker_cpu0 <<<"$(usage "$broker")"

/usr/bin/time -f "%M %U %S" -o "$work/assign.time" "$bin/starling" device assign-many --broker "127.0.0.1:$port" \
  --prefix sim- --count "$count" --package "$work/digits-2.0.0.pkg" --key "$work/keys/hub.key" --json \
  >"$work/assign.log" 2>&1 || { tail -5 "$work/assign.log" >&2; }
read -r sim_rss1 sim_hwm1 sim_cpu1 <<<"$(usage "$sim")"
read -r broker_rss1 broker_hwm1 broker_cpu1 <<<"$(usage "$broker")"
read -r cli_maxrss cli_user cli_sys <"$work/assign.time"
rollout=$(tail -1 "$work/assign.log")

kill -TERM "$sim"
wait "$sim" || true
sim=""
summary=$(tail -1 "$work/simulate.log")
kill "$broker"
wait "$broker" 2>/dev/null || true

# The floor: the same bytes as plain QoS 1 publishes through a fresh broker to one subscriber.
floor_line=$("$bin/starling-transport-bench" --messages "$count" --payload "$package_bytes" --windows 100 --rounds 3 \
  --subscriber on | grep "MQTTTransport" | head -1 || true)

python3 - "$count" "$package_bytes" "$connected" "$rollout" "$summary" "$floor_line" <<PY
import json, sys
count, package, connected, rollout, summary, floor = sys.argv[1:7]
count, package = int(count), int(package)
rollout, summary = json.loads(rollout), json.loads(summary)
print(json.dumps({"section": "fleet-rollout", "devices": count, "packageBytes": package,
                  "connectedAfterSeconds": float(connected), **rollout}))
print(json.dumps({"section": "fleet-rollout", "simulator": summary}))
procs = {
  "broker": {"rssIdleKB": $broker_rss0, "rssAfterKB": $broker_rss1, "peakKB": $broker_hwm1,
             "rolloutCPUSeconds": round($broker_cpu1 - $broker_cpu0, 2)},
  "simulator": {"rssIdleKB": $sim_rss0, "rssAfterKB": $sim_rss1, "peakKB": $sim_hwm1,
                "rssIdlePerDeviceKB": round($sim_rss0 / count, 1),
                "rolloutCPUSeconds": round($sim_cpu1 - $sim_cpu0, 2)},
  "assigner": {"peakKB": $cli_maxrss, "cpuSeconds": round($cli_user + $cli_sys, 2)},
}
print(json.dumps({"section": "fleet-rollout", "processes": procs}))
parts = floor.split()
rate = next((float(p) for p in reversed(parts) if p.replace('.', '', 1).isdigit()), None) if floor else None
if rate:
    floor_seconds = count / rate
    print(json.dumps({"section": "fleet-rollout", "floor": floor.strip(), "floorSeconds": round(floor_seconds, 2),
                      "rolloutOverFloor": round(rollout["seconds"] / floor_seconds, 1) if rollout.get("seconds") else None}))
PY

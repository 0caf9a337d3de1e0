#!/usr/bin/env bash
# Hub-driven rollout benchmark (issue 5): a ~1 MB package rolled out by `starling-hub` to N
# simulated agents (default 1,000) enrolled through its API, on loopback, until every one reports
# the new version. The device-side floor (the same rollout without a hub, assignments and chunks
# from one CLI process) is `rollout_sim.sh`, run beside it by `make bench` (BENCH_ONLY=fleet).
#
#   Benchmarks/fleet/rollout_hub.sh <release-bin-dir> [out-dir]
#
# Steps: Mosquitto with the hub's password and ACL files (`starling-hub broker-config`), the hub,
# N enrolments (`starling fleet enroll`, bundles in out-dir), `starling-agent simulate --bundles`
# (every device on digits 1.0.0), 2.0.0 (a ~1 MB int8 MLP) registered, then one rollout of a single
# 100% phase; the time runs from `rollout create` until the hub's live status shows all N on
# 2.0.0. RSS (peak) and CPU seconds of the hub, the broker and the simulator come from /proc.
# Prints JSON lines ("section":"fleet-hub").
set -euo pipefail
bin="$(cd "$1" && pwd)"
cd "$(dirname "$0")/../.."
out="${2:-out/bench}"
count="${ROLLOUT_DEVICES:-1000}"
arch="${ROLLOUT_ARCH:-mlp:1024,1024}"
work="$out/fleet-hub"
rm -rf "$work" && mkdir -p "$work"
work="$(cd "$work" && pwd)"
ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
usage() { # usage PID -> "rss_kb hwm_kb cpu_seconds"
  awk '/VmRSS/ {r=$2} /VmHWM/ {h=$2} END {printf "%s %s ", r, h}' "/proc/$1/status"
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$1/stat"
}
wait_for() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timeout: $2 in $1" >&2; exit 1; }

broker_port=$(free_port)
cat >"$work/hub.json" <<JSON
{"dataDirectory": "$work/hub", "http": {"port": 0}, "mqtt": {"host": "127.0.0.1", "port": $broker_port},
 "broker": {"pidFile": "$work/mosquitto.pid"}, "registry": {"fourEyes": false}, "rollouts": {"tickSeconds": 1}}
JSON
"$bin/starling-hub" broker-config --config "$work/hub.json" --port "$broker_port" --pid-file "$work/mosquitto.pid" \
  --out "$work/mosquitto.conf" >/dev/null
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
broker=$!
pids+=("$broker")
"$bin/starling-hub" serve --config "$work/hub.json" >"$work/hub.log" 2>&1 &
hub=$!
pids=("$hub" "${pids[@]}")
wait_for "$work/hub.log" "broker session up"
export STARLING_HUB_URL="http://$(grep -o 'listening on [0-9.:]*' "$work/hub.log" | head -1 | cut -d' ' -f3)"
export STARLING_HUB_TOKEN=$("$bin/starling-hub" token create --role admin --subject bench --data "$work/hub" 2>/dev/null)

"$bin/starling" model train --data data/digits.csv --label label --arch "$arch" --scale divide:16 --epochs 2 --seed 1 \
  --out "$work/big.starling" --quiet >/dev/null
"$bin/starling" model quantize "$work/big.starling" --calibration data/digits.csv --out "$work/big-int8.starling" >/dev/null
"$bin/starling" registry create digits >/dev/null
"$bin/starling" registry upload digits 1.0.0 "$work/big-int8.starling" >/dev/null 2>&1
"$bin/starling" model train --data data/digits.csv --label label --arch "$arch" --scale divide:16 --epochs 2 --seed 2 \
  --out "$work/big2.starling" --quiet >/dev/null
"$bin/starling" model quantize "$work/big2.starling" --calibration data/digits.csv --out "$work/big2-int8.starling" >/dev/null
package_bytes=$("$bin/starling" registry upload digits 2.0.0 "$work/big2-int8.starling" --json 2>/dev/null |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["package"]["size"])')

started=$(date +%s.%N)
for i in $(seq 1 "$count"); do
  id=$(printf 'sim-%04d' "$i")
  "$bin/starling" fleet enroll "$id" --labels fleet=bench --profile x86-64-gateway --out "$work/bundles/$id" >/dev/null
done
enrol_seconds=$(python3 -c "import time; print(round(time.time() - $started, 1))")

"$bin/starling-agent" simulate --count "$count" --bundles "$work/bundles" --data "$work/sim" --model digits \
  --version 1.0.0 --telemetry-interval 5 --profile-directory firmware-profiles >"$work/sim.log" 2>&1 &
sim=$!
pids=("$sim" "${pids[@]}")
online() { curl -s "$STARLING_HUB_URL/metrics" | awk '/^starling_hub_devices\{presence="online"\}/ {print $2}'; }
on_version() { curl -s "$STARLING_HUB_URL/metrics" | awk -v v="$1" '$0 ~ "version=\""v"\"" {print $2}'; }
for _ in $(seq 1200); do [ "$(online)" = "$count" ] && break; sleep 0.5; done
[ "$(online)" = "$count" ] || { echo "only $(online) of $count devices came online" >&2; exit 1; }

begin=$(date +%s.%N)
"$bin/starling" rollout create --model digits --version 2.0.0 --target fleet=bench --phases 100% --min-devices 1 \
  --observe 1s --on-fail pause --baseline 1.0.0 --json >"$work/rollout.json"
peak_hub=0
for _ in $(seq 2400); do
  done_count=$(on_version 2.0.0)
  [ "${done_count:-0}" = "$count" ] && break
  sleep 0.25
done
end=$(date +%s.%N)
seconds=$(python3 -c "print(round($end - $begin, 2))")
read -r hub_rss hub_hwm hub_cpu <<<"$(usage "$hub")"
read -r broker_rss broker_hwm broker_cpu <<<"$(usage "$broker")"
read -r sim_rss sim_hwm sim_cpu <<<"$(usage "$sim")"
reached=$(on_version 2.0.0)
sent=$(curl -s "$STARLING_HUB_URL/metrics" | awk '/^starling_hub_chunk_bytes_sent / {print $2}')
echo "{\"section\":\"fleet-hub\",\"devices\":$count,\"reached\":${reached:-0},\"seconds\":$seconds,\"package_bytes\":$package_bytes,\"chunk_bytes_sent\":${sent:-0},\"enrol_seconds\":$enrol_seconds,\"hub\":{\"rss_kb\":$hub_rss,\"peak_kb\":$hub_hwm,\"cpu_s\":$hub_cpu},\"broker\":{\"rss_kb\":$broker_rss,\"peak_kb\":$broker_hwm,\"cpu_s\":$broker_cpu},\"simulator\":{\"rss_kb\":$sim_rss,\"peak_kb\":$sim_hwm,\"cpu_s\":$sim_cpu}}"

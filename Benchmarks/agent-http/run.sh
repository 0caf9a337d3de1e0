#!/usr/bin/env bash
# Agent HTTP benchmark: OIP inference over HTTP with the digits int8 model, beside the same
# server answering a trivial route (GET /v2/health/live, the HTTP stack's floor), in one run.
#
#   Benchmarks/agent-http/run.sh <release-bin-dir> [out-dir]
#
# Needs wrk (Debian package) and the release `starling` and `starling-agent` in <release-bin-dir>.
# Trains and quantizes the digits model with `starling` (out-dir/digits-int8.starling), starts
# `starling-agent serve` on a free port, and runs wrk for each of 1 and 16 connections:
# floor, infer, floor, infer, ... (AGENT_HTTP_REPEATS rounds, default 3, AGENT_HTTP_SECONDS
# each, default 5). Prints one JSON line per measurement and a summary line per connection
# count with the medians and the infer/floor p50 ratio, plus the server's RSS (VmRSS while
# serving 16 connections, VmHWM at the end). AGENT_HTTP_THREADS sets the server's event loop
# threads (default 1); with 1, the server runs on CPU 0 and wrk on CPU 1 when taskset exists.
set -euo pipefail
bin="$(cd "$1" && pwd)"
cd "$(dirname "$0")/../.."
out="${2:-out/bench}"
repeats="${AGENT_HTTP_REPEATS:-3}"
seconds="${AGENT_HTTP_SECONDS:-5}"
threads="${AGENT_HTTP_THREADS:-1}"
mkdir -p "$out"
command -v wrk >/dev/null || { echo "agent-http: wrk is missing (apt-get install wrk)" >&2; exit 2; }

model="$out/digits-int8.starling"
if [ ! -f "$model" ]; then
  "$bin/starling" model train --data data/digits.csv --label label --split data/digits_dirichlet05_20clients.json \
    --arch mlp:128,64 --scale divide:16 --epochs 40 --lr 0.002 --out "$out/digits.starling" >/dev/null
  "$bin/starling" model quantize "$out/digits.starling" --calibration data/digits.csv --out "$model" >/dev/null
fi

# One digits row (the first 64 columns of the first data line) as an OIP JSON request.
body="$out/agent-http-infer.json"
awk -F, 'NR == 2 { printf "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,64],\"datatype\":\"FP32\",\"data\":["; for (i = 1; i <= 64; i++) printf "%s%s", $i, (i < 64 ? "," : ""); printf "]}]}" }' data/digits.csv >"$body"

server_cpu=() client_cpu=()
if [ "$threads" = 1 ] && command -v taskset >/dev/null; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi
log="$out/agent-http-server.log"
"${server_cpu[@]}" "$bin/starling-agent" serve --model "digits=$model" --port 0 --threads "$threads" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "serving on" "$log" && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2)
[ -n "$port" ] || { echo "agent-http: the server did not start: $(cat "$log")" >&2; exit 1; }
url="http://127.0.0.1:$port"
curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$body" "$url/v2/models/digits/infer" ||
  { echo "agent-http: the infer request failed" >&2; exit 1; }
rss_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
idle_rss=$(rss_kb VmRSS)

# measure <case> <connections> <path> [body file]: one wrk run, one JSON line.
measure() {
  local line
  line=$(BODY_FILE="${4:-}" "${client_cpu[@]}" wrk -t1 -c"$2" -d"${seconds}s" -s Benchmarks/agent-http/wrk.lua "$url$3" | tail -1)
  echo "{\"bench\":\"agent-http\",\"case\":\"$1\",\"connections\":$2,\"threads\":$threads,${line#\{}"
}

serving_rss=0
results=()
for connections in 1 16; do
  for round in $(seq "$repeats"); do
    results+=("$(measure floor "$connections" /v2/health/live)")
    echo "${results[-1]}"
    if [ "$connections" = 16 ] && [ "$round" = 1 ]; then
      (sleep "$((seconds / 2))"; awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" >"$out/agent-http-rss") &
      sampler=$!
    fi
    results+=("$(measure infer "$connections" /v2/models/digits/infer "$body")")
    echo "${results[-1]}"
  done
done
wait "$sampler"
serving_rss=$(cat "$out/agent-http-rss" 2>/dev/null || echo 0)
peak_rss=$(rss_kb VmHWM)

# Medians per case and connection count, and the ratio the issue sets (infer p50 <= 1.5x floor p50).
printf '%s\n' "${results[@]}" | awk -v idle="$idle_rss" -v serving="$serving_rss" -v peak="$peak_rss" -v threads="$threads" '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function field(line, name,   m) { match(line, "\"" name "\":[0-9.]+"); return substr(line, RSTART + length(name) + 3, RLENGTH - length(name) - 3) }
  {
    key = field($0, "connections") "/" ($0 ~ /"case":"infer"/ ? "infer" : "floor")
    p50[key] = p50[key] " " field($0, "p50_us"); p99[key] = p99[key] " " field($0, "p99_us"); rps[key] = rps[key] " " field($0, "rps")
    bad[key] += field($0, "errors") + field($0, "non_2xx")
  }
  END {
    for (c = 1; c <= 16; c += 15) {
      i = c "/infer"; f = c "/floor"
      printf "{\"bench\":\"agent-http\",\"case\":\"summary\",\"connections\":%d,\"threads\":%d,\"infer_p50_us\":%.1f,\"infer_p99_us\":%.1f,\"infer_rps\":%.0f,\"floor_p50_us\":%.1f,\"floor_p99_us\":%.1f,\"floor_rps\":%.0f,\"p50_ratio\":%.2f,\"failed_requests\":%d}\n", c, threads, median(p50[i]), median(p99[i]), median(rps[i]), median(p50[f]), median(p99[f]), median(rps[f]), median(p50[i]) / median(p50[f]), bad[i] + bad[f]
    }
    printf "{\"bench\":\"agent-http\",\"case\":\"rss\",\"threads\":%d,\"idle_rss_kb\":%d,\"serving_rss_kb\":%d,\"peak_rss_kb\":%d}\n", threads, idle, serving, peak
  }'

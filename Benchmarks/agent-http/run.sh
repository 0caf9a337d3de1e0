#!/usr/bin/env bash
# Agent benchmark: OIP inference over HTTP with the digits int8 model, beside the same server
# answering a trivial route (GET /v2/health/live, the HTTP stack's floor) in the same run; the
# agent's memory; feedback rows/s while it serves; the binary's size.
#
#   Benchmarks/agent-http/run.sh <release-bin-dir> [out-dir]
#
# Needs wrk and the release `starling`, `starling-agent` and `starling-store-bench` in
# <release-bin-dir>. Trains and quantizes the digits model (out-dir/digits-int8.starling), signs
# it into a package with a throw-away key (out-dir/agent/), and measures each variant in
# AGENT_HTTP_VARIANTS (default "serve run"):
#   serve           `starling-agent serve --model digits=FILE --threads 1` (a plain model server)
#   run             `starling-agent run --config FILE`: the daemon, the package as models.bootstrap,
#                   mqtt.enabled=false, profile x86-64-gateway, its store in out-dir/agent/data
#                   (emptied first): every prediction logged to SQLite, drift sketches, telemetry
#   run:K=V,K=V     the daemon with `--set K=V` overrides (e.g. run:inference.threads=1)
#   static-run...   the same with the binary AGENT_STATIC_BIN (a --static-swift-stdlib build)
# Each variant is one server process; for each of 1 and 16 connections wrk runs floor, infer,
# floor, infer, ... (AGENT_HTTP_REPEATS rounds, default 3, AGENT_HTTP_SECONDS each, default 5).
# Server on CPU 0 and wrk on CPU 1 when taskset exists (AGENT_HTTP_PIN=0: unpinned).
#
# Then, unless AGENT_FEEDBACK=0, on a fresh `run` daemon: (1) feedback over HTTP while serving:
# wrk logs predictions with known ids, then one wrk POSTs their labels to /feedback while another
# keeps inferring; (2) `starling-store-bench` (the store's feedback path beside Python's sqlite3,
# same schema, same run) while wrk drives inference against the daemon the whole time.
# Last, the stripped size of starling-agent (and of AGENT_STATIC_BIN when set).
#
# Prints JSON lines ("section":"agent"): one per wrk run, a summary per variant and connection
# count (medians, infer p50 / floor p50), RSS per variant (VmRSS at the middle of the first
# 16-connection infer run, VmHWM at the end), feedback and size lines.
set -euo pipefail
bin="$(cd "$1" && pwd)"
cd "$(dirname "$0")/../.."
out="${2:-out/bench}"
repeats="${AGENT_HTTP_REPEATS:-3}"
seconds="${AGENT_HTTP_SECONDS:-5}"
variants="${AGENT_HTTP_VARIANTS:-serve run}"
py="${AGENT_PYTHON:-python3}"
work="$out/agent"
mkdir -p "$work"
command -v wrk >/dev/null || { echo "agent: wrk is missing (apt-get install wrk)" >&2; exit 2; }

model="$out/digits-int8.starling"
if [ ! -f "$model" ]; then
  "$bin/starling" model train --data data/digits.csv --label label --split data/digits_dirichlet05_20clients.json \
    --arch mlp:128,64 --scale divide:16 --epochs 40 --lr 0.002 --out "$out/digits.starling" >/dev/null
  "$bin/starling" model quantize "$out/digits.starling" --calibration data/digits.csv --out "$model" >/dev/null
fi
# A throw-away signing key, its trust ring, and the model as a signed package.
rm -rf "$work/keys" "$work/trust.json" "$work/digits.pkg"
"$bin/starling" keys generate --out "$work/keys" --name bench >/dev/null
"$bin/starling" keys trust "$work/keys/bench.pub" --ring "$work/trust.json" >/dev/null
"$bin/starling" package create "$model" --name digits --version 1.0.0 --key "$work/keys/bench.key" --out "$work/digits.pkg" >/dev/null
config="$work/agent.json"
cat >"$config" <<EOF
{"device": {"id": "bench-1"}, "dataDirectory": "$PWD/$work/data",
 "profile": {"name": "x86-64-gateway", "directory": "$PWD/firmware-profiles"},
 "http": {"port": 0}, "mqtt": {"enabled": false},
 "trust": {"ringFile": "$PWD/$work/trust.json"}, "models": {"bootstrap": "$PWD/$work/digits.pkg"}}
EOF

# One digits row (the first 64 columns of the first data line) as an OIP JSON request.
body="$work/infer.json"
awk -F, 'NR == 2 { printf "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,64],\"datatype\":\"FP32\",\"data\":["; for (i = 1; i <= 64; i++) printf "%s%s", $i, (i < 64 ? "," : ""); printf "]}]}" }' data/digits.csv >"$body"

server_cpu=() client_cpu=()
if [ "${AGENT_HTTP_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0)
  client_cpu=(taskset -c 1)
fi

pid=""
stop_server() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap stop_server EXIT

# start <variant>: starts the server for a variant; sets pid and url.
start() {
  local variant="$1" agent="$bin/starling-agent" sets=() log="$work/server.log"
  if [[ "$variant" == static-* ]]; then
    agent="${AGENT_STATIC_BIN:?agent: variant $variant needs AGENT_STATIC_BIN}"
    variant="${variant#static-}"
  fi
  if [[ "$variant" == *:* ]]; then
    local setting
    for setting in $(tr ',' ' ' <<<"${variant#*:}"); do sets+=(--set "$setting"); done
  fi
  case "${variant%%:*}" in
    serve) "${server_cpu[@]}" "$agent" serve --model "digits=$model" --port 0 --threads 1 >"$log" 2>&1 & ;;
    run)
      rm -rf "$work/data"
      "${server_cpu[@]}" "$agent" run --config "$config" "${sets[@]}" >"$log" 2>&1 &
      ;;
    *) echo "agent: unknown variant '$1'" >&2 && exit 2 ;;
  esac
  pid=$!
  for _ in $(seq 600); do grep -q "serving on" "$log" && break; sleep 0.1; done
  local port
  port=$(grep -o 'serving on [0-9.]*:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] || { echo "agent: $1 did not start: $(cat "$log")" >&2; exit 1; }
  url="http://127.0.0.1:$port"
  curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$body" "$url/v2/models/digits/infer" ||
    { echo "agent: the infer request failed on $1: $(tail -5 "$log")" >&2; exit 1; }
}
rss_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }

# wrk_line <connections> <seconds> <path> [env...]: one wrk run (one thread), its JSON line.
wrk_line() {
  local connections="$1" duration="$2" path="$3"
  shift 3
  env "$@" "${client_cpu[@]}" wrk -t1 -c"$connections" -d"${duration}s" -s Benchmarks/agent-http/wrk.lua "$url$path" | tail -1
}

# The latency runs of one variant, their summaries and its RSS.
measure_variant() {
  local variant="$1" results=() line sampler="" serving_rss=0 idle_rss
  start "$variant"
  idle_rss=$(rss_kb VmRSS)
  for connections in 1 16; do
    for round in $(seq "$repeats"); do
      line=$(wrk_line "$connections" "$seconds" /v2/health/live)
      results+=("{\"section\":\"agent\",\"bench\":\"agent-http\",\"variant\":\"$variant\",\"case\":\"floor\",\"connections\":$connections,${line#\{}")
      echo "${results[-1]}"
      if [ "$connections" = 16 ] && [ "$round" = 1 ]; then
        (sleep "$((seconds / 2))"; rss_kb VmRSS >"$work/rss") &
        sampler=$!
      fi
      line=$(wrk_line "$connections" "$seconds" /v2/models/digits/infer BODY_FILE="$body")
      results+=("{\"section\":\"agent\",\"bench\":\"agent-http\",\"variant\":\"$variant\",\"case\":\"infer\",\"connections\":$connections,${line#\{}")
      echo "${results[-1]}"
    done
  done
  wait "$sampler"
  serving_rss=$(cat "$work/rss" 2>/dev/null || echo 0)
  local peak_rss threads
  peak_rss=$(rss_kb VmHWM)
  threads=$(ls "/proc/$pid/task" | wc -l)
  stop_server
  # Medians per case and connection count, and the issue's ratio (infer p50 <= 1.5x floor p50).
  printf '%s\n' "${results[@]}" | awk -v variant="$variant" -v idle="$idle_rss" -v serving="$serving_rss" -v peak="$peak_rss" -v threads="$threads" '
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
        printf "{\"section\":\"agent\",\"bench\":\"agent-http\",\"variant\":\"%s\",\"case\":\"summary\",\"connections\":%d,\"infer_p50_us\":%.1f,\"infer_p99_us\":%.1f,\"infer_rps\":%.0f,\"floor_p50_us\":%.1f,\"floor_p99_us\":%.1f,\"floor_rps\":%.0f,\"p50_ratio\":%.2f,\"failed_requests\":%d}\n", variant, c, median(p50[i]), median(p99[i]), median(rps[i]), median(p50[f]), median(p99[f]), median(rps[f]), median(p50[i]) / median(p50[f]), bad[i] + bad[f]
      }
      printf "{\"section\":\"agent\",\"bench\":\"agent-http\",\"variant\":\"%s\",\"case\":\"rss\",\"idle_rss_kb\":%d,\"serving_rss_kb\":%d,\"peak_rss_kb\":%d,\"os_threads\":%d}\n", variant, idle, serving, peak, threads
    }'
}

for variant in $variants; do measure_variant "$variant"; done

if [ "${AGENT_FEEDBACK:-1}" != 0 ]; then
  # (1) Feedback over HTTP while serving: log predictions with known ids (2x the time), then label
  # them through /feedback (one label per request, as a device's application sends them) while
  # another wrk keeps 8 connections inferring. Attached = answered 200 (404/409 count as failed).
  start run
  seed=$(wrk_line 16 "$((2 * seconds))" /v2/models/digits/infer BODY_FILE="$body" WRK_MODE=ids ID_PREFIX=fb-)
  logged=$(sed 's/.*"requests":\([0-9]*\).*/\1/' <<<"$seed")
  ids=$((logged * 9 / 10))
  sleep 1
  wrk_line 8 "$((seconds + 2))" /v2/models/digits/infer BODY_FILE="$body" >"$work/beside.json" &
  beside=$!
  sleep 1
  feedback=$(wrk_line 8 "$seconds" /v2/models/digits/feedback WRK_MODE=feedback ID_PREFIX=fb- ID_COUNT="$ids")
  wait "$beside"
  echo "{\"section\":\"agent\",\"bench\":\"agent-feedback\",\"case\":\"feedback_http\",\"ids\":$ids,\"beside_infer\":$(cat "$work/beside.json"),${feedback#\{}"
  # (2) The store benchmark (its own SQLite file, Python's sqlite3 beside it) while wrk keeps 16
  # connections inferring against the daemon for the whole time; wrk stops on SIGINT.
  env BODY_FILE="$body" "${client_cpu[@]}" wrk -t1 -c16 -d3600s -s Benchmarks/agent-http/wrk.lua \
    "$url/v2/models/digits/infer" >"$work/load.txt" 2>&1 &
  load=$!
  sleep 1
  "$bin/starling-store-bench" --python "$py" | while read -r line; do
    echo "{\"section\":\"agent\",\"bench\":\"agent-store\",\"case\":\"store_while_serving\",${line#\{}"
  done
  kill -INT "$load"
  wait "$load" || true
  echo "{\"section\":\"agent\",\"bench\":\"agent-store\",\"case\":\"load_beside_store\",$(tail -1 "$work/load.txt" | sed 's/^{//')"
  echo "{\"section\":\"agent\",\"bench\":\"agent-store\",\"case\":\"daemon_predictions_logged\",\"rows\":$(
    "$py" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM predictions").fetchone()[0])' \
      "$work/data/agent.sqlite" 2>/dev/null || echo null)}"
  stop_server
fi

# Binary sizes: the file and a stripped copy.
size_line() {
  local name="$1" file="$2"
  [ -f "$file" ] || return 0
  strip -o "$work/stripped" "$file"
  echo "{\"section\":\"agent\",\"bench\":\"agent-size\",\"case\":\"binary\",\"binary\":\"$name\",\"bytes\":$(stat -L -c %s "$file"),\"stripped_bytes\":$(stat -c %s "$work/stripped"),\"shared_libraries\":$(ldd "$file" 2>/dev/null | grep -c '=>' || true)}"
  rm -f "$work/stripped"
}
size_line dynamic "$bin/starling-agent"
[ -z "${AGENT_STATIC_BIN:-}" ] || size_line static "$AGENT_STATIC_BIN"

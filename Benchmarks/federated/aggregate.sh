#!/usr/bin/env bash
# Streaming FedAvg in Starling against Flower's aggregate() on the same K × P inputs, in one run.
# Usage: Benchmarks/federated/aggregate.sh [K] [P] [REPEATS]
#   needs a release starling-bench (BIN, default: swift build -c release's) and a venv with flwr
#   (PY, default /tmp/flwr-venv/bin/python; see flower_fixtures.py for the two pip commands).
set -euo pipefail
cd "$(dirname "$0")/../.."
K=${1:-1000}
P=${2:-1000000}
R=${3:-3}
BIN=${BIN:-$(swift build -c release --show-bin-path)/starling-bench}
PY=${PY:-/tmp/flwr-venv/bin/python}

echo "machine: $(uname -m), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo);" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%Y-%m-%dT%H:%MZ)" >&2
starling=$("$BIN" aggregate --updates "$K" --parameters "$P" --repeats "$R")
flower=$("$PY" Benchmarks/federated/flower_aggregate.py --updates "$K" --parameters "$P" --repeats "$R")
echo "$starling"
echo "$flower"
"$PY" - "$starling" "$flower" <<'PYEOF'
import json, sys
s, f = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rel = abs(s["checksum"] - f["checksum"]) / max(1e-12, abs(f["checksum"]))
print(f"| side | median wall s | runs wall s | median CPU s | peak above baseline MB |")
print(f"|---|---|---|---|---|")
for r in (s, f):
    runs = ', '.join(f'{x:.3f}' for x in r['seconds'])
    print(f"| {r['side']} | {r['median_s']:.3f} | {runs} | {r['median_cpu_s']:.3f} | {r['peak_above_baseline_mb']:.0f} |")
print(f"ratio starling/flower: wall {s['median_s'] / f['median_s']:.3f}, CPU {s['median_cpu_s'] / f['median_cpu_s']:.3f} "
      f"(target ≤ 0.5); "
      f"one model = {s['model_mb']:.1f} MB; checksums agree to {rel:.1e} relative")
PYEOF

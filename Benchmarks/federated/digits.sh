#!/usr/bin/env bash
# Starling vs Flower 1.42 FedAvg on Flower's digits split (20 Dirichlet(0.5) clients), same
# initial parameters and the same mini-batches, then Starling's best configurations.
#
#   Benchmarks/federated/digits.sh            # from the repository root
#   STARLING=path/to/starling PYTHON=path/to/python ROUNDS=30 Benchmarks/federated/digits.sh
#
# PYTHON needs flwr==1.42.0 and numpy (python3 -m venv V && V/bin/pip install flwr==1.42.0 numpy).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-30}
PYTHON=${PYTHON:-python3}
if [[ -z "${STARLING:-}" ]]; then
    swift build -c release --product starling >/dev/null
    STARLING="$(swift build -c release --show-bin-path)/starling"
fi
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
DATA=(--data data/digits.csv --partition data/digits_dirichlet05_20clients.json)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%FT%TZ)"
echo "results in $OUT"

for model in mlp logreg; do
    init=(--init-out "$OUT/init-$model.json")
    [[ $model == logreg ]] && init+=(--zero-init)
    echo
    echo "== $model: FedAvg, SGD lr 0.1, batch 32, 2 local epochs, 20 clients, float32 =="
    "$STARLING" simulate federated "${DATA[@]}" --model "$model" --rounds "$ROUNDS" "${init[@]}" \
        --json "$OUT/starling-$model.json" --quiet >/dev/null
    "$PYTHON" Benchmarks/federated/flower_digits.py "${DATA[@]}" --model "$model" --rounds "$ROUNDS" \
        --init "$OUT/init-$model.json" --json "$OUT/flower-$model.json" --compare "$OUT/starling-$model.json" --quiet
done

# The best Starling configurations found (same local work: 2 epochs, batch 32, all 20 clients).
best() {
    local name=$1
    shift
    "$STARLING" simulate federated "${DATA[@]}" --rounds "$ROUNDS" "$@" --json "$OUT/$name.json" --quiet >/dev/null
    "$PYTHON" - "$OUT/$name.json" "$name" "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
# Flower's bytes, measured in the same run: its serialized parameters (ndarrays_to_parameters)
# per client and direction, times 20 clients, both ways (gRPC framing not counted).
model = "mlp" if sys.argv[2].startswith("mlp") else "logreg"
flower = json.load(open(f"{sys.argv[3]}/flower-{model}.json"))
flower = flower["rounds"] if isinstance(flower, dict) else flower
peer = 2 * 20 * flower[-1]["bytesPerClientDirection"]
print(f"{sys.argv[2]:24s} final {100 * s['finalAccuracy']:5.1f} %  best {100 * s['bestAccuracy']:5.1f} %  "
      f"first>=95 % {s.get('firstRound95') or '-':>3}  {s['meanBytesPerRound'] / 1000:7.1f} kB/round  "
      f"({s['meanBytesPerRound'] / peer:.2f} x Flower's {peer / 1000:.0f} kB)  {s['seconds']:.2f} s")
PY
}
echo
echo "== best configurations =="
best mlp-fedavg-float32 --model mlp
best mlp-fedavgm-float32 --model mlp --strategy fedavgm:1,0.9
best mlp-best-float32 --model mlp ${MLP_BEST:---strategy fedadam:0.05}
# The compressed runs go over a private Mosquitto: their bytes are MQTT packets counted at the
# 20 clients' transports, both ways (PUBLISH and PUBACK), not frame sizes.
best mlp-best-int8-int8 --model mlp ${MLP_BEST:---strategy fedadam:0.05} ${MLP_WIRE:---up int8 --down int8} --network mosquitto
best mlp-best-topk0.1-int8 --model mlp ${MLP_BEST:---strategy fedadam:0.05} --up topk:0.1 --down int8 --network mosquitto
best logreg-fedavg-float32 --model logreg --zero-init
best logreg-fedavgm-float32 --model logreg --zero-init --strategy fedavgm:1,0.9
best logreg-best-float32 --model logreg --zero-init ${LOGREG_BEST:---strategy fedadam:0.1}

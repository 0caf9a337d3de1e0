#!/usr/bin/env bash
# make demo: train a digits classifier, quantize it to int8, compare the two, then sign it into
# a fleet package (and a delta), and show what a device refuses.
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

#!/usr/bin/env bash
# make demo: train a digits classifier, quantize it to int8, and compare the two.
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

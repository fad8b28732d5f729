#!/usr/bin/env bash
# The end-to-end zoo case of `probust reliability` (issue 11): campaigns of mnist-cnn and mnist-mlp on the
# 1,000-image MNIST test split (2,000 queries per input, a few minutes on 2 cores; resumed if interrupted),
# then the claim of the issue (pfd <= 1e-4 at 95%, 10 demands per hour, prior of perfection 0.5) with the 1oo2
# pair, a low-demand claim the campaign can support (with a 2oo3 voting figure), and a screenshot of the HTML report in headless Chromium.
#
# Usage: scripts/reliability_zoo.sh [OUT_DIR]       (default out/reliability; PROBUST and PYTHON override the tools)
set -euo pipefail
OUT=${1:-out/reliability}
PROBUST=${PROBUST:-probust}
PYTHON=${PYTHON:-python}
PERTURBATION=uniform-linf:eps=0.1,clip=0:1
mkdir -p "$OUT"
# different seeds: the two channels' noise draws are independent, so per-input products are unbiased
for run in "mnist-cnn 0 cnn" "mnist-mlp 1 mlp"; do
    read -r model seed name <<<"$run"
    if [ -f "$OUT/$name.db" ]; then
        $PROBUST campaign resume --db "$OUT/$name.db" --quiet
    else
        $PROBUST campaign run --model "$model" --dataset mnist --perturbation "$PERTURBATION" --budget 2000 \
            --seed "$seed" --db "$OUT/$name.db" --quiet
    fi
done
$PROBUST reliability --db "$OUT/cnn.db" --model mnist-cnn --op-split train --demand-rate 10/h --target-pfd 1e-4 \
    --confidence 0.95 --prior-perfection 0.5 --redundant-db "$OUT/mlp.db" \
    --html "$OUT/claim.html" --json "$OUT/claim.json" --gsn "$OUT/claim.yaml"
$PROBUST reliability --db "$OUT/cnn.db" --model mnist-cnn --op-split train --demand-rate 1/yr --target-pfd 5e-2 \
    --confidence 0.95 --prior-perfection 0.5 --redundant-db "$OUT/mlp.db" --voting 2oo3 \
    --html "$OUT/claim-low-demand.html" --json "$OUT/claim-low-demand.json" --gsn "$OUT/claim-low-demand.yaml"
command -v chromium >/dev/null || { echo "no chromium: apt-get install -y chromium for the screenshot"; exit 0; }
$PYTHON scripts/screenshot.py "$OUT/claim.html" "$OUT/claim.png" 1100x4600
$PYTHON scripts/screenshot.py "$OUT/claim-low-demand.html" "$OUT/claim-low-demand.png" 1100x4600

#!/usr/bin/env bash
# `make gbm-eval`: the glioblastoma-seg networks on held-out synthetic cases
# (scripts/fixtures/gbm_heldout.py, a generator the networks never saw),
# already preprocessed as BraTS data are (--skip n4,register,skull-strip),
# scored by scripts/bench/gbm_dice.py against the acceptance thresholds.
# GBM_CASES (default 12) and GBM_SEED (default 777) choose the cases.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${GBM_WORK:-$(mktemp -d)}
cases=${GBM_CASES:-12}
seed=${GBM_SEED:-777}
cargo build --release --quiet -p deepneuro-glioblastoma-seg
python scripts/fixtures/gbm_heldout.py "$work/cases" "$cases" "$seed" >/dev/null
SECONDS=0
target/release/glioblastoma-seg --input-dir "$work/cases" \
  --flair-glob '*_flair.nii.gz' --t1-glob '*_t1.nii.gz' --t1post-glob '*_t1ce.nii.gz' \
  --skip n4,register,skull-strip --device "${GBM_DEVICE:-auto}" --no-quicklook -q \
  -o "$work/pred" --json >"$work/summary.json"
echo "glioblastoma-seg: $cases cases in ${SECONDS} s ($work/summary.json)"
python scripts/bench/gbm_dice.py "$work/cases" "$work/pred" \
  --min-median-wt 0.90 --min-median-et 0.80 --min-wt 0.80

#!/usr/bin/env bash
# `make train-glioblastoma`: retrains the shipped glioblastoma-seg networks
# from scratch on CPU, reproducibly (seeded data and training): 160 synthetic
# cases (scripts/train/gbm_phantoms.py, seed 2026) into target/gbm/train,
# then the whole-tumour and the enhancing network with the configs beside
# this script. Checkpoints land in target/gbm/{whole,enhancing}/best.safetensors;
# models/glioblastoma/ holds the shipped copies. About 1.5 hours on 2 cores.
# On BraTS and a GPU, use `deepneuro train --recipe glioblastoma` instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p deepneuro
mkdir -p target/gbm
if [ ! -f target/gbm/train/.done ]; then
  python scripts/train/gbm_phantoms.py target/gbm/train 160 2026 --workers 2 >/dev/null
  touch target/gbm/train/.done
fi
for net in whole enhancing; do
  target/release/deepneuro train --config "scripts/train/glioblastoma-$net-cpu.toml"
done
sha256sum target/gbm/whole/best.safetensors target/gbm/enhancing/best.safetensors

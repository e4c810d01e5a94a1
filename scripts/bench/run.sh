#!/usr/bin/env bash
# `make bench`: each benchmark runs ours and the reference peer in the same
# run on the same cores and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p deepneuro-io --example bench_io -p deepneuro-dicom --example dicom_load
echo "== NIfTI I/O: deepneuro vs nibabel"
python scripts/bench/io_bench.py target/release/examples/bench_io "${BENCH_REPEATS:-9}"
echo
echo "== DICOM series load: deepneuro vs dcm2niix vs pydicom"
python scripts/bench/dicom_bench.py target/release/examples/dicom_load --repeat "${BENCH_REPEATS:-9}"
echo
echo "== skull-strip: deepneuro vs deepbet 1.0.2 (CPU, 2 threads)"
cargo build --release --quiet -p deepneuro-skull-strip
python scripts/bench/skullstrip_bench.py target/release/skull-strip 10
echo
echo "== preprocessing: deepneuro vs SimpleITK and ANTs (2 threads)"
cargo build --release --quiet -p deepneuro
python scripts/bench/preprocess_bench.py target/release/deepneuro
echo
echo "== 3D patch batches: deepneuro-data vs TorchIO's Queue (2 workers)"
cargo build --release --quiet -p deepneuro-data --example bench_patches
python scripts/bench/patch_bench.py target/release/examples/bench_patches
echo
echo "== patch inference: deepneuro-infer vs MONAI sliding_window_inference (2 threads)"
cargo build --release --quiet -p deepneuro-infer --example bench_infer
python scripts/bench/patch_infer_bench.py target/release/examples/bench_infer
echo
echo "== training step, glioblastoma U-Net: deepneuro-train vs PyTorch (2 threads)"
cargo build --release --quiet -p deepneuro-train --example bench_train_step
python scripts/bench/train_step_bench.py target/release/examples/bench_train_step

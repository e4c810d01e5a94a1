#!/usr/bin/env bash
# `make bench`: each benchmark runs ours and the reference peer in the same
# run on the same cores and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p deepneuro-io --example bench_io
python scripts/bench/io_bench.py target/release/examples/bench_io "${BENCH_REPEATS:-9}"

#!/usr/bin/env bash
# Puts the two deepbet 1.0.2 TorchScript networks into the model cache without touching
# GitHub: pip downloads the wheel from PyPI (or the site's PyPI mirror) and the registry
# imports the members that models.toml declares, checking each SHA-256. Idempotent.
#
# Usage: scripts/registry/import-deepbet.sh [deepneuro binary]
# The binary defaults to target/release/deepneuro (`deepneuro models import`), falling back
# to the registry's own deepneuro-models binary built with cargo.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
wheel="$("$root/scripts/registry/fetch-deepbet-wheel.sh")"
bin="${1:-$root/target/release/deepneuro}"
if [ -x "$bin" ] && "$bin" models --help >/dev/null 2>&1; then
  "$bin" models import "$wheel"
else
  cargo run --quiet --release --manifest-path "$root/Cargo.toml" \
    -p deepneuro-registry --bin deepneuro-models -- import "$wheel"
fi

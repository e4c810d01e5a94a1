#!/usr/bin/env bash
# Downloads the deepbet 1.0.2 wheel from PyPI (no dependencies) into target/deepbet-wheel/,
# where the registry's tests and `make setup` look for it. PyPI is the one source of the
# deepbet weights that air-gapped sites can mirror like any other Python package.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${1:-$root/target/deepbet-wheel}"
pip="${PIP:-$root/.venv/bin/pip}"
[ -x "$pip" ] || pip="$(command -v pip3 || command -v pip)"
mkdir -p "$dest"
wheel="$dest/deepbet-1.0.2-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  "$pip" download deepbet==1.0.2 --no-deps --only-binary=:all: -d "$dest" >&2
fi
echo "$wheel"

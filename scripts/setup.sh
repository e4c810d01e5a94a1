#!/usr/bin/env bash
# Installs what deepneuro needs on a fresh Debian 12 machine, idempotently:
# Debian packages, the project venv (.venv) with torch 2.11.0 and the
# reference tools, then builds the binaries. Fast when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(build-essential pkg-config ca-certificates python3-venv libhdf5-dev)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the requirements changed since the last success.
stamp=.venv/.deepneuro-requirements
want=$(cat scripts/requirements.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages (torch 2.11.0 is large: a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r scripts/requirements.txt
  .venv/bin/python -m pip install -q --no-deps deepbet==1.0.2 antspyx==0.6.3
  echo "$want" > "$stamp"
fi

export PATH="$PWD/.venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1
if [ "${DEEPNEURO_SETUP_BUILD:-1}" = 1 ]; then
  cargo build --release --bins --quiet
  # Model weights from the deepbet wheel on PyPI, hash-checked into the cache.
  scripts/registry/import-deepbet.sh target/release/deepneuro >/dev/null
  # The glioblastoma-seg networks, committed (trained on synthetic data).
  for w in models/glioblastoma/*.safetensors; do
    target/release/deepneuro models import "$w" >/dev/null
  done
fi
echo "setup: done"

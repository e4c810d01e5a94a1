#!/usr/bin/env bash
# `make docker`: builds the shared runtime base and one image per module from
# docker/Dockerfile, tagged deepneuro/<module>:<version> and :latest.
#
# BUILDER and BASE default to the Debian stand-ins docker/base/debian-images.sh makes
# (nothing can be pulled here); set them to build on the production images, e.g.
#   BUILDER=rust:1.95-bookworm BASE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04 make docker
# CUDA=0 leaves libtorch's CUDA libraries out (a CPU-only image, about a tenth the size).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
modules=${MODULES:-skull-strip}
cuda=${CUDA:-1}
if [ -z "${BUILDER:-}" ] || [ -z "${BASE:-}" ]; then
  if ! command -v debootstrap >/dev/null; then
    echo "docker: installing debootstrap"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap >/dev/null
  fi
  docker/base/debian-images.sh
fi
builder=${BUILDER:-deepneuro/debian-builder:bookworm}
base=${BASE:-deepneuro/debian-runtime:bookworm}

# An inspecting proxy's certificate authorities, for the builder's downloads only.
rm -f docker/site-ca/*.crt
cp /usr/local/share/ca-certificates/*.crt docker/site-ca/ 2>/dev/null || true

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  revision=$revision-dirty
fi
python=${PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3

common=(--build-arg "BUILDER=$builder" --build-arg "BASE=$base" --build-arg "CUDA=$cuda"
  --build-arg "MODULES=$modules" --build-arg "VERSION=$version" --build-arg "GIT_REVISION=$revision")

echo "docker: runtime base (BASE=$base, CUDA=$cuda)"
docker build -f docker/Dockerfile "${common[@]}" --target runtime \
  -t "deepneuro/runtime:$version" -t deepneuro/runtime:latest .
for module in $modules; do
  # The label names each model the module's spec uses (those of the modules it includes
  # with `op = "module"` too) with the SHA-256 of models.toml, the same hash the registry
  # client checked when it put the file into the image.
  models=$("$python" - "pipelines/$module.toml" models.toml <<'PY'
import os, sys, tomllib
registry = {m["name"]: m for m in tomllib.load(open(sys.argv[2], "rb"))["model"]}
names = []
def walk(path):
    for step in tomllib.load(open(path, "rb")).get("step", []):
        if step.get("op") == "module":
            m = step["module"]
            sub = m if ("/" in m or m.endswith(".toml")) else f"{m}.toml"
            walk(os.path.join(os.path.dirname(path), sub))
        elif "model" in step and step["model"] not in names:
            names.append(step["model"])
walk(sys.argv[1])
print(",".join(f"{n}@{registry[n]['version']}=sha256:{registry[n]['sha256']}" for n in names))
PY
)
  echo "docker: deepneuro/$module:$version ($models)"
  docker build -f docker/Dockerfile "${common[@]}" --build-arg "MODELS=$models" \
    --target "$module" -t "deepneuro/$module:$version" -t "deepneuro/$module:latest" .
done
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^deepneuro/' | grep -v ':latest' || true

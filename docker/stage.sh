#!/usr/bin/env bash
# Runs in the builder stage of docker/Dockerfile: sorts what the runtime image needs into
# one folder per image layer, each laid out as it will sit under / in the image:
#
#   <out>/libtorch/         libtorch for the CPU and every other shared library the module
#                           binaries load that a base image does not have (HDF5, ...)
#   <out>/cuda/             libtorch's CUDA part and the NVIDIA libraries from the torch
#                           wheel that it loads (empty when CUDA=0)
#   <out>/modules/<name>/   the module binary and its model weights, hash-checked by the
#                           registry client
#
# The wheel's layout is kept under /opt/deepneuro/site-packages, so the relative rpaths
# inside libtorch_cuda ($ORIGIN/../../nvidia/...) find the NVIDIA libraries unchanged.
#
# Usage: docker/stage.sh OUT CUDA(0|1) MODULE...
set -euo pipefail
out=$1 cuda=$2
shift 2
python=${STAGE_PYTHON:-/opt/torch/bin/python}
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
prefix=/opt/deepneuro
rm -rf "$out"
mkdir -p "$out/libtorch$prefix/lib" "$out/libtorch$prefix/site-packages/torch/lib" "$out/cuda"

# The C and C++ runtimes every base image has: taking them from the builder would
# shadow the base's own (possibly newer) copies.
is_system() {
  case $(basename "$1") in
    ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|\
    libutil.so*|libstdc++.so*|libgcc_s.so*|linux-vdso*) return 0 ;;
  esac
  return 1
}

# Resolved shared libraries of an ELF file, one path per line.
# Paths are normalised (ldd prints torch/lib/../../nvidia/...) but symlinks kept.
needs() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | xargs -r realpath -s; }

# Places a library: torch's and NVIDIA's keep their wheel path, others go to lib/.
place() { # library, layer
  local lib=$1 layer=$2 rel
  case $lib in
    "$site"/*)
      rel=${lib#"$site"/}
      mkdir -p "$out/$layer$prefix/site-packages/$(dirname "$rel")"
      cp -L "$lib" "$out/$layer$prefix/site-packages/$rel"
      ;;
    *)
      cp -L "$lib" "$out/$layer$prefix/lib/$(basename "$lib")"
      ;;
  esac
}

# 1. The module binaries and what they link (libtorch for the CPU, HDF5, ...).
for module in "$@"; do
  bin=target/release/$module
  [ -x "$bin" ] || { echo "stage: $bin was not built" >&2; exit 1; }
  for lib in $(needs "$bin"); do
    is_system "$lib" || place "$lib" libtorch
  done
done

# 2. CUDA: libtorch's CUDA libraries (libtorch_cuda_linalg and the NVRTC stub are opened at
# run time, not linked) and the NVIDIA libraries they link. The CUDA toolkit package
# (nvidia/cu13) is taken file by file; cuDNN, NCCL, cuSPARSELt and NVSHMEM whole, because
# they open sibling libraries (cuDNN's engines, NVSHMEM's transports) by name at run time.
if [ "$cuda" = 1 ]; then
  torch_lib=$site/torch/lib
  mkdir -p "$out/cuda$prefix/site-packages/torch/lib"
  declare -A packages=()
  for name in libtorch_cuda.so libc10_cuda.so libtorch_cuda_linalg.so libcaffe2_nvrtc.so libtorch_nvshmem.so; do
    [ -e "$torch_lib/$name" ] || continue
    place "$torch_lib/$name" cuda
    for dep in $(needs "$torch_lib/$name"); do
      case $dep in
        "$site"/nvidia/cu13/*) place "$dep" cuda ;;
        "$site"/nvidia/*) rel=${dep#"$site"/nvidia/}; packages[${rel%%/*}]=1 ;;
        "$torch_lib"/*) [ -e "$out/libtorch$prefix/site-packages/torch/lib/$(basename "$dep")" ] ||
          place "$dep" cuda ;;
      esac
    done
  done
  # NVRTC loads its builtins by name.
  for f in "$site"/nvidia/cu13/lib/libnvrtc-builtins.so.*; do
    case $f in *.alt.*) ;; *) [ -e "$f" ] && place "$f" cuda ;; esac
  done
  for p in "${!packages[@]}"; do
    mkdir -p "$out/cuda$prefix/site-packages/nvidia/$p"
    cp -a "$site/nvidia/$p/lib" "$out/cuda$prefix/site-packages/nvidia/$p/"
  done
  echo "stage: CUDA: $(cd "$out/cuda$prefix/site-packages" && find . -name '*.so*' | sort | tr '\n' ' ')"
fi

# 3. Per module: the binary (without debug sections) and its weights. The registry client
# imports them from the deepbet wheel on PyPI, checking each file's SHA-256 against
# models.toml; the containers then run offline.
wheels=$(mktemp -d)
"$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  deepbet==1.0.2 -d "$wheels"
for module in "$@"; do
  dest=$out/modules/$module$prefix
  mkdir -p "$dest/bin"
  strip --strip-debug -o "$dest/bin/$module" "target/release/$module"
  DEEPNEURO_HOME=$dest/home target/release/deepneuro-models import "$wheels"/deepbet-1.0.2-py3-none-any.whl >/dev/null
  DEEPNEURO_HOME=$dest/home target/release/deepneuro-models verify
  chmod -R a+rX "$dest"
done
rm -rf "$wheels"
du -sh "$out"/* "$out"/modules/* | sed 's/^/stage: /'

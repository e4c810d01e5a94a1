#!/usr/bin/env bash
# Makes the two local stand-ins for the images `make docker` would otherwise pull, from
# Debian's packages only (no registry is reachable on the build machines here):
#
#   deepneuro/debian-runtime:bookworm  debootstrap --variant=minbase: the BASE of the tests
#   deepneuro/debian-builder:bookworm  the same plus a C toolchain, HDF5, python3-venv and
#                                      this machine's Rust toolchain (rustc, cargo, std only)
#
# Idempotent: an image whose recipe label equals this script's hash (and the Rust
# version) is kept. Usage: docker/base/debian-images.sh [--force]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
rust_sysroot="$(rustc --print sysroot)"
rust_version="$(rustc --version | cut -d' ' -f2)"
recipe="$(cat "$0" | sha256sum | cut -c1-16)-rust-$rust_version"
force=${1:-}

have() { # image, recipe
  [ "$force" != --force ] &&
    [ "$(docker image inspect -f '{{index .Config.Labels "io.deepneuro.recipe"}}' "$1" 2>/dev/null)" = "$2" ]
}

work="$(mktemp -d /var/tmp/deepneuro-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Turns a root file system folder into an image; the folder is removed afterwards.
import() { # rootfs, tag
  tar -C "$1" --numeric-owner -c . |
    docker import \
      --change "LABEL io.deepneuro.recipe=$recipe" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
      --change 'CMD ["/bin/bash"]' - "$2" >/dev/null
  rm -rf "$1"
  echo "debian-images: built $2 ($(docker image inspect -f '{{.Size}}' "$2" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# The caches and documentation debootstrap leaves are of no use inside an image.
trim() {
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* \
    "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/*
}

if ! have deepneuro/debian-runtime:$suite "$recipe"; then
  echo "debian-images: debootstrap $suite (minbase) for the runtime base"
  debootstrap --variant=minbase "$suite" "$work/runtime" "$mirror" >"$work/runtime.log" 2>&1 ||
    { tail -20 "$work/runtime.log"; exit 1; }
  trim "$work/runtime"
  import "$work/runtime" deepneuro/debian-runtime:$suite
fi

if ! have deepneuro/debian-builder:$suite "$recipe"; then
  echo "debian-images: debootstrap $suite with a C toolchain, HDF5 and python3-venv for the builder"
  debootstrap --variant=minbase \
    --include=ca-certificates,build-essential,pkg-config,libhdf5-dev,python3-venv,python3-pip,file \
    "$suite" "$work/builder" "$mirror" >"$work/builder.log" 2>&1 ||
    { tail -20 "$work/builder.log"; exit 1; }
  trim "$work/builder"
  # The Rust toolchain this machine builds with: compiler, cargo and the standard library,
  # not the documentation or the sources.
  dest="$work/builder/usr/local/rust"
  mkdir -p "$dest/bin" "$dest/lib/rustlib"
  cp -a "$rust_sysroot"/bin/rustc "$rust_sysroot"/bin/cargo "$dest/bin/"
  cp -a "$rust_sysroot"/lib/*.so* "$dest/lib/"
  cp -a "$rust_sysroot/lib/rustlib/x86_64-unknown-linux-gnu" "$dest/lib/rustlib/"
  [ -d "$rust_sysroot/libexec" ] && cp -a "$rust_sysroot/libexec" "$dest/"
  ln -s ../rust/bin/rustc "$work/builder/usr/local/bin/rustc"
  ln -s ../rust/bin/cargo "$work/builder/usr/local/bin/cargo"
  import "$work/builder" deepneuro/debian-builder:$suite
fi

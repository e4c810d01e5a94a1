#!/usr/bin/env bash
# `make docker-test`: the acceptance checks of the module images on the local Docker engine
# (CPU), against the native binary built by `make setup`:
#   1. the plain `docker run ... --network none` on a DICOM folder writes the native mask;
#   2. the generated wrapper, with awkward host paths in different folders and run as a
#      non-root user, writes the same mask, owned by that user;
#   3. bad input: the same exit code from the native binary, the image and the wrapper,
#      and no output;
#   4. the runtime image holds no compiler or Rust toolchain, runs as a non-root user, and
#      its labels carry the version, git revision and the models' SHA-256;
#   5. sizes: the image, its CUDA layer and the project's layer.
# Usage: scripts/docker/test.sh (after `make docker`); exits 1 when a check fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
module=skull-strip
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
image=deepneuro/$module:$version
native=$root/target/release/$module
deepneuro=$root/target/release/deepneuro
docker image inspect "$image" >/dev/null 2>&1 || { echo "docker-test: $image missing: run make docker" >&2; exit 1; }

work=$(mktemp -d /var/tmp/deepneuro-docker-test.XXXXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
failures=0
check() { # description, command...
  local what=$1
  shift
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; failures=$((failures + 1)); fi
}

python scripts/fixtures/skullstrip_dicom.py "$work/fx" >/dev/null
dicom=$work/fx/dicom

# The mask of one output folder equals the native one: same voxels, same affine (nibabel).
same_mask() { # native folder, other folder
  python - "$1" "$2" <<'PY'
import glob, sys
import nibabel as nib, numpy as np
a, b = (sorted(glob.glob(f"{d}/*_mask.nii.gz")) for d in sys.argv[1:3])
if len(a) != 1 or len(b) != 1:
    sys.exit(f"expected one mask in each folder, got {a} and {b}")
x, y = nib.load(a[0]), nib.load(b[0])
same = np.array_equal(np.asarray(x.dataobj), np.asarray(y.dataobj)) and np.allclose(x.affine, y.affine, atol=1e-6)
print(f"      {b[0]}: {int(np.asarray(y.dataobj).sum())} brain voxels, native {int(np.asarray(x.dataobj).sum())}, equal: {same}")
sys.exit(0 if same else 1)
PY
}

# 1. Native, then the image as a clinical user would call it by hand. The image runs as
# uid 10001, so the output folder must be writable by it.
"$native" --t1 "$dicom" --output-folder "$work/native" --device cpu -q
install -d -o 10001 -g 10001 "$work/plain"
t0=$(date +%s)
check "docker run --network none on a DICOM folder exits 0" \
  docker run --rm --network none -v "$dicom:/input:ro" -v "$work/plain:/output" "$image" \
  --t1 /input --output-folder /output -q
echo "      docker run took $(($(date +%s) - t0)) s"
check "docker run: mask equals the native binary's" same_mask "$work/native" "$work/plain"

# 2. The wrapper, as a non-root user, with spaces, quotes, a comma and $ in host paths.
"$deepneuro" wrap "$module" --image "$image" --out "$work/bin" >/dev/null
user=$(id -u):$(id -g)
as_user=()
if [ "$(id -u)" = 0 ]; then
  # Root here (CI): run the wrapper as an ordinary user who may use Docker.
  user=4242:4242
  as_user=(setpriv --reuid=4242 --regid=4242 --groups="$(getent group docker | cut -d: -f3)" --)
fi
in_dir="$work/host A/patient 01 (T1), it's \$HOME"
out_parent="$work/host B/results"
mkdir -p "$in_dir"
cp -r "$dicom" "$in_dir/dicom series"
install -d -o "${user%%:*}" -g "${user##*:}" "$work/host B" "$out_parent"
out="$out_parent/mask of patient 01"
check "wrapper (run as $user) exits 0" \
  env HOME="$work" "${as_user[@]}" "$work/bin/$module" --t1 "$in_dir/dicom series" --output-folder "$out" -q
# The same job natively on the same host paths: the wrapper's outputs have the same names.
"$native" --t1 "$in_dir/dicom series" --output-folder "$work/native-same-paths" --device cpu -q
check "wrapper: mask equals the native binary's" same_mask "$work/native-same-paths" "$out"
names() { (cd "$1" && find . -type f | sort | tr '\n' ' '); }
echo "      wrapper outputs: $(names "$out")"
check "wrapper: the same output files as the native run" test "$(names "$out")" = "$(names "$work/native-same-paths")"
owners=$(find "$out" -exec stat -c '%u:%g' {} + | sort -u | tr '\n' ' ')
echo "      output owners: $owners"
check "wrapper: every output file belongs to the calling user ($user)" test "$owners" = "$user "

# 3. Bad input: a file that is not an image, and a path that does not exist.
printf 'not a scan\n' > "$work/fx/not a scan.nii.gz"
for bad in "$work/fx/not a scan.nii.gz" "$work/fx/missing.nii.gz"; do
  rm -rf "$work/bad-native" "$work/bad-wrap"
  set +e
  "$native" --t1 "$bad" --output-folder "$work/bad-native" -q 2>/dev/null
  n=$?
  "$work/bin/$module" --t1 "$bad" --output-folder "$work/bad-wrap" -q 2>/dev/null
  w=$?
  set -e
  echo "      $(basename "$bad"): native exit $n, wrapper exit $w"
  check "bad input ($(basename "$bad")): wrapper exit code equals native ($n)" test "$n" = "$w" -a "$n" != 0
  check "bad input ($(basename "$bad")): no output written" \
    test -z "$(ls -A "$work/bad-wrap" 2>/dev/null)"
done
install -d -o 10001 -g 10001 "$work/bad-plain"
set +e
docker run --rm --network none -v "$work/fx:/input:ro" -v "$work/bad-plain:/output" "$image" \
  --t1 "/input/not a scan.nii.gz" --output-folder /output -q 2>/dev/null
d=$?
set -e
"$native" --t1 "$work/fx/not a scan.nii.gz" --output-folder "$work/bad-native" -q 2>/dev/null && n=0 || n=$?
check "bad input: docker run exit code ($d) equals native ($n)" test "$d" = "$n"

# 4. What the image holds and says about itself.
check "runtime image: no compiler, linker or Rust toolchain" \
  docker run --rm --network none --entrypoint /bin/sh "$image" -c \
  'for t in cc gcc g++ c++ clang rustc cargo ld as make; do command -v $t >/dev/null && { echo "      found $t"; exit 1; }; done
   for d in /usr/local/rust /opt/cargo /opt/torch /src /usr/lib/gcc; do [ -e $d ] && { echo "      found $d"; exit 1; }; done; exit 0'
check "image user is 10001:10001 (not root)" test "$(docker image inspect -f '{{.Config.User}}' "$image")" = 10001:10001
label() { docker image inspect -f "{{index .Config.Labels \"$1\"}}" "$image"; }
want_rev=$(git rev-parse --short=12 HEAD)
check "label revision $(label org.opencontainers.image.revision) is this checkout ($want_rev)" \
  test "$(label org.opencontainers.image.revision | sed 's/-dirty$//')" = "$want_rev"
check "label version $(label org.opencontainers.image.version) = $version" test "$(label org.opencontainers.image.version)" = "$version"
in_image=$(docker run --rm --network none --entrypoint /bin/sh "$image" -c \
  'cd /opt/deepneuro/home/models && for f in */*/*; do echo "${f%%/*}@$(echo $f | cut -d/ -f2)=sha256:$(sha256sum "$f" | cut -d" " -f1)"; done' |
  sort | paste -sd, -)
labelled=$(label io.deepneuro.models | tr , '\n' | sort | paste -sd, -)
echo "      models in the image: $in_image"
check "label io.deepneuro.models equals the SHA-256 of the weights in the image" test "$in_image" = "$labelled"

# 5. Sizes, from the layer list (newest first): the three COPY layers are the module
# (binary and weights), CUDA and libtorch, in that order.
mb() { awk '{printf "%.0f MB", $1/1e6}'; }
docker history --no-trunc --human=false --format '{{.Size}}\t{{.CreatedBy}}' "$image" |
  grep -F '#(nop) COPY ' | cut -f1 >"$work/copies"
base=$(label io.deepneuro.base)
echo "sizes: image $(docker image inspect -f '{{.Size}}' "$image" | mb)" \
  "= base $base $(docker image inspect -f '{{.Size}}' "$base" | mb)" \
  "+ libtorch layer $(sed -n 3p "$work/copies" | mb) + CUDA layer $(sed -n 2p "$work/copies" | mb)" \
  "+ project layer (skull-strip binary + weights) $(sed -n 1p "$work/copies" | mb)"

if [ "$failures" != 0 ]; then
  echo "docker-test: $failures check(s) failed"
  exit 1
fi
echo "docker-test: all checks passed"

#!/usr/bin/env bash
# `make fuzz`: a bounded run of each header-parser fuzz target.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them, since no other toolchain can be installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
for target in nifti_header nrrd_header dicom_file itk_transform; do
  mkdir -p "fuzz/corpus/$target"
  # Seed with small valid files so the fuzzer starts inside the format.
  if [ "$target" = nifti_header ] && [ -z "$(ls -A fuzz/corpus/$target)" ]; then
    python - "$PWD/fuzz/corpus/$target" <<'PY'
import sys, numpy as np, nibabel as nib
img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
nib.save(img, sys.argv[1] + "/seed.nii")
PY
  fi
  if [ "$target" = nrrd_header ] && [ -z "$(ls -A fuzz/corpus/$target)" ]; then
    printf 'NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 2 3 2\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\nendian: little\nencoding: raw\n\n' > "fuzz/corpus/$target/seed.nrrd"
    head -c 24 /dev/zero >> "fuzz/corpus/$target/seed.nrrd"
  fi
  if [ "$target" = itk_transform ] && [ -z "$(ls -A fuzz/corpus/$target)" ]; then
    printf '#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1 0 0 0\nFixedParameters: 0 0 0\n' > "fuzz/corpus/$target/seed.tfm"
  fi
  if [ "$target" = dicom_file ] && [ -z "$(ls -A fuzz/corpus/$target)" ]; then
    python - "$PWD/fuzz/corpus/$target" <<'PY'
import sys, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
meta = FileMetaDataset()
meta.TransferSyntaxUID = ExplicitVRLittleEndian
meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
meta.MediaStorageSOPInstanceUID = generate_uid()
ds = Dataset()
ds.file_meta = meta
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.SeriesInstanceUID = generate_uid()
ds.Modality = "MR"
ds.Rows, ds.Columns = 4, 4
ds.PixelSpacing = [1, 1]
ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
ds.ImagePositionPatient = [0, 0, 0]
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
ds.PixelData = np.arange(16, dtype=np.int16).tobytes()
ds.save_as(sys.argv[1] + "/seed.dcm", enforce_file_format=True)
PY
  fi
  echo "fuzz: $target for ${secs}s"
  cargo fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 2>&1 | tail -n 5
done

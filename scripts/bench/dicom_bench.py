"""Times DICOM series loading: our example binary against dcm2niix and
against pydicom + numpy, on a generated 189-slice 1 mm series.

Usage: dicom_bench.py <path to target/release/examples/dicom_load> [--repeat N]

All three run as child processes of this script, on the same files, after
one warm-up run each (so the page cache is warm for everyone). Our binary is
timed loading the series into memory (the headline number) and also
loading and writing an uncompressed NIfTI, as dcm2niix does; the pydicom reader reads,
sorts by position along the slice normal, rescales and stacks with numpy.
Prints the median wall time of each and the ratios.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import dicom_fixtures as fx  # noqa: E402

PYDICOM_READER = r"""
import os, sys
import numpy as np
import pydicom
folder = sys.argv[1]
dss = [pydicom.dcmread(os.path.join(folder, f)) for f in os.listdir(folder)]
r = np.array(dss[0].ImageOrientationPatient[:3], float)
c = np.array(dss[0].ImageOrientationPatient[3:], float)
n = np.cross(r, c)
dss.sort(key=lambda d: float(np.dot(n, np.array(d.ImagePositionPatient, float))))
vol = np.stack([d.pixel_array.astype(np.float32) * float(d.get("RescaleSlope", 1))
                + float(d.get("RescaleIntercept", 0)) for d in dss])
print(vol.shape)
"""


def make_series(folder):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 4000, size=(189, 256, 256)).astype(np.int16)
    ds = fx.make_series("bench", data, [1, 0, 0, 0, 1, 0], [-128.0, -128.0, -94.0], [1.0, 1.0],
                        [0.0, 0.0, 1.0], 2, "MPRAGE 1mm", 1.0, 0.0)
    fx.write_series(folder, ds)


def timed(cmd, repeat):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dicom-bench-")
    try:
        series = os.path.join(work, "series")
        make_series(series)
        out_ours = os.path.join(work, "ours")
        out_d2n = os.path.join(work, "d2n")
        os.makedirs(out_ours)
        os.makedirs(out_d2n)
        d2n = os.path.join(os.path.dirname(sys.executable), "dcm2niix")
        if not os.path.exists(d2n):
            d2n = shutil.which("dcm2niix")
        ours = timed([args.ours, series], args.repeat)
        ours_nii = timed([args.ours, series, os.path.join(out_ours, "v.nii")], args.repeat)
        ref = timed([d2n, "-z", "n", "-b", "n", "-f", "v", "-o", out_d2n, series], args.repeat)
        py = timed([sys.executable, "-c", PYDICOM_READER, series], args.repeat)
        print(f"series: 189 slices of 256x256 int16, 1 mm ({args.repeat} runs, median wall time)")
        print(f"deepneuro dicom_load : {ours * 1000:8.1f} ms (scan + load into memory)")
        print(f"  + write NIfTI      : {ours_nii * 1000:8.1f} ms (deepneuro-io writer)")
        print(f"dcm2niix -z n        : {ref * 1000:8.1f} ms")
        print(f"pydicom + numpy      : {py * 1000:8.1f} ms")
        print(f"ratio vs dcm2niix    : {ours / ref:.2f}x (goal <= 1.0x)")
        print(f"ratio vs pydicom     : {ours / py:.2f}x (goal <= 0.2x)")
        print(f"with NIfTI written   : {ours_nii / ref:.2f}x dcm2niix")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

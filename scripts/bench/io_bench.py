"""NIfTI load and write: deepneuro vs nibabel, in one run, same machine.

Usage: io_bench.py BENCH_IO_BINARY [REPEATS]
Prints a table with median times and the ratios ours/nibabel.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np


def mni_t1():
    import nilearn

    return os.path.join(
        os.path.dirname(nilearn.__file__), "datasets", "data",
        "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    )


def median_time(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    binary = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    path = mni_t1()
    with tempfile.TemporaryDirectory() as out:
        ours = json.loads(subprocess.check_output([binary, path, str(reps), out]))
        img = nib.load(path)
        data = img.get_fdata(dtype=np.float32)
        load = median_time(lambda: nib.load(path).get_fdata(dtype=np.float32), reps)
        # The same job as ours: float32 in memory, written with the image's
        # on-disk type (uint8) and nibabel's default gzip level.
        target = os.path.join(out, "bench_nib.nii.gz")
        write = median_time(lambda: nib.save(nib.Nifti1Image(data, img.affine, img.header), target), reps)
        nib_bytes = os.path.getsize(target)
        # What we wrote is what nibabel reads back.
        back = nib.load(os.path.join(out, "bench_ours.nii.gz")).get_fdata(dtype=np.float32)
        assert np.array_equal(back, data), "our written file differs"
    print(f"NIfTI I/O on {os.path.basename(path)} {img.shape} {img.get_data_dtype()}, median of {reps}")
    print(f"{'task':<28}{'deepneuro':>12}{'nibabel':>12}{'ratio':>8}{'goal':>8}")
    rows = [
        ("load .nii.gz as float32", ours["load_s"], load, 0.5),
        ("write .nii.gz", ours["write_s"], write, 1.0),
    ]
    for name, a, b, goal in rows:
        ok = "ok" if a / b <= goal else "MISS"
        print(f"{name:<28}{a * 1e3:>10.1f}ms{b * 1e3:>10.1f}ms{a / b:>8.2f}{'<=' + str(goal):>6} {ok}")
    print(f"written size: deepneuro {ours['written_bytes']} bytes, nibabel {nib_bytes} bytes")


if __name__ == "__main__":
    main()

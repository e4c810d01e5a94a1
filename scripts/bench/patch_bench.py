"""Patch-batch throughput: deepneuro-data vs TorchIO's tio.Queue, in one run, same cases, same cores.

Usage: patch_bench.py BENCH_PATCHES_BINARY [--cases DIR] [--batches N] [--workers W]

Without --cases, 8 BraTS-like phantom cases at 1 mm (160x192x160, int16 contrasts, uint8 labels) are
generated with scripts/fixtures/brats_phantoms.py into a temporary folder. Both sides do the same job:
load a case (FLAIR, T1, T1ce, T2 and the label map from .nii.gz), draw 4 patches of 128^3 per volume
(half centred on the tumour label), flip along x with probability 0.5, scale the intensities by a
factor in [0.9, 1.1] and shift them by [-0.1, 0.1] standard deviations, and deliver batches of 4
patches with the contrasts stacked as channels ([4, 4, 128, 128, 128] plus the labels), with W
background workers. TorchIO applies its transforms to whole subjects before sampling (its design:
the Queue samples patches from transformed subjects); ours cuts the patches first. Each side is timed
from the start of loading to holding the N-th batch. Prints both rates and the ratio.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchio as tio

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRASTS = ("flair", "t1", "t1ce", "t2")
PATCH = 128
PER_VOLUME = 4
BATCH = 4


def generate(out):
    gen = os.path.join(HERE, "..", "fixtures", "brats_phantoms.py")
    subprocess.run([sys.executable, gen, out, "8", "1", "--size", "1mm", "--no-broken"],
                   check=True, stdout=subprocess.DEVNULL)


def ours(binary, cases, batches, workers):
    out = subprocess.check_output([binary, cases, "--batches", str(batches), "--workers", str(workers)])
    return json.loads(out)


def scale_shift(x):
    # The same random intensity change as ours: a factor, then an offset in standard deviations.
    factor = np.random.uniform(0.9, 1.1)
    offset = np.random.uniform(-0.1, 0.1)
    return x * factor + offset * x.float().std()


def torchio_rate(cases, batches, workers):
    names = sorted(d for d in os.listdir(cases) if os.path.isdir(os.path.join(cases, d)))
    start = time.perf_counter()
    subjects = []
    for case in names:
        images = {m: tio.ScalarImage(os.path.join(cases, case, f"{case}_{m}.nii.gz")) for m in CONTRASTS}
        images["seg"] = tio.LabelMap(os.path.join(cases, case, f"{case}_seg.nii.gz"))
        subjects.append(tio.Subject(**images))
    transform = tio.Compose([
        tio.RandomFlip(axes=(0,), flip_probability=0.5),
        tio.Lambda(scale_shift, types_to_apply=[tio.INTENSITY]),
    ])
    # Half of the patches centred on the tumour (labels 1, 2, 4), half anywhere else.
    sampler = tio.LabelSampler(PATCH, label_name="seg",
                               label_probabilities={0: 0.5, 1: 1 / 6, 2: 1 / 6, 4: 1 / 6})
    queue = tio.Queue(tio.SubjectsDataset(subjects, transform=transform), max_length=4 * PER_VOLUME,
                      samples_per_volume=PER_VOLUME, sampler=sampler, num_workers=workers,
                      shuffle_subjects=True, shuffle_patches=True)
    loader = tio.SubjectsLoader(queue, batch_size=BATCH, num_workers=0)
    got = 0
    checksum = 0.0
    while got < batches:
        for batch in loader:
            x = torch.cat([batch[m][tio.DATA] for m in CONTRASTS], dim=1)
            y = batch["seg"][tio.DATA]
            assert x.shape == (BATCH, 4, PATCH, PATCH, PATCH) and y.shape == (BATCH, 1, PATCH, PATCH, PATCH)
            checksum += float(x[:, :, ::16, ::16, ::16].sum())
            got += 1
            if got == batches:
                break
    seconds = time.perf_counter() - start
    return {"batches_per_second": batches / seconds, "seconds": seconds, "checksum": checksum}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--cases")
    ap.add_argument("--batches", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = args.cases
        if cases is None:
            cases = os.path.join(tmp, "cases")
            generate(cases)
        a = ours(args.binary, cases, args.batches, args.workers)
        b = torchio_rate(cases, args.batches, args.workers)
    ratio = a["batches_per_second"] / b["batches_per_second"]
    print(f"patch batches ({BATCH} x [4+1, {PATCH}^3], {PER_VOLUME} patches per volume, flip + intensity), "
          f"{args.batches} batches, {args.workers} workers, {os.cpu_count()} cores")
    print(f"{'task':<28}{'deepneuro':>12}{'TorchIO':>12}{'ratio':>8}{'goal':>8}")
    ok = "ok" if ratio >= 2.0 else "MISS"
    print(f"{'batches per second':<28}{a['batches_per_second']:>12.2f}{b['batches_per_second']:>12.2f}"
          f"{ratio:>8.2f}{'>=2':>6} {ok}")


if __name__ == "__main__":
    main()

"""`make bench` for patch inference: deepneuro-infer against MONAI 1.6.1's sliding_window_inference.

Usage: patch_infer_bench.py BENCH_INFER_BINARY [SW_BATCH_SIZES=1,4] [--device cpu|cuda] [--amp]

Both sides run the same TorchScript file (MONAI's UNet(spatial_dims=3, in_channels=4,
out_channels=3, channels=(16,32,64,128), strides=(2,2,2), num_res_units=2), seed 0,
torch.jit.script) on the same random 1x4x160x192x160 input (.npy), roi 96^3, overlap 0.5,
constant blending, CPU, 2 threads, pinned to the same 2 cores when allowed. For each
sw_batch_size it prints (medians of BENCH_REPEATS=3 alternating runs):
  MONAI       sliding_window_inference in this process
  floor (py)  the bare forward passes of as many windows, in batches of the sizes used, here
  ours        examples/bench_infer (loads the same files), in its own process
  floor (rs)  the same bare forward passes, timed in ours's process (the goal's floor)
and the ratios against the goals: ours <= 1.02x floor (rs), ours < MONAI, each from the
medians and from the minima of the runs (on a shared machine the minimum is the run least
disturbed by others; the median says what a run typically takes).

Both processes get the same OMP_WAIT_POLICY, PASSIVE unless set: on a shared, busy machine
OpenMP threads that spin between parallel regions take the cores from the thread doing the
work, and the timings of both sides varied by 2-3x run to run (measured); passive waiting made
them reproducible. Ours runs once with BENCH_REPEATS rounds, each timing the floor, ours and
the window loop alone (a model that returns a view of its input) in turn.

With --device cuda the input, windows and outputs live on the GPU on both sides, each timed
section ends with a device synchronisation, and both stitched outputs are compared (max abs
difference printed); --amp runs every forward pass (MONAI's, the floors', ours) under autocast.
"""

import os

# libgomp reads it when torch loads, so it is set before the import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet

THREADS = 2
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
ROI = (96, 96, 96)
SHAPE = (1, 4, 160, 192, 160)


def export(path):
    torch.manual_seed(0)
    net = UNet(
        spatial_dims=3, in_channels=4, out_channels=3, channels=(16, 32, 64, 128), strides=(2, 2, 2),
        num_res_units=2,
    ).eval()
    torch.jit.script(net).save(path)


def batch_sizes(n_windows, sw):
    return [min(sw, n_windows - s) for s in range(0, n_windows, sw)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("sws", nargs="?", default="1,4")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    sws = [int(s) for s in a.sws.split(",")]
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    amp = a.amp and cuda

    def sync():
        if cuda:
            torch.cuda.synchronize(dev)

    def autocast():
        return torch.autocast(device_type="cuda", enabled=amp)

    if amp:
        # As deepneuro_core::autocast does: with the JIT's own autocast mode on, eager
        # autocast may not reach into a scripted model's graph (gpu_autocast_probe.py).
        torch._C._jit_set_autocast_mode(False)

    try:
        cpus = sorted(os.sched_getaffinity(0))[:THREADS]
        os.sched_setaffinity(0, cpus)  # children inherit it
    except (AttributeError, OSError):
        cpus = None
    torch.set_num_threads(THREADS)
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))
    work = tempfile.mkdtemp(prefix="infer-bench-")
    results = []
    try:
        model_path = os.path.join(work, "unet.pt")
        input_path = os.path.join(work, "input.npy")
        export(model_path)
        x = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(1))
        np.save(input_path, x.numpy())
        model = torch.jit.load(model_path, map_location=dev).eval()
        x = x.to(dev)
        # MONAI's own window layout gives the number of windows (27 here).
        from monai.data.utils import dense_patch_slices
        from monai.inferers.utils import _get_scan_interval

        interval = _get_scan_interval(SHAPE[2:], ROI, 3, (0.5,) * 3)
        n_windows = len(dense_patch_slices(SHAPE[2:], ROI, interval))
        for sw in sws:
            sizes = batch_sizes(n_windows, sw)
            floor_in = [torch.randn(m, SHAPE[1], *ROI, device=dev) for m in sizes]
            with torch.no_grad(), autocast():
                # TorchScript profiles the first calls of each shape: two untimed each;
                # one untimed sliding window warms the rest (and CUDA's allocator cache).
                for _ in range(2):
                    model(floor_in[0])
                    model(floor_in[-1])
                sliding_window_inference(x, ROI, sw, model, overlap=0.5, mode="constant")
                sync()
                monai_runs, floor_runs = [], []
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    for b in floor_in:
                        model(b)
                    sync()
                    floor_runs.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    monai_out = sliding_window_inference(x, ROI, sw, model, overlap=0.5, mode="constant")
                    sync()
                    monai_runs.append(time.perf_counter() - t0)
            ours_out = os.path.join(work, "ours.npy")
            out = subprocess.run(
                [binary, model_path, input_path, str(sw), str(REPEATS), str(THREADS), a.device,
                 "1" if amp else "0"] + ([ours_out] if cuda else []),
                capture_output=True, text=True, env=env,
            )
            if out.returncode != 0:
                sys.exit(f"{binary} failed ({out.returncode}):\n{out.stderr[-3000:]}")
            ours = json.loads(out.stdout.strip().splitlines()[-1])
            # On the GPU the kernels differ from the CPU tests', so both outputs are compared
            # here; under autocast the difference is half precision's.
            diff = None
            if cuda:
                mine = torch.from_numpy(np.load(ours_out))
                diff = (mine - monai_out.float().cpu()).abs().max().item()
            results.append(
                dict(
                    sw=sw,
                    windows=n_windows,
                    monai=statistics.median(monai_runs),
                    monai_min=min(monai_runs),
                    floor_py=statistics.median(floor_runs),
                    ours=ours["seconds"],
                    ours_min=ours["seconds_min"],
                    floor_rs=ours["floor_seconds"],
                    floor_rs_min=ours["floor_seconds_min"],
                    loop_rs=ours["loop_seconds"],
                    runs=ours["runs"],
                    floor_runs=ours["floor_runs"],
                    max_abs_diff=diff,
                    forward_kinds=ours.get("forward_kinds"),
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    where = torch.cuda.get_device_name(dev) if cuda else "CPU"
    print(f"patch inference bench: {where}{' mixed precision' if amp else ''}, {THREADS} threads, "
          f"cores {cpus}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, input {SHAPE}, roi {ROI}, "
          f"overlap 0.5, constant blending, {REPEATS} rounds: median (min)")
    for r in results:
        print(f"  sw_batch_size {r['sw']} ({r['windows']} windows; ours computes in {r['forward_kinds'][-1]})")
        print(f"    MONAI sliding_window_inference {r['monai']:8.4f} s ({r['monai_min']:.4f})"
              f"   {r['monai'] / r['floor_py']:.3f}x floor (py)")
        print(f"    floor (py, bare forwards)      {r['floor_py']:8.4f} s")
        print(f"    ours (deepneuro-infer)         {r['ours']:8.4f} s ({r['ours_min']:.4f})"
              f"   {r['ours'] / r['floor_rs']:.3f}x ({r['ours_min'] / r['floor_rs_min']:.3f}x) floor (rs), "
              f"{r['ours'] / r['monai']:.3f}x ({r['ours_min'] / r['monai_min']:.3f}x) MONAI")
        print(f"    floor (rs, bare forwards)      {r['floor_rs']:8.4f} s ({r['floor_rs_min']:.4f})")
        print(f"    window loop alone (no model)   {r['loop_rs']:8.3f} s")
        if r["max_abs_diff"] is not None:
            print(f"    max |ours - MONAI|             {r['max_abs_diff']:.2e}")
        for label, ours, floor, monai in (
            ("medians", r["ours"], r["floor_rs"], r["monai"]),
            ("minima", r["ours_min"], r["floor_rs_min"], r["monai_min"]),
        ):
            ok = ours <= 1.02 * floor and ours < monai
            print(f"    goals (<= 1.02x floor, < MONAI) by the {label}: {'met' if ok else 'NOT met'}")
    print("JSON " + json.dumps(results))


if __name__ == "__main__":
    main()

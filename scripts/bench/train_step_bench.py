"""`make bench`: one training step of DeepNeuro's glioblastoma U-Net (32^3 x 3 patches,
5x5x5 kernels, depth 4, up to 256 filters, batch norm, dropout 0.1, soft Dice, Adam):
deepneuro-train's `train_step` vs the same network and step in PyTorch
(scripts/fixtures/unet_parity.py builds it from the same config), same threads,
alternating runs. Goal: at least 0.95x PyTorch's throughput. With --amp (CUDA) both sides
train in mixed precision by PyTorch's recipe: autocast for the forward pass and a GradScaler.

Usage: train_step_bench.py BENCH_BIN [--batch 2] [--steps 5] [--rounds 3] [--threads 2]
                           [--device cpu|cuda] [--amp]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tomllib

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from unet_parity import BASE, UNet  # noqa: E402

CONFIG = os.path.join(ROOT, "crates", "models", "configs", "glioblastoma.toml")


def soft_dice(p, t):
    """The crate's soft Dice (MONAI's defaults): per sample and channel, averaged."""
    axes = tuple(range(2, p.dim()))
    inter = (p * t).sum(axes)
    denom = p.sum(axes) + t.sum(axes)
    return (1 - (2 * inter + 1e-5) / (denom + 1e-5)).mean()


def torch_steps(cfg, batch, steps, device, amp):
    amp = amp and device.startswith("cuda")  # as the Rust side: mixed precision on CUDA only
    torch.manual_seed(7)
    model = UNet(cfg).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["initial_learning_rate"])
    scaler = torch.amp.GradScaler(device, enabled=amp)
    spatial = cfg["input_shape"][:-1]
    x = torch.randn([batch, cfg["input_shape"][-1], *spatial], device=device)
    t = (torch.rand([batch, cfg["num_outputs"], *spatial], device=device) > 0.5).float()
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        with torch.autocast(device_type=device, enabled=amp):
            y = model(x)
        loss = soft_dice(y.float(), t)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        loss.item()  # waits for the device, as the Rust side's read-back does
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ours(binary, batch, steps, threads, device, amp):
    out = subprocess.run(
        [binary, CONFIG, str(batch), str(steps), str(threads), device, "1" if amp else "0"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)["median"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(CONFIG, "rb") as f:
        cfg = dict(BASE, **tomllib.load(f))
    mine, theirs = [], []
    for _ in range(a.rounds):
        mine.append(ours(a.binary, a.batch, a.steps, a.threads, a.device, a.amp))
        theirs.append(torch_steps(cfg, a.batch, a.steps, a.device, a.amp))
    m, t = statistics.median(mine), statistics.median(theirs)
    where = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "cpu"
    label = f"{where}{' amp' if a.amp else ''}, batch {a.batch}, {a.threads} threads"
    print(f"train step ({label}): deepneuro {m:.3f} s ({a.batch / m:.2f} samples/s), "
          f"PyTorch {t:.3f} s ({a.batch / t:.2f} samples/s)")
    print(f"  throughput ratio deepneuro / PyTorch = {t / m:.3f} (goal >= 0.95)")
    print(f"  runs: deepneuro {[round(v, 3) for v in mine]}, PyTorch {[round(v, 3) for v in theirs]}")


if __name__ == "__main__":
    main()

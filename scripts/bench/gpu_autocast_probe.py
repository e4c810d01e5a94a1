"""Does CUDA autocast reach into TorchScript models? (scripts/bench/gpu.sh, on a GPU)

Usage: gpu_autocast_probe.py DIR

Prints the output dtype, on the first three calls under torch.autocast("cuda"), of MONAI's
UNet (the patch benchmark's model) and of a Conv3d, eager and scripted, with the JIT's own
autocast mode on (PyTorch's default) and off. Each case runs in a fresh process: TorchScript
caches compiled graphs, so a setting changed after a first call would not be seen. A
Conv3d's output is the convolution's, so float16 means autocast applied; the UNet's eager
output dtype is the reference for its scripted one. Writes DIR/conv.pt (that Conv3d
scripted, 4 -> 3 channels) and DIR/input.npy (1x4x96x96x96) for bench_infer to probe the
Rust side with the same model.
"""

import os
import subprocess
import sys

import numpy as np
import torch

CASES = [
    ("eager", "unet", True), ("eager", "conv", True),
    ("scripted", "unet", True), ("scripted", "conv", True),
    ("scripted", "unet", False), ("scripted", "conv", False),
]


def one(how, what, jit_mode):
    from monai.networks.nets import UNet

    torch._C._jit_set_autocast_mode(jit_mode)
    torch.manual_seed(0)
    dev = torch.device("cuda")
    x = torch.randn(1, 4, 96, 96, 96, device=dev)
    if what == "unet":
        model = UNet(3, 4, 3, (16, 32, 64, 128), (2, 2, 2), num_res_units=2)
    else:
        model = torch.nn.Conv3d(4, 3, 3, padding=1)
    model = model.to(dev).eval()
    if how == "scripted":
        model = torch.jit.script(model)
    out = []
    with torch.no_grad():
        for _ in range(3):
            with torch.autocast("cuda"):
                out.append(str(model(x).dtype).replace("torch.", ""))
    return out


def main():
    if sys.argv[1] == "--one":
        print(one(sys.argv[2], sys.argv[3], sys.argv[4] == "True"))
        return
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    torch.jit.script(torch.nn.Conv3d(4, 3, 3, padding=1).eval()).save(os.path.join(out_dir, "conv.pt"))
    np.save(os.path.join(out_dir, "input.npy"), torch.randn(1, 4, 96, 96, 96).numpy())
    print("autocast probe (PyTorch: dtype of the first three outputs under torch.autocast('cuda')):")
    for how, what, mode in CASES:
        r = subprocess.run([sys.executable, __file__, "--one", how, what, str(mode)],
                           capture_output=True, text=True)
        got = r.stdout.strip() or f"failed: {r.stderr.strip().splitlines()[-1:]}"
        label = f"{how} {what}" + (f", JIT autocast mode {'on' if mode else 'off'}" if how == "scripted" else "")
        print(f"  {label:40} {got}")


if __name__ == "__main__":
    main()

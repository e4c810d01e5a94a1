#!/usr/bin/env bash
# The models issue's GPU numbers in one run: whether autocast reaches into TorchScript
# models (PyTorch and deepneuro, gpu_autocast_probe.py), patch inference (deepneuro-infer vs MONAI's
# sliding_window_inference vs the bare forward passes) and one training step of the
# glioblastoma U-Net (deepneuro-train vs PyTorch), each on CUDA with and without mixed
# precision, every peer in the same run on the same GPU.
#
# Usage: scripts/bench/gpu.sh BIN_DIR
#   BIN_DIR holds release builds of the examples bench_infer and bench_train_step
#   (cargo build --release -p deepneuro-infer --example bench_infer
#    -p deepneuro-train --example bench_train_step) and, when it also holds the test
#   binary train_phantoms (cargo test --release -p deepneuro-train --test train_phantoms
#   --no-run prints its path; copy it as BIN_DIR/train_phantoms), the optimisers and the
#   loss scaler are first checked against torch.optim on CUDA. The python3 on PATH must
#   have torch 2.11 (CUDA) and monai 1.6.1; the binaries load that torch's libraries.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$(cd "$1" && pwd)
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONUNBUFFERED=1 BENCH_REPEATS=${BENCH_REPEATS:-10}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
python3 -c 'import torch, monai; print("torch", torch.__version__, "monai", monai.__version__)'
status=0
if [ -x "$bin/train_phantoms" ]; then
    # The training step below runs the optimisers' CUDA layout (flat gradients): its
    # numbers mean something only if that layout steps as torch.optim does.
    echo "== optimisers and loss scaler vs torch.optim, CPU and CUDA"
    DEEPNEURO_WORKSPACE=$PWD DEEPNEURO_PYTHON=$(command -v python3) "$bin/train_phantoms" \
        --exact --nocapture optimisers_match_pytorch grad_scaler_matches_pytorch || status=1
fi
echo "== does autocast reach into TorchScript? (PyTorch, then deepneuro on the same scripted models)"
probe=$(mktemp -d)
python3 scripts/bench/gpu_autocast_probe.py "$probe" || status=1
for model in conv unet; do
    [ "$model" = unet ] && python3 -c "import sys, torch; sys.path.insert(0, 'scripts/bench'); \
        from patch_infer_bench import export; export('$probe/unet.pt')"
    for jit in keep default; do
        printf '  deepneuro, scripted %s, %-28s ' "$model" \
            "$([ $jit = keep ] && echo 'JIT autocast mode on' || echo 'deepneuro_core::autocast')"
        BENCH_JIT=$jit "$bin/bench_infer" "$probe/$model.pt" "$probe/input.npy" 1 1 2 cuda 1 2>/dev/null \
            | python3 -c 'import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])["forward_kinds"])' \
            || status=1
    done
done
for amp in "" --amp; do
    echo "== patch inference, CUDA ${amp:-fp32}"
    python3 scripts/bench/patch_infer_bench.py "$bin/bench_infer" 1,4 --device cuda $amp 2>&1 \
        | grep -v 'autocast_mode.h.*deprecated' || status=1
done
for amp in "" --amp; do
    for batch in 2 16; do
        echo "== train step, CUDA ${amp:-fp32}, batch $batch"
        python3 scripts/bench/train_step_bench.py "$bin/bench_train_step" --device cuda \
            --batch "$batch" --steps 20 --rounds 3 $amp || status=1
    done
done
exit $status

#!/usr/bin/env bash
# The skull-strip issue's CUDA checks in one run: the CUDA mask equals the CPU mask
# (the pipeline test cuda_mask_equals_cpu_mask, on the sample head), and the steady-state
# time per case of the skull-strip binary on CUDA for a 1 mm T1, IO included (a batch
# over copies of one file: the models load once, the first case warms CUDA up and is
# left out of the steady state).
#
# Usage: scripts/bench/gpu_skullstrip.sh BIN_DIR T1_1MM OUT_DIR
#   BIN_DIR holds the release skull-strip binary and the release test binary of
#   crates/pipeline/tests/deepbet_parity.rs (cargo test --release -p deepneuro-pipeline
#   --test deepbet_parity --no-run prints its path; copy it as BIN_DIR/deepbet_parity).
#   The deepbet models must be in the model cache ($DEEPNEURO_HOME), and the sample head
#   under this checkout's .venv (as `make setup` leaves it). OUT_DIR receives the first
#   case's CUDA mask (mask_cuda.nii.gz) and the batch's --json summary, so that the mask
#   can be compared with a CPU run of the same file elsewhere. The python3 on PATH must
#   have torch 2.11 (CUDA); the binaries load that torch's libraries.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(cd "$1" && pwd)
t1=$2
out=$3
mkdir -p "$out"
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
CASES=${CASES:-8}
DEVICE=${DEVICE:-cuda}

echo "== CUDA mask vs CPU mask, sample head (deepbet_parity::cuda_mask_equals_cpu_mask)"
DEEPNEURO_WORKSPACE=$PWD "$bin/deepbet_parity" --exact --nocapture cuda_mask_equals_cpu_mask

echo "== skull-strip --device $DEVICE, $CASES copies of a 1 mm T1, IO included"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/in"
for i in $(seq -w 1 "$CASES"); do
    cp "$t1" "$work/in/case$i.nii.gz"
done
"$bin/skull-strip" --input-dir "$work/in" --output-folder "$work/out" \
    --device "$DEVICE" --json -q > "$out/summary.json"
python3 - "$out" "$DEVICE" <<'EOF'
import json, shutil, statistics, sys
out, device = sys.argv[1:]
s = json.load(open(f"{out}/summary.json"))
cases = s["cases"]
assert all(c["status"] == "ok" for c in cases), [c.get("error") for c in cases]
secs = [c["seconds"] for c in cases]
steady = secs[1:]
print(f"device {s['device']}, models loaded in {s['models_seconds']:.2f} s")
print("per case (s):", " ".join(f"{t:.3f}" for t in secs))
print(f"steady state: median {statistics.median(steady):.3f} s, min {min(steady):.3f} s, "
      f"max {max(steady):.3f} s per case (load, pipeline, write; first case left out)")
steps = {}
for c in cases[1:]:
    # A step may run twice (threshold, largest-component): its times add up per case.
    per_case = {}
    for name, t in c["steps"]:
        per_case[name] = per_case.get(name, 0.0) + t
    for name, t in per_case.items():
        steps.setdefault(name, []).append(t)
print("median seconds per step, load and write included:", ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in steps.items()))
print(f"ICV {cases[0]['icv_cm3']:.1f} cm^3")
shutil.copy(cases[0]["outputs"]["mask"], f"{out}/mask_{device}.nii.gz")
EOF

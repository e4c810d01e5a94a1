"""`make bench` for preprocessing: ours against SimpleITK and ANTs (antspyx), same run, same cores.

Usage: preprocess_bench.py DEEPNEURO_BINARY

Every side uses two threads (SimpleITK: SetGlobalDefaultNumberOfThreads(2); ANTs:
ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=2; ours: RAYON_NUM_THREADS=2) on the same two cores
(os.sched_setaffinity, inherited by children). Times are the compute only, file I/O excluded:
ours from `deepneuro preprocess ... --json` ("seconds"), the peers timed around their call.
Each number is the median of BENCH_REPEATS (default 3) runs.

Data: nilearn's MNI152 2009a T1, 1 mm (193x229x193), and its brain mask.
  N4            the T1 times a smooth field (max/min about 1.6); shrink 4, brain mask,
                iterations 50x4; reports time and the Pearson r of the estimated and true log
                field inside the brain (goal: ours <= 0.5x SimpleITK's time at r >= its r)
  rigid         the T1 moved by a known 10 degree / 10 mm rigid transform (SimpleITK resample);
                SimpleITK (Mattes 50 bins, 3 levels 4/2/1, smoothing 2/1/0, regular step
                gradient descent, centred initialiser) and ants.registration('Rigid') and ours;
                reports time and the mean displacement over the brain (goal: ours <= 0.5x the
                faster peer at <= 0.5 mm)
  resample      the T1 to 1.5 mm, linear and cubic B-spline (goal: ours <= 0.5x SimpleITK)
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

THREADS = 2
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(THREADS)
os.environ["RAYON_NUM_THREADS"] = str(THREADS)

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(THREADS)
FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def ours(binary, *args):
    out = subprocess.run([binary, "preprocess", *args, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"deepneuro preprocess {args[0]} failed ({out.returncode}): {out.stderr}")
    return json.loads(out.stdout)


def median_of(fn):
    runs = [fn() for _ in range(REPEATS)]
    return statistics.median(r[0] for r in runs), runs[-1][1]


def make_data(work):
    from nilearn import datasets

    t1 = datasets.load_mni152_template(resolution=1)
    data = np.asarray(t1.get_fdata(), dtype=np.float32)
    data[data < 0] = 0
    aff = t1.affine
    mask = datasets.load_mni152_brain_mask(resolution=1)
    mask = (np.asarray(mask.get_fdata()) > 0.5).astype(np.uint8)
    ijk = np.indices(data.shape).reshape(3, -1).T
    xyz = nib.affines.apply_affine(aff, ijk).reshape(data.shape + (3,))
    x, y, z = xyz[..., 0] / 90.0, xyz[..., 1] / 110.0, xyz[..., 2] / 90.0
    field = np.exp(0.22 * x - 0.16 * y + 0.1 * z + 0.1 * x * y).astype(np.float32)
    paths = {}

    def save(arr, name, dtype=np.float32):
        img = nib.Nifti1Image(arr.astype(dtype), aff)
        img.set_qform(aff, 1)
        img.set_sform(aff, 1)
        paths[name] = os.path.join(work, name + ".nii.gz")
        nib.save(img, paths[name])

    save(data, "t1")
    save(data * field, "biased")
    save(field, "field")
    save(mask, "mask", np.uint8)
    print(f"  field max/min inside the brain: {field[mask > 0].max() / field[mask > 0].min():.2f}")

    fixed = sitk.ReadImage(paths["t1"], sitk.sitkFloat32)
    t = sitk.Euler3DTransform()
    centre = fixed.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in fixed.GetSize()])
    t.SetCenter(centre)
    t.SetRotation(np.deg2rad(10.0), np.deg2rad(-4.0), np.deg2rad(3.0))
    t.SetTranslation((10.0, -3.0, 2.0))
    moved = sitk.Resample(fixed, fixed, t, sitk.sitkLinear, 0.0)
    paths["moved"] = os.path.join(work, "moved.nii.gz")
    sitk.WriteImage(moved, paths["moved"])
    m = np.eye(4)
    m[:3, :3] = np.array(t.GetMatrix()).reshape(3, 3)
    m[:3, 3] = np.array(t.GetTranslation()) + np.array(centre) - m[:3, :3] @ np.array(centre)
    # moved(p) = t1(T(p)): registering fixed=moved, moving=t1 must find T (LPS -> RAS).
    truth = FLIP @ m @ FLIP
    return paths, data, field, mask, aff, truth


def log_r(est_field, true_field, mask):
    a, b = np.log(est_field[mask > 0]), np.log(true_field[mask > 0])
    return float(np.corrcoef(a, b)[0, 1])


def bench_n4(binary, paths, field, mask, work):
    def sitk_run():
        img = sitk.ReadImage(paths["biased"], sitk.sitkFloat32)
        msk = sitk.ReadImage(paths["mask"], sitk.sitkUInt8)
        t0 = time.perf_counter()
        small = sitk.Shrink(img, [4] * 3)
        small_mask = sitk.Shrink(msk, [4] * 3)
        f = sitk.N4BiasFieldCorrectionImageFilter()
        f.SetMaximumNumberOfIterations([50] * 4)
        f.Execute(small, small_mask)
        log_field = f.GetLogBiasFieldAsImage(img)
        dt = time.perf_counter() - t0
        est = np.exp(sitk.GetArrayFromImage(log_field).transpose(2, 1, 0))
        return dt, log_r(est, field, mask)

    out_field = os.path.join(work, "n4_field.nii.gz")

    def ours_run():
        s = ours(binary, "n4", paths["biased"], os.path.join(work, "n4.nii.gz"), "--mask", paths["mask"],
                 "--shrink-factor", "4", "--maximum-number-of-iterations", "50,50,50,50",
                 "--bias-field", out_field)
        est = np.asarray(nib.load(out_field).get_fdata())
        return s["seconds"], log_r(est, field, mask)

    (ts, rs), (to, ro) = median_of(sitk_run), median_of(ours_run)
    print(f"  SimpleITK N4  {ts:7.2f} s   r = {rs:.4f}")
    print(f"  ours N4       {to:7.2f} s   r = {ro:.4f}")
    print(f"  ratio ours / SimpleITK {to / ts:.2f} (goal <= 0.5 at r >= {rs:.4f}: "
          f"{'met' if to / ts <= 0.5 and ro >= rs else 'MISSED'})")


def mean_displacement(est, truth, mask, aff):
    ijk = np.argwhere(mask > 0)
    p = nib.affines.apply_affine(aff, ijk)
    a = nib.affines.apply_affine(est, p)
    b = nib.affines.apply_affine(truth, p)
    return float(np.linalg.norm(a - b, axis=1).mean())


def sitk_affine_ras(t):
    """A SimpleITK transform (fixed LPS -> moving LPS, any affine kind) as a RAS 4x4,
    recovered from the images of the origin and the unit vectors."""
    o = np.array(t.TransformPoint((0.0, 0.0, 0.0)))
    m = np.eye(4)
    for i in range(3):
        e = [0.0, 0.0, 0.0]
        e[i] = 1.0
        m[:3, i] = np.array(t.TransformPoint(tuple(e))) - o
    m[:3, 3] = o
    return FLIP @ m @ FLIP


def bench_rigid(binary, paths, truth, mask, aff, work):
    def sitk_run():
        fixed = sitk.ReadImage(paths["moved"], sitk.sitkFloat32)
        moving = sitk.ReadImage(paths["t1"], sitk.sitkFloat32)
        t0 = time.perf_counter()
        init = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                 sitk.CenteredTransformInitializerFilter.MOMENTS)
        r = sitk.ImageRegistrationMethod()
        r.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
        r.SetMetricSamplingStrategy(r.RANDOM)
        r.SetMetricSamplingPercentage(0.1, seed=1)
        r.SetInterpolator(sitk.sitkLinear)
        r.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4, numberOfIterations=200,
                                                  relaxationFactor=0.5)
        r.SetOptimizerScalesFromPhysicalShift()
        r.SetShrinkFactorsPerLevel([4, 2, 1])
        r.SetSmoothingSigmasPerLevel([2, 1, 0])
        r.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
        r.SetInitialTransform(init, inPlace=False)
        t = r.Execute(fixed, moving)
        dt = time.perf_counter() - t0
        return dt, mean_displacement(sitk_affine_ras(t), truth, mask, aff)

    def ants_run():
        import ants

        fixed, moving = ants.image_read(paths["moved"]), ants.image_read(paths["t1"])
        t0 = time.perf_counter()
        r = ants.registration(fixed, moving, type_of_transform="Rigid")
        dt = time.perf_counter() - t0
        t = sitk.ReadTransform(r["fwdtransforms"][0])
        return dt, mean_displacement(sitk_affine_ras(t), truth, mask, aff)

    def ours_run():
        s = ours(binary, "register", paths["moved"], paths["t1"], os.path.join(work, "reg.nii.gz"))
        return s["seconds"], mean_displacement(np.array(s["matrix"]), truth, mask, aff)

    (ts, ds), (ta, da), (to, do) = median_of(sitk_run), median_of(ants_run), median_of(ours_run)
    print(f"  SimpleITK rigid   {ts:7.2f} s   mean displacement {ds:.3f} mm")
    print(f"  ANTs Rigid        {ta:7.2f} s   mean displacement {da:.3f} mm")
    print(f"  ours rigid        {to:7.2f} s   mean displacement {do:.3f} mm")
    best = min(ts, ta)
    print(f"  ratio ours / faster peer {to / best:.2f} (goal <= 0.5 at <= 0.5 mm: "
          f"{'met' if to / best <= 0.5 and do <= 0.5 else 'MISSED'})")


def bench_resample(binary, paths, work):
    for interp, sitk_interp in (("linear", sitk.sitkLinear), ("bspline", sitk.sitkBSpline)):
        def sitk_run():
            img = sitk.ReadImage(paths["t1"], sitk.sitkFloat32)
            t0 = time.perf_counter()
            size = [int(round(s * sp / 1.5)) for s, sp in zip(img.GetSize(), img.GetSpacing())]
            out = sitk.Resample(img, size, sitk.Transform(), sitk_interp, img.GetOrigin(), (1.5,) * 3,
                                img.GetDirection(), 0.0, sitk.sitkFloat32)
            return time.perf_counter() - t0, out.GetSize()

        def ours_run():
            s = ours(binary, "resample", paths["t1"], os.path.join(work, "r.nii.gz"), "--spacing", "1.5",
                     "--interp", interp)
            return s["seconds"], s["shape"]

        (ts, shape_s), (to, shape_o) = median_of(sitk_run), median_of(ours_run)
        print(f"  {interp:<8} SimpleITK {ts:6.3f} s {list(shape_s)}   ours {to:6.3f} s {shape_o}   "
              f"ratio {to / ts:.2f} (goal <= 0.5: {'met' if to / ts <= 0.5 else 'MISSED'})")


def main():
    binary = os.path.abspath(sys.argv[1])
    try:
        cpus = sorted(os.sched_getaffinity(0))[:THREADS]
        os.sched_setaffinity(0, cpus)
    except (AttributeError, OSError):
        cpus = None
    print(f"preprocess bench: {THREADS} threads, cores {cpus}, median of {REPEATS}")
    with tempfile.TemporaryDirectory(prefix="preprocess-bench-") as work:
        paths, _data, field, mask, aff, truth = make_data(work)
        print("N4 bias field correction (MNI152 1 mm x known field, shrink 4, brain mask):")
        bench_n4(binary, paths, field, mask, work)
        print("Rigid registration (MNI152 1 mm, known 10 degree / 10 mm transform):")
        bench_rigid(binary, paths, truth, mask, aff, work)
        print("Resampling MNI152 1 mm to 1.5 mm:")
        bench_resample(binary, paths, work)


if __name__ == "__main__":
    main()

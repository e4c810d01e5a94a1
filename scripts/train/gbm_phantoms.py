#!/usr/bin/env python3
"""Synthetic glioblastoma cases in the BraTS layout, for training segmentation networks.

Usage:
    gbm_phantoms.py OUT_DIR N_CASES SEED [--label-scheme brats2017|brats2023] [--workers N] [--start K]

Writes `OUT_DIR/<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz` for the case ids
`GBM_Synth_{index:05d}`, index = K .. K + N_CASES - 1, and prints one JSON line at the end:
`{"cases": [...], "shape": [240, 240, 155], "spacing": [1, 1, 1], "label_scheme": ...}`.
Per-case tumour volumes and timings go to stderr so that stdout stays machine-readable.

Geometry is that of BraTS: 240x240x155 voxels of 1 mm, voxel axes L, P, S (affine diag(-1, -1, 1)
with the MNI brain in the middle), skull-stripped (zero outside the brain), the four contrasts
co-registered. Images are int16, the segmentation is uint8 with label 1 = necrotic or
non-enhancing tumour core, 2 = oedema and 4 (brats2017, default) or 3 (brats2023) = enhancing
tumour. Every case is fully determined by (SEED, case index), whatever --workers is.

Realism features, each drawn per case so that no two cases are the same:

* Anatomy: the MNI152 2009a grey matter, white matter and brain mask (nilearn), CSF as the rest of
  the mask, moved by a random affine (scale +-8 %, rotation +-8 degrees, shift +-6 mm) before
  resampling onto the BraTS grid, and optionally pushed outward around each tumour (mass effect,
  an incompressible radial displacement that compresses ventricles and sulci nearby).
* Lesions: 1-3 per case, core radius about 5-25 mm, centred mostly in deep white matter, some
  periventricular, some cortical/subcortical, and some satellites near the first lesion.
  Each lesion is an anisotropic, randomly rotated ellipsoid whose surface is made lobulated and
  rough by smoothed noise. Inside it sit a necrotic core of irregular shape (absent in some,
  mostly small, lesions) and an enhancing rim of random thickness (1.5-8 mm) that may be
  complete, patchy/incomplete (the gaps become non-enhancing tumour) or missing altogether.
* Oedema grows from the tumour core along a geodesic distance whose local speed is the white
  matter probability (grey matter slow, CSF almost impassable), so it spreads into white matter
  fingers and largely spares cortex and ventricles; its reach varies from almost none to about
  30-45 mm, with a ragged front, and its signal may fade from the core towards that front.
* Partial volume everywhere: every voxel holds fractions of CSF, GM, WM, necrosis, non-enhancing
  tumour, oedema and enhancing tumour (soft edges about one voxel wide at every boundary), the
  images mix the tissue intensities by these fractions, and the label is the dominant tumour
  class of voxels that are at least half tumour.
* Contrast: mean intensity per tissue per contrast from a BraTS-like table, jittered per case
  (with floors so that the diagnostic contrasts survive), multiplicative correlated texture
  (finer for normal tissue, coarser and stronger in tumour), optional through-plane blur
  (thick-slice acquisitions resampled to 1 mm), sparse enhancing vessel-like specks in sulcal CSF
  on T1-post in half of the cases (bright is not always tumour), a smooth multiplicative bias
  field per contrast with max/min 1.0-1.4 over the brain, a random global scale (white matter at
  about 400-2000) and offset per contrast, and Rician noise at an SNR drawn per contrast between
  about 8 and 40.
* Speed: about 3.5-4 s of one CPU core per case (the maps are resampled only inside the brain's
  bounding box, lesions are built in local boxes, smooth noise is drawn coarse and upsampled,
  and the intensity synthesis runs on the vector of in-brain voxels).
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

SHAPE = (240, 240, 155)
# BraTS stores voxels in L, P, S order; world coordinates stay RAS millimetres (MNI here), and
# the translation puts the MNI brain centre (0, -17, 9) mm at voxel (120, 120, 77).
OUT_AFFINE = np.array(
    [[-1.0, 0.0, 0.0, 120.0], [0.0, -1.0, 0.0, 103.0], [0.0, 0.0, 1.0, -68.0], [0.0, 0.0, 0.0, 1.0]]
)
BRAIN_CENTRE = np.array([0.0, -17.0, 9.0])
CONTRASTS = ("flair", "t1", "t1ce", "t2")
# Relative mean intensity of each class per contrast, roughly as in BraTS after scaling WM on T1
# to about 0.85: CSF, GM, WM, necrosis, non-enhancing tumour, oedema, enhancing tumour.
CLASSES = ("csf", "gm", "wm", "nec", "net", "oed", "enh")
BASE_MEANS = {
    "flair": (0.22, 0.78, 0.60, 0.75, 1.10, 1.30, 1.00),
    "t1": (0.30, 0.62, 0.85, 0.32, 0.50, 0.56, 0.62),
    "t1ce": (0.30, 0.65, 0.85, 0.30, 0.52, 0.58, 1.40),
    "t2": (1.65, 0.92, 0.60, 1.50, 1.10, 1.25, 0.95),
}
ENHANCING_LABEL = {"brats2017": 4, "brats2023": 3}

# Template data, loaded once per process by load_template() and shared by all its cases.
_T = None


def load_template():
    """Load the MNI152 maps once per process and precompute the candidate lesion sites."""
    global _T
    if _T is not None:
        return _T
    from nilearn import datasets

    gm_img = datasets.load_mni152_gm_template(resolution=1)
    # C order matters: affine_transform walks the input in C order and nibabel hands back
    # Fortran-ordered arrays, which makes the resampling about twice as slow.
    gm = np.ascontiguousarray(gm_img.get_fdata(), dtype=np.float32)
    wm = np.ascontiguousarray(datasets.load_mni152_wm_template(resolution=1).get_fdata(), dtype=np.float32)
    mask = np.ascontiguousarray(datasets.load_mni152_brain_mask(resolution=1).get_fdata(), dtype=np.float32)
    # The probability maps leak slightly outside the mask and can sum above one; both would
    # break the partial-volume bookkeeping, so they are cut to the mask and renormalised.
    gm = np.clip(gm, 0, 1) * mask
    wm = np.clip(wm, 0, 1) * mask
    total = gm + wm
    over = total > 1.0
    gm[over] /= total[over]
    wm[over] /= total[over]
    affine = gm_img.affine.astype(np.float64)

    # Candidate sites are chosen on a 2 mm grid, which is plenty for picking centres and keeps
    # the distance transforms cheap.
    m2 = mask[::2, ::2, ::2] > 0.5
    gm2, wm2 = gm[::2, ::2, ::2], wm[::2, ::2, ::2]
    csf2 = np.clip(mask[::2, ::2, ::2] - gm2 - wm2, 0, 1)
    depth = ndi.distance_transform_edt(m2, sampling=2.0).astype(np.float32)
    idx = np.argwhere(m2)
    vox = idx * 2.0
    world = vox @ affine[:3, :3].T + affine[:3, 3]
    x, y, z = world[:, 0], world[:, 1], world[:, 2]
    # Glioblastomas are overwhelmingly supratentorial, so cerebellum and brainstem are excluded
    # with a few generous boxes in MNI space.
    cerebellum = (y < -40) & (z < 5)
    brainstem = (np.abs(x) < 18) & (y < -5) & (y > -45) & (z < -8)
    allowed = (z > -38) & ~cerebellum & ~brainstem
    d = depth[m2]
    w = wm2[m2]
    g = gm2[m2]
    ventricles = (csf2 > 0.6) & (depth > 18)
    near_vent = ndi.distance_transform_edt(~ventricles, sampling=2.0)[m2] <= 8.0
    sites = {
        "deep": allowed & (w > 0.85) & (d >= 10),
        "peri": allowed & (w > 0.35) & near_vent & ~ventricles[m2],
        "cortical": allowed & (g > 0.45) & (d >= 5),
    }
    # Mask points on the 2 mm grid, used to find where the deformed brain lands on the output.
    points = vox[::4]
    _T = {
        "gm": gm,
        "wm": wm,
        "mask": mask,
        "affine": affine,
        "sites": {k: (vox[v], d[v]) for k, v in sites.items()},
        "points": points,
    }
    return _T


def ramp(x, width):
    """Soft occupancy from a signed distance in mm: 0 outside, 1 inside, linear over `width`."""
    return np.clip(x / width + 0.5, 0.0, 1.0)


def smooth_noise(rng, shape, cell, fine_sigma=1.0):
    """Unit-variance Gaussian noise correlated over about `cell` voxels.

    The noise is drawn on a grid `cell` times coarser, smoothed there and upsampled linearly,
    which costs a tiny fraction of filtering full-resolution noise with a wide kernel.
    """
    low_shape = tuple(max(3, int(np.ceil(n / cell)) + 2) for n in shape)
    low = ndi.gaussian_filter(rng.standard_normal(low_shape, dtype=np.float32), fine_sigma, mode="wrap")
    low /= low.std() + 1e-6
    return ndi.zoom(low, [n / l for n, l in zip(shape, low_shape)], order=1)


def random_rotation(rng, max_deg=None):
    """A rotation matrix: uniformly random, or with each Euler angle within +-max_deg."""
    if max_deg is None:
        q, r = np.linalg.qr(rng.standard_normal((3, 3)))
        q *= np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        return q
    a, b, c = np.deg2rad(rng.uniform(-max_deg, max_deg, size=3))
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def anatomy_transform(rng, T):
    """The random template-world -> output-world affine, as (linear part, translation)."""
    scale = rng.uniform(0.92, 1.08) * rng.uniform(0.97, 1.03, size=3)
    scale = np.clip(scale, 0.92, 1.08)
    lin = random_rotation(rng, 8.0) @ np.diag(scale)
    shift = rng.uniform(-6.0, 6.0, size=3)
    trans = BRAIN_CENTRE + shift - lin @ BRAIN_CENTRE
    # The template brain fills all 155 slices of its own grid, so a large scale or an upward
    # shift could cut off the vertex; the brainstem end is allowed to leave the grid (BraTS
    # volumes often stop there too), the top is kept at least three slices inside.
    top = _to_output_voxels(T["points"], T["affine"], lin, trans)[:, 2].max()
    if top > SHAPE[2] - 4:
        trans[2] -= top - (SHAPE[2] - 4)
    return lin, trans


def _to_output_voxels(template_vox, tpl_affine, lin, trans):
    world = template_vox @ tpl_affine[:3, :3].T + tpl_affine[:3, 3]
    world = world @ lin.T + trans
    out_inv = np.linalg.inv(OUT_AFFINE)
    return world @ out_inv[:3, :3].T + out_inv[:3, 3]


def resample_anatomy(T, lin, trans):
    """Deform the template maps and resample them into the output box around the brain."""
    pts = _to_output_voxels(T["points"], T["affine"], lin, trans)
    lo = np.maximum(np.floor(pts.min(axis=0)) - 4, 0).astype(int)
    hi = np.minimum(np.ceil(pts.max(axis=0)) + 5, SHAPE).astype(int)
    # Output voxel -> output world -> template world (inverse random affine) -> template voxel.
    fwd = np.eye(4)
    fwd[:3, :3], fwd[:3, 3] = lin, trans
    m = np.linalg.inv(T["affine"]) @ np.linalg.inv(fwd) @ OUT_AFFINE
    offset = m[:3, :3] @ lo + m[:3, 3]
    shape = tuple(hi - lo)
    maps = [
        ndi.affine_transform(T[k], m[:3, :3], offset=offset, output_shape=shape, order=1, prefilter=False)
        for k in ("gm", "wm", "mask")
    ]
    return maps, lo, hi


def local_box(centre, half, shape):
    """Slices of a cube of half-size `half` around `centre`, clipped to `shape`."""
    lo = np.maximum(np.floor(centre - half).astype(int), 0)
    hi = np.minimum(np.ceil(centre + half).astype(int) + 1, shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi)), lo


def mass_effect(maps, centre, radius, k):
    """Push tissue radially away from a lesion centre, in place.

    A volume k*V (V the core ball volume) is inserted at the centre and the surrounding tissue is
    moved as an incompressible medium would (r_src^3 = r^3 - k R^3), tapered to zero at 2.2 R so
    that the deformation stays local; this compresses nearby ventricles and sulci.
    """
    half = 2.2 * radius + 1
    sl, lo = local_box(centre, half, maps[0].shape)
    grids = np.meshgrid(*[np.arange(s.start, s.stop, dtype=np.float32) - float(c) for s, c in zip(sl, centre)],
                        indexing="ij")
    r = np.sqrt(sum(g * g for g in grids)) + 1e-3
    r_src = np.cbrt(np.maximum(r ** 3 - float(k * radius ** 3), 0.0))
    taper = 0.5 * (1 + np.cos(np.pi * np.minimum(r / half, 1.0)))
    factor = 1.0 + (r_src / r - 1.0) * taper
    coords = np.stack([g * factor + float(c - l) for g, c, l in zip(grids, centre, lo)])
    for a in maps:
        local = a[sl].copy()
        a[sl] = ndi.map_coordinates(local, coords, order=1, mode="nearest", prefilter=False)


def geodesic_distance(seed, speed, iterations):
    """Distance (mm) from `seed` on a 2 mm grid where a step costs 2 mm / local speed.

    Repeated min-plus relaxation over face neighbours (cost 1) and the full 3x3x3 cube (cost 1.6
    for the diagonals) approximates Euclidean distance well enough under the noise added later.
    """
    cost = (2.0 / np.maximum(speed, 1e-3)).astype(np.float32)
    big = np.float32(1e4)
    dist = np.where(seed, np.float32(0), big).astype(np.float32)
    cross = ndi.generate_binary_structure(3, 1)
    cube = np.ones((3, 3, 3), bool)
    for _ in range(iterations):
        step = np.minimum(ndi.minimum_filter(dist, footprint=cross, mode="constant", cval=big) + cost,
                          ndi.minimum_filter(dist, footprint=cube, mode="constant", cval=big) + 1.6 * cost)
        new = np.minimum(dist, step)
        if np.array_equal(new, dist):
            break
        dist = new
    return dist


def lesion_fractions(rng, les, gm, wm, csf, pv):
    """Necrosis, non-enhancing tumour, enhancing tumour and oedema fractions in a local box."""
    R, E = les["radius"], les["oedema"]
    # The box must hold the lobulated core plus the farthest oedema front (1.5 E, see below) so
    # that nothing is cut off by its faces.
    half = R * (1 + 2.5 * les["lobulation"]) + 1.5 * E + 8
    sl, _ = local_box(les["centre"], half, gm.shape)
    shape = tuple(s.stop - s.start for s in sl)
    # NumPy 2 promotes float32 arrays to float64 when combined with NumPy float64 scalars, so
    # every scalar that meets a volume is turned into a Python float first.
    rel = [np.arange(s.start, s.stop, dtype=np.float32) - float(c) for s, c in zip(sl, les["centre"])]
    rot, axes = les["rotation"].tolist(), les["axes"].tolist()
    d2 = 0.0
    for i in range(3):
        u = rot[i][0] * rel[0][:, None, None] + rot[i][1] * rel[1][None, :, None] + rot[i][2] * rel[2][None, None, :]
        d2 = d2 + (u / axes[i]) ** 2
    dist = np.sqrt(d2)

    # A lobulated outline (noise correlated over about R/2.5) plus a rough surface (2-3 mm).
    coarse = smooth_noise(rng, shape, max(3.0, R / 2.5))
    fine = smooth_noise(rng, shape, 2.5)
    d_core = dist + les["lobulation"] * R * coarse + les["roughness"] * fine
    core = ramp(R - d_core, pv)
    if les["rim"] is not None:
        # The necrotic cavity has its own irregular outline, partly following the outer one,
        # and is kept 1.2 mm inside the outer surface so that noise cannot punch through.
        own = smooth_noise(rng, shape, max(3.0, R / 3.0))
        d_nec = dist + R * (0.6 * les["lobulation"] * coarse + les["necrosis_irregularity"] * own)
        nec = np.minimum(ramp(R - les["rim"] - d_nec, pv), ramp(R - 1.2 - d_core, pv))
    else:
        nec = np.zeros_like(core)
    rim = core - nec
    if les["enhancement"] == "complete":
        gate = 1.0
    elif les["enhancement"] == "none":
        gate = 0.0
    else:
        # Smooth on/off patches along the rim: the gaps are non-enhancing tumour.
        gate_noise = smooth_noise(rng, shape, max(3.0, R / 3.0))
        gate = 1.0 / (1.0 + np.exp(-(gate_noise - les["gate_threshold"]) / 0.2))
    enh = rim * gate
    net = rim - enh

    # Oedema: WM-weighted geodesic growth from the core on a 2 mm grid, upsampled, with a noisy
    # threshold so that its front is ragged.
    speed = np.clip(wm[sl][::2, ::2, ::2], 0, 1) ** 1.5 + 0.2 * gm[sl][::2, ::2, ::2] + 0.02
    speed *= 1.0 - 0.9 * np.clip(csf[sl][::2, ::2, ::2], 0, 1)
    seed = core[::2, ::2, ::2] >= 0.5
    if not seed.any():
        seed = core[::2, ::2, ::2] >= core[::2, ::2, ::2].max() * 0.5
    geo = geodesic_distance(seed, speed, int(np.ceil(E * 1.5 / 2.0)) + 3)
    geo = ndi.zoom(np.minimum(geo, 200.0), [n / l for n, l in zip(shape, geo.shape)], order=1)
    front = E * (1.0 + 0.35 * np.clip(smooth_noise(rng, shape, max(3.0, E / 2.0)), -2.5, 1.4))
    oed = ramp(front - geo, 2.0)
    # Oedema is usually brightest next to the tumour and fades towards its front; `strength`
    # (1 at the core, lower further out) blends the oedema contrast with the white matter one.
    strength = np.clip(1.0 - les["oedema_fade"] * geo / np.maximum(front, 1.0), 0.3, 1.0)
    return sl, nec, net, enh, oed, strength


def draw_lesions(rng, T, lin, trans, box_lo):
    """Lesion parameters, with centres in output-box voxel coordinates."""
    n = rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15])
    lesions = []
    first = None
    for i in range(n):
        if i == 0:
            # Most radii fall in the common 9-20 mm range, the rest spread over 5-25 mm.
            R = rng.uniform(9, 20) if rng.random() < 0.65 else float(np.exp(rng.uniform(np.log(5), np.log(25))))
        else:
            R = float(np.exp(rng.uniform(np.log(5), np.log(18))))
        site = rng.choice(["deep", "peri", "cortical"], p=[0.6, 0.2, 0.2])
        vox, depth = T["sites"][site]
        ok = depth >= min(0.5 * R, 12.0) if site != "cortical" else depth >= 5
        if first is not None and rng.random() < 0.5:
            # Satellite (multifocal) lesions sit a short distance from the first one.
            gap = np.linalg.norm(vox - first, axis=1)
            near = ok & (gap > 0.8 * R + 10) & (gap < R + 45)
            if near.any():
                ok = near
        if not ok.any():
            ok = np.ones(len(vox), bool)
        centre_tpl = vox[rng.choice(np.flatnonzero(ok))] + rng.uniform(-1, 1, size=3)
        if first is None:
            first = centre_tpl
        centre = _to_output_voxels(centre_tpl[None], T["affine"], lin, trans)[0] - box_lo
        has_necrosis = rng.random() < (0.85 if R >= 10 else 0.45)
        rim = None
        if has_necrosis:
            rim = rng.uniform(1.5, max(1.6, min(8.0, 0.55 * R)))
            if R - rim < 2.0:
                rim = None
        enhancement = rng.choice(["complete", "patchy", "none"], p=[0.5, 0.4, 0.1])
        oedema = rng.uniform(0.5, 4.0) if rng.random() < 0.15 else rng.uniform(4.0, 32.0)
        oedema_fade = 0.0 if rng.random() < 0.3 else rng.uniform(0.1, 0.6)
        axes = np.exp(rng.normal(0, 0.15, size=3))
        lesions.append({
            "centre": centre,
            "radius": R,
            "site": str(site),
            "rim": rim,
            "enhancement": str(enhancement),
            "gate_threshold": rng.uniform(-0.8, 0.8),
            "oedema": oedema,
            "oedema_fade": oedema_fade,
            "lobulation": rng.uniform(0.08, 0.35),
            "necrosis_irregularity": rng.uniform(0.05, 0.3),
            "roughness": rng.uniform(0.3, 1.5),
            "rotation": random_rotation(rng),
            "axes": axes / np.cbrt(axes.prod()),
            "mass_effect": 0.0 if rng.random() < 0.5 else rng.uniform(0.1, 0.6),
        })
    return lesions


def jittered_means(rng):
    """Per-case tissue means: BASE_MEANS with log-normal jitter and a few contrast floors."""
    means = {}
    for c in CONTRASTS:
        base = np.array(BASE_MEANS[c])
        sigma = np.array([0.08, 0.06, 0.06, 0.15, 0.12, 0.10, 0.10])
        means[c] = base * np.exp(rng.normal(0, sigma))
    # Necrosis on FLAIR ranges from fluid-dark to proteinaceous-bright in real scans.
    means["flair"][3] = rng.uniform(0.35, 1.05)
    # Keep the contrasts that define the labels: oedema bright on FLAIR and T2, enhancing tumour
    # bright on T1-post, tumour hypo-intense on T1.
    for c, k, ref in (("flair", 5, 1.2), ("t2", 5, 1.2), ("t1ce", 6, 1.25)):
        means[c][k] = max(means[c][k], ref * max(means[c][1], means[c][2]))
    means["t1"][3:] = np.minimum(means["t1"][3:], 0.9 * means["t1"][2])
    return means


def smooth_1d(rng, n, terms=3, min_wavelength=120.0):
    """A random smooth 1-D profile: a few cosines with wavelengths above `min_wavelength` mm."""
    x = np.arange(n, dtype=np.float64)
    out = np.zeros(n)
    for _ in range(terms):
        wavelength = rng.uniform(min_wavelength, 3 * min_wavelength)
        out += rng.normal(0, 1.0) * np.cos(2 * np.pi * x / wavelength + rng.uniform(0, 2 * np.pi))
    return out


def bias_field(rng, shape, coords, ratio):
    """A smooth multiplicative field at the voxels `coords` (index arrays), max/min `ratio` there.

    The log field is a sum of one smooth profile per axis (the dominant coil fall-off) and two
    rank-one products of smooth profiles (non-separable structure).  Evaluating it by table
    look-ups on the in-brain voxels is several times cheaper than upsampling a coarse 3-D field.
    """
    log_b = np.zeros(coords[0].size, np.float32)
    for axis in range(3):
        log_b += smooth_1d(rng, shape[axis]).astype(np.float32)[coords[axis]]
    for _ in range(2):
        term = np.ones(coords[0].size, np.float32)
        for axis in range(3):
            term *= smooth_1d(rng, shape[axis], terms=2).astype(np.float32)[coords[axis]]
        log_b += term
    span = float(log_b.max() - log_b.min()) if log_b.size else 1.0
    log_b = (log_b - float(log_b.mean())) * float(np.log(ratio) / max(span, 1e-6))
    return np.exp(log_b)


def make_case(args):
    """Generate and write one case; return its id and statistics."""
    out_dir, seed, index, scheme = args
    t0 = time.time()
    T = load_template()
    rng = np.random.default_rng([seed, index])
    case = f"GBM_Synth_{index:05d}"

    lin, trans = anatomy_transform(rng, T)
    (gm, wm, mask), lo, hi = resample_anatomy(T, lin, trans)
    lesions = draw_lesions(rng, T, lin, trans, lo)
    for les in lesions:
        if les["mass_effect"] > 0:
            mass_effect([gm, wm, mask], les["centre"], les["radius"], les["mass_effect"])
    mask = np.clip(mask, 0, 1)
    gm = np.minimum(np.clip(gm, 0, 1), mask)
    wm = np.minimum(np.clip(wm, 0, 1), mask - gm)
    csf = np.clip(mask - gm - wm, 0, 1)

    pv = rng.uniform(0.8, 1.6)
    shape = gm.shape
    nec = np.zeros(shape, np.float32)
    net = np.zeros(shape, np.float32)
    enh = np.zeros(shape, np.float32)
    oed = np.zeros(shape, np.float32)
    strength = np.ones(shape, np.float32)
    for les in lesions:
        sl, l_nec, l_net, l_enh, l_oed, l_str = lesion_fractions(rng, les, gm, wm, csf, pv)
        # Overlapping lesions: the one with more core in a voxel owns that voxel's core.
        new_core = l_nec + l_net + l_enh
        take = new_core > (nec[sl] + net[sl] + enh[sl])
        nec[sl] = np.where(take, l_nec, nec[sl])
        net[sl] = np.where(take, l_net, net[sl])
        enh[sl] = np.where(take, l_enh, enh[sl])
        strength[sl] = np.where(l_oed > oed[sl], l_str, strength[sl])
        oed[sl] = np.maximum(oed[sl], l_oed)

    # Everything from here on runs on the vector of in-brain voxels (about half of the box),
    # since the images are zero outside the brain anyway.
    inside = mask >= 0.5
    flat = np.flatnonzero(inside)
    coords = np.unravel_index(flat, shape)
    g = {k: np.take(v.ravel(), flat) for k, v in
         (("gm", gm), ("wm", wm), ("csf", csf), ("mask", mask), ("nec", nec), ("net", net), ("enh", enh), ("oed", oed),
          ("strength", strength))}

    # Partial-volume bookkeeping: the core replaces whatever was there, oedema infiltrates only
    # parenchyma (GM/WM, not CSF), and all fractions sum to the brain-mask fraction.
    keep = 1.0 - (g["nec"] + g["net"] + g["enh"])
    f = {
        "nec": g["nec"] * g["mask"],
        "net": g["net"] * g["mask"],
        "enh": g["enh"] * g["mask"],
        "oed": g["oed"] * keep * (g["gm"] + g["wm"]),
        "csf": g["csf"] * keep,
        "gm": g["gm"] * keep * (1.0 - g["oed"]),
        "wm": g["wm"] * keep * (1.0 - g["oed"]),
    }
    # A voxel is tumour when tumour makes up at least half of its tissue; its label is then the
    # tumour class with the largest fraction (necrosis and non-enhancing tumour share label 1).
    core_f = f["nec"] + f["net"]
    tumour = core_f + f["enh"] + f["oed"]
    labels = np.zeros(flat.size, np.uint8)
    t_idx = np.flatnonzero(tumour >= 0.5 * g["mask"])
    if t_idx.size:
        stacked = np.stack([core_f[t_idx], f["oed"][t_idx], f["enh"][t_idx]])
        lut = np.array([1, 2, ENHANCING_LABEL[scheme]], np.uint8)
        labels[t_idx] = lut[np.argmax(stacked, axis=0)]
    seg_box = np.zeros(shape, np.uint8)
    seg_box.ravel()[flat] = labels

    # Shared correlated texture: a fine field (~1 mm) and a coarser one (~2.5 mm), mixed per
    # contrast so that contrasts share structure without being copies of each other.
    fine = np.take(ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 0.8).ravel(), flat)
    fine /= float(fine.std()) + 1e-6
    coarse = np.take(ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 2.5).ravel(), flat)
    coarse /= float(coarse.std()) + 1e-6
    normal_amp = rng.uniform(0.02, 0.06)
    tumour_amp = rng.uniform(0.04, 0.12)
    means = jittered_means(rng)
    vessel_amp = 0.0 if rng.random() < 0.5 else rng.uniform(0.3, 1.5)

    folder = os.path.join(out_dir, case)
    os.makedirs(folder, exist_ok=True)
    for c in CONTRASTS:
        mu = dict(zip(CLASSES, means[c].tolist()))
        normal = mu["csf"] * f["csf"] + mu["gm"] * f["gm"] + mu["wm"] * f["wm"]
        # Oedema is infiltrated parenchyma and looks about as smooth as it, so it shares the
        # normal-tissue texture; only the solid tumour gets the coarser, stronger texture.
        oed_mu = mu["wm"] + (mu["oed"] - mu["wm"]) * g["strength"]
        normal += oed_mu * f["oed"]
        lesion = mu["nec"] * f["nec"] + mu["net"] * f["net"] + mu["enh"] * f["enh"]
        if c == "t1ce" and vessel_amp > 0:
            # Cortical vessels and dura enhance too: sparse bright specks in sulcal CSF, so that
            # brightness on T1-post alone does not mean enhancing tumour.
            normal += vessel_amp * mu["wm"] * f["csf"] * (fine > 2.3)
        th, ph = rng.uniform(0, np.pi / 2, size=2).tolist()
        img = normal * (1.0 + normal_amp * (np.cos(th) * fine + np.sin(th) * coarse))
        img += lesion * (1.0 + tumour_amp * (np.cos(ph) * coarse + np.sin(ph) * fine))
        if rng.random() < 0.4:
            # Thick-slice acquisitions resampled to 1 mm are blurred through-plane.
            axis = 2 if rng.random() < 0.7 else int(rng.integers(0, 2))
            vol = np.zeros(shape, np.float32)
            vol.ravel()[flat] = img
            img = np.take(ndi.gaussian_filter1d(vol, rng.uniform(0.4, 1.2), axis=axis).ravel(), flat)
        img *= bias_field(rng, shape, coords, rng.uniform(1.0, 1.4))
        scale = float(np.exp(rng.uniform(np.log(400), np.log(2000)))) / mu["wm"]
        offset = rng.uniform(-0.03, 0.12) * mu["wm"]
        img = (img + offset * g["mask"]) * scale
        # Rician magnitude noise: complex Gaussian noise added before taking the modulus.
        sigma = scale * mu["wm"] / float(np.exp(rng.uniform(np.log(8), np.log(40))))
        real = img + sigma * rng.standard_normal(flat.size, dtype=np.float32)
        imag = sigma * rng.standard_normal(flat.size, dtype=np.float32)
        img = np.sqrt(real * real + imag * imag)
        box = np.zeros(shape, np.int16)
        box.ravel()[flat] = np.clip(np.rint(img), 0, 32767).astype(np.int16)
        full = np.zeros(SHAPE, np.int16)
        full[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = box
        save(full, os.path.join(folder, f"{case}_{c}.nii.gz"))
    seg = np.zeros(SHAPE, np.uint8)
    seg[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = seg_box
    save(seg, os.path.join(folder, f"{case}_seg.nii.gz"))

    enh_label = ENHANCING_LABEL[scheme]
    stats = {
        "case": case,
        "lesions": len(lesions),
        "radii_mm": [round(les["radius"], 1) for les in lesions],
        "sites": [les["site"] for les in lesions],
        "wt_cm3": round(int((seg_box > 0).sum()) / 1000.0, 2),
        "tc_cm3": round(int(((seg_box == 1) | (seg_box == enh_label)).sum()) / 1000.0, 2),
        "et_cm3": round(int((seg_box == enh_label).sum()) / 1000.0, 2),
        "seconds": round(time.time() - t0, 2),
    }
    return stats


def save(data, path):
    img = nib.Nifti1Image(data, OUT_AFFINE)
    img.set_data_dtype(data.dtype)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(OUT_AFFINE, code=1)
    img.set_sform(OUT_AFFINE, code=1)
    nib.save(img, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("n_cases", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--label-scheme", choices=sorted(ENHANCING_LABEL), default="brats2017")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--start", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    jobs = [(args.out_dir, args.seed, i, args.label_scheme) for i in range(args.start, args.start + args.n_cases)]
    t0 = time.time()
    if args.workers <= 1:
        results = map(make_case, jobs)
        pool = None
    else:
        # Each worker loads the template once (initializer) and then streams cases.
        pool = mp.get_context("fork" if sys.platform != "win32" else "spawn").Pool(
            args.workers, initializer=load_template)
        results = pool.imap(make_case, jobs)
    cases = []
    for stats in results:
        cases.append(stats["case"])
        print(json.dumps(stats), file=sys.stderr, flush=True)
    if pool is not None:
        pool.close()
        pool.join()
    print(f"{len(cases)} cases in {time.time() - t0:.1f} s", file=sys.stderr)
    print(json.dumps({"cases": cases, "shape": list(SHAPE), "spacing": [1, 1, 1], "label_scheme": args.label_scheme}))


if __name__ == "__main__":
    main()

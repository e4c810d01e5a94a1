//! Resampling against SimpleITK's `sitk.Resample` (same interpolator, same
//! output grid), run at test time by scripts/fixtures/preprocess_resample.py
//! on nilearn's MNI152 T1 and an oblique, anisotropic crop of it.
//!
//! Interpolated values must agree within 1e-3 (relative, `assert_close`) on
//! interior voxels (at least 2 voxels from the source border); nearest
//! neighbour must agree exactly except where the source coordinate is a tie
//! (within 1e-5 of a half-integer), where either rounding is right. Voxels
//! clearly outside the source must hold the fill value.

mod harness;
mod local;

use deepneuro_preprocess::resample::{resample, Grid, ResampleOptions};
use harness::{
    affine, bounding_grid, centered_grid, check, job, reference, rotation, run_and_check, Inputs,
};
use nalgebra::{Matrix3, Vector3};

/// (a) Axis-aligned: the MNI T1 to 1.5 mm and to 0.8 x 1.1 x 2.5 mm, and
/// onto a grid whose axes are permuted and flipped.
#[test]
fn axis_aligned_mni_matches_simpleitk() {
    let inputs = Inputs::new();
    let mni = inputs.read("mni.nii");
    let iso = Grid::with_spacing(&mni, [1.5; 3]).unwrap();
    let aniso = Grid::with_spacing(&mni, [0.8, 1.1, 2.5]).unwrap();
    // The origins keep source coordinates off half-integers (nearest
    // neighbour ties), as the other grids here do except 0.8 x 1.1 x 2.5.
    // Output x runs along world S, y along world P (flipped), z along R.
    let permuted = Grid {
        shape: [126, 194, 140],
        affine: affine(
            Matrix3::new(0.0, 0.0, 1.4, 0.0, -1.2, 0.0, 1.5, 0.0, 0.0),
            [-97.8, 97.63, -71.75],
        ),
    };
    // Output x runs along R as in the source, y along S, z along P (flipped).
    let swapped = Grid {
        shape: [150, 140, 180],
        affine: affine(
            Matrix3::new(1.3, 0.0, 0.0, 0.0, 0.0, -1.25, 0.0, 1.35, 0.0),
            [-97.63, 98.4, -71.93],
        ),
    };
    let mut jobs = Vec::new();
    for interp in ["nearest", "linear", "bspline"] {
        jobs.push(job(
            &format!("mni 1.5 mm {interp}"),
            &inputs,
            "mni.nii",
            &iso,
            interp,
            None,
        ));
        jobs.push(job(
            &format!("mni 0.8x1.1x2.5 mm {interp}"),
            &inputs,
            "mni.nii",
            &aniso,
            interp,
            None,
        ));
    }
    for interp in ["nearest", "linear", "bspline"] {
        jobs.push(job(
            &format!("mni swapped y/z {interp}"),
            &inputs,
            "mni.nii",
            &swapped,
            interp,
            None,
        ));
        jobs.push(job(
            &format!("mni permuted {interp}"),
            &inputs,
            "mni.nii",
            &permuted,
            interp,
            None,
        ));
    }
    run_and_check(&jobs);
}

/// (b) Oblique: the oblique source onto an axis-aligned grid and onto
/// another oblique grid.
#[test]
fn oblique_matches_simpleitk() {
    let inputs = Inputs::new();
    let src = inputs.read("oblique.nii");
    let straight = bounding_grid(&src, 1.1);
    let lin = rotation([0.0, 1.0, 0.0], 10.0)
        * rotation([0.0, 0.0, 1.0], 20.0)
        * Matrix3::from_diagonal(&Vector3::new(1.0, 1.2, 1.4));
    let oblique = centered_grid(lin, [110, 90, 120], [1.5, -17.0, 8.0]);
    let mut jobs = Vec::new();
    for interp in ["nearest", "linear", "bspline"] {
        jobs.push(job(
            &format!("oblique->straight {interp}"),
            &inputs,
            "oblique.nii",
            &straight,
            interp,
            None,
        ));
        jobs.push(job(
            &format!("oblique->oblique {interp}"),
            &inputs,
            "oblique.nii",
            &oblique,
            interp,
            None,
        ));
    }
    run_and_check(&jobs);
}

/// (c) A rigid world map (rotation about two axes and a translation), and a
/// pure translation, which keeps the map axis-aligned.
#[test]
fn world_map_matches_simpleitk() {
    let inputs = Inputs::new();
    let mni = inputs.read("mni.nii");
    let grid = Grid::with_spacing(&mni, [2.0; 3]).unwrap();
    let rigid = affine(
        rotation([0.0, 0.0, 1.0], 12.0) * rotation([1.0, 0.0, 0.0], -8.0),
        [4.5, -6.25, 3.0],
    );
    let shift = affine(Matrix3::identity(), [2.3, -1.7, 0.6]);
    let src = inputs.read("oblique.nii");
    let straight = bounding_grid(&src, 1.5);
    let mut jobs = Vec::new();
    for interp in ["nearest", "linear", "bspline"] {
        jobs.push(job(
            &format!("mni rigid {interp}"),
            &inputs,
            "mni.nii",
            &grid,
            interp,
            Some(rigid),
        ));
        jobs.push(job(
            &format!("oblique rigid {interp}"),
            &inputs,
            "oblique.nii",
            &straight,
            interp,
            Some(rigid),
        ));
    }
    for interp in ["linear", "bspline"] {
        jobs.push(job(
            &format!("mni shift {interp}"),
            &inputs,
            "mni.nii",
            &grid,
            interp,
            Some(shift),
        ));
    }
    run_and_check(&jobs);
}

/// Label-safe resampling equals the one-hot linear arg-max reference and
/// returns only existing labels.
#[test]
fn labels_match_one_hot_reference() {
    let inputs = Inputs::new();
    let src = inputs.read("labels.nii");
    let straight = bounding_grid(&src, 0.9);
    let rigid = affine(rotation([0.0, 1.0, 0.0], 9.0), [1.0, 2.0, -3.0]);
    let jobs = vec![
        job(
            "labels->straight",
            &inputs,
            "labels.nii",
            &straight,
            "labels",
            None,
        ),
        job(
            "labels rigid",
            &inputs,
            "labels.nii",
            &straight,
            "labels",
            Some(rigid),
        ),
    ];
    for j in &jobs {
        let mut seen: Vec<f32> = j.ours.nifti_slice().to_vec();
        seen.sort_by(f32::total_cmp);
        seen.dedup();
        assert_eq!(seen, vec![0.0, 1.0, 2.0, 4.0], "{}: output labels", j.name);
    }
    run_and_check(&jobs);
}

/// Antialiased downsampling equals scipy's gaussian_filter with
/// sigma = (f - 1) / 2 followed by SimpleITK's linear resampling, and
/// differs from plain resampling.
#[test]
fn antialias_matches_gaussian_then_resample() {
    let inputs = Inputs::new();
    let mni = inputs.read("mni.nii");
    let grid = Grid::with_spacing(&mni, [1.6, 2.2, 3.0]).unwrap();
    let opts = ResampleOptions {
        antialias: true,
        ..Default::default()
    };
    let ours = resample(&mni, &grid, None, &opts).unwrap();
    let plain = resample(&mni, &grid, None, &ResampleOptions::default()).unwrap();
    let mut j = job("antialias", &inputs, "mni.nii", &grid, "linear", None);
    j.antialias = true;
    j.ours = ours;
    let dir = tempfile::tempdir().unwrap();
    let refs = reference(dir.path(), std::slice::from_ref(&j));
    let (values, region) = &refs[0];
    check(&j, values, region);
    // The smoothing is visible: without it the result is far off.
    let max_diff = plain
        .nifti_slice()
        .iter()
        .zip(values)
        .zip(region)
        .filter(|(_, &r)| r & 1 != 0)
        .map(|((&a, &b), _)| (a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(
        max_diff > 10.0,
        "antialiasing made no difference ({max_diff})"
    );
}

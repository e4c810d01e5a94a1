//! Patch extraction: exact criterion counts, patch contents equal to numpy
//! slices of the source (padded with `np.pad` where patches cross the
//! border), and affines moved to the patch origin.

mod common;

use std::path::Path;

use common::{assert_exact, load4, reference, s};
use deepneuro_augment::{rng, AugmentError, Augmentation, Patches, Sample};
use deepneuro_volume::Affine;
use ndarray::Array4;

/// An oblique affine, so a wrong composition order would show.
fn affine() -> Affine {
    Affine::new(
        0.0, -1.5, 0.0, 90.0, //
        1.2, 0.0, 0.1, -100.0, //
        0.0, 0.0, 2.0, -50.0, //
        0.0, 0.0, 0.0, 1.0,
    )
}

fn source(dir: &Path) -> Sample {
    let m = reference("arrays", dir);
    let p = &m["patch_source"];
    let mut smp = common::sample(
        "case7",
        &[
            ("input", load4(dir, s(p, "input"))),
            (
                "ground_truth",
                common::nifti(&load4(dir, s(p, "ground_truth"))),
            ),
            ("brain", load4(dir, s(p, "brain"))),
        ],
    );
    smp.affine = affine();
    smp
}

/// The voxel start of a patch, from its affine: `A^-1 * patch_affine` must
/// be a pure integer translation.
fn start_of(patch: &Sample) -> [i64; 3] {
    let t = affine().try_inverse().unwrap() * patch.affine;
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!(
                (t[(i, j)] - want).abs() < 1e-9,
                "{}: affine not a translation",
                patch.case
            );
        }
    }
    std::array::from_fn(|k| {
        let v = t[(k, 3)];
        assert!(
            (v - v.round()).abs() < 1e-9,
            "{}: start {v} not integral",
            patch.case
        );
        v.round() as i64
    })
}

fn centre_value(a: &Array4<f32>, size: [usize; 3]) -> f32 {
    (0..a.len_of(ndarray::Axis(0)))
        .map(|c| a[[c, size[0] / 2, size[1] / 2, size[2] / 2]])
        .fold(0.0, |m: f32, v| if v != 0.0 { v } else { m })
}

/// Writes the starts, runs the numpy slicer, and compares every group.
fn compare_with_numpy(
    dir: &Path,
    patches: &[Sample],
    group: &str,
    file: &str,
    size: [usize; 3],
    cval: f32,
) {
    let starts: Vec<[i64; 3]> = patches.iter().map(start_of).collect();
    let spec = serde_json::json!({"source": file, "size": size, "starts": starts, "cval": cval});
    std::fs::write(dir.join("patch_starts.json"), spec.to_string()).unwrap();
    let m = reference("slice", dir);
    let names = m["patches"].as_array().unwrap();
    assert_eq!(names.len(), patches.len());
    for (p, n) in patches.iter().zip(names) {
        let expected = load4(dir, n.as_str().unwrap());
        assert_exact(&format!("{} {group}", p.case), &p.groups[group], &expected);
    }
}

#[test]
fn label_and_mask_fractions_are_met_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let smp = source(dir.path());
    let size = [12, 10, 8];
    let op = Patches {
        size,
        count: 20,
        label: Some("ground_truth".into()),
        label_fraction: 0.7,
        mask: Some("brain".into()),
        mask_fraction: 0.3,
        ..Patches::default()
    };
    let out = op.apply(smp, &mut rng(5)).unwrap();
    assert_eq!(out.len(), 20);
    let mut labelled = 0;
    for (i, p) in out.iter().enumerate() {
        assert_eq!(p.case, format!("case7#p{i}"));
        for g in ["input", "ground_truth", "brain"] {
            assert_eq!(p.groups[g].shape()[1..], size[..], "{} {g}", p.case);
        }
        let on_label = centre_value(&p.groups["ground_truth"], size) != 0.0;
        let in_brain = centre_value(&p.groups["brain"], size) != 0.0;
        labelled += on_label as usize;
        if i < 14 {
            assert!(on_label, "{}: label patch not centred on the label", p.case);
        } else {
            assert!(in_brain, "{}: mask patch not centred in the mask", p.case);
        }
    }
    // The label blob and the brain box are disjoint, so exactly 14 of 20.
    assert_eq!(labelled, 14);
    for (g, f) in [
        ("input", "patch_input.npy"),
        ("ground_truth", "patch_gt.npy"),
    ] {
        compare_with_numpy(dir.path(), &out, g, f, size, 0.0);
    }
}

#[test]
fn rounding_and_shuffle_keep_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let smp = source(dir.path());
    let size = [8, 8, 8];
    let base = Patches {
        size,
        count: 10,
        label: Some("ground_truth".into()),
        label_fraction: 0.35,
        mask: Some("brain".into()),
        mask_fraction: 0.25,
        ..Patches::default()
    };
    // round(3.5) = 4 label patches, round(2.5) = 3 mask patches, 3 anywhere.
    let out = base.apply(smp.clone(), &mut rng(9)).unwrap();
    assert_eq!(out.len(), 10);
    for p in &out[..4] {
        assert!(
            centre_value(&p.groups["ground_truth"], size) != 0.0,
            "{}",
            p.case
        );
    }
    for p in &out[4..7] {
        assert!(centre_value(&p.groups["brain"], size) != 0.0, "{}", p.case);
    }
    // Shuffled: still exactly 14 of 20 on the label, not all in front.
    let shuffled = Patches {
        count: 20,
        label_fraction: 0.7,
        mask_fraction: 0.3,
        shuffle: true,
        ..base
    };
    let out = shuffled.apply(smp, &mut rng(9)).unwrap();
    let flags: Vec<bool> = out
        .iter()
        .map(|p| centre_value(&p.groups["ground_truth"], size) != 0.0)
        .collect();
    assert_eq!(flags.iter().filter(|&&f| f).count(), 14);
    assert!(
        flags[14..].iter().any(|&f| f),
        "shuffle left the order as is: {flags:?}"
    );
}

#[test]
fn padded_patches_in_the_nonzero_input_equal_numpy_pad_slices() {
    let dir = tempfile::tempdir().unwrap();
    let smp = source(dir.path());
    let size = [16, 15, 14];
    let op = Patches {
        size,
        count: 12,
        mask: Some("input".into()),
        mask_fraction: 0.5,
        pad: true,
        cval: -2.0,
        ..Patches::default()
    };
    let out = op.apply(smp, &mut rng(21)).unwrap();
    let starts: Vec<[i64; 3]> = out.iter().map(start_of).collect();
    assert!(
        starts.iter().any(|s| s.iter().any(|&v| v < 0)),
        "12 padded patches never crossed the low border: {starts:?}"
    );
    for p in &out[..6] {
        assert!(centre_value(&p.groups["input"], size) != 0.0, "{}", p.case);
    }
    compare_with_numpy(dir.path(), &out, "input", "patch_input.npy", size, -2.0);
}

#[test]
fn impossible_patches_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let smp = source(dir.path());
    let too_big = Patches {
        size: [41, 8, 8],
        ..Patches::default()
    };
    match too_big.apply(smp.clone(), &mut rng(0)) {
        Err(e @ AugmentError::PatchTooLarge { .. }) => {
            assert!(e.to_string().contains("case7"), "{e}")
        }
        other => panic!("expected PatchTooLarge, got {other:?}"),
    }
    let padded = Patches {
        pad: true,
        ..too_big
    };
    let out = padded.apply(smp.clone(), &mut rng(0)).unwrap();
    assert_eq!(out[0].groups["input"].shape(), &[2, 41, 8, 8]);

    // A label only where no patch of this size can be centred.
    let mut corner = smp.clone();
    let gt = corner.groups.get_mut("ground_truth").unwrap();
    gt.fill(0.0);
    gt[[0, 1, 1, 1]] = 1.0;
    let op = Patches {
        size: [8, 8, 8],
        count: 2,
        label: Some("ground_truth".into()),
        label_fraction: 1.0,
        ..Patches::default()
    };
    match op.apply(corner.clone(), &mut rng(0)) {
        Err(AugmentError::NoCandidate { case, criterion }) => {
            assert_eq!(case, "case7");
            assert!(criterion.contains("ground_truth"), "{criterion}");
        }
        other => panic!("expected NoCandidate, got {other:?}"),
    }
    let fallback = Patches {
        fallback: true,
        ..op.clone()
    };
    assert_eq!(
        fallback.apply(corner.clone(), &mut rng(0)).unwrap().len(),
        2
    );
    let padded = Patches { pad: true, ..op };
    let out = padded.apply(corner, &mut rng(0)).unwrap();
    assert!(out
        .iter()
        .all(|p| centre_value(&p.groups["ground_truth"], [8, 8, 8]) == 1.0));
}

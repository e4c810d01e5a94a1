//! Flips and quarter turns against numpy's `np.flip` and `np.rot90`,
//! element by element, on 3D multi-channel and 2D (z = 1) arrays, in both
//! memory layouts; and the same random transform for input and ground truth.

mod common;

use common::{assert_exact, load4, nifti, reference, s, sample, usizes};
use deepneuro_augment::{rng, Augmentation, Flip, Groups, Rotate90};

#[test]
fn flips_equal_numpy_flip() {
    let dir = tempfile::tempdir().unwrap();
    let m = reference("arrays", dir.path());
    let cases = m["flip"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    for c in cases {
        let input = load4(dir.path(), s(c, "input"));
        let expected = load4(dir.path(), s(c, "expected"));
        let axes = usizes(c, "axes");
        for (layout, arr) in [("C", input.clone()), ("NIfTI", nifti(&input))] {
            let flip = Flip {
                axes: axes.clone(),
                p: 1.0,
                groups: Groups::All,
            };
            let out = flip
                .apply(sample("c", &[("input", arr)]), &mut rng(1))
                .unwrap();
            assert_eq!(out.len(), 1);
            let what = format!("{} axes {axes:?} ({layout} layout)", s(c, "expected"));
            assert_exact(&what, &out[0].groups["input"], &expected);
        }
    }
}

#[test]
fn quarter_turns_equal_numpy_rot90() {
    let dir = tempfile::tempdir().unwrap();
    let m = reference("arrays", dir.path());
    let cases = m["rot90"].as_array().unwrap();
    assert_eq!(cases.len(), 75);
    for c in cases {
        let input = load4(dir.path(), s(c, "input"));
        let expected = load4(dir.path(), s(c, "expected"));
        let axes = usizes(c, "axes");
        let k = c["k"].as_i64().unwrap();
        for (layout, arr) in [("C", input.clone()), ("NIfTI", nifti(&input))] {
            let op = Rotate90 {
                axes: [axes[0], axes[1]],
                k: Some(k),
                p: 1.0,
                groups: Groups::All,
            };
            let out = op
                .apply(sample("c", &[("input", arr)]), &mut rng(1))
                .unwrap();
            let what = format!("{} ({layout} layout)", s(c, "expected"));
            assert_exact(&what, &out[0].groups["input"], &expected);
        }
    }
}

/// Random flips (p = 0.5 per axis) give input and ground truth the same
/// flips: whatever the draw, both equal the fixed flips that reproduce the input.
#[test]
fn random_flips_move_input_and_ground_truth_together() {
    let dir = tempfile::tempdir().unwrap();
    reference("arrays", dir.path());
    let input = load4(dir.path(), "a3d.npy");
    let gt = load4(dir.path(), "g3d.npy");
    let random = Flip {
        axes: vec![0, 1, 2],
        p: 0.5,
        groups: Groups::All,
    };
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..24 {
        let s0 = sample(
            "c",
            &[("input", input.clone()), ("ground_truth", gt.clone())],
        );
        let out = random.apply(s0.clone(), &mut rng(seed)).unwrap().remove(0);
        let drawn: Vec<Vec<usize>> = (0..8)
            .map(|bits: usize| (0..3).filter(|a| bits >> a & 1 == 1).collect())
            .filter(|axes: &Vec<usize>| {
                let fixed = Flip {
                    axes: axes.clone(),
                    p: 1.0,
                    groups: Groups::All,
                };
                let f = fixed.apply(s0.clone(), &mut rng(0)).unwrap().remove(0);
                f.groups["input"] == out.groups["input"]
                    && f.groups["ground_truth"] == out.groups["ground_truth"]
            })
            .collect();
        assert_eq!(
            drawn.len(),
            1,
            "seed {seed}: no fixed flip reproduces both groups"
        );
        seen.insert(drawn[0].clone());
    }
    assert!(seen.len() >= 4, "24 seeds drew only {seen:?}");
}

/// Random quarter turns: the drawn k is the same for input and ground truth.
#[test]
fn random_quarter_turns_move_input_and_ground_truth_together() {
    let dir = tempfile::tempdir().unwrap();
    reference("arrays", dir.path());
    let input = load4(dir.path(), "a3d.npy");
    let gt = load4(dir.path(), "g3d.npy");
    let random = Rotate90 {
        axes: [0, 1],
        k: None,
        p: 0.5,
        groups: Groups::All,
    };
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..32 {
        let s0 = sample(
            "c",
            &[("input", input.clone()), ("ground_truth", nifti(&gt))],
        );
        let out = random.apply(s0.clone(), &mut rng(seed)).unwrap().remove(0);
        let ks: Vec<i64> = (0..4)
            .filter(|&k| {
                let fixed = Rotate90 {
                    k: Some(k),
                    p: 1.0,
                    ..random.clone()
                };
                let f = fixed.apply(s0.clone(), &mut rng(0)).unwrap().remove(0);
                f.groups["input"] == out.groups["input"]
                    && f.groups["ground_truth"] == out.groups["ground_truth"]
            })
            .collect();
        assert_eq!(
            ks.len(),
            1,
            "seed {seed}: no fixed k reproduces both groups"
        );
        seen.insert(ks[0]);
    }
    assert_eq!(seen.len(), 4, "32 seeds drew only k in {seen:?}");
}

/// Only the chosen groups are flipped.
#[test]
fn flip_touches_only_the_chosen_groups() {
    let dir = tempfile::tempdir().unwrap();
    reference("arrays", dir.path());
    let input = load4(dir.path(), "a3d.npy");
    let gt = load4(dir.path(), "g3d.npy");
    let op = Flip {
        axes: vec![0],
        p: 1.0,
        groups: Groups::Only(vec!["input".into()]),
    };
    let s0 = sample(
        "c",
        &[("input", input.clone()), ("ground_truth", gt.clone())],
    );
    let out = op.apply(s0, &mut rng(3)).unwrap().remove(0);
    assert_exact("ground truth", &out.groups["ground_truth"], &gt);
    assert_exact(
        "input",
        &out.groups["input"],
        &load4(dir.path(), "flip_a3d_0.npy"),
    );
}

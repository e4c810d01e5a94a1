//! Channel dropout, downsampling and intensity scale + shift against their
//! numpy expressions (`a[k] = v`, `a[::f]`, `np.repeat(a[::f], f)[:n]`,
//! `x * a + b * np.std(x * a)`), in both memory layouts.

mod common;

use common::{assert_exact, load4, nifti, reference, s, sample, usizes};
use deepneuro_augment::{
    parse, rng, AugmentError, Augmentation, ChannelDropout, Compose, Downsample, Groups, Scale,
    Shift, ShiftUnits,
};
use deepneuro_testkit::assert_close;

#[test]
fn channel_dropout_equals_numpy_assignment() {
    let dir = tempfile::tempdir().unwrap();
    let m = reference("arrays", dir.path());
    for c in m["dropout"].as_array().unwrap() {
        let input = load4(dir.path(), s(c, "input"));
        let expected = load4(dir.path(), s(c, "expected"));
        let op = ChannelDropout {
            p: 1.0,
            value: c["value"].as_f64().unwrap() as f32,
            channel: Some(c["channel"].as_u64().unwrap() as usize),
            groups: Groups::All,
        };
        for arr in [input.clone(), nifti(&input)] {
            let out = op
                .apply(sample("c", &[("input", arr)]), &mut rng(0))
                .unwrap();
            assert_exact(s(c, "expected"), &out[0].groups["input"], &expected);
        }
    }
    // A random channel: exactly one channel of the input changes, never the
    // ground truth, and over seeds every channel gets dropped.
    let input = load4(dir.path(), "a3d.npy");
    let gt = load4(dir.path(), "g3d.npy");
    let op = ChannelDropout {
        p: 1.0,
        value: -1.5,
        channel: None,
        groups: Groups::Only(vec!["input".into()]),
    };
    let mut dropped = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let s0 = sample(
            "c",
            &[("input", input.clone()), ("ground_truth", gt.clone())],
        );
        let out = op.apply(s0, &mut rng(seed)).unwrap().remove(0);
        assert_eq!(out.groups["ground_truth"], gt);
        let changed: Vec<usize> = (0..3)
            .filter(|&k| {
                out.groups["input"].index_axis(ndarray::Axis(0), k)
                    != input.index_axis(ndarray::Axis(0), k)
            })
            .collect();
        assert_eq!(changed.len(), 1, "seed {seed}");
        let file = format!("dropout_a3d_{}.npy", changed[0]);
        assert_exact(&file, &out.groups["input"], &load4(dir.path(), &file));
        dropped.insert(changed[0]);
    }
    assert_eq!(dropped.len(), 3);
}

#[test]
fn downsampling_equals_numpy_strides_and_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let m = reference("arrays", dir.path());
    let cases = m["downsample"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for c in cases {
        let input = load4(dir.path(), s(c, "input"));
        let factor = c["factor"].as_u64().unwrap() as usize;
        let axes = usizes(c, "axes");
        for (i, arr) in [input.clone(), nifti(&input)].into_iter().enumerate() {
            let mut s0 = sample("c", &[("input", arr)]);
            s0.affine[(0, 3)] = 7.0;
            s0.affine[(1, 1)] = 0.5;
            for upsample in [false, true] {
                let op = Downsample {
                    factor,
                    axes: axes.clone(),
                    upsample,
                    ..Downsample::default()
                };
                let out = op.apply(s0.clone(), &mut rng(0)).unwrap().remove(0);
                let file = s(c, if upsample { "up" } else { "down" });
                let what = format!("{file} layout {i}");
                assert_exact(&what, &out.groups["input"], &load4(dir.path(), file));
                // Downsampling scales the affine's columns; upsampling keeps it.
                let mut want = s0.affine;
                if !upsample {
                    for &a in &axes {
                        for r in 0..3 {
                            want[(r, a)] *= factor as f64;
                        }
                    }
                }
                assert_eq!(out.affine, want, "{what}");
            }
        }
    }
    // Downsampling only the input without upsampling would leave two grids.
    let input = load4(dir.path(), "a3d.npy");
    let gt = load4(dir.path(), "g3d.npy");
    let op = Downsample {
        groups: Groups::Only(vec!["input".into()]),
        ..Downsample::default()
    };
    let s0 = sample("c", &[("input", input), ("ground_truth", gt)]);
    assert!(matches!(
        op.apply(s0, &mut rng(0)),
        Err(AugmentError::Unsupported { .. })
    ));
}

#[test]
fn scale_and_shift_compose_on_the_chosen_groups_only() {
    let dir = tempfile::tempdir().unwrap();
    let m = reference("arrays", dir.path());
    for c in m["intensity"].as_array().unwrap() {
        let input = load4(dir.path(), s(c, "input"));
        let expected = load4(dir.path(), s(c, "expected"));
        let (a, b) = (c["scale"].as_f64().unwrap(), c["shift"].as_f64().unwrap());
        let units = match s(c, "units") {
            "std" => ShiftUnits::Std,
            _ => ShiftUnits::Absolute,
        };
        let only_input = Groups::Only(vec!["input".into()]);
        let chain = Compose(vec![
            Box::new(Scale {
                min: a,
                max: a,
                groups: only_input.clone(),
                ..Scale::default()
            }),
            Box::new(Shift {
                min: b,
                max: b,
                units,
                groups: only_input,
                ..Shift::default()
            }),
        ]);
        let gt = load4(dir.path(), "g3d.npy");
        let s0 = if input.shape()[1..] == gt.shape()[1..] {
            sample(
                "c",
                &[("input", nifti(&input)), ("ground_truth", gt.clone())],
            )
        } else {
            sample("c", &[("input", input.clone())])
        };
        let out = chain.apply(s0, &mut rng(0)).unwrap().remove(0);
        // The offset is b * std in f64, rounded to f32 once: allow a few
        // f32 ulps of the result for the summation order of the std.
        let actual: Vec<f64> = out.groups["input"].iter().map(|&v| v as f64).collect();
        let want: Vec<f64> = expected.iter().map(|&v| v as f64).collect();
        assert_close(s(c, "expected"), &actual, &want, 1e-6);
        if let Some(g) = out.groups.get("ground_truth") {
            assert_eq!(g, &gt, "ground truth must be untouched");
        }
    }
}

/// Random per-channel scale then shift: each channel is `x * a_c + o_c`
/// with `a_c` in [min, max] and `o_c` in [-1, 1], drawn per channel.
#[test]
fn random_per_channel_intensity_is_affine_per_channel() {
    let dir = tempfile::tempdir().unwrap();
    reference("arrays", dir.path());
    let input = load4(dir.path(), "a3d.npy");
    let chain = parse(
        "scale(min=0.5,max=2,per_channel=true,groups=input); shift(min=-1,max=1,units=absolute,per_channel=true,groups=input)",
    )
    .unwrap();
    let out = chain
        .apply(sample("c", &[("input", input.clone())]), &mut rng(4))
        .unwrap()
        .remove(0);
    let mut scales = Vec::new();
    for k in 0..3 {
        let x = input.index_axis(ndarray::Axis(0), k);
        let y = out.groups["input"].index_axis(ndarray::Axis(0), k);
        // Fit y = a x + o from two voxels, then check all of them.
        let (x0, x1, y0, y1) = (x[[0, 0, 0]], x[[1, 2, 3]], y[[0, 0, 0]], y[[1, 2, 3]]);
        let a = (y1 - y0) / (x1 - x0);
        let o = y0 - a * x0;
        assert!((0.5..=2.0).contains(&a), "channel {k}: scale {a}");
        // The offset is drawn in [-1, 1]; the fit adds f32 rounding.
        assert!((-1.001..=1.001).contains(&o), "channel {k}: offset {o}");
        for (xv, yv) in x.iter().zip(y.iter()) {
            assert!((a * xv + o - yv).abs() < 1e-4, "channel {k}");
        }
        scales.push(a);
    }
    assert!(
        scales[0] != scales[1] && scales[1] != scales[2],
        "per-channel draws: {scales:?}"
    );
}

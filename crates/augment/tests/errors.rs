//! Bad input gives typed, one-line errors naming the case, group or spec.

mod common;

use deepneuro_augment::{
    parse, rng, AugmentError, Augmentation, Downsample, Flip, Groups, Patches, Rotate, Rotate90,
    Scale,
};
use ndarray::Array4;

fn two_groups(gt_z: usize) -> deepneuro_augment::Sample {
    common::sample(
        "sub-02",
        &[
            ("input", Array4::ones((2, 6, 5, 4))),
            ("ground_truth", Array4::zeros((1, 6, 5, gt_z))),
        ],
    )
}

fn one_line(e: &AugmentError) -> String {
    let text = e.to_string();
    assert!(!text.contains('\n'), "multi-line error: {text}");
    text
}

#[test]
fn missing_group_is_named() {
    let op = Flip {
        groups: Groups::Only(vec!["input".into(), "t2".into()]),
        ..Flip::default()
    };
    match op.apply(two_groups(4), &mut rng(0)) {
        Err(e @ AugmentError::GroupMissing { .. }) => {
            let t = one_line(&e);
            assert!(t.contains("sub-02") && t.contains("t2"), "{t}");
        }
        other => panic!("expected GroupMissing, got {other:?}"),
    }
    let op = Patches {
        size: [2, 2, 2],
        label: Some("lesion".into()),
        label_fraction: 1.0,
        ..Patches::default()
    };
    assert!(matches!(
        op.apply(two_groups(4), &mut rng(0)),
        Err(AugmentError::GroupMissing { group, .. }) if group == "lesion"
    ));
}

#[test]
fn groups_on_different_grids_are_refused_by_spatial_ops() {
    let ops: Vec<Box<dyn Augmentation>> = vec![
        Box::new(Flip::default()),
        Box::new(Rotate90::default()),
        Box::new(Rotate::default()),
        Box::new(Patches {
            size: [2, 2, 2],
            ..Patches::default()
        }),
        Box::new(Downsample::default()),
    ];
    for op in ops {
        match op.apply(two_groups(3), &mut rng(0)) {
            Err(e @ AugmentError::ShapeMismatch { .. }) => {
                let t = one_line(&e);
                assert!(
                    t.contains("[6, 5, 4]") && t.contains("[6, 5, 3]"),
                    "{}: {t}",
                    op.name()
                );
            }
            other => panic!("{}: expected ShapeMismatch, got {other:?}", op.name()),
        }
    }
    // Intensity changes do not care about grids.
    let scale = Scale::default();
    assert!(scale.apply(two_groups(3), &mut rng(0)).is_ok());
}

#[test]
fn bad_configuration_values_are_bad_spec_errors() {
    let cases: Vec<Box<dyn Augmentation>> = vec![
        Box::new(Flip {
            axes: vec![3],
            ..Flip::default()
        }),
        Box::new(Flip {
            p: 1.5,
            ..Flip::default()
        }),
        Box::new(Rotate90 {
            axes: [1, 1],
            ..Rotate90::default()
        }),
        Box::new(Rotate {
            order: 2,
            ..Rotate::default()
        }),
        Box::new(Rotate {
            angle: Some(f64::NAN),
            ..Rotate::default()
        }),
        Box::new(Scale {
            min: 2.0,
            max: 1.0,
            ..Scale::default()
        }),
        Box::new(Patches {
            size: [2, 0, 2],
            ..Patches::default()
        }),
        Box::new(Patches {
            size: [2, 2, 2],
            label_fraction: 0.8,
            mask_fraction: 0.3,
            label: Some("ground_truth".into()),
            mask: Some("input".into()),
            ..Patches::default()
        }),
        Box::new(Downsample {
            factor: 0,
            ..Downsample::default()
        }),
    ];
    for op in cases {
        match op.apply(two_groups(4), &mut rng(0)) {
            Err(e @ AugmentError::BadSpec { .. }) => {
                one_line(&e);
            }
            other => panic!("{op:?}: expected BadSpec, got {other:?}"),
        }
    }
}

#[test]
fn bad_specs_give_one_line_errors() {
    let cases = [
        ("flip(axes=0); twirl(p=1)", "unknown op \"twirl\""),
        ("scale(min=abc)", "bad number \"abc\" for min"),
        ("flip(axis=0)", "unknown key \"axis\""),
        ("flip(p=0.5,p=0.2)", "given twice"),
        ("rotate(order=2)", "order=2"),
        ("rotate90(axes=0)", "two different axes"),
        ("flip(axes=0-5)", "axis 5"),
        ("patches(size=64x64x64x2)", "size"),
        ("patches(count=4,label_fraction=0.5)", "needs label"),
        ("flip(p=0.5", "missing ')'"),
        ("flip(p=\n2)", "not in [0, 1]"),
        ("shift(units=percent)", "bad units"),
        ("downsample(factor=-1)", "bad whole number"),
    ];
    for (spec, want) in cases {
        match parse(spec) {
            Err(e @ AugmentError::BadSpec { .. }) => {
                let t = one_line(&e);
                assert!(t.contains(want), "{spec:?}: {t}");
            }
            other => panic!("{spec:?}: expected BadSpec, got {other:?}"),
        }
    }
}

/// Random well-formed specs with random keys and values, applied to a small
/// sample: every outcome is a result (often an error), never a panic.
#[test]
fn random_specs_applied_never_panic() {
    use rand::Rng as _;
    let ops = [
        "flip",
        "rotate90",
        "rotate",
        "scale",
        "shift",
        "patches",
        "channel_dropout",
        "downsample",
    ];
    let keys = [
        "axes",
        "p",
        "k",
        "degrees",
        "angle",
        "order",
        "groups",
        "size",
        "count",
        "label",
        "label_fraction",
        "mask",
        "mask_fraction",
        "pad",
        "cval",
        "fallback",
        "shuffle",
        "factor",
        "upsample",
        "units",
        "min",
        "max",
        "per_channel",
        "nearest",
        "value",
        "channel",
    ];
    let values = [
        "0",
        "1",
        "2",
        "3",
        "7",
        "-1",
        "0.5",
        "1e9",
        "99999999999",
        "0-1",
        "1-2",
        "2-0",
        "0-1-2",
        "input",
        "ground_truth",
        "input+ground_truth",
        "t2",
        "nonzero",
        "nonzero:ground_truth",
        "3x3x3",
        "4x4",
        "9x2x2",
        "2",
        "true",
        "false",
        "std",
        "absolute",
        "-1e30",
        "1e30",
    ];
    let mut r = deepneuro_augment::rng(99);
    let mut applied = 0;
    for _ in 0..6000 {
        let spec: Vec<String> = (0..r.random_range(1..4))
            .map(|_| {
                let args: Vec<String> = (0..r.random_range(0..4))
                    .map(|_| {
                        let k = keys[r.random_range(0..keys.len())];
                        let v = values[r.random_range(0..values.len())];
                        format!("{k}={v}")
                    })
                    .collect();
                format!("{}({})", ops[r.random_range(0..ops.len())], args.join(","))
            })
            .collect();
        let spec = spec.join(";");
        let Ok(chain) = parse(&spec) else { continue };
        let sample = common::sample(
            "fuzz",
            &[
                (
                    "input",
                    Array4::from_shape_fn((2, 6, 5, 4), |(c, i, j, k)| (c + i * j + k) as f32),
                ),
                (
                    "ground_truth",
                    Array4::from_shape_fn((1, 6, 5, 4), |(_, i, _, _)| (i % 2) as f32),
                ),
            ],
        );
        match chain.apply(sample, &mut r.clone()) {
            Ok(_) => applied += 1,
            Err(e) => {
                one_line(&e);
            }
        }
    }
    assert!(applied > 300, "only {applied} random specs applied");
}

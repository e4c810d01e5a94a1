//! Times the augmentations on a BraTS-sized case (4 channels, 240x240x155)
//! in both memory layouts: `cargo run --release -p deepneuro-augment --example augment_speed`.
//! Speed claims against peers live in `make bench`; this is a quick look.

use std::collections::BTreeMap;
use std::time::Instant;

use deepneuro_augment::{parse, rng, Augmentation, Sample};
use ndarray::Array4;

fn case(nifti: bool) -> Sample {
    let shape = (4, 240, 240, 155);
    let input = Array4::from_shape_fn(shape, |(c, x, y, z)| ((x * 7 + y * 3 + z + c) % 101) as f32);
    let gt = Array4::from_shape_fn((1, 240, 240, 155), |(_, x, y, z)| {
        (x.abs_diff(120) < 20 && y.abs_diff(110) < 15 && z.abs_diff(70) < 10) as u8 as f32
    });
    let (input, gt) = if nifti {
        (
            deepneuro_volume::nifti_layout(input.view()),
            deepneuro_volume::nifti_layout(gt.view()),
        )
    } else {
        (input, gt)
    };
    Sample {
        case: "brats".into(),
        groups: BTreeMap::from([("input".into(), input), ("ground_truth".into(), gt)]),
        affine: deepneuro_volume::Affine::identity(),
    }
}

fn time(label: &str, spec: &str, nifti: bool, reps: usize) {
    let chain = parse(spec).expect("valid spec");
    let base = case(nifti);
    let mut r = rng(0);
    let mut total = 0.0;
    let mut patches = 0;
    for _ in 0..reps {
        let s = base.clone();
        let t = Instant::now();
        let out = chain.apply(s, &mut r).expect("applies");
        total += t.elapsed().as_secs_f64();
        patches += out.len();
    }
    println!(
        "{label:<44} {:>8.1} ms per case, {:>7.1} patches/s ({})",
        1e3 * total / reps as f64,
        patches as f64 / total,
        if nifti { "NIfTI layout" } else { "C layout" }
    );
}

fn main() {
    if std::env::args().any(|a| a == "--parts") {
        for (label, spec) in [
            ("patches", "patches(size=128,count=4)"),
            ("+ flip x", "patches(size=128,count=4); flip(axes=0,p=1)"),
            ("+ flip z", "patches(size=128,count=4); flip(axes=2,p=1)"),
            ("+ scale", "patches(size=128,count=4); scale(groups=input)"),
            ("+ shift", "patches(size=128,count=4); shift(groups=input)"),
            (
                "+ rotate order 1",
                "patches(size=128,count=4); rotate(groups=input)",
            ),
        ] {
            time(label, spec, true, 5);
        }
        return;
    }
    for nifti in [true, false] {
        time("patches 4x128^3", "patches(size=128,count=4)", nifti, 5);
        time(
            "patches 4x128^3 + flip + scale + shift",
            "patches(size=128,count=4); flip(axes=0-1-2,p=0.5); scale(groups=input); shift(groups=input)",
            nifti,
            5,
        );
        time(
            "patches 4x128^3 label 0.5 + flip",
            "patches(size=128,count=4,label=ground_truth,label_fraction=0.5); flip(axes=0-1-2,p=0.5)",
            nifti,
            5,
        );
        time(
            "patches + rotate90",
            "patches(size=128,count=4); rotate90(axes=0-1)",
            nifti,
            3,
        );
        time(
            "patches + rotate (order 1, gt order 0)",
            "patches(size=128,count=4); rotate(degrees=15,nearest=ground_truth)",
            nifti,
            3,
        );
    }
}

//! Each building block against what deepbet 1.0.2 computes with cc3d,
//! fill_voids and torch (scripts/fixtures/skullstrip_ops.py, run here).

use deepneuro_pipeline::ops::{self, BBox, Connectivity, Mask};
use deepneuro_pipeline::torch_ops;
use deepneuro_testkit::{read_json, read_npy, run_python, script};
use std::path::Path;
use tch::Tensor;

fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run_python(&script("fixtures/skullstrip_ops.py"), [dir.path()]);
    dir
}

/// A C-order (x, y, z) .npy array as a mask in NIfTI order.
fn mask(dir: &Path, name: &str) -> Mask {
    let a = read_npy(&dir.join(name));
    let d = [a.shape[0], a.shape[1], a.shape[2]];
    Mask::from_fn(d, |x, y, z| a.data[(x * d[1] + y) * d[2] + z] != 0.0)
}

fn tensor(dir: &Path, name: &str) -> Tensor {
    let a = read_npy(&dir.join(name));
    let v: Vec<f32> = a.data.iter().map(|&v| v as f32).collect();
    let shape: Vec<i64> = a.shape.iter().map(|&s| s as i64).collect();
    Tensor::from_slice(&v).view(shape.as_slice())
}

#[test]
fn mask_operations_match_cc3d_and_fill_voids() {
    let dir = fixtures();
    let d = dir.path();
    let lcc = ops::largest_component(&mask(d, "blobs.npy"), Connectivity::TwentySix).unwrap();
    assert_eq!(lcc, mask(d, "lcc.npy"), "largest connected component");
    let filled = ops::fill_holes(&lcc);
    assert_eq!(filled, mask(d, "filled.npy"), "hole filling");
    assert_eq!(ops::grow(&filled, 2), mask(d, "dil2.npy"), "dilation by 2");
    assert_eq!(ops::grow(&filled, -2), mask(d, "ero2.npy"), "erosion by 2");

    let b = ops::bbox_with_margin(&mask(d, "small.npy"), [75, 90, 61], 0.1, 0.02).unwrap();
    let j = read_json(&d.join("ops.json"));
    let want: Vec<[usize; 2]> = j["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            [
                r[0].as_u64().unwrap() as usize,
                r[1].as_u64().unwrap() as usize,
            ]
        })
        .collect();
    let want = BBox {
        lo: [want[0][0], want[1][0], want[2][0]],
        hi: [want[0][1], want[1][1], want[2][1]],
    };
    assert_eq!(b, want, "bounding box with margin");

    // Random masks against scipy.ndimage: components under both
    // connectivities and hole filling, thin and flat arrays included.
    let sweep = j["sweep"].as_array().unwrap();
    assert!(sweep.len() >= 10, "{sweep:?}");
    for name in sweep {
        let name = name.as_str().unwrap();
        let m = mask(d, &format!("{name}.npy"));
        for (conn, file) in [
            (Connectivity::Six, "lcc6"),
            (Connectivity::TwentySix, "lcc26"),
        ] {
            let got = ops::largest_component(&m, conn).unwrap();
            let want = mask(d, &format!("{name}_{file}.npy"));
            assert_eq!(got, want, "{name}: largest component ({file})");
        }
        let want = mask(d, &format!("{name}_filled.npy"));
        assert_eq!(ops::fill_holes(&m), want, "{name}: hole filling");
    }
}

#[test]
fn resize_quantiles_and_normalisation_match_torch() {
    let dir = fixtures();
    let d = dir.path();
    let img = tensor(d, "img.npy");
    let resized = torch_ops::resize_nearest_exact(&img, [40, 12, 29]).unwrap();
    assert!(
        resized.equal(&tensor(d, "resized.npy")),
        "nearest-exact resize"
    );
    // The rule itself, independent of libtorch: src = floor((dst + 0.5) * in / out).
    let src = |dst: usize, n_in: usize, n_out: usize| {
        (((dst as f64 + 0.5) * n_in as f64 / n_out as f64) as usize).min(n_in - 1)
    };
    for (i, j, k) in [(0, 0, 0), (39, 11, 28), (17, 5, 3)] {
        let want = img.double_value(&[
            src(i, 23, 40) as i64,
            src(j, 31, 12) as i64,
            src(k, 17, 29) as i64,
        ]);
        assert_eq!(resized.double_value(&[i as i64, j as i64, k as i64]), want);
    }
    let j = read_json(&d.join("ops.json"));
    let low = torch_ops::quantile(&img, 0.005).unwrap();
    let high = torch_ops::quantile(&img, 0.995).unwrap();
    assert_eq!(low.double_value(&[]), j["low"].as_f64().unwrap());
    assert_eq!(high.double_value(&[]), j["high"].as_f64().unwrap());
    let (lo2, hi2) = torch_ops::quantile_pair(&img, 0.005, 0.995).unwrap();
    assert!(
        lo2.equal(&low) && hi2.equal(&high),
        "one sort gives the same quantiles"
    );
    let norm = torch_ops::normalize(&img, &low, &high, 0.226, 0.449).unwrap();
    let want = tensor(d, "norm.npy");
    let diff = (norm - want).abs().max().double_value(&[]);
    assert!(diff <= 1e-6, "normalisation differs by {diff}");
}

#[test]
fn quantile_by_selection_is_bit_identical_to_torch() {
    tch::manual_seed(3);
    for n in [1i64, 2, 7, 1000, 128 * 128 * 128] {
        for ints in [false, true] {
            let mut x = Tensor::randn([n], (tch::Kind::Float, tch::Device::Cpu)) * 300.0 + 100.0;
            if ints {
                // Many ties, as in integer-valued MRI.
                x = x.round();
            }
            for (lo, hi) in [(0.005, 0.995), (0.0, 1.0), (0.25, 0.5)] {
                let (a, b) = torch_ops::quantile_pair(&x, lo, hi).unwrap();
                let (ta, tb) = (
                    torch_ops::quantile(&x, lo).unwrap(),
                    torch_ops::quantile(&x, hi).unwrap(),
                );
                assert!(
                    a.equal(&ta) && b.equal(&tb),
                    "n={n} ints={ints} q=({lo},{hi}): {a} {ta} {b} {tb}"
                );
            }
        }
    }
}

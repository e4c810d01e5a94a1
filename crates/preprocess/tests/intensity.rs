//! Intensity normalisation against numpy and SimpleITK, run at test time by
//! scripts/fixtures/preprocess_intensity.py on nilearn's MNI152 T1, its
//! brain mask and a gamma-transformed copy.

use deepneuro_preprocess::intensity::{
    histogram_match, percentile_clip, zscore, HistogramMatchOptions, ZScoreRegion,
};
use deepneuro_preprocess::PreprocessError;
use deepneuro_testkit::{assert_close, read_npy, run_python, script};
use deepneuro_volume::{Affine, Volume};
use ndarray::Array3;
use std::path::Path;
use std::sync::OnceLock;

/// The fixture directory, made once for all tests of this file.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        run_python(&script("fixtures/preprocess_intensity.py"), [dir.path()]);
        dir
    })
    .path()
}

fn read(name: &str) -> Volume {
    deepneuro_io::read(&fixtures().join(name)).unwrap()
}

fn expected(name: &str) -> Vec<f64> {
    read_npy(&fixtures().join(name)).data
}

/// `assert_close`, reporting the worst relative error on stderr.
fn close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    let worst = actual
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0, f64::max);
    eprintln!("{what}: worst relative error {worst:.2e}");
    assert_close(what, actual, expected, tol);
}

fn values(v: &Volume) -> Vec<f64> {
    v.nifti_slice().iter().map(|&x| x as f64).collect()
}

#[test]
fn zscore_matches_numpy() {
    let t1 = read("t1.nii");
    let mask = read("mask.nii");
    for (name, region) in [
        ("whole", ZScoreRegion::Whole),
        ("mask", ZScoreRegion::Mask(&mask)),
        ("nonzero", ZScoreRegion::NonZero),
    ] {
        let z = zscore(&t1, region).unwrap();
        close(
            &format!("zscore {name}"),
            &values(&z),
            &expected(&format!("zscore_{name}.npy")),
            1e-5,
        );
    }
}

#[test]
fn percentile_clip_matches_numpy() {
    let t1 = read("t1.nii");
    let clipped = percentile_clip(&t1, 2.0, 98.0, None).unwrap();
    close("clip", &values(&clipped), &expected("clip.npy"), 1e-5);
    let rescaled = percentile_clip(&t1, 0.5, 99.5, Some((-1.0, 1.0))).unwrap();
    close(
        "clip rescale",
        &values(&rescaled),
        &expected("clip_rescale.npy"),
        1e-5,
    );
}

#[test]
fn histogram_match_matches_simpleitk() {
    let t1 = read("t1.nii");
    let gamma = read("gamma.nii");
    let opts = HistogramMatchOptions {
        levels: 1024,
        match_points: 7,
        threshold_at_mean: true,
    };
    let hm = histogram_match(&t1, &gamma, &opts).unwrap();
    let want = expected("hm.npy");
    close("histogram match 1024/7", &values(&hm), &want, 1e-3);
    // The mapping is not the identity: the test can tell a no-op apart.
    let moved = values(&t1)
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        moved > 50.0,
        "reference barely differs from the input ({moved})"
    );

    let hm = histogram_match(&gamma, &t1, &HistogramMatchOptions::default()).unwrap();
    close(
        "histogram match defaults",
        &values(&hm),
        &expected("hm_default.npy"),
        1e-3,
    );

    let opts = HistogramMatchOptions {
        levels: 64,
        match_points: 3,
        threshold_at_mean: false,
    };
    let hm = histogram_match(&t1, &gamma, &opts).unwrap();
    close(
        "histogram match at min",
        &values(&hm),
        &expected("hm_min.npy"),
        1e-3,
    );
}

fn small(f: impl Fn(usize, usize, usize) -> f32) -> Volume {
    Volume::from_array3(
        Array3::from_shape_fn((6, 5, 4), |(x, y, z)| f(x, y, z)),
        Affine::identity(),
    )
    .unwrap()
}

#[test]
fn bad_input_is_an_error() {
    let v = small(|x, y, z| (x + 2 * y + 3 * z) as f32);
    let zeros = small(|_, _, _| 0.0);
    assert!(matches!(
        zscore(&v, ZScoreRegion::Mask(&zeros)),
        Err(PreprocessError::EmptyMask { .. })
    ));
    assert!(matches!(
        zscore(&zeros, ZScoreRegion::NonZero),
        Err(PreprocessError::EmptyMask { .. })
    ));
    let constant = small(|_, _, _| 4.0);
    assert!(matches!(
        zscore(&constant, ZScoreRegion::Whole),
        Err(PreprocessError::Constant { value, .. }) if value == 4.0
    ));
    // Constant inside the mask, even though the image is not.
    let ones_at_x0 = small(|x, _, _| (x == 0) as u8 as f32);
    let flat_x0 = small(|x, y, z| if x == 0 { 2.0 } else { (y + z) as f32 });
    assert!(matches!(
        zscore(&flat_x0, ZScoreRegion::Mask(&ones_at_x0)),
        Err(PreprocessError::Constant { .. })
    ));
    let mut nan = v.clone();
    nan.data_mut()[[0, 1, 2, 3]] = f32::NAN;
    nan.data_mut()[[0, 2, 2, 3]] = f32::INFINITY;
    assert!(matches!(
        zscore(&nan, ZScoreRegion::Whole),
        Err(PreprocessError::NonFinite { count: 2, .. })
    ));
    assert!(matches!(
        percentile_clip(&nan, 1.0, 99.0, None),
        Err(PreprocessError::NonFinite { count: 2, .. })
    ));
    assert!(matches!(
        histogram_match(&nan, &v, &HistogramMatchOptions::default()),
        Err(PreprocessError::NonFinite { count: 2, .. })
    ));
    // A mask on another grid: another shape, or an affine off by 1e-3 mm.
    let other_shape = Volume::from_array3(Array3::ones((6, 5, 3)), Affine::identity()).unwrap();
    assert!(matches!(
        zscore(&v, ZScoreRegion::Mask(&other_shape)),
        Err(PreprocessError::MismatchedFrames { .. })
    ));
    let mut shifted = Affine::identity();
    shifted[(1, 3)] = 1e-3;
    let other_affine = Volume::from_array3(Array3::ones((6, 5, 4)), shifted).unwrap();
    assert!(matches!(
        zscore(&v, ZScoreRegion::Mask(&other_affine)),
        Err(PreprocessError::MismatchedFrames { .. })
    ));
    // Within 1e-4 mm the frames are the same.
    shifted[(1, 3)] = 5e-5;
    let close = Volume::from_array3(Array3::ones((6, 5, 4)), shifted).unwrap();
    assert!(zscore(&v, ZScoreRegion::Mask(&close)).is_ok());

    assert!(matches!(
        percentile_clip(&v, 60.0, 40.0, None),
        Err(PreprocessError::BadParameter { .. })
    ));
    assert!(matches!(
        percentile_clip(&v, -1.0, 40.0, None),
        Err(PreprocessError::BadParameter { .. })
    ));
    assert!(matches!(
        percentile_clip(&constant, 1.0, 99.0, Some((0.0, 1.0))),
        Err(PreprocessError::Constant { .. })
    ));
    assert!(matches!(
        histogram_match(&constant, &v, &HistogramMatchOptions::default()),
        Err(PreprocessError::Constant { .. })
    ));
    assert!(matches!(
        histogram_match(
            &v,
            &v,
            &HistogramMatchOptions {
                levels: 0,
                ..Default::default()
            }
        ),
        Err(PreprocessError::BadParameter { name: "levels", .. })
    ));
}

/// Every channel is normalised on its own.
#[test]
fn channels_are_independent() {
    let a = small(|x, y, z| (x * y + z) as f32);
    let b = small(|x, y, z| (3 * x + y * z) as f32 * 10.0 - 7.0);
    let both = Volume::new(
        ndarray::stack![ndarray::Axis(0), a.channel(0), b.channel(0)],
        Affine::identity(),
        deepneuro_volume::DType::F32,
    )
    .unwrap();
    let z = zscore(&both, ZScoreRegion::Whole).unwrap();
    let zb = zscore(&b, ZScoreRegion::Whole).unwrap();
    let second: Vec<f64> = z.channel(1).iter().map(|&x| x as f64).collect();
    let alone: Vec<f64> = zb.channel(0).iter().map(|&x| x as f64).collect();
    close("zscore channel 1", &second, &alone, 1e-6);
    let c = percentile_clip(&both, 10.0, 90.0, Some((0.0, 1.0))).unwrap();
    let cb = percentile_clip(&b, 10.0, 90.0, Some((0.0, 1.0))).unwrap();
    let second: Vec<f64> = c.channel(1).iter().map(|&x| x as f64).collect();
    let alone: Vec<f64> = cb.channel(0).iter().map(|&x| x as f64).collect();
    close("clip channel 1", &second, &alone, 1e-6);
}

//! Checks that need no reference tool: the grid rule, identities, channels,
//! the binary-mask rule of resample_labels and error cases.

use super::harness::{affine, rotation};
use deepneuro_preprocess::resample::{
    resample, resample_labels, resample_to_spacing, Grid, Interpolation, ResampleOptions,
};
use deepneuro_preprocess::PreprocessError;
use deepneuro_testkit::assert_close;
use deepneuro_volume::{Affine, Volume};
use ndarray::Array3;

fn small_volume() -> Volume {
    let data = Array3::from_shape_fn((6, 5, 4), |(x, y, z)| (x * 3 + y * 5 + z * 7) as f32);
    Volume::from_array3(data, Affine::identity()).unwrap()
}

/// Grid rule: the corner of the first voxel stays and the shape rounds.
#[test]
fn with_spacing_keeps_the_corner() {
    let v = small_volume();
    let g = Grid::with_spacing(&v, [2.0, 1.0, 0.5]).unwrap();
    assert_eq!(g.shape, [3, 5, 8]);
    let corner = g.affine * nalgebra::Vector4::new(-0.5, -0.5, -0.5, 1.0);
    assert!((corner - nalgebra::Vector4::new(-0.5, -0.5, -0.5, 1.0)).norm() < 1e-12);
    assert_eq!(g.affine[(0, 0)], 2.0);
    assert_eq!(g.affine[(2, 2)], 0.5);
}

/// Resampling onto the source's own grid returns the source for every
/// interpolator, and multi-channel volumes resample channel by channel.
#[test]
fn identity_and_channels() {
    let v = small_volume();
    for interp in [
        Interpolation::Nearest,
        Interpolation::Linear,
        Interpolation::BSpline,
    ] {
        let opts = ResampleOptions {
            interpolation: interp,
            ..Default::default()
        };
        let r = resample(&v, &Grid::of(&v), None, &opts).unwrap();
        assert_close("identity", &to_f64(&r), &to_f64(&v), 1e-5);
    }
    let two = Volume::new(
        ndarray::stack![
            ndarray::Axis(0),
            v.channel(0),
            v.channel(0).mapv(|x| 2.0 * x + 1.0)
        ],
        Affine::identity(),
        deepneuro_volume::DType::F32,
    )
    .unwrap();
    let opts = ResampleOptions::default();
    let r2 = resample_to_spacing(&two, [0.7, 1.3, 0.9], &opts).unwrap();
    let r1 = resample_to_spacing(&v, [0.7, 1.3, 0.9], &opts).unwrap();
    assert_eq!(r2.channels(), 2);
    let a: Vec<f64> = r2.channel(1).iter().map(|&x| x as f64).collect();
    let b: Vec<f64> = r1
        .channel(0)
        .iter()
        .map(|&x| 2.0 * x as f64 + 1.0)
        .collect();
    assert_close("second channel", &a, &b, 1e-5);
}

fn to_f64(v: &Volume) -> Vec<f64> {
    v.nifti_slice().iter().map(|&x| x as f64).collect()
}

/// A binary mask through resample_labels is linear interpolation
/// thresholded above 0.5.
#[test]
fn binary_mask_is_linear_threshold() {
    let mask = Array3::from_shape_fn((12, 10, 9), |(x, y, z)| {
        ((x as f64 - 6.0).powi(2) + (y as f64 - 5.0).powi(2) + (z as f64 - 4.0).powi(2) < 12.0)
            as u8 as f32
    });
    let v = Volume::from_array3(mask, Affine::identity()).unwrap();
    let grid = Grid {
        shape: [20, 18, 16],
        affine: affine(rotation([1.0, 1.0, 0.0], 17.0) * 0.6, [0.3, -0.2, 0.1]),
    };
    let labels = resample_labels(&v, &grid, None).unwrap();
    let lin = resample(&v, &grid, None, &ResampleOptions::default()).unwrap();
    let mut ones = 0;
    for (&l, &p) in labels.nifti_slice().iter().zip(lin.nifti_slice().iter()) {
        if (p - 0.5).abs() > 1e-5 {
            assert_eq!(l, (p > 0.5) as u8 as f32);
        }
        ones += (l == 1.0) as usize;
    }
    assert!(ones > 100, "the mask survived ({ones} voxels)");
}

#[test]
fn bad_input_is_an_error() {
    let v = small_volume();
    let opts = ResampleOptions::default();
    assert!(matches!(
        resample_to_spacing(&v, [1.0, 0.0, 1.0], &opts),
        Err(PreprocessError::BadParameter {
            name: "spacing",
            ..
        })
    ));
    assert!(matches!(
        resample_to_spacing(&v, [1.0, f64::NAN, 1.0], &opts),
        Err(PreprocessError::BadParameter {
            name: "spacing",
            ..
        })
    ));
    let empty = Grid {
        shape: [4, 0, 3],
        affine: Affine::identity(),
    };
    assert!(matches!(
        resample(&v, &empty, None, &opts),
        Err(PreprocessError::BadParameter { name: "grid", .. })
    ));
    let mut nan_grid = Grid::of(&v);
    nan_grid.affine[(0, 3)] = f64::NAN;
    assert!(matches!(
        resample(&v, &nan_grid, None, &opts),
        Err(PreprocessError::NonFinite { count: 1, .. })
    ));
    let mut inf_map = Affine::identity();
    inf_map[(1, 1)] = f64::INFINITY;
    assert!(matches!(
        resample(&v, &Grid::of(&v), Some(&inf_map), &opts),
        Err(PreprocessError::NonFinite { .. })
    ));
    let mut nan = v.clone();
    nan.data_mut()[[0, 1, 1, 1]] = f32::NAN;
    let bspline = ResampleOptions {
        interpolation: Interpolation::BSpline,
        ..Default::default()
    };
    assert!(matches!(
        resample(&nan, &Grid::of(&v), None, &bspline),
        Err(PreprocessError::NonFinite { count: 1, .. })
    ));
    assert!(matches!(
        resample_labels(&nan, &Grid::of(&v), None),
        Err(PreprocessError::NonFinite { count: 1, .. })
    ));
    let mut flat = Affine::identity();
    flat[(2, 2)] = 0.0;
    let singular = Volume::from_array3(Array3::zeros((3, 3, 3)), flat).unwrap();
    assert!(matches!(
        resample(&singular, &Grid::of(&v), None, &opts),
        Err(PreprocessError::BadParameter { name: "affine", .. })
    ));
}

//! Rigid and affine registration against known transforms, and ITK
//! transform files against SimpleITK and ANTs.
//!
//! `scripts/fixtures/preprocess_register.py` makes, at test time, moving
//! images from nilearn's MNI152 (2 mm) with SimpleITK's Resample under known
//! transforms; registration must recover each transform to a mean
//! displacement under 0.5 mm over the brain mask. The same script reads our
//! transform files with SimpleITK and ANTs, writes its own for us to read,
//! and resamples with SimpleITK for `resample_moving`.

use deepneuro_preprocess::register::{
    register, resample_moving, Initialization, Metric, RegistrationOptions, TransformKind,
};
use deepneuro_preprocess::transform::AffineTransform;
use deepneuro_preprocess::PreprocessError;
use deepneuro_testkit::{json_matrix, read_json, read_npy, run_python, script};
use deepneuro_volume::Volume;
use nalgebra::{Matrix4, Rotation3, Vector3, Vector4};
use ndarray::Array3;

fn fixture() -> std::path::PathBuf {
    script("fixtures/preprocess_register.py")
}

fn matrix4(v: &serde_json::Value) -> Matrix4<f64> {
    Matrix4::from_row_slice(&json_matrix(v))
}

/// Mean over the mask voxels of `|est(p) - truth(p)|` in mm.
fn mean_displacement(est: &Matrix4<f64>, truth: &Matrix4<f64>, mask: &Volume) -> f64 {
    let [nx, ny, nz] = mask.spatial_shape();
    let m = mask.channel(0);
    let diff = est - truth;
    let (mut sum, mut n) = (0.0, 0usize);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                if m[[i, j, k]] > 0.5 {
                    let p = mask.affine() * Vector4::new(i as f64, j as f64, k as f64, 1.0);
                    sum += (diff * p).xyz().norm();
                    n += 1;
                }
            }
        }
    }
    assert!(n > 1000, "the brain mask has only {n} voxels");
    sum / n as f64
}

/// Registration cases made by the fixture script.
struct Cases {
    _dir: tempfile::TempDir,
    fixed: Volume,
    mask: Volume,
    /// (name, moving image, case JSON).
    list: Vec<(String, Volume, serde_json::Value)>,
}

fn make_cases(names: &[&str]) -> Cases {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut args = vec![
        "cases".to_string(),
        d.display().to_string(),
        "2".to_string(),
    ];
    args.extend(names.iter().map(|s| s.to_string()));
    run_python(&fixture(), &args);
    let list: Vec<_> = read_json(&d.join("cases.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let moving = deepneuro_io::read(&d.join(case["moving"].as_str().unwrap())).unwrap();
            (
                case["name"].as_str().unwrap().to_string(),
                moving,
                case.clone(),
            )
        })
        .collect();
    assert_eq!(list.len(), names.len(), "the script made other cases");
    Cases {
        fixed: deepneuro_io::read(&d.join("t1.nii.gz")).unwrap(),
        mask: deepneuro_io::read(&d.join("mask.nii.gz")).unwrap(),
        list,
        _dir: dir,
    }
}

/// Registers every case (transform kind and metric from the case, the rest
/// from `tune`); returns (name, mean displacement in mm over the brain).
fn register_cases(
    cases: &Cases,
    mask: Option<&Volume>,
    tune: impl Fn(&mut RegistrationOptions),
) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (name, moving, case) in &cases.list {
        let mut opts = RegistrationOptions {
            transform: match case["kind"].as_str().unwrap() {
                "affine" => TransformKind::Affine,
                _ => TransformKind::Rigid,
            },
            metric: match case["metric"].as_str().unwrap() {
                "ncc" => Metric::NormalizedCrossCorrelation,
                _ => Metric::MattesMutualInformation { bins: 50 },
            },
            ..RegistrationOptions::default()
        };
        tune(&mut opts);
        let reg = register(&cases.fixed, moving, mask, &opts).unwrap();
        let truth = matrix4(&case["matrix"]);
        let disp = mean_displacement(&reg.transform.ras_matrix(), &truth, &cases.mask);
        let start = mean_displacement(&Matrix4::identity(), &truth, &cases.mask);
        eprintln!(
            "{name} ({:?}, {:?}): mean displacement {disp:.4} mm (identity: {start:.1} mm), iterations {:?}, metric {:.4}",
            opts.initialization, opts.metric, reg.iterations, reg.metric_value
        );
        assert_eq!(reg.transform.rigid, opts.transform == TransformKind::Rigid);
        out.push((name.clone(), disp));
    }
    out
}

fn run_cases(names: &[&str]) -> Vec<(String, f64)> {
    register_cases(&make_cases(names), None, |_| {})
}

fn assert_all_under(results: &[(String, f64)], limit: f64) {
    for (name, disp) in results {
        assert!(
            *disp < limit,
            "{name}: mean displacement {disp} mm over the brain is not under {limit} mm"
        );
    }
}

#[test]
fn rigid_t1_cases_recover_known_transforms() {
    // Rotations up to 15 degrees about several axes, translations up to
    // 20 mm, moving grids padded, x-flipped or anisotropic (2.5 mm slices).
    let r = run_cases(&["rigid_z10", "rigid_xy15", "rigid_all"]);
    assert_all_under(&r, 0.5);
}

#[test]
fn flair_like_contrast_rigid_with_mattes() {
    let r = run_cases(&["flair"]);
    assert_all_under(&r, 0.5);
}

#[test]
fn affine_anisotropic_scaling_recovered() {
    let r = run_cases(&["affine"]);
    assert_all_under(&r, 0.5);
}

#[test]
fn normalized_cross_correlation_rigid() {
    let r = run_cases(&["rigid_ncc"]);
    assert_all_under(&r, 0.5);
}

#[test]
fn every_initialization_and_a_fixed_mask_converge() {
    let cases = make_cases(&["rigid_xy15"]);
    for init in [
        Initialization::Geometry,
        Initialization::Moments,
        Initialization::Identity,
    ] {
        let r = register_cases(&cases, None, |o| o.initialization = init);
        assert_all_under(&r, 0.5);
    }
    // Samples only inside the brain.
    let r = register_cases(&cases, Some(&cases.mask), |_| {});
    assert_all_under(&r, 0.5);
}

/// A soft-edged ellipsoid (semi-axes 50, 32, 20 mm) on a 2 mm grid, seen
/// through `to_object` (world to object coordinates).
fn ellipsoid(to_object: &Matrix4<f64>, affine: &Matrix4<f64>) -> Volume {
    let n = 64;
    let data = Array3::from_shape_fn((n, n, n), |(i, j, k)| {
        let w = affine * Vector4::new(i as f64, j as f64, k as f64, 1.0);
        let p = (to_object * w).xyz();
        let r = (p.x / 50.0).powi(2) + (p.y / 32.0).powi(2) + (p.z / 20.0).powi(2);
        // A smooth step at the surface, plus an off-centre blob that makes
        // the image asymmetric.
        let body = 1.0 / (1.0 + ((r.sqrt() - 1.0) * 12.0).exp());
        let blob = (-(p - Vector3::new(25.0, 10.0, 5.0)).norm_squared() / 50.0).exp();
        (100.0 * body + 60.0 * blob) as f32
    });
    Volume::from_array3(data, *affine).unwrap()
}

#[test]
fn moments_initialisation_finds_principal_axes() {
    let affine = Matrix4::new(
        2.0, 0.0, 0.0, -63.0, 0.0, 2.0, 0.0, -63.0, 0.0, 0.0, 2.0, -63.0, 0.0, 0.0, 0.0, 1.0,
    );
    let rot = Rotation3::from_axis_angle(&Vector3::z_axis(), 0.35)
        * Rotation3::from_axis_angle(&Vector3::x_axis(), 0.2);
    let mut truth = Matrix4::identity();
    truth.fixed_view_mut::<3, 3>(0, 0).copy_from(rot.matrix());
    truth[(0, 3)] = 6.0;
    truth[(1, 3)] = -4.0;
    truth[(2, 3)] = 3.0;
    let fixed = ellipsoid(&Matrix4::identity(), &affine);
    // moving(y) = object(T^-1 y): the object seen through the inverse.
    let moving = ellipsoid(&truth.try_inverse().unwrap(), &affine);
    let body = Volume::from_array3(
        fixed.channel(0).mapv(|v| if v > 50.0 { 1.0 } else { 0.0 }),
        affine,
    )
    .unwrap();
    let only_init = |init| RegistrationOptions {
        initialization: init,
        iterations: vec![0, 0, 0],
        ..RegistrationOptions::default()
    };
    let com = register(
        &fixed,
        &moving,
        None,
        &only_init(Initialization::CenterOfMass),
    )
    .unwrap();
    let mom = register(&fixed, &moving, None, &only_init(Initialization::Moments)).unwrap();
    let d_com = mean_displacement(&com.transform.ras_matrix(), &truth, &body);
    let d_mom = mean_displacement(&mom.transform.ras_matrix(), &truth, &body);
    eprintln!("start: centre of mass {d_com:.3} mm, moments {d_mom:.3} mm");
    assert_eq!(mom.iterations, vec![0, 0, 0]);
    assert!(d_com > 5.0, "the rotation should matter: {d_com} mm");
    assert!(d_mom < 1.0, "moments start {d_mom} mm from the truth");
    let full = register(&fixed, &moving, None, &RegistrationOptions::default()).unwrap();
    let d = mean_displacement(&full.transform.ras_matrix(), &truth, &body);
    eprintln!("registered: {d:.4} mm");
    assert!(d < 0.5, "registration ends {d} mm from the truth");
}

/// Points mapped by `t`, in RAS.
#[test]
fn resample_moving_matches_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_python(&fixture(), ["io", &d.display().to_string()]);
    let res = read_json(&d.join("io.json"));
    let src = deepneuro_io::read(&d.join("res_src.nii.gz")).unwrap();
    let reference = deepneuro_io::read(&d.join("res_ref.nii.gz")).unwrap();
    let t = AffineTransform {
        matrix: matrix4(&res["res_matrix"]),
        rigid: true,
    };
    let out = resample_moving(&src, &reference, &t).unwrap();
    assert_eq!(out.affine(), reference.affine());
    let expected = read_npy(&d.join("res_sitk.npy"));
    assert_eq!(expected.shape, reference.spatial_shape().to_vec());
    let ours = out.channel(0);
    let [nx, ny, nz] = reference.spatial_shape();
    let (mut worst, mut inside, mut zeros) = (0.0f64, 0, 0);
    for i in 0..nx {
        for j in 0..ny {
            for k in 0..nz {
                let e = expected.data[(i * ny + j) * nz + k];
                let a = ours[[i, j, k]] as f64;
                worst = worst.max((a - e).abs());
                if e != 0.0 {
                    inside += 1;
                } else {
                    zeros += 1;
                }
            }
        }
    }
    eprintln!("resampling: worst difference {worst:.3e}, {inside} inside, {zeros} filled");
    assert!(inside > 1000 && zeros > 100, "the case should cover both");
    // Intensities are about +-300: f32 rounding of the interpolation.
    assert!(
        worst < 1e-3,
        "resample_moving differs from SimpleITK by {worst}"
    );
}

fn small(f: impl Fn(usize, usize, usize) -> f32) -> Volume {
    let data = Array3::from_shape_fn((16, 16, 16), |(i, j, k)| f(i, j, k));
    Volume::from_array3(data, Matrix4::identity()).unwrap()
}

#[test]
fn bad_inputs_are_errors() {
    let img = small(|i, j, k| (i * 3 + j * 5 + k * 7) as f32 + if i > 8 { 50.0 } else { 0.0 });
    let opts = RegistrationOptions::default();
    let mut nan = img.clone();
    nan.data_mut()[[0, 3, 4, 5]] = f32::NAN;
    nan.data_mut()[[0, 1, 1, 1]] = f32::INFINITY;
    match register(&nan, &img, None, &opts) {
        Err(PreprocessError::NonFinite { what, count }) => {
            assert_eq!((what.as_str(), count), ("fixed", 2))
        }
        other => panic!("{other:?}"),
    }
    let flat = small(|_, _, _| 7.0);
    match register(&img, &flat, None, &opts) {
        Err(PreprocessError::Constant { what, value }) => {
            assert_eq!((what.as_str(), value), ("moving", 7.0))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        register(&flat, &img, None, &opts),
        Err(PreprocessError::Constant { .. })
    ));
    let empty = small(|_, _, _| 0.0);
    assert!(matches!(
        register(&img, &img, Some(&empty), &opts),
        Err(PreprocessError::EmptyMask { .. })
    ));
    let other_grid =
        Volume::from_array3(Array3::from_elem((8, 16, 16), 1.0), Matrix4::identity()).unwrap();
    assert!(matches!(
        register(&img, &img, Some(&other_grid), &opts),
        Err(PreprocessError::MismatchedFrames { .. })
    ));
    // A fixed image that is constant inside the mask: nothing to align. (No
    // smoothing, so that the values outside do not blur into the mask.)
    let slab = small(|i, _, _| (i < 6) as u8 as f32);
    let flat_in_mask = small(|i, _, _| if i < 12 { 1.0 } else { i as f32 });
    let sharp = RegistrationOptions {
        smoothing_sigmas_mm: vec![0.0; 3],
        ..opts.clone()
    };
    for metric in [
        Metric::MattesMutualInformation { bins: 50 },
        Metric::NormalizedCrossCorrelation,
    ] {
        let o = RegistrationOptions {
            metric,
            ..sharp.clone()
        };
        match register(&flat_in_mask, &img, Some(&slab), &o) {
            Err(PreprocessError::Constant { what, value }) => {
                assert_eq!((what.as_str(), value), ("fixed (inside the mask)", 1.0))
            }
            other => panic!("{metric:?}: {other:?}"),
        }
    }
    let bad_opts: Vec<RegistrationOptions> = vec![
        RegistrationOptions {
            smoothing_sigmas_mm: vec![2.0, 1.0],
            ..opts.clone()
        },
        RegistrationOptions {
            iterations: vec![10],
            ..opts.clone()
        },
        RegistrationOptions {
            shrink_factors: vec![],
            smoothing_sigmas_mm: vec![],
            iterations: vec![],
            ..opts.clone()
        },
        RegistrationOptions {
            shrink_factors: vec![0, 2, 1],
            ..opts.clone()
        },
        RegistrationOptions {
            smoothing_sigmas_mm: vec![f64::NAN, 1.0, 0.0],
            ..opts.clone()
        },
        RegistrationOptions {
            sampling_fraction: 0.0,
            ..opts.clone()
        },
        RegistrationOptions {
            metric: Metric::MattesMutualInformation { bins: 4 },
            ..opts.clone()
        },
        RegistrationOptions {
            min_step: 0.0,
            ..opts.clone()
        },
        RegistrationOptions {
            relaxation: 1.0,
            ..opts.clone()
        },
        RegistrationOptions {
            sampling_fraction: 1e-9,
            min_samples: 0,
            ..opts.clone()
        },
    ];
    for o in &bad_opts {
        match register(&img, &img, None, o) {
            Err(PreprocessError::BadParameter { .. }) => {}
            other => panic!("{o:?}: {other:?}"),
        }
    }
    // Images 1 km apart never overlap from the identity.
    let mut far_affine = Matrix4::identity();
    far_affine[(0, 3)] = 1000.0;
    let far = Volume::from_array3(img.channel(0).to_owned(), far_affine).unwrap();
    let ident = RegistrationOptions {
        initialization: Initialization::Identity,
        ..opts.clone()
    };
    assert!(matches!(
        register(&img, &far, None, &ident),
        Err(PreprocessError::MismatchedFrames { .. })
    ));
    // Registration needs one channel.
    let two = Volume::new(
        ndarray::Array4::from_elem((2, 16, 16, 16), 1.0),
        Matrix4::identity(),
        deepneuro_volume::DType::F32,
    )
    .unwrap();
    assert!(matches!(
        register(&two, &img, None, &opts),
        Err(PreprocessError::BadParameter { .. })
    ));
}

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
use std::path::Path;

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
fn map_all(t: &AffineTransform, pts: &[[f64; 3]]) -> Vec<f64> {
    pts.iter().flat_map(|p| t.apply(*p)).collect()
}

fn points(v: &serde_json::Value) -> Vec<[f64; 3]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p: Vec<f64> = p
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            [p[0], p[1], p[2]]
        })
        .collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn itk_files_agree_with_simpleitk_and_ants() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rot = Rotation3::from_euler_angles(0.12, -0.21, 0.3);
    let mut rigid = Matrix4::identity();
    rigid.fixed_view_mut::<3, 3>(0, 0).copy_from(rot.matrix());
    rigid
        .fixed_view_mut::<3, 1>(0, 3)
        .copy_from(&Vector3::new(12.5, -7.25, 3.0));
    let mut affine = rigid;
    affine[(0, 0)] *= 1.1;
    affine[(1, 2)] += 0.07;
    affine[(2, 1)] -= 0.04;
    let ours = [
        (
            "ours_rigid.txt",
            AffineTransform {
                matrix: rigid,
                rigid: true,
            },
        ),
        (
            "ours_affine.tfm",
            AffineTransform {
                matrix: affine,
                rigid: false,
            },
        ),
        // Marked rigid but not a rotation: must be written as an affine.
        (
            "ours_not_rigid.txt",
            AffineTransform {
                matrix: affine,
                rigid: true,
            },
        ),
    ];
    for (name, t) in &ours {
        t.write_itk(&d.join(name)).unwrap();
    }
    run_python(&fixture(), ["io", &d.display().to_string()]);
    let res = read_json(&d.join("io.json"));
    let pts = points(&res["points"]);
    for (name, t) in &ours {
        let expected = map_all(t, &pts);
        let r = &res["ours"][*name];
        let sitk = json_matrix(&r["sitk"]);
        let ants = json_matrix(&r["ants"]);
        let (es, ea) = (
            max_abs_diff(&sitk, &expected),
            max_abs_diff(&ants, &expected),
        );
        eprintln!(
            "{name}: {} read by SimpleITK: {es:.2e} mm, ANTs: {ea:.2e} mm",
            r["sitk_type"]
        );
        assert!(es < 1e-6, "{name}: SimpleITK maps points {es} mm away");
        // antspyx keeps transforms in single precision (even when asked for
        // double) and returns float32 points: ~1e-7 relative of 120 mm.
        assert!(ea < 1e-4, "{name}: ANTs maps points {ea} mm away");
        // Reading back our own file gives the same matrix.
        let back = AffineTransform::read_itk(&d.join(name)).unwrap();
        assert!(
            (back.matrix - t.matrix).abs().max() < 1e-12,
            "{name}: {back:?}"
        );
    }
    assert_eq!(
        res["ours"]["ours_rigid.txt"]["sitk_type"],
        "Euler3DTransform"
    );
    assert_eq!(
        res["ours"]["ours_affine.tfm"]["sitk_type"],
        "AffineTransform"
    );
    assert_eq!(
        res["ours"]["ours_not_rigid.txt"]["sitk_type"],
        "AffineTransform"
    );
    let theirs = res["theirs"].as_object().unwrap();
    assert!(theirs.len() >= 8, "{:?}", theirs.keys());
    for (name, mapped) in theirs {
        let t = AffineTransform::read_itk(&d.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = max_abs_diff(&map_all(&t, &pts), &json_matrix(mapped));
        eprintln!(
            "{name}: read_itk vs SimpleITK {err:.2e} mm (rigid: {})",
            t.rigid
        );
        assert!(
            err < 1e-6,
            "{name}: read_itk maps points {err} mm away from SimpleITK"
        );
    }
    assert!(
        AffineTransform::read_itk(&d.join("sitk_euler.txt"))
            .unwrap()
            .rigid
    );
    assert!(
        !AffineTransform::read_itk(&d.join("sitk_affine.mat"))
            .unwrap()
            .rigid
    );
}

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

#[test]
fn read_itk_rejects_bad_files_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let header = "#Insight Transform File V1.0\n#Transform 0\n";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.txt", b"".to_vec()),
        ("garbage.txt", b"hello world\n".to_vec()),
        ("no_transform.txt", header.as_bytes().to_vec()),
        ("bspline.txt", format!("{header}Transform: BSplineTransform_double_3_3\nParameters: 1 2 3\nFixedParameters: 1\n").into_bytes()),
        ("short.txt", format!("{header}Transform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1\nFixedParameters: 0 0 0\n").into_bytes()),
        ("nan.txt", format!("{header}Transform: AffineTransform_double_3_3\nParameters: 1 0 0 0 nan 0 0 0 1 0 0 0\nFixedParameters: 0 0 0\n").into_bytes()),
        ("word.txt", format!("{header}Transform: Euler3DTransform_double_3_3\nParameters: 1 0 x 0 1 0\n").into_bytes()),
        ("twod.txt", format!("{header}Transform: AffineTransform_double_2_2\nParameters: 1 0 0 1 0 0\nFixedParameters: 0 0\n").into_bytes()),
        ("versor.txt", format!("{header}Transform: VersorRigid3DTransform_double_3_3\nParameters: 1 1 1 0 0 0\nFixedParameters: 0 0 0\n").into_bytes()),
        ("latin1.txt", b"#Insight Transform File V1.0\n\xff\xfe\n".to_vec()),
        ("truncated.mat", vec![0, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0]),
        ("huge.mat", [0i32, 0x7fff_ffff, 1, 0, 5].iter().flat_map(|v| v.to_le_bytes()).chain(*b"abcd\0").collect()),
        ("matrix.mat", [0i32, 3, 3, 0, 2].iter().flat_map(|v| v.to_le_bytes()).chain(*b"a\0").collect()),
    ];
    for (name, bytes) in &cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        match AffineTransform::read_itk(&p) {
            Err(PreprocessError::BadTransform { path, reason }) => {
                assert_eq!(path, p);
                eprintln!("{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(
        AffineTransform::read_itk(Path::new("/nonexistent/t.txt")),
        Err(PreprocessError::Io(_))
    ));
}

#[test]
fn transform_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rot = Rotation3::from_euler_angles(-0.4, 0.25, 1.2);
    let mut m = Matrix4::identity();
    m.fixed_view_mut::<3, 3>(0, 0).copy_from(rot.matrix());
    m.fixed_view_mut::<3, 1>(0, 3)
        .copy_from(&Vector3::new(-1.0 / 3.0, 1e-7, 250.0));
    let t = AffineTransform {
        matrix: m,
        rigid: true,
    };
    t.write_itk(&d.join("t.txt")).unwrap();
    let text = std::fs::read_to_string(d.join("t.txt")).unwrap();
    assert!(text.starts_with("#Insight Transform File V1.0\n"), "{text}");
    assert!(
        text.contains("Transform: Euler3DTransform_double_3_3"),
        "{text}"
    );
    let back = AffineTransform::read_itk(&d.join("t.txt")).unwrap();
    assert!((back.matrix - m).abs().max() < 1e-12);
    assert!(back.rigid);
    t.write_matrix(&d.join("m.txt")).unwrap();
    let rows: Vec<Vec<f64>> = std::fs::read_to_string(d.join("m.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 4);
    for (i, row) in rows.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            assert_eq!(*v, m[(i, j)], "exact shortest round-trip printing");
        }
    }
    let inv = t.inverse().unwrap();
    assert!((inv.matrix * m - Matrix4::identity()).abs().max() < 1e-12);
    assert_eq!(
        AffineTransform::identity().apply([1.0, 2.0, 3.0]),
        [1.0, 2.0, 3.0]
    );
    // ITK's LPS: x and y change sign.
    let lps = t.lps_matrix();
    assert_eq!(lps[(0, 3)], -m[(0, 3)]);
    assert_eq!(lps[(2, 3)], m[(2, 3)]);
    assert_eq!(AffineTransform::from_lps_matrix(lps, true), t);
}

//! ITK transform files: what we write, SimpleITK and ANTs read as the same
//! mapping; what they write, we read as the same mapping; bad files are
//! errors, never panics.

use deepneuro_preprocess::transform::AffineTransform;
use deepneuro_preprocess::PreprocessError;
use deepneuro_testkit::{json_matrix, read_json, run_python, script};
use nalgebra::{Matrix4, Rotation3, Vector3};
use std::path::Path;

fn fixture() -> std::path::PathBuf {
    script("fixtures/preprocess_register.py")
}

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

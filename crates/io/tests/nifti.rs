//! NIfTI reading and writing checked against nibabel, run from the venv.

use deepneuro_io::{nifti, IoError};
use deepneuro_testkit::{
    assert_close, flat_affine, json_matrix, read_json, read_npy, run_python, script,
};
use deepneuro_volume::{Affine, Volume};
use std::path::{Path, PathBuf};

fn fixtures() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    run_python(
        &script("fixtures/nifti_fixtures.py"),
        [Path::new("make").as_os_str(), dir.path().as_os_str()],
    );
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            (n.ends_with(".nii") || n.ends_with(".nii.gz")) && !n.contains("unsupported")
        })
        .collect();
    images.sort();
    (dir, images)
}

fn stem(p: &Path) -> PathBuf {
    let s = p.to_string_lossy();
    PathBuf::from(s.trim_end_matches(".gz").trim_end_matches(".nii"))
}

/// Compares a volume with nibabel's reading stored at `base.{ref,canon}.*`.
fn compare(what: &str, vol: &Volume, base: &Path, canonical: bool) {
    let suffix = if canonical { "canon" } else { "ref" };
    let npy = read_npy(&PathBuf::from(format!("{}.{suffix}.npy", base.display())));
    assert_eq!(npy.shape, vol.shape().to_vec(), "{what}: shape");
    let ours: Vec<f64> = vol.data().iter().map(|&v| v as f64).collect();
    assert_close(&format!("{what}: data"), &ours, &npy.data, 1e-5);
    let meta = read_json(&PathBuf::from(format!("{}.ref.json", base.display())));
    let key = if canonical { "canon_affine" } else { "affine" };
    let expected = json_matrix(&meta[key]);
    let got = flat_affine(vol.affine());
    for (g, e) in got.iter().zip(&expected) {
        assert!(
            (g - e).abs() <= 1e-5,
            "{what}: affine {got:?} differs from nibabel's {expected:?}"
        );
    }
}

#[test]
fn reads_write_and_reorient_like_nibabel() {
    let (dir, images) = fixtures();
    assert!(
        images.len() >= 20,
        "fixture script wrote {} images",
        images.len()
    );
    let out = dir.path().join("written");
    std::fs::create_dir(&out).unwrap();
    let mut written = Vec::new();
    for path in &images {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let base = stem(path);
        let vol = nifti::read(path).unwrap_or_else(|e| panic!("{e}"));
        compare(&name, &vol, &base, false);
        let meta = read_json(&PathBuf::from(format!("{}.ref.json", base.display())));
        assert_eq!(
            vol.dtype().name(),
            meta["dtype"].as_str().unwrap(),
            "{name}: dtype"
        );
        let codes: String = vol.axcodes().iter().collect();
        let expected: String = meta["axcodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(codes, expected, "{name}: axis codes");

        if meta.get("canon_affine").is_some() {
            let (canon, undo) = vol.to_canonical();
            compare(&format!("{name} canonical"), &canon, &base, true);
            assert_eq!(undo.undo(&canon).unwrap(), vol, "{name}: undo");
        }

        // Written copies, both compressed and not, are read back by nibabel.
        for ext in ["nii.gz", "nii"] {
            let target = out.join(format!(
                "{}.{ext}",
                base.file_name().unwrap().to_string_lossy()
            ));
            nifti::write(&vol, &target).unwrap();
            written.push((target, vol.clone()));
        }
    }
    let args: Vec<&std::ffi::OsStr> = std::iter::once(std::ffi::OsStr::new("dump"))
        .chain(written.iter().map(|(p, _)| p.as_os_str()))
        .collect();
    run_python(&script("fixtures/nifti_fixtures.py"), args);
    for (path, vol) in &written {
        compare(
            &format!("written {}", path.display()),
            vol,
            &stem(path),
            false,
        );
        // Our own reader agrees with what we wrote: the same voxels, and the
        // affine up to the float32 precision of the NIfTI-1 header.
        let back = nifti::read(path).unwrap();
        assert_eq!(back.data(), vol.data(), "{}", path.display());
        let (a, b) = (flat_affine(back.affine()), flat_affine(vol.affine()));
        assert_close(&format!("{} affine", path.display()), &a, &b, 1e-6);
    }
}

fn valid_file(dir: &Path) -> Vec<u8> {
    let data = ndarray::Array3::from_shape_fn((6, 5, 4), |(i, j, k)| (i + j * 10 + k * 100) as f32);
    let vol = Volume::from_array3(data, Affine::identity()).unwrap();
    let p = dir.join("valid.nii");
    nifti::write(&vol, &p).unwrap();
    std::fs::read(p).unwrap()
}

fn read_bytes(dir: &Path, name: &str, bytes: &[u8]) -> IoError {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let err = nifti::read(&p).expect_err(name);
    assert_eq!(err.path(), p, "the error names the file");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    err
}

#[test]
fn bad_input_gives_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = valid_file(d);

    let e = read_bytes(d, "truncated.nii", &good[..good.len() - 10]);
    assert!(
        matches!(
            e,
            IoError::Truncated {
                expected: 480,
                actual: 470,
                ..
            }
        ),
        "{e}"
    );

    let e = read_bytes(d, "header_only.nii", &good[..200]);
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");

    let mut lying = good.clone();
    lying[42..44].copy_from_slice(&600i16.to_le_bytes()); // dim[1] = 600
    let e = read_bytes(d, "lying.nii", &lying);
    assert!(matches!(e, IoError::Truncated { .. }), "{e}");

    let mut neg = good.clone();
    neg[44..46].copy_from_slice(&(-3i16).to_le_bytes());
    let e = read_bytes(d, "negative_dim.nii", &neg);
    assert!(matches!(e, IoError::BadDimensions { .. }), "{e}");

    let mut ndim = good.clone();
    ndim[40..42].copy_from_slice(&9i16.to_le_bytes());
    let e = read_bytes(d, "ndim9.nii", &ndim);
    assert!(matches!(e, IoError::BadDimensions { .. }), "{e}");

    let mut dt = good.clone();
    dt[70..72].copy_from_slice(&1536i16.to_le_bytes());
    let e = read_bytes(d, "float128.nii", &dt);
    assert!(
        matches!(&e, IoError::UnsupportedDatatype { what, .. } if what.contains("float128")),
        "{e}"
    );

    let mut magic = good.clone();
    magic[344..348].copy_from_slice(b"xyz\0");
    let e = read_bytes(d, "magic.nii", &magic);
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");

    let gz = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&good).unwrap();
        enc.finish().unwrap()
    };
    let e = read_bytes(d, "cut.nii.gz", &gz[..gz.len() / 2]);
    assert!(matches!(e, IoError::Gzip { .. }), "{e}");
    let mut flipped = gz.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    flipped[mid + 1] ^= 0x55;
    let e = read_bytes(d, "corrupt.nii.gz", &flipped);
    assert!(
        matches!(e, IoError::Gzip { .. } | IoError::Truncated { .. }),
        "{e}"
    );
    // The intact gzip reads, and equals the plain file.
    std::fs::write(d.join("ok.nii.gz"), &gz).unwrap();
    std::fs::write(d.join("ok.nii"), &good).unwrap();
    assert_eq!(
        nifti::read(&d.join("ok.nii.gz")).unwrap(),
        nifti::read(&d.join("ok.nii")).unwrap()
    );

    let e = read_bytes(d, "empty.nii", &[]);
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    let e = nifti::read(&d.join("missing.nii")).unwrap_err();
    assert!(matches!(e, IoError::Io { .. }), "{e}");
}

#[test]
fn complex_is_unsupported_by_name() {
    let (dir, _) = fixtures();
    let p = dir.path().join("unsupported_complex64.nii");
    let e = nifti::read(&p).unwrap_err();
    assert!(e.to_string().contains("complex64"), "{e}");
}

#[test]
fn failed_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vol = Volume::from_array3(ndarray::Array3::zeros((3, 3, 3)), Affine::identity()).unwrap();
    let target = dir.path().join("missing-folder").join("out.nii.gz");
    let e = nifti::write(&vol, &target).unwrap_err();
    assert!(e.is_output_error(), "{e}");
    assert!(!target.exists());
    // A successful write leaves exactly the target, no temporary file.
    let ok = dir.path().join("out.nii.gz");
    nifti::write(&vol, &ok).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.nii.gz")]);
}

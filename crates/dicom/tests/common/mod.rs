//! Fixtures generated once per test binary by the committed script.

#![allow(dead_code)]

use deepneuro_testkit::{read_json, read_npy, run_python, script};
use deepneuro_volume::Volume;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fixture folder (see scripts/fixtures/dicom_fixtures.py), created on
/// first use and removed when the test process exits.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        run_python(&script("fixtures/dicom_fixtures.py"), [dir.path()]);
        dir
    })
    .path()
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// Voxels of channel 0 in C order over [x, y, z], as f64.
pub fn voxels(v: &Volume) -> Vec<f64> {
    v.channel(0).iter().map(|x| *x as f64).collect()
}

pub fn affine_rows(v: &Volume) -> Vec<f64> {
    let a = v.affine();
    (0..4)
        .flat_map(|i| (0..4).map(move |j| a[(i, j)]))
        .collect()
}

pub fn json_affine(path: &Path) -> Vec<f64> {
    let j = read_json(path);
    j["affine"]
        .as_array()
        .expect("affine rows")
        .iter()
        .flat_map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().expect("number"))
        })
        .collect()
}

/// Asserts the volume equals a reference `.npy` ([x, y, z]) voxel for voxel
/// and its affine the `.json` one within `tol` mm.
pub fn assert_matches(what: &str, v: &Volume, prefix: &Path, tol: f64) {
    let npy = read_npy(&prefix.with_extension("npy"));
    assert_eq!(npy.shape, v.spatial_shape().to_vec(), "{what}: shape");
    let ours = voxels(v);
    let worst = ours
        .iter()
        .zip(&npy.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-3, "{what}: voxels differ by up to {worst}");
    let a = affine_rows(v);
    let b = json_affine(&prefix.with_extension("json"));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= tol,
        "{what}: affine differs by {worst} mm:\nours {a:?}\nref  {b:?}"
    );
}

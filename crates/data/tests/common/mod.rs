//! Shared fixtures of the integration tests: BraTS-like phantom cases made
//! by the committed generator (nilearn's MNI152 maps, nibabel writes).
#![allow(dead_code)]

use deepneuro_testkit::script;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The good cases the generator writes for 4 cases.
pub const GOOD: [&str; 4] = [
    "BraTS_Phantom_000",
    "BraTS_Phantom_001",
    "BraTS_Phantom_002",
    "BraTS_Phantom_003",
];

/// The `--group` arguments of `data_h5py_check.py` for the BraTS groups.
pub const GROUP_ARGS: [&str; 4] = [
    "--group",
    "input=flair,t1,t1ce,t2",
    "--group",
    "ground_truth=seg",
];

/// Four 2 mm phantom cases (80x96x80, seed 7) plus the broken and the
/// ambiguous case. Generated once per generator version into cargo's
/// per-target temporary folder (inputs are never committed), through a
/// temporary folder renamed into place so that no test sees half a set.
pub fn phantoms() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let gen = script("fixtures/brats_phantoms.py");
        let text = std::fs::read(&gen).expect("the phantom generator");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = root.join(format!("brats_phantoms_2mm_4_7_{:016x}", h.finish()));
        if !dir.exists() {
            let tmp = tempfile::tempdir_in(root).expect("a temporary folder");
            deepneuro_testkit::brats_phantoms(tmp.path(), 4, 7, true);
            let staged = tmp.keep();
            // Another test binary may have won the race; its copy is equal.
            if std::fs::rename(&staged, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&staged);
            }
        }
        dir
    })
}

/// The BraTS groups as `DataCollection` takes them.
pub fn brats() -> Vec<(String, Vec<String>)> {
    deepneuro_data::brats_groups()
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use deepneuro_augment::Sample;
use deepneuro_testkit::{read_json, read_npy, run_python, script};
use ndarray::Array4;

/// Runs `augment_reference.py <command> <dir>` and returns its manifest.
pub fn reference(command: &str, dir: &Path) -> serde_json::Value {
    run_python(
        &script("fixtures/augment_reference.py"),
        [command, dir.to_str().expect("utf-8 temp dir")],
    );
    read_json(&dir.join("manifest.json"))
}

/// A 4D `.npy` file written by the reference script, as f32.
pub fn load4(dir: &Path, name: &str) -> Array4<f32> {
    let npy = read_npy(&dir.join(name));
    assert_eq!(npy.shape.len(), 4, "{name}: not 4D");
    let s = &npy.shape;
    Array4::from_shape_vec(
        (s[0], s[1], s[2], s[3]),
        npy.data.iter().map(|&v| v as f32).collect(),
    )
    .expect("shape matches data")
}

/// The same array stored in NIfTI order (x fastest), as `Volume` keeps it.
pub fn nifti(a: &Array4<f32>) -> Array4<f32> {
    deepneuro_volume::nifti_layout(a.view())
}

/// A sample with the given groups and an identity affine.
pub fn sample(case: &str, groups: &[(&str, Array4<f32>)]) -> Sample {
    Sample {
        case: case.to_string(),
        groups: groups
            .iter()
            .map(|(n, a)| (n.to_string(), a.clone()))
            .collect::<BTreeMap<_, _>>(),
        affine: deepneuro_volume::Affine::identity(),
    }
}

/// Asserts equal shapes and bit-identical elements.
pub fn assert_exact(what: &str, actual: &Array4<f32>, expected: &Array4<f32>) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    let bad = actual
        .iter()
        .zip(expected.iter())
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(bad, 0, "{what}: {bad} of {} elements differ", actual.len());
}

/// The manifest's string field.
pub fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("manifest field {key}"))
}

/// The manifest's list of small integers.
pub fn usizes(v: &serde_json::Value, key: &str) -> Vec<usize> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("manifest field {key}"))
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

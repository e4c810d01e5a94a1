//! The `skull-strip` binary end to end: the sample head, batch and shards,
//! and bad input (clear message, documented exit code, no partial output).

use deepneuro_volume::{Affine, Volume};
use ndarray::Array3;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skull-strip"))
}

fn sample() -> PathBuf {
    deepneuro_testkit::sample_head()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    deepneuro_testkit::output_text(o)
}

/// Visible files left in `dir` (staging files start with a dot).
fn files(dir: &Path) -> Vec<String> {
    deepneuro_testkit::files_in(dir)
}

fn write_volume(path: &Path, data: Array3<f32>, spacing: f64) {
    let mut aff = Affine::identity();
    for a in 0..3 {
        aff[(a, a)] = spacing;
    }
    deepneuro_io::write(&Volume::from_array3(data, aff).unwrap(), path).unwrap();
}

#[test]
fn sample_head_gives_mask_brain_quicklook_and_icv() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "--t1",
        sample().to_str().unwrap(),
        "--output-folder",
        out.path().to_str().unwrap(),
        "--json",
        "--device",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let case = &s["cases"][0];
    let icv = case["volumes_cm3"]["mask"]["1"].as_f64().unwrap();
    assert!((1100.0..1400.0).contains(&icv), "ICV {icv}");
    assert_eq!(
        files(out.path()),
        [
            "atlas_brain.nii.gz",
            "atlas_mask.nii.gz",
            "atlas_quicklook.png",
            "atlas_record.json"
        ]
    );
    // The record says what produced the outputs.
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("atlas_record.json")).unwrap())
            .unwrap();
    assert_eq!(rec["schema"], "deepneuro.case-record");
    assert_eq!(rec["module"]["name"], "skull-strip");
    assert_eq!(rec["models"][0]["name"], "deepbet-bbox");
    assert_eq!(
        rec["models"][1]["sha256"],
        "de8ee7c69654d0dd3935dc4a5d84571d8ecf4637a6bfc01df399c4c2bc86e0fd"
    );
    assert_eq!(rec["params"]["threshold"], 0.5);
    assert_eq!(rec["volumes_cm3"]["mask"]["1"].as_f64(), Some(icv));
    assert!(rec["tool"]["git_revision"].as_str().unwrap().len() >= 7);
    let mask = deepneuro_io::read(&out.path().join("atlas_mask.nii.gz")).unwrap();
    let input = deepneuro_io::read(&sample()).unwrap();
    assert_eq!(mask.dtype(), deepneuro_volume::DType::U8);
    assert_eq!(mask.affine(), input.affine());
    assert_eq!(mask.spatial_shape(), input.spatial_shape());
    // The skull-stripped image, read back by nibabel: the input where the mask is set.
    let check = deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/skullstrip_brain_check.py"),
        [
            sample().as_os_str(),
            out.path().join("atlas_mask.nii.gz").as_os_str(),
            out.path().join("atlas_brain.nii.gz").as_os_str(),
        ],
    );
    let c: serde_json::Value = serde_json::from_str(check.trim()).unwrap();
    eprintln!("brain image vs nibabel input * mask: {c}");
    assert_eq!(c["max_abs_diff"], 0.0, "{c}");
    assert_eq!(c["nonzero_outside_mask"], 0, "{c}");
    assert!(c["voxels_in_mask"].as_u64().unwrap() > 100_000, "{c}");
    assert_eq!(c["brain_dtype"], c["input_dtype"], "{c}");
    assert_eq!(c["same_affine"], true, "{c}");
    assert_eq!(c["same_shape"], true, "{c}");
    assert_eq!(c["mask_descrip"], "deepneuro skull-strip 1.0.2", "{c}");
}

#[test]
fn batch_records_failures_and_shards_split_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    write_volume(
        &inputs.join("a_flat.nii.gz"),
        Array3::from_elem((64, 64, 1), 1.0),
        1.0,
    );
    write_volume(
        &inputs.join("b_flat.nii"),
        Array3::from_elem((1, 32, 32), 1.0),
        1.0,
    );
    let out = dir.path().join("out");
    let o = run(&[
        "--input-dir",
        inputs.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(13), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["failed"], 2);
    assert_eq!(s["cases"][0]["exit_code"], 3);
    let o = run(&[
        "--input-dir",
        inputs.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--json",
        "--shard",
        "1/2",
    ]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["cases"].as_array().unwrap().len(), 1);
    assert_eq!(s["cases"][0]["case"], "b_flat");
    assert_eq!(
        o.status.code(),
        Some(3),
        "a single failed case keeps its own code"
    );
    assert!(files(&out).is_empty());
    let o = run(&[
        "--input-dir",
        inputs.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--shard",
        "2/2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn two_d_image_is_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("slice.nii.gz");
    write_volume(
        &img,
        Array3::from_shape_fn((64, 64, 1), |(x, y, _)| (x * y) as f32),
        1.0,
    );
    let out = dir.path().join("out");
    let o = run(&["--t1", img.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("2D image"), "{}", text(&o));
    assert!(text(&o).contains("slice.nii.gz"), "{}", text(&o));
    assert!(files(&out).is_empty());
}

#[test]
fn pure_noise_fails_clearly_or_warns() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("noise.nii.gz");
    // A deterministic pseudo-random field (xorshift), 1.5 mm like the sample.
    let mut s = 0x2545F4914F6CDD1Du64;
    let data = Array3::from_shape_simple_fn((100, 120, 100), || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 1000) as f32
    });
    write_volume(&img, data, 1.5);
    let out = dir.path().join("out");
    let o = run(&[
        "--t1",
        img.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--json",
        "--device",
        "cpu",
    ]);
    let t = text(&o);
    match o.status.code() {
        Some(12) => {
            assert!(t.contains("no brain found"), "{t}");
            assert!(files(&out).is_empty(), "{:?}", files(&out));
        }
        Some(0) => assert!(t.contains("outside 800-2200 cm^3"), "{t}"),
        c => panic!("exit {c:?}: {t}"),
    }
}

#[test]
fn missing_model_while_offline_is_exit_7() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "--t1",
            sample().to_str().unwrap(),
            "-o",
            out.path().to_str().unwrap(),
        ])
        .env("DEEPNEURO_HOME", home.path())
        .env("DEEPNEURO_OFFLINE", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(text(&o).contains("deepbet-bbox"), "{}", text(&o));
    assert!(files(out.path()).is_empty());
}

#[test]
fn unwritable_output_folder_is_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    // A folder below a regular file can never be created, even by root.
    let out = blocker.join("out");
    let o = run(&[
        "--t1",
        sample().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("a-file"), "{}", text(&o));
}

#[test]
fn missing_input_and_bad_usage() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "--t1",
        "/nonexistent/t1.nii.gz",
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("/nonexistent/t1.nii.gz"));
    let o = run(&["-o", out.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(&["--t1", "x.nii", "--input-dir", "y", "-o", "z"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(&[
        "--t1",
        sample().to_str().unwrap(),
        "--dicom-seg",
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--dicom-source"), "{}", text(&o));
    assert!(files(out.path()).is_empty());
}

fn dice(a: &Volume, b: &Volume) -> f64 {
    let (a, b) = (a.nifti_slice(), b.nifti_slice());
    assert_eq!(a.len(), b.len());
    let (mut na, mut nb, mut both) = (0usize, 0usize, 0usize);
    for (x, y) in a.iter().zip(b.iter()) {
        let (x, y) = (*x > 0.5, *y > 0.5);
        na += x as usize;
        nb += y as usize;
        both += (x && y) as usize;
    }
    2.0 * both as f64 / (na + nb) as f64
}

#[test]
fn dicom_series_matches_nifti_and_seg_covers_the_mask() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let py = deepneuro_testkit::script("fixtures/skullstrip_dicom.py");
    deepneuro_testkit::run_python(&py, [d]);
    let (od, on) = (d.join("out_dicom"), d.join("out_nifti"));
    let o = run(&[
        "--t1",
        d.join("dicom").to_str().unwrap(),
        "-o",
        od.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // NIfTI input with --dicom-source: the SEG refers to that series.
    let o = run(&[
        "--t1",
        d.join("head.nii.gz").to_str().unwrap(),
        "-o",
        on.to_str().unwrap(),
        "--device",
        "cpu",
        "--dicom-seg",
        "--dicom-source",
        d.join("dicom").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let from_dicom = deepneuro_io::read(&od.join("dicom_mask.nii.gz")).unwrap();
    let from_nifti = deepneuro_io::read(&on.join("head_mask.nii.gz")).unwrap();
    assert_eq!(from_dicom.spatial_shape(), from_nifti.spatial_shape());
    let err = (from_dicom.affine() - from_nifti.affine()).abs().max();
    assert!(err < 1e-3, "affines differ by {err} mm");
    let dc = dice(&from_dicom, &from_nifti);
    assert!(dc >= 0.999, "Dice DICOM vs NIfTI input {dc}");

    let seg = od.join("dicom_mask_seg.dcm");
    assert!(seg.exists(), "{:?}", files(&od));
    assert!(on.join("head_mask_seg.dcm").exists(), "{:?}", files(&on));
    let work = d.join("readback");
    std::fs::create_dir(&work).unwrap();
    let rb = deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/dicom_seg_readback.py"),
        [
            seg.as_os_str(),
            od.join("dicom_mask.nii.gz").as_os_str(),
            work.as_os_str(),
        ],
    );
    let rb: serde_json::Value = serde_json::from_str(rb.trim()).unwrap();
    assert_eq!(rb["highdicom"]["mismatches"], 0, "{rb}");
    eprintln!("DICOM vs NIfTI input: Dice {dc}, affine difference {err} mm; SEG read back: {rb}");

    let ot = d.join("out_two");
    let o = run(&[
        "--t1",
        d.join("two").to_str().unwrap(),
        "-o",
        ot.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(10), "{}", text(&o));
    assert!(text(&o).contains("T1 MPRAGE repeat"), "{}", text(&o));
    assert!(files(&ot).is_empty());
}

/// `--cases` (a CSV naming the case), `--save-preprocessed` and `--dilate`
/// on a full run: the dilated mask equals scipy's binary dilation of the
/// plain mask by the same number of 6-connected steps.
#[test]
fn cases_csv_dilate_and_preprocessed_output() {
    let out = tempfile::tempdir().unwrap();
    let plain_dir = out.path().join("plain");
    let o = run(&[
        "--t1",
        sample().to_str().unwrap(),
        "--output-folder",
        plain_dir.to_str().unwrap(),
        "--no-quicklook",
        "--device",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let csv = out.path().join("cases.csv");
    std::fs::write(
        &csv,
        format!("case,t1\nhead,{}\n", sample().to_str().unwrap()),
    )
    .unwrap();
    let dil_dir = out.path().join("dilated");
    let o = run(&[
        "--cases",
        csv.to_str().unwrap(),
        "--output-folder",
        dil_dir.to_str().unwrap(),
        "--dilate",
        "2",
        "--save-preprocessed",
        "--no-quicklook",
        "--device",
        "cpu",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        files(&dil_dir),
        [
            "head_brain.nii.gz",
            "head_mask.nii.gz",
            "head_preprocessed.nii.gz",
            "head_record.json"
        ]
    );
    let pre = deepneuro_io::read(&dil_dir.join("head_preprocessed.nii.gz")).unwrap();
    assert_eq!(pre.spatial_shape(), [256, 256, 256]);
    let check = deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/skullstrip_dilate_check.py"),
        [
            plain_dir.join("atlas_mask.nii.gz").as_os_str(),
            dil_dir.join("head_mask.nii.gz").as_os_str(),
            std::ffi::OsStr::new("2"),
        ],
    );
    let c: serde_json::Value = serde_json::from_str(check.trim()).unwrap();
    eprintln!("dilate 2 vs scipy: {c}");
    assert!(c["dilated"].as_u64() > c["plain"].as_u64(), "{c}");
    assert_eq!(c["differ"], 0, "{c}");
}

/// What a new user ran into: a missing input created the output folder and
/// loaded the models first, and its error was printed twice.
#[test]
fn missing_input_creates_nothing_and_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new-folder");
    let o = bin()
        .args(["--t1", "/nonexistent/t1.nii.gz", "-o"])
        .arg(&out)
        // Models that cannot be loaded: were they loaded first, the run would fail with 7.
        .env("DEEPNEURO_HOME", dir.path().join("empty-cache"))
        .env("DEEPNEURO_OFFLINE", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(!out.exists(), "the output folder was created");
    assert_eq!(
        text(&o).matches("/nonexistent/t1.nii.gz").count(),
        1,
        "{}",
        text(&o)
    );
}

/// Parameters are typed and range-checked before anything runs (exit 2).
#[test]
fn parameters_out_of_range_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for args in [
        ["--threshold", "2"],
        ["--threshold", "-0.1"],
        ["--threads", "0"],
        ["--dilate", "1.5"],
        ["--dilate", "x"],
    ] {
        let o = bin()
            .args(["--t1", sample().to_str().unwrap(), "-o"])
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(args[0]), "{args:?}: {}", text(&o));
        assert!(!out.exists(), "{args:?}: the output folder was created");
    }
}

/// Logs hold no colour codes when stderr is not a terminal, and a module
/// logs only warnings and errors by default (no INFO lines under a
/// progress bar); `--version` names the tool and its revision.
#[test]
fn logs_are_plain_and_quiet_by_default_and_version_works() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "--t1",
        sample().to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
        "--device",
        "cpu",
        "--threshold",
        "0.99",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("INFO"), "{err}");
    let o = run(&[
        "--t1",
        "/nonexistent/t1.nii.gz",
        "-o",
        out.path().to_str().unwrap(),
        "-vv",
    ]);
    assert!(!o.stderr.contains(&0x1b), "{}", text(&o));
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = String::from_utf8_lossy(&o.stdout);
    assert!(
        v.starts_with("skull-strip 0.") && v.contains("(git "),
        "{v}"
    );
}

/// A DICOM series whose description names another contrast than the spec
/// expects goes through, with a warning in the log and the JSON summary.
#[test]
fn a_flair_series_given_as_t1_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/module_engine.py"),
        ["make".as_ref(), dir.path().as_os_str()],
    );
    let out = dir.path().join("out");
    let o = bin()
        .args(["--t1"])
        .arg(dir.path().join("flair_dicom"))
        .arg("-o")
        .arg(&out)
        .args(["--json", "--device", "cpu"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let w = s["cases"][0]["warnings"].to_string();
    assert!(
        w.contains("looks like FLAIR") && w.contains("expects T1w"),
        "{w}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("looks like FLAIR"),
        "{}",
        text(&o)
    );
}

/// `--help` shows the default of every option that has one (parameters,
/// output names, device, threads), and lists the spec and the exit codes.
#[test]
fn help_shows_every_default() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    // Options with a value but no default by nature: inputs, batch forms,
    // the output folder and the DICOM source.
    let no_default = [
        "--t1 ",
        "--t1-series",
        "--input-dir",
        "--cases",
        "--shard",
        "--output-folder",
        "--dicom-source",
    ];
    let mut missing = Vec::new();
    for line in help.lines().map(str::trim_start) {
        let takes_value = line.starts_with("--")
            && line
                .split_whitespace()
                .nth(1)
                .is_some_and(|w| w.starts_with('<'))
            || line.starts_with("-o, --output-folder");
        if takes_value
            && !line.contains("[default:")
            && !no_default.iter().any(|n| line.contains(n))
        {
            missing.push(line.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "options without a shown default: {missing:#?}"
    );
    for want in [
        "[default: 0.5]",
        "[default: auto]",
        "[default: {case}_mask.nii.gz]",
        "Exit codes:",
        "16 ",
        "Spec: <builtin pipelines/skull-strip.toml>",
    ] {
        assert!(help.contains(want), "{want} missing:\n{help}");
    }
}

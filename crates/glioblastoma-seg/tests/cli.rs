//! The `glioblastoma-seg` binary end to end with the shipped networks, on
//! synthetic glioblastoma cases from the held-out generator
//! (scripts/fixtures/gbm_heldout.py, which the networks never saw): a
//! preprocessed case scored against its truth, the full chain from three
//! DICOM series (a moved, biased T1) against the run on the preprocessed
//! NIfTI, the SEG read back with highdicom, and bad input refused whole.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glioblastoma-seg"));
    c.args(["--device", "cpu"]);
    c
}

fn text(o: &Output) -> String {
    deepneuro_testkit::output_text(o)
}

fn files(dir: &Path) -> Vec<String> {
    deepneuro_testkit::files_in(dir)
}

/// `n` held-out cases in `dir`; returns the case folders.
fn heldout(dir: &Path, n: usize, seed: u64) -> Vec<PathBuf> {
    let out = deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/gbm_heldout.py"),
        [dir.to_str().unwrap(), &n.to_string(), &seed.to_string()],
    );
    let j: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
    j["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| dir.join(c.as_str().unwrap()))
        .collect()
}

fn input(case: &Path, contrast: &str) -> String {
    let name = case.file_name().unwrap().to_string_lossy();
    case.join(format!("{name}_{contrast}.nii.gz"))
        .to_string_lossy()
        .into_owned()
}

const PREPROCESSED: &str = "n4,register,skull-strip";

#[test]
fn preprocessed_case_segments_whole_and_enhancing_tumour() {
    let tmp = tempfile::tempdir().unwrap();
    let case = heldout(&tmp.path().join("cases"), 1, 4242).remove(0);
    let out = tmp.path().join("out");
    let o = bin()
        .args(["--flair", &input(&case, "flair")])
        .args(["--t1", &input(&case, "t1")])
        .args(["--t1post", &input(&case, "t1ce")])
        .args(["--skip", PREPROCESSED, "--save-masks", "--json", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        s["skipped"],
        serde_json::json!(["n4", "register", "skull-strip"])
    );
    let c = &s["cases"][0];
    let name = c["case"].as_str().unwrap().to_string();
    // The scorer reads predictions from PRED_DIR/<case file>: name the case as its folder.
    let pred = tmp.path().join("pred");
    std::fs::create_dir_all(&pred).unwrap();
    let case_id = case.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::copy(
        out.join(format!("{name}_tumour.nii.gz")),
        pred.join(format!("{case_id}_tumour.nii.gz")),
    )
    .unwrap();
    let scores = deepneuro_testkit::run_python(
        &deepneuro_testkit::script("bench/gbm_dice.py"),
        [
            tmp.path().join("cases").to_str().unwrap(),
            pred.to_str().unwrap(),
            "--json",
        ],
    );
    let d: serde_json::Value = serde_json::from_str(scores.trim()).unwrap();
    let wt = d["summary"]["median_dice_wt"].as_f64().unwrap();
    let et = d["summary"]["median_dice_et"].as_f64().unwrap();
    assert!(wt >= 0.80 && et >= 0.60, "Dice WT {wt}, ET {et}: {scores}");
    // Volumes in the summary: label 1 (whole without enhancement) and 2 (enhancing).
    let v = &c["volumes_cm3"]["tumour"];
    assert!(
        v["1"].as_f64().unwrap() > 1.0 && v["2"].as_f64().unwrap() > 0.5,
        "{v}"
    );
    for f in [
        "_tumour.nii.gz",
        "_whole_tumour.nii.gz",
        "_enhancing_tumour.nii.gz",
        "_brain_mask.nii.gz",
        "_quicklook.png",
        "_record.json",
    ] {
        assert!(out.join(format!("{name}{f}")).is_file(), "{name}{f}");
    }
}

/// The label maps of two runs compared voxel by voxel after nibabel's
/// closest-canonical reorientation (a DICOM series and a NIfTI file may
/// order the same voxels differently): the whole tumour's Dice.
fn whole_tumour_dice(a: &Path, b: &Path) -> f64 {
    let code = "import sys, nibabel as nib, numpy as np\n\
        a, b = (nib.as_closest_canonical(nib.load(p)) for p in sys.argv[1:3])\n\
        assert a.shape == b.shape and np.allclose(a.affine, b.affine, atol=1e-3), (a.affine, b.affine)\n\
        x, y = np.asarray(a.dataobj) > 0, np.asarray(b.dataobj) > 0\n\
        print(2 * (x & y).sum() / max(x.sum() + y.sum(), 1))\n";
    let o = Command::new(deepneuro_testkit::python())
        .args(["-c", code])
        .args([a, b])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

#[test]
fn dicom_chain_with_a_moved_biased_t1_agrees_with_the_preprocessed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let case = heldout(&tmp.path().join("cases"), 1, 9090).remove(0);
    let dcm = tmp.path().join("dicom");
    deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/gbm_dicom.py"),
        [
            case.to_str().unwrap(),
            dcm.to_str().unwrap(),
            "--move-t1",
            "5,8",
            "--bias-t1",
            "1.3",
            "--seed",
            "5",
        ],
    );
    let full = tmp.path().join("full");
    let o = bin()
        .args(["--flair", dcm.join("flair").to_str().unwrap()])
        .args(["--t1", dcm.join("t1").to_str().unwrap()])
        .args(["--t1post", dcm.join("t1post").to_str().unwrap()])
        .arg("-o")
        .arg(&full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let reference = tmp.path().join("reference");
    let nifti = dcm.join("nifti");
    let o = bin()
        .args(["--flair", nifti.join("flair.nii.gz").to_str().unwrap()])
        .args(["--t1", nifti.join("t1.nii.gz").to_str().unwrap()])
        .args(["--t1post", nifti.join("t1post.nii.gz").to_str().unwrap()])
        .args(["--skip", PREPROCESSED, "--no-quicklook", "-o"])
        .arg(&reference)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dice = whole_tumour_dice(
        &full.join("flair_tumour.nii.gz"),
        &reference.join("flair_tumour.nii.gz"),
    );
    assert!(
        dice >= 0.95,
        "whole-tumour Dice full chain vs preprocessed: {dice}"
    );
    // The SEG refers to the FLAIR series and holds both labels on the same voxels.
    let seg = full.join("flair_tumour_seg.dcm");
    let read = deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/dicom_seg_readback.py"),
        [
            seg.to_str().unwrap(),
            full.join("flair_tumour.nii.gz").to_str().unwrap(),
            tmp.path().join("seg-work").to_str().unwrap(),
        ],
    );
    let r: serde_json::Value = serde_json::from_str(read.trim().lines().last().unwrap()).unwrap();
    assert_eq!(r["highdicom"]["mismatches"], 0, "{read}");
    let segments = r["highdicom"]["segments"].as_array().unwrap();
    let labels: Vec<&str> = segments
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["Whole tumour without enhancement", "Enhancing tumour"],
        "{read}"
    );
}

/// A volume written with nibabel: `kind` is `noise` (i.i.d.), `smooth`
/// (smoothed noise: structure, but no anatomy) or `slice` (2D).
fn synthetic(path: &Path, like: &str, kind: &str) {
    let code = "import sys, nibabel as nib, numpy as np\n\
        from scipy import ndimage\n\
        ref = nib.load(sys.argv[1]); kind = sys.argv[3]\n\
        r = np.random.default_rng(3)\n\
        if kind == 'slice':\n    d = r.normal(500, 100, ref.shape[:2] + (1,))\n\
        elif kind == 'noise':\n    d = r.normal(500, 100, ref.shape)\n\
        else:\n    d = 500 + 2000 * ndimage.gaussian_filter(r.normal(0, 1, ref.shape), 6)\n\
        nib.save(nib.Nifti1Image(np.clip(d, 0, None).astype(np.int16), ref.affine), sys.argv[2])\n";
    let o = Command::new(deepneuro_testkit::python())
        .args(["-c", code, like])
        .arg(path)
        .arg(kind)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// Runs with the three inputs; asserts the exit code, that the message
/// says `needle`, and that nothing was written.
fn refused(args: &[&str], code: i32, needle: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin().args(args).arg("-o").arg(&out).output().unwrap();
    let msg = text(&o);
    assert_eq!(o.status.code(), Some(code), "{msg}");
    assert!(msg.contains(needle), "{needle:?} not in: {msg}");
    assert!(files(&out).is_empty(), "partial output: {:?}", files(&out));
}

#[test]
fn bad_input_is_refused_with_its_exit_code_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let case = heldout(&tmp.path().join("cases"), 1, 77).remove(0);
    let (flair, t1, t1ce) = (
        input(&case, "flair"),
        input(&case, "t1"),
        input(&case, "t1ce"),
    );
    let bad = |kind: &str| {
        let p = tmp.path().join(format!("{kind}.nii.gz"));
        synthetic(&p, &flair, kind);
        p.to_string_lossy().into_owned()
    };
    let (slice, noise, smooth) = (bad("slice"), bad("noise"), bad("smooth"));

    refused(&["--flair", &flair, "--t1", &t1], 2, "--t1post");
    refused(
        &["--flair", &slice, "--t1", &t1, "--t1post", &t1ce],
        3,
        "2D image",
    );
    refused(
        &["--flair", &noise, "--t1", &t1, "--t1post", &t1ce],
        12,
        "no tumour found",
    );
    // Structure but no anatomy: the registration's final similarity says it failed.
    refused(
        &[
            "--flair",
            &flair,
            "--t1",
            &smooth,
            "--t1post",
            &t1ce,
            "--skip",
            "n4,skull-strip",
        ],
        16,
        "registration failed",
    );

    let dcm = tmp.path().join("dicom");
    deepneuro_testkit::run_python(
        &deepneuro_testkit::script("fixtures/gbm_dicom.py"),
        [
            case.to_str().unwrap(),
            dcm.to_str().unwrap(),
            "--other-patient",
            "t1",
        ],
    );
    let d = |s: &str| dcm.join(s).to_string_lossy().into_owned();
    refused(
        &[
            "--flair",
            &d("flair"),
            "--t1",
            &d("t1"),
            "--t1post",
            &d("t1post"),
        ],
        16,
        "PatientID",
    );
}

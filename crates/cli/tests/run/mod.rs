//! `deepneuro run` on specs no Rust was written for: pipelines/README.md's
//! second worked example as printed there (two inputs, N4, registration,
//! skull stripping by the sub-module step, a TorchScript network by sliding
//! window, a label map and a two-segment SEG), and a glioblastoma-shaped
//! cascade whose first model's mask is a channel of the second's input.
//! Ground truth, SEG and volumes are checked with nibabel and highdicom
//! (scripts/fixtures/module_engine.py).

use deepneuro_testkit::{run_python, script, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    models: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run_python(
        &script("fixtures/module_engine.py"),
        ["make".as_ref(), root.as_os_str()],
    );
    Fixture {
        models: root.join("models.toml"),
        root,
        _dir: dir,
    }
}

fn run(f: &Fixture, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .arg("run")
        .args(args)
        .env("DEEPNEURO_MODELS", &f.models)
        .env("DEEPNEURO_HOME", f.root.join("home"))
        .env_remove("DEEPNEURO_LOG")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The first ```toml block after `heading` in pipelines/README.md.
fn readme_spec(heading: &str) -> String {
    let readme = std::fs::read_to_string(workspace_root().join("pipelines/README.md")).unwrap();
    let from = readme.find(heading).expect("the README has the example");
    let rest = &readme[from..];
    let start = rest.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + rest[start..].find("```").unwrap();
    rest[start..end].to_string()
}

fn check(f: &Fixture, labels: &Path, seg: Option<&Path>) -> serde_json::Value {
    let mut args = vec!["check".as_ref(), f.root.as_os_str(), labels.as_os_str()];
    if let Some(s) = seg {
        args.push(s.as_os_str());
    }
    serde_json::from_str(run_python(&script("fixtures/module_engine.py"), args).trim()).unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn readme_example_runs_as_written() {
    let f = fixture();
    let spec = f.root.join("tumour-demo.toml");
    std::fs::write(&spec, readme_spec("## Example 2")).unwrap();
    let out = f.root.join("out");

    // --help is the module's, generated from the spec.
    let o = run(&f, &[spec.as_os_str(), "--help".as_ref()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    for want in [
        "Whole and enhancing tumour",
        "--flair",
        "--t1post",
        "--t1post-series",
        "--threshold",
        "[default: 0.5]",
        "--labels-name",
    ] {
        assert!(help.contains(want), "{want} missing from:\n{help}");
    }

    let o = run(
        &f,
        &[
            spec.as_os_str(),
            "--flair".as_ref(),
            f.root.join("flair_dicom").as_os_str(),
            "--t1post".as_ref(),
            f.root.join("t1post.nii.gz").as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--device".as_ref(),
            "cpu".as_ref(),
            "--json".as_ref(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = json(&o);
    let case = &s["cases"][0];
    let labels = out.join("flair_dicom_tumour.nii.gz");
    let seg = out.join("flair_dicom_tumour_seg.dcm");
    for p in [
        &labels,
        &seg,
        &out.join("flair_dicom_quicklook.png"),
        &out.join("flair_dicom_record.json"),
    ] {
        assert!(p.exists(), "{} missing: {}", p.display(), text(&o));
    }
    let c = check(&f, &labels, Some(&seg));
    eprintln!("README example vs ground truth: {c}");
    assert_eq!(c["dtype"], "uint8");
    assert!(c["dice_whole"].as_f64().unwrap() >= 0.8, "{c}");
    assert!(c["dice_enhancing"].as_f64().unwrap() >= 0.6, "{c}");
    assert_eq!(
        c["segments"],
        serde_json::json!(["Whole tumour", "Enhancing tumour"])
    );
    assert_eq!(c["series_description"], "Tumour");
    // Red as DICOM scaled CIELab: L* 53.24, a* 80.09, b* 67.20 (D65).
    let red = c["cielab"][1].as_array().unwrap();
    let back = |i: usize, lo: f64, hi: f64| lo + red[i].as_f64().unwrap() / 65535.0 * (hi - lo);
    assert!((back(0, 0.0, 100.0) - 53.24).abs() < 0.05, "{c}");
    assert!((back(1, -128.0, 127.0) - 80.09).abs() < 0.1, "{c}");
    for label in ["1", "2"] {
        let ours = case["volumes_cm3"]["labels"][label].as_f64().unwrap();
        let nib = c["volumes_cm3"][label].as_f64().unwrap();
        assert!(
            (ours - nib).abs() <= 1e-6 * nib,
            "label {label}: {ours} vs nibabel {nib}"
        );
    }
    // The sub-module's models are recorded with the module's own.
    let names: Vec<&str> = s["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deepbet-bbox", "deepbet-brain", "my-tumour-net"]);
}

/// A cascade: whole tumour from three channels by sliding window, then the
/// enhancing network on the three channels plus that mask, inside its box.
const CASCADE: &str = r#"
[module]
name = "gbm-smoke"
spec_version = 1
description = "Cascade smoke test"
nothing_found = "no tumour found"

[[input]]
name = "flair"
contrast = "FLAIR"
glob = "*flair.nii.gz"

[[input]]
name = "t1"
contrast = "T1w"
glob = "t1.nii.gz"

[[input]]
name = "t1post"
contrast = "T1w-ce"
glob = "*t1post*"

[params.min_mm3]
type = "float"
default = 100.0
min = 0.0
max = 1e9
help = "Smallest tumour component kept"

[[step]]
op = "resample"
value = "t1post"
onto = "flair"
out = "t1post_f"

[[step]]
op = "nonzero"
image = "flair"
out = "head"

[[step]]
op = "zscore"
for_each = ["flair", "t1", "t1post_f"]
image = "{each}"
mask = "head"
out = "{each}_z"

[[step]]
op = "stack"
images = ["t1post_f_z", "t1_z", "flair_z"]
model = "demo-whole"
out = "x3"

[[step]]
op = "predict"
image = "x3"
model = "demo-whole"
patch = [32, 32, 32]
overlap = 0.25
channels = [1]
out = "wt_prob"

[[step]]
op = "threshold"
prob = "wt_prob"
value = 0.5
out = "wt"

[[step]]
op = "stack"
images = ["flair_z", "t1_z", "t1post_f_z", "wt"]
out = "x4"

[[step]]
op = "predict"
image = "x4"
model = "demo-enhancing"
crop = "wt"
channels = [1]
out = "et_prob"

[[step]]
op = "threshold"
prob = "et_prob"
value = 0.5
out = "et"

[[step]]
op = "remove-small"
for_each = ["wt", "et"]
mask = "{each}"
min_mm3 = "$min_mm3"

[[step]]
op = "merge-labels"
masks = ["wt", "et"]
labels = [1, 2]
out = "labels"

[[output]]
name = "labels"
value = "labels"
file = "{case}_labels.nii.gz"
allow_empty = ALLOW_EMPTY

[quicklook]
file = "{case}_quicklook.png"
image = "flair"
labels = "labels"
colours = { 1 = [255, 200, 0], 2 = [255, 0, 0] }
"#;

/// The cascade on the phantom's three files with every component removed.
fn run_removing_everything(f: &Fixture, spec: &Path, out: &Path) -> Output {
    let input = |n: &str| f.root.join(format!("{n}.nii.gz"));
    run(
        f,
        &[
            spec.as_os_str(),
            "--flair".as_ref(),
            input("flair").as_os_str(),
            "--t1".as_ref(),
            input("t1").as_os_str(),
            "--t1post".as_ref(),
            input("t1post").as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--min_mm3".as_ref(),
            "1e8".as_ref(),
            "--json".as_ref(),
        ],
    )
}

#[test]
fn glioblastoma_shaped_cascade_and_empty_results() {
    let f = fixture();
    let spec = f.root.join("gbm.toml");
    std::fs::write(&spec, CASCADE.replace("ALLOW_EMPTY", "true")).unwrap();
    // A batch of one case folder, inputs found by the spec's globs.
    let cases = f.root.join("cases");
    let case = cases.join("patient 1");
    std::fs::create_dir_all(&case).unwrap();
    for n in ["flair", "t1", "t1post"] {
        std::fs::copy(
            f.root.join(format!("{n}.nii.gz")),
            case.join(format!("{n}.nii.gz")),
        )
        .unwrap();
    }
    let out = f.root.join("out");
    let o = run(
        &f,
        &[
            spec.as_os_str(),
            "--input-dir".as_ref(),
            cases.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--json".as_ref(),
            "--device".as_ref(),
            "cpu".as_ref(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = json(&o);
    let labels = out.join("patient 1_labels.nii.gz");
    assert!(out.join("patient 1_quicklook.png").exists(), "{}", text(&o));
    let c = check(&f, &labels, None);
    eprintln!("cascade vs ground truth: {c}");
    // t1post is shifted and only resampled here (no registration): the
    // whole tumour comes from FLAIR, the enhancing shell less exactly.
    assert!(c["dice_whole"].as_f64().unwrap() >= 0.8, "{c}");
    assert!(c["dice_enhancing"].as_f64().unwrap() >= 0.4, "{c}");
    let ours = s["cases"][0]["volumes_cm3"]["labels"]["1"]
        .as_f64()
        .unwrap();
    let nib = c["volumes_cm3"]["1"].as_f64().unwrap();
    assert!((ours - nib).abs() <= 1e-6 * nib, "{ours} vs {nib}");

    // Everything removed: an empty label map is a valid result where the
    // spec allows it ...
    let o = run_removing_everything(&f, &spec, &f.root.join("empty"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        json(&o)["cases"][0]["volumes_cm3"]["labels"],
        serde_json::json!({})
    );
    assert!(f.root.join("empty/flair_labels.nii.gz").exists());

    // ... and exit 12 where it does not, with nothing written.
    std::fs::write(&spec, CASCADE.replace("ALLOW_EMPTY", "false")).unwrap();
    let strict = f.root.join("strict");
    let o = run_removing_everything(&f, &spec, &strict);
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));
    assert!(text(&o).contains("no tumour found"), "{}", text(&o));
    let left: Vec<_> = std::fs::read_dir(&strict).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn modules_by_name_list_and_bad_specs() {
    let f = fixture();
    // By name, as `deepneuro wrap` takes it.
    let o = run(&f, &["skull-strip".as_ref(), "--help".as_ref()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("deepbet 1.0.2"));
    let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .arg("modules")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(
        listed.contains("skull-strip ") && listed.contains("skull-strip-n4"),
        "{listed}"
    );
    // A bad spec: one line naming file, line and problem; exit 3; nothing written.
    let spec = f.root.join("bad.toml");
    std::fs::write(
        &spec,
        CASCADE
            .replace("ALLOW_EMPTY", "true")
            .replace("op = \"nonzero\"", "op = \"nonzero\"\nmagic = 1"),
    )
    .unwrap();
    let out = f.root.join("bad-out");
    let o = run(
        &f,
        &[
            spec.as_os_str(),
            "--flair".as_ref(),
            "x.nii.gz".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml:") && err.contains("unknown key \"magic\""),
        "{err}"
    );
    assert!(!out.exists());
}

/// A module's completions and man page come from the same clap command as
/// its `--help`.
#[test]
fn module_completions_and_man_page() {
    let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .args(["completions", "bash", "--module", "skull-strip"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(
        script.contains("--t1") && script.contains("--mask-name"),
        "{script}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .args(["man", "--module", "skull-strip"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH skull-strip"),
        "{page}"
    );
    assert!(page.contains("threshold"), "{page}");
}

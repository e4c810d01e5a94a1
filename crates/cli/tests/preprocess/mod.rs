//! `deepneuro preprocess` end to end: the native steps, the external tools
//! (real ANTs programs from the copy compiled into antspyx, through
//! `scripts/tools/ants-from-antspyx`), exit codes and no partial output.

use deepneuro_testkit::{python, run_python, script, workspace_root};
use deepneuro_volume::Volume;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        run_python(&script("fixtures/preprocess_cli.py"), [dir.path()]);
        let p = dir.path().to_path_buf();
        Fixture { _dir: dir, dir: p }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// PATH with the venv's python first and, when `with_ants`, the ANTs commands.
fn tool_path(with_ants: bool) -> OsString {
    let venv_bin = python().parent().unwrap().to_path_buf();
    let mut dirs = vec![venv_bin, PathBuf::from("/usr/bin"), PathBuf::from("/bin")];
    if with_ants {
        dirs.insert(0, workspace_root().join("scripts/tools/ants-from-antspyx"));
    }
    std::env::join_paths(dirs).unwrap()
}

fn preprocess(args: &[&OsStr], path: Option<OsString>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepneuro"));
    cmd.arg("preprocess").args(args).env_remove("DEEPNEURO_LOG");
    if let Some(p) = path {
        cmd.env("PATH", p).env_remove("DEEPNEURO_SLICER_CLI");
    }
    cmd.output().expect("the binary runs")
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn check_ok(o: &Output) -> serde_json::Value {
    super::assert_success(o);
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

fn check_fails(o: &Output, code: i32, mentions: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line expected: {err}");
    for m in mentions {
        assert!(err.contains(m), "'{m}' not in: {err}");
    }
}

fn read(p: &Path) -> Volume {
    deepneuro_io::read(p).unwrap_or_else(|e| panic!("{e}"))
}

fn values_in_mask(v: &Volume, mask: &Volume) -> Vec<f64> {
    v.channel(0)
        .iter()
        .zip(mask.channel(0).iter())
        .filter(|(_, m)| **m > 0.0)
        .map(|(x, _)| *x as f64)
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

fn log_field_correlation(estimated: &Volume, truth: &Volume, mask: &Volume) -> f64 {
    let e: Vec<f64> = values_in_mask(estimated, mask)
        .iter()
        .map(|v| v.ln())
        .collect();
    let t: Vec<f64> = values_in_mask(truth, mask).iter().map(|v| v.ln()).collect();
    pearson(&e, &t)
}

#[test]
fn n4_native_and_ants_both_recover_the_field() {
    let f = Fixture::new();
    let mask = read(&f.file("mask.nii.gz"));
    let truth = read(&f.file("field.nii.gz"));
    let mut r = Vec::new();
    for tool in ["native", "ants"] {
        let out = f.file(&format!("n4_{tool}.nii.gz"));
        let field = f.file(&format!("field_{tool}.nii.gz"));
        let o = preprocess(
            &[
                os("n4"),
                f.file("t1.nii.gz").as_os_str(),
                out.as_os_str(),
                os("--mask"),
                f.file("mask.nii.gz").as_os_str(),
                os("--bias-field"),
                field.as_os_str(),
                os("--shrink-factor"),
                os("2"),
                os("--tool"),
                os(tool),
                os("--json"),
            ],
            Some(tool_path(true)),
        );
        let summary = check_ok(&o);
        assert!(summary["seconds"].as_f64().unwrap() > 0.0);
        let corr = log_field_correlation(&read(&field), &truth, &mask);
        r.push(corr);
        assert!(read(&out).spatial_shape() == mask.spatial_shape());
    }
    eprintln!(
        "log-field correlation with the truth: native {:.4}, ANTs {:.4}",
        r[0], r[1]
    );
    // The field is smooth and the mask covers the brain: both must find it.
    assert!(r[1] > 0.8, "ANTs r = {}", r[1]);
    assert!(r[0] >= r[1] - 0.02, "native r = {} vs ANTs {}", r[0], r[1]);
}

#[test]
fn register_native_recovers_the_transform_and_ants_agrees() {
    let f = Fixture::new();
    let truth = deepneuro_testkit::read_json(&f.file("moved.json"));
    let truth = deepneuro_testkit::json_matrix(&truth["moved_to_template_ras"]);
    let mask = read(&f.file("mask.nii.gz"));
    let out = f.file("reg_native.nii.gz");
    let matrix = f.file("reg.txt");
    let itk = f.file("reg.tfm");
    let o = preprocess(
        &[
            os("register"),
            f.file("moved.nii.gz").as_os_str(),
            f.file("template.nii.gz").as_os_str(),
            out.as_os_str(),
            os("--matrix"),
            matrix.as_os_str(),
            os("--itk-transform"),
            itk.as_os_str(),
            os("--json"),
        ],
        None,
    );
    let summary = check_ok(&o);
    let est: Vec<f64> = summary["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    // Mean displacement over the brain of the moved (fixed-role) grid: the
    // template mask, moved, is close enough to it for a 0.5 mm criterion.
    let fixed = read(&f.file("moved.nii.gz"));
    let mut sum = 0.0;
    let mut n = 0usize;
    for ((i, j, k), m) in mask.channel(0).indexed_iter() {
        if *m == 0.0 {
            continue;
        }
        let p = fixed.voxel_to_world([i as f64, j as f64, k as f64]);
        let apply = |m: &[f64]| -> [f64; 3] {
            std::array::from_fn(|r| {
                m[r * 4] * p[0] + m[r * 4 + 1] * p[1] + m[r * 4 + 2] * p[2] + m[r * 4 + 3]
            })
        };
        let (a, b) = (apply(&est), apply(&truth));
        sum += ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        n += 1;
    }
    let mean = sum / n as f64;
    eprintln!("native rigid: mean displacement {mean:.3} mm over {n} brain voxels");
    assert!(mean < 0.5, "mean displacement {mean} mm");
    assert!(matrix.exists() && itk.exists());
    assert!(read(&out).spatial_shape() == fixed.spatial_shape());

    // ANTs on the same pair: its warped image matches ours.
    let ants_out = f.file("reg_ants.nii.gz");
    let o = preprocess(
        &[
            os("register"),
            f.file("moved.nii.gz").as_os_str(),
            f.file("template.nii.gz").as_os_str(),
            ants_out.as_os_str(),
            os("--tool"),
            os("ants"),
            os("--json"),
        ],
        Some(tool_path(true)),
    );
    let summary = check_ok(&o);
    let tfm = PathBuf::from(summary["transform_file"].as_str().unwrap());
    assert!(tfm.exists(), "{}", tfm.display());
    let a = values_in_mask(&read(&ants_out), &mask);
    let b = values_in_mask(&read(&out), &mask);
    let r = pearson(&a, &b);
    eprintln!("ANTs warped vs ours: r = {r:.5}");
    assert!(r > 0.99, "r = {r}");
}

#[test]
fn missing_and_failing_tools_are_clear_errors() {
    let f = Fixture::new();
    let out_dir = f.file("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("x.nii.gz");
    let (moved, t1) = (f.file("moved.nii.gz"), f.file("t1.nii.gz"));
    // Missing: exit 14, the program named, nothing written.
    for (step, tool, program) in [
        ("n4", "ants", "N4BiasFieldCorrection"),
        ("n4", "slicer", "N4ITKBiasFieldCorrection"),
        ("register", "ants", "antsRegistration"),
        ("register", "slicer", "BRAINSFit"),
    ] {
        let mut args: Vec<&OsStr> = vec![os(step)];
        if step == "register" {
            args.push(moved.as_os_str());
        }
        args.extend([t1.as_os_str(), out.as_os_str()]);
        args.extend([os("--tool"), os(tool)]);
        let o = preprocess(&args, Some(tool_path(false)));
        check_fails(&o, 14, &[program, "not found on PATH"]);
        assert!(
            super::listing(&out_dir).is_empty(),
            "{:?}",
            super::listing(&out_dir)
        );
    }
    // Failing: ANTs given a file that is no image fails: exit 15, nothing left.
    let not_image = f.file("not_image.nii.gz");
    std::fs::write(&not_image, "not an image\n").unwrap();
    let o = preprocess(
        &[
            os("n4"),
            not_image.as_os_str(),
            out.as_os_str(),
            os("--tool"),
            os("ants"),
        ],
        Some(tool_path(true)),
    );
    check_fails(&o, 15, &["N4BiasFieldCorrection"]);
    assert!(
        super::listing(&out_dir).is_empty(),
        "{:?}",
        super::listing(&out_dir)
    );
}

#[test]
fn native_steps_refuse_bad_input_without_output() {
    let f = Fixture::new();
    let out_dir = f.file("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("x.nii.gz");
    let nan = f.file("nan.nii.gz");
    let t1 = f.file("t1.nii.gz");
    let empty_mask = f.file("empty_mask.nii.gz");
    let broken = f.file("broken.nii.gz");
    let mut m = read(&f.file("mask.nii.gz"));
    m.data_mut().fill(0.0);
    deepneuro_io::write(&m, &empty_mask).unwrap();
    let cases: Vec<(Vec<&OsStr>, i32, &str)> = vec![
        (vec![os("n4"), nan.as_os_str(), out.as_os_str()], 3, "NaN"),
        (
            vec![
                os("normalize"),
                nan.as_os_str(),
                out.as_os_str(),
                os("--zscore"),
            ],
            3,
            "NaN",
        ),
        (
            vec![
                os("normalize"),
                t1.as_os_str(),
                out.as_os_str(),
                os("--zscore"),
                os("--mask"),
                empty_mask.as_os_str(),
            ],
            3,
            "empty_mask.nii.gz",
        ),
        (
            vec![
                os("n4"),
                t1.as_os_str(),
                out.as_os_str(),
                os("--mask"),
                empty_mask.as_os_str(),
            ],
            3,
            "mask",
        ),
        (
            vec![
                os("register"),
                nan.as_os_str(),
                t1.as_os_str(),
                out.as_os_str(),
            ],
            3,
            "NaN",
        ),
        (
            vec![
                os("resample"),
                broken.as_os_str(),
                out.as_os_str(),
                os("--spacing"),
                os("3"),
            ],
            3,
            "broken.nii.gz",
        ),
        (
            vec![
                os("resample"),
                t1.as_os_str(),
                out.as_os_str(),
                os("--spacing=-1"),
            ],
            2,
            "spacing",
        ),
    ];
    for (args, code, mention) in cases {
        let o = preprocess(&args, None);
        check_fails(&o, code, &[mention]);
        assert!(
            super::listing(&out_dir).is_empty(),
            "{args:?}: {:?}",
            super::listing(&out_dir)
        );
    }
    // A good run for contrast: resample to 3 mm, then z-score inside the mask.
    let o = preprocess(
        &[
            os("resample"),
            t1.as_os_str(),
            out.as_os_str(),
            os("--spacing"),
            os("3"),
            os("--json"),
        ],
        None,
    );
    let s = check_ok(&o);
    assert_eq!(s["spacing"][0].as_f64(), Some(3.0));
    let o = preprocess(
        &[
            os("normalize"),
            t1.as_os_str(),
            out.as_os_str(),
            os("--zscore"),
            os("--mask"),
            f.file("mask.nii.gz").as_os_str(),
        ],
        None,
    );
    check_ok(&o);
    let z = values_in_mask(&read(&out), &read(&f.file("mask.nii.gz")));
    let mean = z.iter().sum::<f64>() / z.len() as f64;
    assert!(mean.abs() < 1e-3, "mean inside the mask {mean}");
}

/// The preprocessing operations as pipeline steps: skull-strip with N4 first
/// (pipelines/skull-strip-n4.toml) runs the extra step and still finds the
/// same brain on the sample head, which has little bias.
#[test]
fn bias_correct_runs_as_a_pipeline_step() {
    let sample = deepneuro_testkit::sample_head();
    let dir = tempfile::tempdir().unwrap();
    let mut masks = Vec::new();
    for spec in ["skull-strip.toml", "skull-strip-n4.toml"] {
        let out = dir.path().join(spec);
        let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
            .arg("run")
            .arg(workspace_root().join("pipelines").join(spec))
            .args([
                os("--t1"),
                sample.as_os_str(),
                os("--output-folder"),
                out.as_os_str(),
            ])
            .args(["--device", "cpu", "--no-quicklook", "--json", "-q"])
            .output()
            .unwrap();
        let summary = check_ok(&o);
        let steps: Vec<&str> = summary["cases"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[0].as_str().unwrap())
            .collect();
        assert_eq!(steps.contains(&"n4"), spec.contains("n4"), "{steps:?}");
        masks.push(read(&out.join("atlas_mask.nii.gz")));
    }
    let (a, b) = (masks[0].channel(0), masks[1].channel(0));
    let both = a
        .iter()
        .zip(b.iter())
        .filter(|(x, y)| **x > 0.0 && **y > 0.0)
        .count();
    let total = a.iter().filter(|x| **x > 0.0).count() + b.iter().filter(|x| **x > 0.0).count();
    let dice = 2.0 * both as f64 / total as f64;
    eprintln!("skull-strip with and without N4: Dice {dice:.4}");
    assert!(dice > 0.98, "Dice {dice}");
}

//! `deepneuro collect` end to end on generated BraTS-like phantoms: the
//! dataset h5py reads as documented, `--info`, augmentation at collect time,
//! the report of skipped cases, and exit codes without partial output.

use deepneuro_testkit::{run_python, script};
use std::ffi::OsStr;
use std::process::{Command, Output};

fn collect(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .arg("collect")
        .args(args)
        .env_remove("DEEPNEURO_LOG")
        .output()
        .expect("the binary runs")
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

const INPUT: &str = "input=*_flair.nii.gz,*_t1.nii.gz,*_t1ce.nii.gz,*_t2.nii.gz";
const TRUTH: &str = "ground_truth=*_seg.nii.gz";

fn json(o: &Output) -> serde_json::Value {
    super::assert_success(o);
    serde_json::from_slice(&o.stdout).expect("a JSON summary")
}

#[test]
fn collect_writes_what_h5py_reads_and_reports_skipped_cases() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    deepneuro_testkit::brats_phantoms(&cases, 3, 11, true);
    let h5 = dir.path().join("brats.h5");
    let s = json(&collect(&[
        cases.as_os_str(),
        os("--group"),
        os(INPUT),
        os("--group"),
        os(TRUTH),
        os("--out"),
        h5.as_os_str(),
        os("--json"),
    ]));
    assert_eq!(s["cases_written"], 3, "{s}");
    let skipped: Vec<&str> = s["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["case"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["BraTS_Phantom_ambiguous", "BraTS_Phantom_broken"],
        "{s}"
    );
    // The independent check: h5py and nibabel against the documented layout.
    let out = run_python(
        &script("fixtures/data_h5py_check.py"),
        [
            os("check"),
            h5.as_os_str(),
            cases.as_os_str(),
            os("--group"),
            os("input=flair,t1,t1ce,t2"),
            os("--group"),
            os("ground_truth=seg"),
        ],
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
    // --info describes it.
    let info = json(&collect(&[h5.as_os_str(), os("--info"), os("--json")]));
    assert_eq!(info["cases"], 3);
    let shapes: Vec<Vec<u64>> = info["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            g["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(shapes[0][..2], [3, 4], "{info}");
    assert_eq!(shapes[1][..2], [3, 1], "{info}");
    // Patches at collect time: count rows per case, same seed same file content.
    let patches = dir.path().join("patches.h5");
    let s = json(&collect(&[
        cases.as_os_str(),
        os("--group"),
        os(INPUT),
        os("--group"),
        os(TRUTH),
        os("--augment"),
        os("patches(size=32x32x32,count=5,label=ground_truth,label_fraction=0.6,fallback=true); flip(axes=0,p=0.5)"),
        os("--seed"),
        os("3"),
        os("--out"),
        patches.as_os_str(),
        os("--json"),
    ]));
    assert_eq!(s["rows"], 15, "{s}");
    assert_eq!(
        s["shapes"]["input"],
        serde_json::json!([15, 4, 32, 32, 32]),
        "{s}"
    );
}

#[test]
fn collect_bad_input_exit_codes_and_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    deepneuro_testkit::brats_phantoms(&cases, 1, 5, false);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let h5 = out_dir.join("x.h5");
    let missing = dir.path().join("nope");
    let not_h5 = cases.join("BraTS_Phantom_000");
    for (args, code, mention) in [
        (
            vec![
                missing.as_os_str(),
                os("--group"),
                os(TRUTH),
                os("--out"),
                h5.as_os_str(),
            ],
            3,
            "nope",
        ),
        (
            vec![
                cases.as_os_str(),
                os("--group"),
                os("input=*_nothing.nii.gz"),
                os("--out"),
                h5.as_os_str(),
            ],
            3,
            "no usable case",
        ),
        (
            vec![
                cases.as_os_str(),
                os("--group"),
                os(TRUTH),
                os("--augment"),
                os("twirl(p=1)"),
                os("--out"),
                h5.as_os_str(),
            ],
            2,
            "twirl",
        ),
        (
            vec![cases.as_os_str(), os("--out"), h5.as_os_str()],
            2,
            "--group",
        ),
        (
            vec![not_h5.as_os_str(), os("--info")],
            3,
            "BraTS_Phantom_000",
        ),
    ] {
        let o = collect(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(mention), "'{mention}' not in: {err}");
        assert!(
            super::listing(&out_dir).is_empty(),
            "{:?}",
            super::listing(&out_dir)
        );
    }
    // An output folder that does not exist: exit 4, nothing written.
    let o = collect(&[
        cases.as_os_str(),
        os("--group"),
        os(TRUTH),
        os("--out"),
        dir.path().join("no/such/dir/x.h5").as_os_str(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

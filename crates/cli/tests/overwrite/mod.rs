//! An output that is one of the command's inputs (the same path, `./x` for
//! `x`, a symlink or a hard link to it) is refused with exit 2 before
//! anything is read or written: the input stays byte for byte as it was.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Files {
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

impl Files {
    /// A folder with two small volumes, `a.nii.gz` and `b.nii.gz`.
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().to_path_buf();
        super::write_small_volume(&p.join("a.nii.gz"));
        super::write_small_volume(&p.join("b.nii.gz"));
        Files { _dir: dir, dir: p }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Every file's name and bytes, to show that nothing changed.
    fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        super::listing(&self.dir)
            .into_iter()
            .map(|n| {
                let bytes = std::fs::read(self.dir.join(&n)).unwrap_or_default();
                (n, bytes)
            })
            .collect()
    }

    /// Runs `deepneuro ARGS` in the folder and checks the refusal: exit 2,
    /// one line that names `mentions`, and every file as it was.
    fn refused(&self, args: &[&str], mentions: &str) {
        let before = self.snapshot();
        let o = self.run(args);
        let err = super::stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(mentions), "{err} should name {mentions}");
        assert!(err.contains("input"), "{err} should say it is an input");
        assert!(self.snapshot() == before, "{args:?} changed the folder");
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_deepneuro"))
            .args(args.iter().map(OsStr::new))
            .current_dir(&self.dir)
            .env_remove("DEEPNEURO_LOG")
            .output()
            .expect("the binary runs")
    }
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn convert_refuses_to_overwrite_its_input() {
    let f = Files::new();
    f.refused(&["convert", "a.nii.gz", "a.nii.gz"], "a.nii.gz");
    f.refused(&["convert", "a.nii.gz", "./a.nii.gz"], "a.nii.gz");
    // An absolute input and a relative output that walks through a folder.
    std::fs::create_dir(f.path("sub")).unwrap();
    let abs = f.path("a.nii.gz");
    f.refused(
        &["convert", abs.to_str().unwrap(), "sub/../a.nii.gz"],
        "a.nii.gz",
    );
}

#[test]
fn convert_refuses_a_symlink_or_hard_link_to_its_input() {
    let f = Files::new();
    symlink(&f.path("a.nii.gz"), &f.path("link.nii.gz"));
    f.refused(&["convert", "a.nii.gz", "link.nii.gz"], "link.nii.gz");
    f.refused(&["convert", "link.nii.gz", "a.nii.gz"], "a.nii.gz");
    assert!(std::fs::symlink_metadata(f.path("link.nii.gz"))
        .unwrap()
        .file_type()
        .is_symlink());
    std::fs::hard_link(f.path("a.nii.gz"), f.path("hard.nii.gz")).unwrap();
    f.refused(&["convert", "a.nii.gz", "hard.nii.gz"], "hard.nii.gz");
    // A symlinked folder on the way to the input.
    symlink(&f.dir, &f.path("same"));
    f.refused(&["convert", "a.nii.gz", "same/a.nii.gz"], "a.nii.gz");
    // Another file is written as before.
    let o = f.run(&["convert", "a.nii.gz", "c.nii"]);
    super::assert_success(&o);
}

#[test]
fn preprocess_steps_refuse_to_overwrite_an_input() {
    let f = Files::new();
    f.refused(&["preprocess", "n4", "a.nii.gz", "a.nii.gz"], "a.nii.gz");
    f.refused(
        &[
            "preprocess",
            "n4",
            "a.nii.gz",
            "c.nii.gz",
            "--mask",
            "c.nii.gz",
        ],
        "c.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "n4",
            "a.nii.gz",
            "c.nii.gz",
            "--bias-field",
            "a.nii.gz",
        ],
        "a.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "n4",
            "a.nii.gz",
            "c.nii.gz",
            "--tool",
            "ants",
            "--mask",
            "./c.nii.gz",
        ],
        "c.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "normalize",
            "a.nii.gz",
            "b.nii.gz",
            "--zscore",
            "--mask",
            "b.nii.gz",
        ],
        "b.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "normalize",
            "a.nii.gz",
            "b.nii.gz",
            "--histogram-match",
            "b.nii.gz",
        ],
        "b.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "resample",
            "a.nii.gz",
            "a.nii.gz",
            "--spacing",
            "2",
        ],
        "a.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "resample",
            "a.nii.gz",
            "b.nii.gz",
            "--like",
            "b.nii.gz",
        ],
        "b.nii.gz",
    );
    f.refused(
        &["preprocess", "register", "a.nii.gz", "b.nii.gz", "a.nii.gz"],
        "a.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "register",
            "a.nii.gz",
            "b.nii.gz",
            "c.nii.gz",
            "--matrix",
            "b.nii.gz",
        ],
        "b.nii.gz",
    );
    f.refused(
        &[
            "preprocess",
            "register",
            "a.nii.gz",
            "b.nii.gz",
            "c.nii.gz",
            "--itk-transform",
            "a.nii.gz",
        ],
        "a.nii.gz",
    );
}

#[test]
fn two_outputs_on_one_file_are_refused() {
    let f = Files::new();
    let before = f.snapshot();
    let o = f.run(&[
        "preprocess",
        "n4",
        "a.nii.gz",
        "c.nii.gz",
        "--bias-field",
        "./c.nii.gz",
    ]);
    let err = super::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("c.nii.gz"), "{err}");
    assert!(f.snapshot() == before);
}

#[test]
fn predict_dicom_seg_and_collect_refuse_to_overwrite_an_input() {
    let f = Files::new();
    // The check comes before the model is loaded: it need not exist.
    f.refused(
        &[
            "predict", "--model", "m.pt", "--input", "a.nii.gz", "--output", "a.nii.gz",
        ],
        "a.nii.gz",
    );
    std::fs::write(f.path("m.pt"), b"not a model").unwrap();
    f.refused(
        &[
            "predict", "--model", "m.pt", "--input", "a.nii.gz", "--output", "m.pt",
        ],
        "m.pt",
    );
    std::fs::create_dir(f.path("dicom")).unwrap();
    f.refused(
        &[
            "dicom", "seg", "--source", "dicom", "--mask", "a.nii.gz", "--out", "a.nii.gz",
        ],
        "a.nii.gz",
    );
    // A DICOM file inside the source folder is read with the folder.
    let mut slice = vec![0u8; 128];
    slice.extend_from_slice(b"DICM");
    std::fs::write(f.path("dicom/IM1.dcm"), &slice).unwrap();
    f.refused(
        &[
            "dicom",
            "seg",
            "--source",
            "dicom",
            "--mask",
            "a.nii.gz",
            "--out",
            "dicom/IM1.dcm",
        ],
        "IM1.dcm",
    );
    f.refused(&["convert", "dicom", "./dicom/IM1.dcm"], "IM1.dcm");
    assert_eq!(std::fs::read(f.path("dicom/IM1.dcm")).unwrap(), slice);
    std::fs::write(f.path("cases.csv"), "case,t1\nx,a.nii.gz\n").unwrap();
    f.refused(
        &[
            "collect",
            "cases.csv",
            "--group",
            "input=t1",
            "--out",
            "cases.csv",
        ],
        "cases.csv",
    );
}

//! The log on stderr: `-v`/`-q`, `DEEPNEURO_LOG`, and colour only on a
//! terminal without `NO_COLOR`.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A small volume to convert: `convert` logs "converted" at info level.
fn input() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.nii");
    super::write_small_volume(&p);
    (dir, p)
}

/// Runs `deepneuro ARGS` with stderr redirected to a file, as a batch job
/// or `2> log.txt` does, and returns what was written there.
fn stderr_to_file(dir: &Path, args: &[&OsStr], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let log = dir.join("stderr.txt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepneuro"));
    cmd.args(args)
        .env_remove("DEEPNEURO_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().expect("the binary runs");
    (status.code(), std::fs::read_to_string(&log).unwrap())
}

#[test]
fn log_redirected_to_a_file_has_no_colour_codes() {
    let (_d, src) = input();
    let dir = src.parent().unwrap();
    let out = dir.join("out.nii");
    let (code, log) = stderr_to_file(
        dir,
        &[
            OsStr::new("-v"),
            OsStr::new("convert"),
            src.as_os_str(),
            out.as_os_str(),
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("INFO") && log.contains("converted"), "{log:?}");
    assert!(!log.contains("\x1b["), "escape codes in a file: {log:?}");

    // A failing command: its error line is plain text too.
    let missing = dir.join("missing.nii");
    let (code, log) = stderr_to_file(
        dir,
        &[OsStr::new("info"), missing.as_os_str()],
        &[("DEEPNEURO_LOG", "debug")],
    );
    assert_eq!(code, Some(3), "{log}");
    assert!(log.contains("missing.nii"), "{log:?}");
    assert!(!log.contains("\x1b["), "escape codes in a file: {log:?}");
}

#[test]
fn deepneuro_log_overrides_the_flags() {
    let (_d, src) = input();
    let dir = src.parent().unwrap();
    let out = dir.join("out.nii");
    let args = [
        OsStr::new("-q"),
        OsStr::new("convert"),
        src.as_os_str(),
        out.as_os_str(),
    ];
    let (code, log) = stderr_to_file(dir, &args, &[]);
    assert_eq!((code, log.as_str()), (Some(0), ""));
    let (code, log) = stderr_to_file(dir, &args, &[("DEEPNEURO_LOG", "info")]);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("converted"), "{log:?}");
    // An empty value counts as unset.
    let (code, log) = stderr_to_file(dir, &args, &[("DEEPNEURO_LOG", "")]);
    assert_eq!((code, log.as_str()), (Some(0), ""));
}

/// Runs `deepneuro -v convert` on a pseudo-terminal (util-linux `script`)
/// and returns what the terminal showed; None where `script` is missing.
fn on_a_terminal(src: &Path, out: &Path, no_color: Option<&str>) -> Option<String> {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let line = format!(
        "{} -v convert {} {}",
        quote(Path::new(env!("CARGO_BIN_EXE_deepneuro"))),
        quote(src),
        quote(out)
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_remove("DEEPNEURO_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let o = cmd.output().ok()?;
    assert!(o.status.success(), "{o:?}");
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let (_d, src) = input();
    let out = src.with_file_name("out.nii");
    let Some(shown) = on_a_terminal(&src, &out, None) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(shown.contains("converted"), "{shown:?}");
    assert!(
        shown.contains("\x1b["),
        "no colour on a terminal: {shown:?}"
    );
    // An empty NO_COLOR counts as unset; any other value turns colour off.
    let shown = on_a_terminal(&src, &out, Some("")).unwrap();
    assert!(shown.contains("\x1b["), "{shown:?}");
    let shown = on_a_terminal(&src, &out, Some("1")).unwrap();
    assert!(shown.contains("converted"), "{shown:?}");
    assert!(
        !shown.contains("\x1b["),
        "colour despite NO_COLOR: {shown:?}"
    );
}

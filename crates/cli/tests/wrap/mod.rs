//! `deepneuro wrap`: the generated script's `docker run` command line, read
//! back from a stand-in `docker` that records its arguments. The image itself
//! runs under the real Docker engine in scripts/docker/test.sh.

use super::{assert_success, deepneuro, os, stderr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `docker` that answers `info` like an engine with or without the NVIDIA
/// runtime and, for `run`, records each argument NUL-terminated and exits
/// with $STUB_EXIT.
const STUB: &str = r#"#!/bin/sh
if [ "$1" = info ]; then
  if [ "${STUB_NVIDIA:-0}" = 1 ]; then echo '{"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}'
  else echo '{"runc":{"path":"runc"}}'; fi
  exit 0
fi
: > "$STUB_LOG"
for a do printf '%s\0' "$a" >> "$STUB_LOG"; done
exit "${STUB_EXIT:-0}"
"#;

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    wrapper: PathBuf,
    stub: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let bin = root.join("bin");
    let o = deepneuro(&[
        os("wrap"),
        os("skull-strip"),
        os("--image"),
        os("example/skull strip:1"),
        os("--out"),
        bin.as_os_str(),
    ]);
    assert_success(&o);
    let wrapper = bin.join("skull-strip");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        wrapper.display().to_string()
    );
    let stub = root.join("docker-stub");
    std::fs::write(&stub, STUB).unwrap();
    chmod_x(&stub);
    Setup {
        _dir: dir,
        root,
        wrapper,
        stub,
    }
}

fn chmod_x(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs the wrapper with `shell` and returns its output and the recorded
/// `docker` arguments (empty when `docker run` was never reached).
fn run(s: &Setup, shell: &[&str], args: &[&Path], env: &[(&str, &str)]) -> (Output, Vec<String>) {
    let log = s.root.join("docker.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..])
        .arg(&s.wrapper)
        .args(args)
        .env("DEEPNEURO_DOCKER", &s.stub)
        .env("STUB_LOG", &log)
        .env_remove("DEEPNEURO_IMAGE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let mut recorded: Vec<String> = std::fs::read(&log)
        .map(|b| {
            b.split(|&c| c == 0)
                .map(|w| String::from_utf8(w.to_vec()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    recorded.pop(); // the empty word after the last NUL
    (o, recorded)
}

fn ids() -> String {
    let id = |flag: &str| {
        let o = Command::new("id").arg(flag).output().unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    format!("{}:{}", id("-u"), id("-g"))
}

/// The `--mount` value for a host path, as docker's CSV parser expects it.
fn mount(host: &Path, target: &str, readonly: bool) -> String {
    let host = std::fs::canonicalize(host).unwrap();
    let csv = |s: String| format!("\"{}\"", s.replace('"', "\"\""));
    format!(
        "type=bind,{},{}{}",
        csv(format!("source={}", host.display())),
        csv(format!("target={target}")),
        if readonly { ",readonly" } else { "" }
    )
}

/// Paths with spaces, quotes, `$`, `*`, `;`, `\` and commas, in different folders.
fn awkward_inputs(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let a = root.join("scans $HOME 'a'/patient \"01\", T1*");
    let b = root.join("dicom; rm -rf ~ \\ x");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let t1 = a.join("head scan (1).nii.gz");
    std::fs::write(&t1, b"not read by the stub").unwrap();
    let out = root.join("results dir/it's new/out put");
    (t1, b, out)
}

#[test]
fn wrapper_mounts_each_input_read_only_and_runs_as_the_caller() {
    let s = setup();
    let (t1, dicom, out) = awkward_inputs(&s.root);
    let dicom_arg = PathBuf::from(format!("--dicom-source={}", dicom.display()));
    let out_arg = PathBuf::from(format!("-o{}", out.display()));
    let args: Vec<&Path> = vec![
        Path::new("--t1"),
        &t1,
        Path::new("--threshold"),
        Path::new("0.4"),
        Path::new("--cpu"),
        &dicom_arg,
        &out_arg,
    ];
    for shell in [&["sh"][..], &["bash", "--posix"][..]] {
        let _ = std::fs::remove_dir_all(s.root.join("results dir"));
        let (o, argv) = run(&s, shell, &args, &[("STUB_NVIDIA", "1")]);
        assert_success(&o);
        assert!(
            out.is_dir(),
            "{shell:?}: the wrapper creates the output folder"
        );
        let expected: Vec<String> = [
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            &ids(),
            "--mount",
            &mount(&t1, "/input/1/head scan (1).nii.gz", true),
            "--mount",
            &mount(&dicom, "/input/2/dicom; rm -rf ~ \\ x", true),
            "--mount",
            &mount(&out, "/output", false),
            "example/skull strip:1",
            "--t1",
            "/input/1/head scan (1).nii.gz",
            "--threshold",
            "0.4",
            "--dicom-source",
            "/input/2/dicom; rm -rf ~ \\ x",
            "-o",
            "/output",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(argv, expected, "{shell:?}");
    }
}

#[test]
fn wrapper_adds_gpus_only_with_the_nvidia_runtime() {
    let s = setup();
    let (t1, _, out) = awkward_inputs(&s.root);
    let args = [Path::new("--t1"), &t1, Path::new("--output-folder"), &out];
    let (o, with) = run(&s, &["sh"], &args, &[("STUB_NVIDIA", "1")]);
    assert_success(&o);
    assert_eq!(
        with[1..7],
        ["--rm", "--network", "none", "--gpus", "all", "--user"]
    );
    let (o, without) = run(&s, &["sh"], &args, &[("STUB_NVIDIA", "0")]);
    assert_success(&o);
    assert!(!without.contains(&"--gpus".to_string()), "{without:?}");
    // DEEPNEURO_IMAGE overrides the image written into the wrapper.
    let (_, other) = run(&s, &["sh"], &args, &[("DEEPNEURO_IMAGE", "mine:2")]);
    assert!(other.contains(&"mine:2".to_string()), "{other:?}");
}

#[test]
fn wrapper_passes_exit_codes_and_missing_inputs_through() {
    let s = setup();
    let (_, _, out) = awkward_inputs(&s.root);
    let missing = s.root.join("no such scan.nii.gz");
    let args = [Path::new("--input"), &missing, Path::new("-o"), &out];
    let (o, argv) = run(&s, &["sh"], &args, &[("STUB_EXIT", "3")]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // Not mounted: the module itself reports the missing file, with its own code.
    let tail = &argv[argv.len() - 4..];
    assert_eq!(
        tail,
        ["--input", &missing.display().to_string(), "-o", "/output"]
    );
    assert_eq!(argv.iter().filter(|a| *a == "--mount").count(), 1);

    // An output folder that cannot be created: code 4 (as the module's), no docker run.
    let blocker = s.root.join("a file");
    std::fs::write(&blocker, b"x").unwrap();
    let bad_out = blocker.join("out");
    let t1 = s.root.join("t1.nii.gz");
    std::fs::write(&t1, b"x").unwrap();
    let args = [Path::new("--t1"), &t1, Path::new("-o"), &bad_out];
    let (o, argv) = run(&s, &["sh"], &args, &[]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("cannot create the output folder"),
        "{}",
        stderr(&o)
    );
    assert!(argv.is_empty());
}

#[test]
fn wrap_refuses_specs_it_cannot_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(
        deepneuro_testkit::workspace_root().join("pipelines/skull-strip.toml"),
    )
    .unwrap();
    let no_container = base[..base.find("[container]").unwrap()].to_string();
    let cases = [
        (no_container, "has no [container] section"),
        (
            base.replace("\"dicom-source\"", "\"dicom source; rm\""),
            "not a plain long option name",
        ),
        (
            base.replace("name = \"skull-strip\"", "name = \"x\\\"; rm -rf ~; \\\"\""),
            "module name",
        ),
    ];
    for (text, expected) in cases {
        let spec = dir.path().join("spec.toml");
        std::fs::write(&spec, text).unwrap();
        let o = deepneuro(&[
            os("wrap"),
            spec.as_os_str(),
            os("--out"),
            dir.path().as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{}", stderr(&o));
        assert!(!dir.path().join("skull-strip").exists());
    }
    let o = deepneuro(&[os("wrap"), os("no-such-module")]);
    assert_eq!(o.status.code(), Some(3));
}

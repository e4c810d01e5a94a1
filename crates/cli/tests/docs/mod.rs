//! What the command says about itself: shell completions and man pages
//! generated from its argument definitions.

use std::ffi::OsStr;
use std::process::{Command, Output};

fn deepneuro(args: &[&str]) -> Output {
    super::deepneuro(&args.iter().map(OsStr::new).collect::<Vec<_>>())
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn bash_completion_names_the_subcommands_and_parses() {
    let o = deepneuro(&["completions", "bash"]);
    super::assert_success(&o);
    let script = stdout(&o);
    for name in [
        "info",
        "convert",
        "preprocess",
        "predict",
        "collect",
        "completions",
        "man",
    ] {
        assert!(script.contains(name), "{name} missing from the script");
    }
    // Options of a nested subcommand are completed too.
    assert!(script.contains("--bias-field"), "n4's options missing");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deepneuro.bash");
    std::fs::write(&file, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    for shell in ["zsh", "fish"] {
        let o = deepneuro(&["completions", shell]);
        super::assert_success(&o);
        assert!(stdout(&o).contains("convert"), "{shell}");
    }
    let o = deepneuro(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_pages_for_the_command_and_each_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let o = deepneuro(&["man", "--out", out.to_str().unwrap()]);
    super::assert_success(&o);
    let names = super::listing(&out);
    for page in [
        "deepneuro.1",
        "deepneuro-convert.1",
        "deepneuro-preprocess.1",
        "deepneuro-preprocess-n4.1",
        "deepneuro-models.1",
        "deepneuro-completions.1",
    ] {
        assert!(names.iter().any(|n| n == page), "{page} not in {names:?}");
    }
    let main = std::fs::read_to_string(out.join("deepneuro.1")).unwrap();
    assert!(has_title(&main), "{}", &main[..main.len().min(300)]);

    // groff renders it, with the subcommands and the exit codes.
    let rendered = Command::new("groff")
        .args(["-man", "-Tutf8"])
        .arg(out.join("deepneuro.1"))
        .output();
    match rendered {
        Ok(r) => {
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            let text = String::from_utf8_lossy(&r.stdout);
            // groff marks bold with backspaces on a terminal device.
            let text = strip_overstrike(&text);
            assert!(text.contains("deepneuro-convert"), "{text}");
            assert!(text.contains("Exit codes"), "{text}");
        }
        Err(_) => eprintln!("groff not installed: checked the .TH header only"),
    }
    let n4 = std::fs::read_to_string(out.join("deepneuro-preprocess-n4.1")).unwrap();
    assert!(n4.contains("bias\\-field"), "{n4}");

    // Without --out the main page goes to stdout.
    let o = deepneuro(&["man"]);
    super::assert_success(&o);
    assert!(has_title(&stdout(&o)));
}

/// Whether a man page has its `.TH` title line (after the string
/// definitions clap_mangen puts first).
fn has_title(page: &str) -> bool {
    page.lines()
        .take(5)
        .any(|l| l.starts_with(".TH deepneuro "))
}

/// Drops groff's overstrike (`x\bx` for bold, `_\bx` for underline).
fn strip_overstrike(s: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in s.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

//! What the command says about itself: shell completions and man pages
//! generated from its argument definitions, defaults in `--help`, and the
//! README section on the command.

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

#[test]
fn readme_documents_logging_completions_and_man() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme.find("## The `deepneuro` command").unwrap();
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    for needle in [
        "NO_COLOR",
        "DEEPNEURO_LOG",
        "deepneuro completions",
        "deepneuro man",
    ] {
        assert!(section.contains(needle), "README section lacks {needle}");
    }
}

/// The subcommand paths under `path` (`["preprocess", "n4"]`, ...), from the
/// "Commands:" section of each `--help`.
fn subcommands(path: &[String], found: &mut Vec<Vec<String>>) {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let help = stdout(&deepneuro(&args));
    let Some(start) = help.find("\nCommands:\n") else {
        return;
    };
    for line in help[start + 11..].lines() {
        if line.trim().is_empty() || !line.starts_with("  ") {
            break;
        }
        let name = line.split_whitespace().next().unwrap_or("");
        if name == "help" || name.starts_with('-') {
            continue;
        }
        let mut sub = path.to_vec();
        sub.push(name.to_string());
        found.push(sub.clone());
        subcommands(&sub, found);
    }
}

/// Each option of a `--help` text that takes a value: its name and the
/// text of its entry.
fn value_options(help: &str) -> Vec<(String, String)> {
    let Some(start) = help.find("\nOptions:\n") else {
        return Vec::new();
    };
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help[start + 10..].lines() {
        let indent = line.len() - line.trim_start().len();
        if !line.trim().is_empty() && indent == 0 {
            break;
        }
        if (2..=6).contains(&indent) && line.trim_start().starts_with('-') {
            let head = line.trim_start();
            let long = head
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
                .unwrap_or(head)
                .to_string();
            entries.push((long, String::new()));
        }
        if let Some((_, text)) = entries.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    entries
        .into_iter()
        .filter(|(_, text)| text.lines().next().is_some_and(|l| l.contains(" <")))
        .collect()
}

/// Options without a default by nature: one of a set must be given (the
/// method of `normalize`, the target grid of `resample`), the option is
/// needed though clap cannot say so (`collect --group`, and `--out` unless
/// `--info`), or its text belongs to the registry crate (`models import
/// --member`).
const NO_DEFAULT: &[(&str, &str)] = &[
    ("collect", "--group"),
    ("collect", "--out"),
    ("preprocess resample", "--spacing"),
    ("preprocess resample", "--like"),
    ("preprocess normalize", "--percentiles"),
    ("preprocess normalize", "--histogram-match"),
    ("models import", "--member"),
];

#[test]
fn help_shows_every_default() {
    let o = deepneuro(&["predict", "--help"]);
    super::assert_success(&o);
    let help = stdout(&o);
    for shown in [
        "[default: 0.25]",
        "[default: constant]",
        "[default: 1]",
        "[default: auto]",
    ] {
        assert!(help.contains(shown), "{shown} missing: {help}");
    }

    // Every option that takes a value, in every subcommand, shows its
    // default, says in words what happens without it, or is required (in
    // the usage line).
    let mut paths = vec![Vec::new()];
    subcommands(&[], &mut paths);
    assert!(paths.len() > 15, "{paths:?}");
    let mut missing = Vec::new();
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = stdout(&deepneuro(&args));
        let usage = help
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .unwrap_or("")
            .to_string();
        let name = path.join(" ");
        for (option, text) in value_options(&help) {
            let required = usage.contains(&format!("{option} <"));
            let allowed = NO_DEFAULT.contains(&(name.as_str(), option.as_str()));
            if !required && !allowed && !text.to_lowercase().contains("default") {
                missing.push(format!("deepneuro {name} {option}:\n{text}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no default shown:\n{}",
        missing.join("\n")
    );
}

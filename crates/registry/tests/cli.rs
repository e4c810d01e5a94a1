//! The `models` subcommands as real processes (the `deepneuro-models` binary).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{entry_toml, payload, TestServer};

const SIZE: usize = 512 * 1024;

struct Setup {
    _dir: tempfile::TempDir,
    manifest: PathBuf,
    cache: PathBuf,
    root: PathBuf,
}

fn setup(entries: &[String]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("models.toml");
    std::fs::write(&manifest, entries.concat()).unwrap();
    Setup {
        manifest,
        cache: dir.path().join("cache"),
        root: dir.path().to_owned(),
        _dir: dir,
    }
}

fn cmd(s: &Setup, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deepneuro-models"));
    c.arg("--manifest")
        .arg(&s.manifest)
        .arg("--cache-dir")
        .arg(&s.cache)
        .args(["--read-timeout", "5", "--retries", "0"])
        .args(args)
        .env_remove("DEEPNEURO_OFFLINE")
        .env_remove("DEEPNEURO_REGISTRY")
        .env_remove("DEEPNEURO_MODELS")
        .env_remove("DEEPNEURO_HOME")
        .stdin(Stdio::null());
    c
}

fn run(s: &Setup, args: &[&str]) -> Output {
    let out = cmd(s, args).output().expect("spawn deepneuro-models");
    eprintln!(
        "$ models {args:?} -> {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cached_path(s: &Setup, name: &str, file: &str) -> PathBuf {
    s.cache.join("models").join(name).join("1.0").join(file)
}

#[test]
fn two_processes_fetch_once_and_both_succeed() {
    let body = payload(SIZE, 21);
    let server = TestServer::start(&[("w.pt", &body)]);
    // Slow enough (8 chunks × 200 ms) that the second process arrives mid-download.
    server.set(|b| b.throttle = Some(Duration::from_millis(200)));
    let s = setup(&[entry_toml("m", "w.pt", &body, &[server.url("w.pt")], None)]);

    let spawn = || {
        let mut c = cmd(&s, &["fetch", "m"]);
        c.env("RUST_LOG", "deepneuro_registry=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let mut a = spawn();
    let mut b = spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    let wait = |c: &mut std::process::Child| loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("fetch process did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(wait(&mut a).success());
    assert!(wait(&mut b).success());
    let mut logs = String::new();
    for c in [&mut a, &mut b] {
        if let Some(mut e) = c.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut logs);
        }
    }
    // One process must have found the other holding the lock: they really ran at once.
    assert!(logs.contains("waiting"), "{logs}");
    assert_eq!(server.gets(), 1, "exactly one download");
    assert_eq!(std::fs::read(cached_path(&s, "m", "w.pt")).unwrap(), body);
}

#[test]
fn list_verify_remove() {
    let body = payload(SIZE, 22);
    let other = payload(1000, 23);
    let server = TestServer::start(&[("w.pt", &body)]);
    let s = setup(&[
        entry_toml("m", "w.pt", &body, &[server.url("w.pt")], None),
        entry_toml("n", "n.pt", &other, &[server.url("n.pt")], None),
    ]);

    let out = run(&s, &["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for needle in [
        "NAME",
        "VERSION",
        "SIZE",
        "CACHED",
        "LICENSE",
        "m ",
        "1.0",
        "512.0 KiB",
        "missing",
        "MIT",
    ] {
        assert!(text.contains(needle), "list lacks {needle:?}:\n{text}");
    }

    assert!(run(&s, &["fetch", "m"]).status.success());
    let out = run(&s, &["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["name"], "m");
    assert_eq!(rows[0]["cached"], true);
    assert_eq!(rows[0]["size"], SIZE as u64);
    assert_eq!(rows[0]["license"], "MIT");
    assert_eq!(rows[1]["cached"], false);

    let out = run(&s, &["verify"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("m\tok"));
    assert!(stdout(&out).contains("n\tmissing"));

    // Tamper with one byte: verify must notice and fail with the checksum code.
    let path = cached_path(&s, "m", "w.pt");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[SIZE - 1] ^= 0x80;
    std::fs::write(&path, &bytes).unwrap();
    let out = run(&s, &["verify", "m"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(stdout(&out).contains("MISMATCH"));
    assert!(stderr(&out).contains("checksum mismatch"));

    let out = run(&s, &["remove", "m"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("m\tremoved"));
    assert!(!path.exists());
    assert!(stdout(&run(&s, &["list"])).contains("missing"));

    // A named model that is not cached is an error for verify.
    assert_eq!(run(&s, &["verify", "m"]).status.code(), Some(7));
}

#[test]
fn offline_path_fails_with_import_hint_and_no_network() {
    let body = payload(SIZE, 24);
    let server = TestServer::start(&[("w.pt", &body)]);
    let s = setup(&[entry_toml("m", "w.pt", &body, &[server.url("w.pt")], None)]);

    let out = run(&s, &["path", "m", "--offline"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(stderr(&out).contains("deepneuro models import"));
    let out = cmd(&s, &["fetch"])
        .env("DEEPNEURO_OFFLINE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(server.seen().len(), 0);

    // Online, `path` fetches and prints the cached path.
    let out = run(&s, &["path", "m"]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        cached_path(&s, "m", "w.pt").to_str().unwrap()
    );
}

#[test]
fn unknown_model_is_bad_input() {
    let s = setup(&[entry_toml("m", "w.pt", b"x", &[], None)]);
    let out = run(&s, &["fetch", "nope"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("'nope'"));
}

fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn import_wheel_members_plain_files_and_rejects_wrong_bytes() {
    let a = payload(SIZE, 25);
    let b = payload(SIZE / 2, 26);
    let s = setup(&[
        entry_toml("a", "a.pt", &a, &[], Some("data/models/a.pt")),
        entry_toml("b", "b.pt", &b, &[], Some("data/models/b.pt")),
    ]);
    let wheel = s.root.join("pkg-1.0-py3-none-any.whl");
    write_zip(
        &wheel,
        &[
            ("pkg/__init__.py", b""),
            ("data/models/a.pt", &a),
            ("data/models/b.pt", &b),
        ],
    );

    // Without flags, every declared member is imported.
    let out = run(&s, &["import", wheel.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(cached_path(&s, "a", "a.pt")).unwrap(), a);
    assert_eq!(std::fs::read(cached_path(&s, "b", "b.pt")).unwrap(), b);
    assert!(run(&s, &["verify", "a", "b"]).status.success());

    // One member by path.
    assert!(run(&s, &["remove", "--all"]).status.success());
    let out = run(
        &s,
        &[
            "import",
            wheel.to_str().unwrap(),
            "--member",
            "data/models/b.pt",
        ],
    );
    assert!(out.status.success());
    assert!(cached_path(&s, "b", "b.pt").exists());
    assert!(!cached_path(&s, "a", "a.pt").exists());

    // The member may also be named by the model's file name.
    assert!(run(&s, &["remove", "b"]).status.success());
    let out = run(&s, &["import", wheel.to_str().unwrap(), "--member", "b.pt"]);
    assert!(out.status.success());
    assert!(cached_path(&s, "b", "b.pt").exists());

    // A plain file is recognised by its hash, whatever its name.
    let plain = s.root.join("downloaded.bin");
    std::fs::write(&plain, &a).unwrap();
    assert!(run(&s, &["import", plain.to_str().unwrap()])
        .status
        .success());
    assert!(cached_path(&s, "a", "a.pt").exists());

    // Wrong bytes under a declared member: checksum error, nothing installed.
    assert!(run(&s, &["remove", "a", "b"]).status.success());
    let mut bad = a.clone();
    bad[7] ^= 1;
    let bad_wheel = s.root.join("bad.zip");
    write_zip(&bad_wheel, &[("data/models/a.pt", &bad)]);
    let out = run(&s, &["import", bad_wheel.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("expected sha256"));
    assert!(!cached_path(&s, "a", "a.pt").exists());
    assert!(!s.cache.join("models/a/1.0/a.pt.part").exists());

    // A plain file with wrong bytes and an explicit name.
    let bad_plain = s.root.join("a.pt");
    std::fs::write(&bad_plain, &bad).unwrap();
    let out = run(&s, &["import", bad_plain.to_str().unwrap(), "--name", "a"]);
    assert_eq!(out.status.code(), Some(6));

    // Nothing recognisable: bad input, with a hint.
    let junk = s.root.join("junk.bin");
    std::fs::write(&junk, b"not a model").unwrap();
    let out = run(&s, &["import", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("--name"));
}

/// The real deepbet wheel, when `scripts/registry/fetch-deepbet-wheel.sh` has put it in
/// place (or `DEEPBET_WHEEL` names it): both members import against the real models.toml.
#[test]
fn real_deepbet_wheel_imports_against_models_toml() {
    let wheel = std::env::var_os("DEEPBET_WHEEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/deepbet-wheel/deepbet-1.0.2-py3-none-any.whl")
        });
    if !wheel.exists() {
        eprintln!("skipped: {} not present", wheel.display());
        return;
    }
    let mut s = setup(&[]);
    s.manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models.toml");
    let out = run(&s, &["import", wheel.to_str().unwrap()]);
    assert!(out.status.success());
    let out = run(&s, &["verify", "deepbet-bbox", "deepbet-brain"]);
    assert!(out.status.success());
}

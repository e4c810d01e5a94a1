//! Downloads against a real HTTP server on 127.0.0.1, through the library API.

mod common;

use std::time::{Duration, Instant};

use common::{entry_toml, files_under, payload, quick_options, sha, TestServer};
use deepneuro_registry::{ensure, fetch, Registry, RegistryError};

const SIZE: usize = 300 * 1024;

fn registry(name: &str, file: &str, body: &[u8], urls: &[String]) -> Registry {
    let text = entry_toml(name, file, body, urls, None);
    Registry::parse(&text, std::path::Path::new("test.toml")).expect("valid test manifest")
}

#[test]
fn fetch_succeeds_and_checks_the_hash() {
    let body = payload(SIZE, 1);
    let server = TestServer::start(&[("w.pt", &body)]);
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let opts = quick_options(tmp.path());
    let entry = reg.find("m").unwrap();

    let path = fetch(entry, &opts).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(path, opts.cache.model_path(entry));
    assert!(!opts.cache.partial_path(entry).exists());
    assert_eq!(server.gets(), 1);

    // Cached now: neither fetch nor ensure goes back to the server.
    assert_eq!(fetch(entry, &opts).unwrap(), path);
    assert_eq!(ensure(entry, &opts).unwrap(), path);
    assert_eq!(server.gets(), 1);
}

#[test]
fn not_found_is_clear_not_retried_and_leaves_nothing() {
    let body = payload(SIZE, 2);
    let server = TestServer::start(&[]);
    let url = server.url("w.pt");
    let reg = registry("m", "w.pt", &body, std::slice::from_ref(&url));
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = quick_options(tmp.path());
    opts.network.retries = 3;

    let err = fetch(reg.find("m").unwrap(), &opts).unwrap_err();
    assert!(
        matches!(err, RegistryError::HttpStatus { status: 404, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("404") && msg.contains(&url) && msg.contains("'m'"),
        "{msg}"
    );
    assert_eq!(err.code(), deepneuro_exit::Code::Network);
    assert_eq!(server.gets(), 1, "4xx must not be retried");
    assert_eq!(
        files_under(&tmp.path().join("models")),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn flipped_byte_is_a_checksum_error_and_installs_nothing() {
    let body = payload(SIZE, 3);
    let server = TestServer::start(&[("w.pt", &body)]);
    server.set(|b| b.flip = Some(SIZE / 2));
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let opts = quick_options(tmp.path());
    let entry = reg.find("m").unwrap();

    let err = fetch(entry, &opts).unwrap_err();
    let mut flipped = body.clone();
    flipped[SIZE / 2] ^= 1;
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::ChecksumMismatch { .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&sha(&body)) && msg.contains(&sha(&flipped)),
        "{msg}"
    );
    assert_eq!(err.code(), deepneuro_exit::Code::Checksum);
    assert!(!opts.cache.model_path(entry).exists());
    assert!(!opts.cache.partial_path(entry).exists());
    assert!(files_under(&tmp.path().join("models")).is_empty());
}

#[test]
fn cut_connection_is_resumed_by_the_next_fetch() {
    let body = payload(SIZE, 4);
    let server = TestServer::start(&[("w.pt", &body)]);
    server.set(|b| {
        b.cut_first = 1;
        b.cut_at = SIZE / 2;
    });
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let opts = quick_options(tmp.path());
    let entry = reg.find("m").unwrap();

    let err = fetch(entry, &opts).unwrap_err();
    assert_eq!(err.code(), deepneuro_exit::Code::Network, "{err}");
    let kept = std::fs::metadata(opts.cache.partial_path(entry))
        .unwrap()
        .len();
    assert!(kept > 0 && kept <= (SIZE / 2) as u64, "kept {kept}");
    assert!(!opts.cache.model_path(entry).exists());

    let path = fetch(entry, &opts).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].range.as_deref(),
        Some(format!("bytes={kept}-").as_str())
    );
}

#[test]
fn cut_connection_is_resumed_within_one_fetch_when_retries_allow() {
    let body = payload(SIZE, 5);
    let server = TestServer::start(&[("w.pt", &body)]);
    server.set(|b| {
        b.cut_first = 1;
        b.cut_at = SIZE / 3;
    });
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = quick_options(tmp.path());
    opts.network.retries = 2;

    let path = fetch(reg.find("m").unwrap(), &opts).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].range.is_some());
}

#[test]
fn server_ignoring_range_still_gives_an_intact_file() {
    let body = payload(SIZE, 6);
    let server = TestServer::start(&[("w.pt", &body)]);
    server.set(|b| {
        b.cut_first = 1;
        b.cut_at = SIZE / 2;
        b.ignore_range = true;
    });
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let opts = quick_options(tmp.path());
    let entry = reg.find("m").unwrap();
    assert!(fetch(entry, &opts).is_err());
    let path = fetch(entry, &opts).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let body = payload(SIZE, 7);
    let server = TestServer::start(&[("w.pt", &body)]);
    server.set(|b| b.fail_first = 2);
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = quick_options(tmp.path());
    opts.network.retries = 3;

    fetch(reg.find("m").unwrap(), &opts).unwrap();
    assert_eq!(server.gets(), 3);
}

#[test]
fn stalled_server_fails_within_a_bounded_time() {
    let body = payload(SIZE, 8);
    let server = TestServer::start(&[("w.pt", &body)]);
    server.set(|b| b.stall = Some(Duration::from_secs(30)));
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = quick_options(tmp.path());
    opts.network.read_timeout = Duration::from_millis(500);
    opts.network.retries = 1;

    let t = Instant::now();
    let err = fetch(reg.find("m").unwrap(), &opts).unwrap_err();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(err.code(), deepneuro_exit::Code::Network);
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(server.gets(), 2, "one retry after the timeout");
}

#[test]
fn first_mirror_down_second_up() {
    let body = payload(SIZE, 9);
    let server = TestServer::start(&[("w.pt", &body)]);
    // A port that was just free: nothing listens there, so the connection is refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!(
        "http://127.0.0.1:{}/w.pt",
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    let reg = registry("m", "w.pt", &body, &[dead_url, server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let opts = quick_options(tmp.path());

    let path = fetch(reg.find("m").unwrap(), &opts).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
}

#[test]
fn all_sources_failing_lists_each_failure() {
    let body = payload(SIZE, 10);
    let server = TestServer::start(&[]);
    let urls = [server.url("a.pt"), server.url("b.pt")];
    let reg = registry("m", "w.pt", &body, &urls);
    let tmp = tempfile::tempdir().unwrap();
    let err = fetch(reg.find("m").unwrap(), &quick_options(tmp.path())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&urls[0]) && msg.contains(&urls[1]), "{msg}");
    assert!(!msg.contains('\n'));
    assert_eq!(err.code(), deepneuro_exit::Code::Network);
}

#[test]
fn mirror_base_replaces_the_urls() {
    let body = payload(SIZE, 11);
    let server = TestServer::start(&[("mirror/w.pt", &body)]);
    let reg = registry(
        "m",
        "w.pt",
        &body,
        &["https://unreachable.invalid/w.pt".to_owned()],
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = quick_options(tmp.path());
    opts.mirror = Some(format!("{}/mirror/", server.base));

    fetch(reg.find("m").unwrap(), &opts).unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "mirror/w.pt");
}

#[test]
fn file_urls_are_copied_and_checked() {
    let body = payload(SIZE, 12);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("w.pt");
    std::fs::write(&file, &body).unwrap();
    let url = format!("file://{}", file.display());
    let reg = registry("m", "w.pt", &body, &[url]);
    let tmp = tempfile::tempdir().unwrap();
    let path = fetch(reg.find("m").unwrap(), &quick_options(tmp.path())).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);

    // The same through a mirror base that is a directory.
    let tmp2 = tempfile::tempdir().unwrap();
    let mut opts = quick_options(tmp2.path());
    opts.mirror = Some(format!("file://{}", src.path().display()));
    assert!(fetch(reg.find("m").unwrap(), &opts).is_ok());
}

#[test]
fn offline_with_an_empty_cache_says_how_to_import() {
    let body = payload(SIZE, 13);
    let server = TestServer::start(&[("w.pt", &body)]);
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = quick_options(tmp.path());
    opts.offline = true;

    let err = ensure(reg.find("m").unwrap(), &opts).unwrap_err();
    assert!(
        matches!(err, RegistryError::OfflineNotCached { .. }),
        "{err}"
    );
    assert_eq!(err.code(), deepneuro_exit::Code::NotCached);
    assert!(err.to_string().contains("deepneuro models import"), "{err}");
    assert_eq!(server.seen().len(), 0, "offline must not touch the network");
}

#[test]
fn a_corrupt_cached_file_is_downloaded_again() {
    let body = payload(SIZE, 14);
    let server = TestServer::start(&[("w.pt", &body)]);
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let opts = quick_options(tmp.path());
    let entry = reg.find("m").unwrap();
    let path = fetch(entry, &opts).unwrap();
    let mut bad = body.clone();
    bad[10] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();

    fetch(entry, &opts).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(server.gets(), 2);
}

#[test]
fn wrong_content_length_is_refused_before_download() {
    let body = payload(SIZE, 15);
    let other = payload(SIZE + 10, 15);
    let server = TestServer::start(&[("w.pt", &other)]);
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let err = fetch(reg.find("m").unwrap(), &quick_options(tmp.path())).unwrap_err();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err}");
    assert_eq!(err.code(), deepneuro_exit::Code::Checksum);
    assert!(files_under(&tmp.path().join("models")).is_empty());
}

#[test]
fn a_corrupt_partial_file_is_replaced_by_a_whole_download() {
    let body = payload(SIZE, 16);
    let server = TestServer::start(&[("w.pt", &body)]);
    let reg = registry("m", "w.pt", &body, &[server.url("w.pt")]);
    let tmp = tempfile::tempdir().unwrap();
    let opts = quick_options(tmp.path());
    let entry = reg.find("m").unwrap();
    std::fs::create_dir_all(opts.cache.model_dir(entry)).unwrap();
    let mut prefix = body[..SIZE / 4].to_vec();
    prefix[5] ^= 1;
    std::fs::write(opts.cache.partial_path(entry), &prefix).unwrap();

    let path = fetch(entry, &opts).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].range.is_some() && seen[1].range.is_none());
}

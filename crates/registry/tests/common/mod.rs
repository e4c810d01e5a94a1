//! A small HTTP/1.1 server on 127.0.0.1 for the registry's tests, able to misbehave on
//! purpose: answer 404 or 503, flip a byte, cut the connection halfway, stall, go slowly.
//! It records every request so tests can assert what the client sent.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use deepneuro_registry::{sha256_reader, Cache, FetchOptions, NetworkConfig};

/// How the server behaves; tests may change it between requests.
#[derive(Debug, Clone, Default)]
pub struct Behavior {
    /// Answer this status (with a short text body) for every request.
    pub status: Option<u16>,
    /// Answer 503 to this many requests before behaving.
    pub fail_first: usize,
    /// Cut this many full-body responses after `cut_at` bytes of the body.
    pub cut_first: usize,
    /// Where the cut happens.
    pub cut_at: usize,
    /// Flip the lowest bit of the byte at this offset of every body.
    pub flip: Option<usize>,
    /// Wait this long before answering (the client should time out first).
    pub stall: Option<Duration>,
    /// Pause between 64 KiB chunks of the body.
    pub throttle: Option<Duration>,
    /// Ignore Range headers and always send the whole body.
    pub ignore_range: bool,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

pub struct TestServer {
    pub base: String,
    files: Arc<HashMap<String, Vec<u8>>>,
    pub behavior: Arc<Mutex<Behavior>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl TestServer {
    /// Serves `files` (path without the leading slash → body).
    pub fn start(files: &[(&str, &[u8])]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let files: Arc<HashMap<String, Vec<u8>>> = Arc::new(
            files
                .iter()
                .map(|(p, b)| ((*p).to_owned(), b.to_vec()))
                .collect(),
        );
        let behavior = Arc::new(Mutex::new(Behavior::default()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, b, s, st) = (files.clone(), behavior.clone(), seen.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (f, b, s, st) = (f.clone(), b.clone(), s.clone(), st.clone());
                thread::spawn(move || {
                    let _ = handle(conn, &f, &b, &s, &st);
                });
            }
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            files,
            behavior,
            seen,
            stop,
            port,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    pub fn set(&self, f: impl FnOnce(&mut Behavior)) {
        f(&mut self.behavior.lock().unwrap());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn gets(&self) -> usize {
        self.seen().iter().filter(|s| s.method == "GET").count()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that its thread ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(
    mut conn: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    behavior: &Mutex<Behavior>,
    seen: &Mutex<Vec<Seen>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts
        .next()
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let mut range = None;
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_owned());
            }
        }
    }
    if method.is_empty() {
        return Ok(());
    }
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
    });

    // Decide under the lock, act without it, so slow responses do not block other clients.
    let (b, fail) = {
        let mut b = behavior.lock().unwrap();
        let fail = b.fail_first > 0;
        if fail {
            b.fail_first -= 1;
        }
        (b.clone(), fail)
    };
    if let Some(d) = b.stall {
        let until = Instant::now() + d;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(20));
        }
        return Ok(());
    }
    if fail {
        return respond_text(&mut conn, 503, "Service Unavailable");
    }
    if let Some(status) = b.status {
        return respond_text(&mut conn, status, "as configured");
    }
    let Some(body) = files.get(&path) else {
        return respond_text(&mut conn, 404, "Not Found");
    };
    let mut body = body.clone();
    if let Some(i) = b.flip {
        if i < body.len() {
            body[i] ^= 1;
        }
    }
    let total = body.len();
    let start = match (&range, b.ignore_range) {
        (Some(r), false) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|s| s.parse::<usize>().ok()),
        _ => None,
    };
    let head = match start {
        Some(s) if s >= total => {
            let h = format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            conn.write_all(h.as_bytes())?;
            return Ok(());
        }
        Some(s) => format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{total}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            total - 1,
            total - s
        ),
        None => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n"
        ),
    };
    let slice = &body[start.unwrap_or(0)..];
    let cut_here = start.is_none() && {
        let mut b = behavior.lock().unwrap();
        let c = b.cut_first > 0;
        if c {
            b.cut_first -= 1;
        }
        c
    };
    conn.write_all(head.as_bytes())?;
    let end = if cut_here {
        b.cut_at.min(slice.len())
    } else {
        slice.len()
    };
    for chunk in slice[..end].chunks(64 * 1024) {
        conn.write_all(chunk)?;
        if let Some(t) = b.throttle {
            thread::sleep(t);
        }
    }
    conn.flush()?;
    if cut_here {
        // Close abruptly: the client has been promised more bytes than it got.
        let _ = conn.shutdown(Shutdown::Both);
    }
    Ok(())
}

fn respond_text(conn: &mut TcpStream, status: u16, text: &str) -> std::io::Result<()> {
    let h = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    conn.write_all(h.as_bytes())?;
    conn.flush()
}

/// Deterministic pseudo-random bytes (xorshift), so that a flipped byte cannot go unnoticed.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha(bytes: &[u8]) -> String {
    sha256_reader(bytes).unwrap().0
}

/// One `[[model]]` entry for a test manifest.
pub fn entry_toml(
    name: &str,
    file: &str,
    body: &[u8],
    urls: &[String],
    member: Option<&str>,
) -> String {
    let urls = urls
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let member = member
        .map(|m| format!("member = \"{m}\"\n"))
        .unwrap_or_default();
    format!(
        r#"
[[model]]
name = "{name}"
version = "1.0"
file = "{file}"
{member}size = {}
sha256 = "{}"
urls = [{urls}]
format = "torchscript"
license = "MIT"
citation = "Test citation"

[model.input]
modalities = ["T1w"]
orientation = "RAS"
shape = [1, 1, 8, 8, 8]

[model.input.normalization]
method = "zscore"
"#,
        body.len(),
        sha(body)
    )
}

/// Fast timeouts and retries so that failure tests finish in a second or two.
pub fn quick_options(cache: &Path) -> FetchOptions {
    let mut o = FetchOptions::new(Cache::new(cache));
    o.network = NetworkConfig {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        retries: 0,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    o
}

/// Every regular file under `dir`, recursively (bounded depth).
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(d: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
        if depth > 8 {
            return;
        }
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, depth + 1, out);
                } else {
                    out.push(p);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out
}

//! One HTTP transfer attempt into the partial file, resuming with a Range request when the
//! partial file already holds a prefix.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;

use crate::error::RegistryError;
use crate::fetch::NetworkConfig;
use crate::manifest::ModelEntry;

/// A client with the configured timeouts. Proxies from the environment are honoured, except
/// for loopback hosts, which a proxy could not reach anyway.
pub(crate) fn client(
    net: &NetworkConfig,
    parsed: &reqwest::Url,
    entry: &ModelEntry,
    url: &str,
) -> Result<Client, RegistryError> {
    let mut builder = Client::builder()
        .connect_timeout(net.connect_timeout)
        // In the blocking client this bounds the wait for the headers and for each body
        // read, not the whole transfer: a read timeout, as wanted for large files.
        .timeout(net.read_timeout)
        .user_agent(concat!("deepneuro-registry/", env!("CARGO_PKG_VERSION")));
    let host = parsed.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| network(entry, url, &e))
}

/// Downloads `url` into `part`, appending to what is already there when the server honours
/// a Range request. Returns once `entry.size` bytes are in `part` (not yet verified).
pub(crate) fn download(
    client: &Client,
    entry: &ModelEntry,
    url: &str,
    part: &Path,
    progress: bool,
) -> Result<(), RegistryError> {
    let mut have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if have == entry.size {
        // A complete transfer whose rename was interrupted: let the hash decide.
        return Ok(());
    }
    if have > entry.size {
        remove(part)?;
        have = 0;
    }
    let mut request = client.get(url);
    if have > 0 {
        tracing::info!(model = %entry.name, offset = have, "resuming download");
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let response = request.send().map_err(|e| network(entry, url, &e))?;
    let status = response.status();
    let append = match status {
        StatusCode::PARTIAL_CONTENT if have > 0 => {
            let start = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(range_start);
            if start != Some(have) {
                // The server sent some other range; start over rather than guess.
                remove(part)?;
                return Err(transient(
                    entry,
                    url,
                    "server answered with an unexpected range",
                ));
            }
            true
        }
        StatusCode::OK => false,
        StatusCode::RANGE_NOT_SATISFIABLE => {
            remove(part)?;
            return Err(transient(
                entry,
                url,
                "server refused to resume; restarting",
            ));
        }
        s => {
            return Err(RegistryError::HttpStatus {
                model: entry.name.clone(),
                url: url.to_owned(),
                status: s.as_u16(),
            })
        }
    };
    let offset = if append { have } else { 0 };
    // Refuse early rather than download gigabytes of the wrong file.
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = announced {
        if offset.checked_add(len) != Some(entry.size) {
            return Err(RegistryError::SizeMismatch {
                model: entry.name.clone(),
                source_name: url.to_owned(),
                expected: entry.size,
                actual: offset.saturating_add(len),
            });
        }
    }
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .map_err(|e| RegistryError::io("open", part, e))?;
    let bar = progress_bar(entry, offset, progress);
    let written = copy(response, &mut file, &bar, entry.size - offset)
        .map_err(|e| e.into_registry(entry, url, part))?;
    bar.finish_and_clear();
    file.flush()
        .map_err(|e| RegistryError::io("write", part, e))?;
    let total = offset + written;
    if total < entry.size {
        // A connection closed early without an error (no Content-Length): resumable.
        return Err(transient(
            entry,
            url,
            &format!("connection closed after {total} of {} bytes", entry.size),
        ));
    }
    Ok(())
}

enum CopyError {
    Read(std::io::Error, u64),
    Write(std::io::Error),
    TooLong,
}

impl CopyError {
    fn into_registry(self, entry: &ModelEntry, url: &str, part: &Path) -> RegistryError {
        match self {
            Self::Read(e, n) => transient(
                entry,
                url,
                &format!("transfer interrupted after {n} new bytes: {}", chain(&e)),
            ),
            Self::Write(e) => RegistryError::io("write", part, e),
            Self::TooLong => {
                let _ = std::fs::remove_file(part);
                RegistryError::SizeMismatch {
                    model: entry.name.clone(),
                    source_name: url.to_owned(),
                    expected: entry.size,
                    actual: entry.size.saturating_add(1),
                }
            }
        }
    }
}

/// Copies at most `limit` bytes; a body longer than that is an error.
fn copy(
    mut from: impl Read,
    to: &mut std::fs::File,
    bar: &ProgressBar,
    limit: u64,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match from.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Whatever arrived stays on disk for the next attempt to resume from.
                let _ = to.flush();
                return Err(CopyError::Read(e, n));
            }
        };
        if n.saturating_add(k as u64) > limit {
            return Err(CopyError::TooLong);
        }
        to.write_all(&buf[..k]).map_err(CopyError::Write)?;
        n += k as u64;
        bar.inc(k as u64);
    }
}

fn progress_bar(entry: &ModelEntry, offset: u64, wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(entry.size);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(entry.name.clone());
    bar.set_position(offset);
    bar
}

/// `bytes 100-199/200` → 100.
fn range_start(v: &str) -> Option<u64> {
    v.trim()
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn remove(part: &Path) -> Result<(), RegistryError> {
    match std::fs::remove_file(part) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(RegistryError::io("remove", part, e))
        }
        _ => Ok(()),
    }
}

fn transient(entry: &ModelEntry, url: &str, reason: &str) -> RegistryError {
    RegistryError::Network {
        model: entry.name.clone(),
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}

fn network(entry: &ModelEntry, url: &str, e: &reqwest::Error) -> RegistryError {
    let mut reason = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    reason.push_str(": ");
    // reqwest's own top line repeats the URL, which the message already names; its sources
    // carry the actual cause.
    match std::error::Error::source(e) {
        Some(inner) => reason.push_str(&chain(inner)),
        None => reason.push_str(&chain(e)),
    }
    transient(entry, url, &reason)
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = inner.source();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_content_range() {
        assert_eq!(super::range_start("bytes 100-199/200"), Some(100));
        assert_eq!(super::range_start("bytes */200"), None);
        assert_eq!(super::range_start("items 1-2/3"), None);
    }
}

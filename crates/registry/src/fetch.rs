//! Getting a model's bytes into the cache: from the network or a `file://` URL, resumably,
//! with retries, and never installing anything whose hash is wrong.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cache::Cache;
use crate::error::RegistryError;
use crate::hash;
use crate::http;
use crate::manifest::ModelEntry;

/// Timeouts and retry policy for downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Limit for establishing a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Limit for waiting on the response headers and on each read of the body; a transfer
    /// that makes progress is never cut, a stalled one is.
    pub read_timeout: Duration,
    /// Further attempts per URL after a transient failure (connection error, timeout, 5xx).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Upper bound for one wait.
    pub max_backoff: Duration,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            retries: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl NetworkConfig {
    /// The wait before retry number `attempt` (0-based).
    pub fn backoff_for(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Everything a fetch needs besides the entry.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Where files go.
    pub cache: Cache,
    /// Never touch the network; only the cache counts.
    pub offline: bool,
    /// Draw a progress bar (only ever drawn when stderr is a terminal).
    pub progress: bool,
    /// A base URL that replaces each entry's `urls` with `<mirror>/<file>`.
    pub mirror: Option<String>,
    /// Timeouts and retries.
    pub network: NetworkConfig,
}

impl FetchOptions {
    /// Defaults for `cache`: online, no progress bar, no mirror.
    pub fn new(cache: Cache) -> Self {
        Self {
            cache,
            offline: false,
            progress: false,
            mirror: None,
            network: NetworkConfig::default(),
        }
    }

    /// From the environment: `DEEPNEURO_HOME` (cache), `DEEPNEURO_OFFLINE=1`,
    /// `DEEPNEURO_REGISTRY=<base>`; a progress bar when stderr is a terminal.
    pub fn from_env() -> Result<Self, RegistryError> {
        let mut opts = Self::new(Cache::from_env()?);
        opts.offline = env_flag("DEEPNEURO_OFFLINE");
        opts.mirror = std::env::var("DEEPNEURO_REGISTRY")
            .ok()
            .filter(|v| !v.trim().is_empty());
        opts.progress = std::io::stderr().is_terminal();
        Ok(opts)
    }

    /// The URLs to try for `entry`, in order.
    pub fn sources(&self, entry: &ModelEntry) -> Vec<String> {
        match &self.mirror {
            Some(base) => vec![format!("{}/{}", base.trim_end_matches('/'), entry.file)],
            None => entry.urls.clone(),
        }
    }
}

/// True for `1`, `true`, `yes`, `on` (any case).
pub fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// The cached file if it is there with the right size, else [`fetch`]. This is what
/// pipelines call before loading weights; hashing on every run would cost seconds for large
/// models, and `models verify` exists for that.
pub fn ensure(entry: &ModelEntry, opts: &FetchOptions) -> Result<PathBuf, RegistryError> {
    if opts.cache.is_cached(entry) {
        return Ok(opts.cache.model_path(entry));
    }
    fetch(entry, opts)
}

/// Makes sure the cache holds `entry` with every byte verified, downloading it if needed,
/// and returns its path. Offline, only the cache is consulted.
pub fn fetch(entry: &ModelEntry, opts: &FetchOptions) -> Result<PathBuf, RegistryError> {
    let cache = &opts.cache;
    let dest = cache.model_path(entry);
    if opts.offline {
        // No lock here: an air-gapped site may share a read-only cache.
        if !dest.exists() {
            return Err(RegistryError::OfflineNotCached {
                model: entry.name.clone(),
                path: dest,
            });
        }
        let (sha, len) = hash::sha256_file(&dest)?;
        hash::check(entry, &dest.display().to_string(), len, &sha)?;
        return Ok(dest);
    }

    let _lock = cache.lock(entry)?;
    // Another process may have finished the download while this one waited for the lock.
    if dest.exists() {
        let (sha, len) = hash::sha256_file(&dest)?;
        match hash::check(entry, &dest.display().to_string(), len, &sha) {
            Ok(()) => return Ok(dest),
            Err(e) => {
                tracing::warn!("{e}; downloading it again");
                std::fs::remove_file(&dest).map_err(|e| RegistryError::io("remove", &dest, e))?;
            }
        }
    }

    let sources = opts.sources(entry);
    if sources.is_empty() {
        return Err(RegistryError::BadUrl {
            model: entry.name.clone(),
            url: String::new(),
            reason: "models.toml lists no URL and DEEPNEURO_REGISTRY is not set; use `deepneuro models import <file>`".into(),
        });
    }
    cache.ensure_dir(entry)?;
    let mut errors = Vec::new();
    for (i, url) in sources.iter().enumerate() {
        match fetch_from(entry, opts, url) {
            Ok(()) => return cache.install(entry, &cache.partial_path(entry)),
            Err(e) => {
                // The last failure is in the returned error; earlier ones are worth a warning
                // because a later source may still succeed and hide them.
                if i + 1 < sources.len() {
                    tracing::warn!("{e}; trying the next source");
                }
                errors.push(e);
            }
        }
    }
    // Keep a non-empty partial file for the next attempt to resume; anything else goes, so
    // that a failed fetch leaves no trace in the cache.
    let part = cache.partial_path(entry);
    if std::fs::metadata(&part)
        .map(|m| m.len() == 0)
        .unwrap_or(false)
    {
        let _ = std::fs::remove_file(&part);
    }
    cache.prune_empty_dirs(entry);
    Err(if errors.len() == 1 {
        errors.remove(0)
    } else {
        RegistryError::AllSourcesFailed {
            model: entry.name.clone(),
            errors,
        }
    })
}

/// Brings the complete, verified file to the partial path from one URL.
fn fetch_from(entry: &ModelEntry, opts: &FetchOptions, url: &str) -> Result<(), RegistryError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| RegistryError::BadUrl {
        model: entry.name.clone(),
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let part = opts.cache.partial_path(entry);
    let resumed = std::fs::metadata(&part).is_ok_and(|m| m.len() > 0);
    transfer(entry, opts, url, &parsed, &part)?;
    match verify_part(entry, url, &part) {
        // The kept prefix may come from an older upstream file or a damaged disk; one clean
        // transfer settles whether this source is at fault.
        Err(e) if resumed && e.code() == deepneuro_exit::Code::Checksum => {
            tracing::warn!("{e}; the resumed file is wrong, downloading it whole");
            transfer(entry, opts, url, &parsed, &part)?;
            verify_part(entry, url, &part)
        }
        other => other,
    }
}

/// Hashes the partial file; wrong bytes are deleted, never worth resuming from.
fn verify_part(entry: &ModelEntry, url: &str, part: &Path) -> Result<(), RegistryError> {
    let (sha, len) = hash::sha256_file(part)?;
    hash::check(entry, url, len, &sha).inspect_err(|_| {
        let _ = std::fs::remove_file(part);
    })
}

/// Brings `entry.size` bytes into `part`, retrying transient HTTP failures.
fn transfer(
    entry: &ModelEntry,
    opts: &FetchOptions,
    url: &str,
    parsed: &reqwest::Url,
    part: &Path,
) -> Result<(), RegistryError> {
    match parsed.scheme() {
        "file" => copy_file_url(entry, parsed, url, part),
        "http" | "https" => {
            let client = http::client(&opts.network, parsed, entry, url)?;
            let mut attempt = 0;
            loop {
                match http::download(&client, entry, url, part, opts.progress) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.is_transient() && attempt < opts.network.retries => {
                        let wait = opts.network.backoff_for(attempt);
                        tracing::warn!("{e}; retrying in {wait:?}");
                        std::thread::sleep(wait);
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        other => Err(RegistryError::BadUrl {
            model: entry.name.clone(),
            url: url.to_owned(),
            reason: format!("unsupported scheme '{other}'"),
        }),
    }
}

fn copy_file_url(
    entry: &ModelEntry,
    parsed: &reqwest::Url,
    url: &str,
    part: &Path,
) -> Result<(), RegistryError> {
    let src = parsed.to_file_path().map_err(|()| RegistryError::BadUrl {
        model: entry.name.clone(),
        url: url.to_owned(),
        reason: "not a local absolute path".into(),
    })?;
    std::fs::copy(&src, part).map_err(|e| RegistryError::io("copy", &src, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let n = NetworkConfig {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..NetworkConfig::default()
        };
        assert_eq!(n.backoff_for(0), Duration::from_millis(100));
        assert_eq!(n.backoff_for(1), Duration::from_millis(200));
        assert_eq!(n.backoff_for(2), Duration::from_millis(350));
        assert_eq!(n.backoff_for(u32::MAX), Duration::from_millis(350));
    }
}

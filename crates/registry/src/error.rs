//! The one error type of the registry, with the exit code (of the one table) each case maps to.

use std::path::PathBuf;

use deepneuro_exit::Code;

/// Everything that can go wrong in the registry. Each message is one line that names the
/// model, file or URL involved and the reason, so that it can be printed as it is.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// `models.toml` could not be read.
    #[error("cannot read model registry {path}: {source}")]
    ManifestRead {
        path: PathBuf,
        source: std::io::Error,
    },

    /// `models.toml` is not valid TOML or does not follow the schema.
    #[error("invalid model registry {path}: {reason}")]
    ManifestInvalid { path: PathBuf, reason: String },

    /// No entry of that name exists in `models.toml`.
    #[error("model '{name}' is not in the registry (known: {known})")]
    ModelNotFound { name: String, known: String },

    /// Neither `$DEEPNEURO_HOME` nor an XDG cache directory could be determined.
    #[error("no cache directory: set DEEPNEURO_HOME (or XDG_CACHE_HOME or HOME)")]
    NoCacheDir,

    /// A local file-system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// A URL of an entry cannot be used (bad syntax or an unsupported scheme).
    #[error("model '{model}': unusable URL {url}: {reason}")]
    BadUrl {
        model: String,
        url: String,
        reason: String,
    },

    /// The server answered with an HTTP error status.
    #[error("model '{model}': {url} answered HTTP {status}")]
    HttpStatus {
        model: String,
        url: String,
        status: u16,
    },

    /// The transfer failed: connection refused or cut, timeout, unreadable body.
    #[error("model '{model}': download from {url} failed: {reason}")]
    Network {
        model: String,
        url: String,
        reason: String,
    },

    /// The bytes arrived but their SHA-256 is not the one in `models.toml`.
    #[error("model '{model}': checksum mismatch for {source_name}: expected sha256 {expected}, got {actual}")]
    ChecksumMismatch {
        model: String,
        source_name: String,
        expected: String,
        actual: String,
    },

    /// The bytes arrived but their length is not the one in `models.toml`.
    #[error(
        "model '{model}': size mismatch for {source_name}: expected {expected} bytes, got {actual}"
    )]
    SizeMismatch {
        model: String,
        source_name: String,
        expected: u64,
        actual: u64,
    },

    /// Offline mode is on and the file is not in the cache.
    #[error("model '{model}' is not cached at {path} and offline mode is on: run `deepneuro models fetch {model}` on a machine with network access, or copy the file here and run `deepneuro models import <file|.whl|.zip>`")]
    OfflineNotCached { model: String, path: PathBuf },

    /// A command that only reads the cache found nothing there.
    #[error("model '{model}' is not cached at {path}: run `deepneuro models fetch {model}` or `deepneuro models import <file>`")]
    NotCached { model: String, path: PathBuf },

    /// An archive given to `import` cannot be read.
    #[error("cannot read archive {path}: {reason}")]
    Archive { path: PathBuf, reason: String },

    /// `import` found nothing in its input that matches `models.toml`.
    #[error("nothing to import from {path}: {reason}")]
    NothingToImport { path: PathBuf, reason: String },

    /// Every source of one model failed; the message lists each failure in order.
    #[error("model '{model}': all {} sources failed: {}", .errors.len(), join(model, .errors))]
    AllSourcesFailed {
        model: String,
        errors: Vec<RegistryError>,
    },
}

/// The inner messages without their repeated "model 'x': " prefix, separated by "; ".
fn join(model: &str, errors: &[RegistryError]) -> String {
    let prefix = format!("model '{model}': ");
    errors
        .iter()
        .map(|e| {
            let s = e.to_string();
            s.strip_prefix(&prefix).map(str::to_owned).unwrap_or(s)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl RegistryError {
    /// The exit code for this error, from the project's one table.
    pub fn code(&self) -> Code {
        match self {
            Self::ManifestRead { .. }
            | Self::ManifestInvalid { .. }
            | Self::ModelNotFound { .. }
            | Self::BadUrl { .. }
            | Self::Archive { .. }
            | Self::NothingToImport { .. } => Code::Input,
            Self::NoCacheDir | Self::Io { .. } => Code::Output,
            Self::HttpStatus { .. } | Self::Network { .. } => Code::Network,
            Self::ChecksumMismatch { .. } | Self::SizeMismatch { .. } => Code::Checksum,
            Self::OfflineNotCached { .. } | Self::NotCached { .. } => Code::NotCached,
            // A checksum failure on any source matters more than a network failure on another:
            // it means someone serves wrong bytes.
            Self::AllSourcesFailed { errors, .. } => errors
                .iter()
                .map(Self::code)
                .find(|&c| c == Code::Checksum)
                .or_else(|| errors.last().map(Self::code))
                .unwrap_or(Code::Network),
        }
    }

    /// Whether retrying the same URL may help: connection problems and 5xx, never 4xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network { .. } => true,
            Self::HttpStatus { status, .. } => *status >= 500,
            _ => false,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

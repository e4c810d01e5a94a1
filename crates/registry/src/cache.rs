//! The cache directory: where verified weights live, and the per-model lock that keeps
//! concurrent processes from downloading twice or writing over each other.
//!
//! Layout under the root:
//! - `models/<name>/<version>/<file>`: a verified weight file (only ever created by rename);
//! - `models/<name>/<version>/<file>.part`: a transfer in progress or interrupted, resumable;
//! - `locks/<name>-<version>.lock`: the lock file of that model version.
//!
//! Lock files live outside `models/` and are never deleted: deleting a lock file while
//! another process waits on it would let a third process lock a different file of the same
//! name, and both would then write.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

use crate::error::RegistryError;
use crate::hash;
use crate::manifest::ModelEntry;

/// A cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

/// What the cache holds for one model, judged by size only (cheap); see [`Cache::verify`]
/// for a full check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    /// Nothing.
    Missing,
    /// An interrupted transfer with this many bytes.
    Partial(u64),
    /// The file, with the expected size.
    Present,
    /// A file whose size differs from `models.toml` (tampered or from another version).
    WrongSize(u64),
}

/// Result of hashing a cached file.
#[derive(Debug)]
pub enum Verification {
    /// The file matches `models.toml`.
    Ok,
    /// No file in the cache.
    Missing,
    /// The file differs; the error names expected and actual values.
    Mismatch(RegistryError),
}

/// An exclusive lock on one model version, released when dropped (closing the file releases
/// the OS lock, also when the process dies).
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

impl Cache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$DEEPNEURO_HOME`, else `$XDG_CACHE_HOME/deepneuro`, else `$HOME/.cache/deepneuro`,
    /// else `%LOCALAPPDATA%\deepneuro`.
    pub fn from_env() -> Result<Self, RegistryError> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(home) = var("DEEPNEURO_HOME") {
            return Ok(Self::new(home));
        }
        if let Some(xdg) = var("XDG_CACHE_HOME") {
            return Ok(Self::new(xdg.join("deepneuro")));
        }
        if let Some(home) = var("HOME") {
            return Ok(Self::new(home.join(".cache").join("deepneuro")));
        }
        if let Some(local) = var("LOCALAPPDATA") {
            return Ok(Self::new(local.join("deepneuro")));
        }
        Err(RegistryError::NoCacheDir)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of one model version.
    pub fn model_dir(&self, entry: &ModelEntry) -> PathBuf {
        self.root
            .join("models")
            .join(&entry.name)
            .join(&entry.version)
    }

    /// Where the verified file lives (whether or not it is there).
    pub fn model_path(&self, entry: &ModelEntry) -> PathBuf {
        self.model_dir(entry).join(&entry.file)
    }

    /// Where an unfinished transfer is kept.
    pub fn partial_path(&self, entry: &ModelEntry) -> PathBuf {
        self.model_dir(entry).join(format!("{}.part", entry.file))
    }

    /// The lock file of one model version.
    pub fn lock_path(&self, entry: &ModelEntry) -> PathBuf {
        self.root
            .join("locks")
            .join(format!("{}-{}.lock", entry.name, entry.version))
    }

    /// Takes the model's exclusive lock, waiting for another holder to finish.
    pub fn lock(&self, entry: &ModelEntry) -> Result<CacheLock, RegistryError> {
        let path = self.lock_path(entry);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RegistryError::io("create", dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| RegistryError::io("open lock file", &path, e))?;
        match file.try_lock_exclusive() {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(model = %entry.name, lock = %path.display(), "another process holds the model; waiting");
                file.lock_exclusive()
                    .map_err(|e| RegistryError::io("lock", &path, e))?;
            }
            Err(e) => return Err(RegistryError::io("lock", &path, e)),
        }
        Ok(CacheLock { _file: file })
    }

    /// What the cache holds for `entry`, by file size.
    pub fn state(&self, entry: &ModelEntry) -> CacheState {
        if let Ok(meta) = std::fs::metadata(self.model_path(entry)) {
            return if meta.len() == entry.size {
                CacheState::Present
            } else {
                CacheState::WrongSize(meta.len())
            };
        }
        match std::fs::metadata(self.partial_path(entry)) {
            Ok(meta) => CacheState::Partial(meta.len()),
            Err(_) => CacheState::Missing,
        }
    }

    /// Whether the file is there with the expected size.
    pub fn is_cached(&self, entry: &ModelEntry) -> bool {
        self.state(entry) == CacheState::Present
    }

    /// Hashes the cached file and compares it with `models.toml`.
    pub fn verify(&self, entry: &ModelEntry) -> Result<Verification, RegistryError> {
        let path = self.model_path(entry);
        if !path.exists() {
            return Ok(Verification::Missing);
        }
        let (sha, len) = hash::sha256_file(&path)?;
        match hash::check(entry, &path.display().to_string(), len, &sha) {
            Ok(()) => Ok(Verification::Ok),
            Err(e) => Ok(Verification::Mismatch(e)),
        }
    }

    /// Deletes the file and any partial transfer; returns whether anything was deleted.
    pub fn remove(&self, entry: &ModelEntry) -> Result<bool, RegistryError> {
        let _lock = self.lock(entry)?;
        let mut removed = false;
        for path in [self.model_path(entry), self.partial_path(entry)] {
            match std::fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RegistryError::io("remove", &path, e)),
            }
        }
        self.prune_empty_dirs(entry);
        Ok(removed)
    }

    /// Moves a verified file into place. The caller holds the lock and has checked the bytes;
    /// the rename is atomic, so readers see either no file or the whole file.
    pub(crate) fn install(
        &self,
        entry: &ModelEntry,
        verified: &Path,
    ) -> Result<PathBuf, RegistryError> {
        let dest = self.model_path(entry);
        if let Ok(f) = File::open(verified) {
            // Flush the data before the rename so that a crash cannot leave a renamed but
            // empty file behind.
            let _ = f.sync_all();
        }
        std::fs::rename(verified, &dest).map_err(|e| RegistryError::io("install", &dest, e))?;
        if let Ok(dir) = File::open(self.model_dir(entry)) {
            let _ = dir.sync_all();
        }
        tracing::info!(model = %entry.name, path = %dest.display(), "installed");
        Ok(dest)
    }

    /// Creates the model's directory.
    pub(crate) fn ensure_dir(&self, entry: &ModelEntry) -> Result<PathBuf, RegistryError> {
        let dir = self.model_dir(entry);
        std::fs::create_dir_all(&dir).map_err(|e| RegistryError::io("create", &dir, e))?;
        Ok(dir)
    }

    /// Removes the model's version and name directories when empty, so that a failed fetch
    /// leaves no trace under `models/`. Errors are ignored: a non-empty directory is expected.
    pub(crate) fn prune_empty_dirs(&self, entry: &ModelEntry) {
        let dir = self.model_dir(entry);
        if std::fs::remove_dir(&dir).is_ok() {
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

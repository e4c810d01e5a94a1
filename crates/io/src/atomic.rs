use crate::IoError;
use std::io::Write;
use std::path::Path;

/// Writes `path` through a temporary file in the same folder, renamed into
/// place only after every byte is written and flushed, so that readers and
/// batch scripts never see a half-written output.
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<(), IoError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let unwritable = |reason: String| IoError::Unwritable {
        path: path.to_path_buf(),
        reason,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".deepneuro-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| unwritable(e.to_string()))?;
    {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        fill(&mut buf).map_err(|e| unwritable(e.to_string()))?;
        buf.flush().map_err(|e| unwritable(e.to_string()))?;
    }
    // Temporary files are created private (0600); the output is an ordinary
    // file that colleagues and pipelines in the same group can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| unwritable(e.to_string()))?;
    }
    tmp.persist(path)
        .map_err(|e| unwritable(e.error.to_string()))?;
    Ok(())
}

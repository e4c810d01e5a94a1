use deepneuro_volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// Why a file could not be read or written. Every variant names the file.
#[derive(Debug, Error)]
pub enum IoError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: unknown file type (expected .nii, .nii.gz, .nrrd or .nhdr)", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{}: not a valid {format} file: {reason}", path.display())]
    BadHeader {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("{}: corrupt gzip data: {reason}", path.display())]
    Gzip { path: PathBuf, reason: String },
    #[error("{}: truncated: the header needs {expected} bytes of voxel data, the file has {actual}", path.display())]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("{}: unsupported datatype {what}", path.display())]
    UnsupportedDatatype { path: PathBuf, what: String },
    #[error("{}: impossible dimensions {dims:?}: {reason}", path.display())]
    BadDimensions {
        path: PathBuf,
        dims: Vec<i64>,
        reason: String,
    },
    #[error("{}: {source}", path.display())]
    Volume {
        path: PathBuf,
        #[source]
        source: VolumeError,
    },
    #[error("{}: cannot write: {reason}", path.display())]
    Unwritable { path: PathBuf, reason: String },
}

impl IoError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> IoError {
        IoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            IoError::Io { path, .. }
            | IoError::UnknownFormat { path }
            | IoError::BadHeader { path, .. }
            | IoError::Gzip { path, .. }
            | IoError::Truncated { path, .. }
            | IoError::UnsupportedDatatype { path, .. }
            | IoError::BadDimensions { path, .. }
            | IoError::Volume { path, .. }
            | IoError::Unwritable { path, .. } => path,
        }
    }

    /// True when the problem is with writing the output, not the input.
    pub fn is_output_error(&self) -> bool {
        matches!(self, IoError::Unwritable { .. })
    }
}

use std::path::{Path, PathBuf};
use thiserror::Error;

use deepneuro_exit::Code;

/// Why DICOM input could not be read or DICOM output written. Every message
/// is one line naming the file or folder and the reason.
#[derive(Debug, Error)]
pub enum DicomError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a readable DICOM file: {reason}", path.display())]
    NotDicom { path: PathBuf, reason: String },
    #[error("{}: no DICOM image series found ({skipped} file(s) skipped)", path.display())]
    NoSeries { path: PathBuf, skipped: usize },
    #[error("{}: {count} series found, choose one with --series <number|UID|description regex>: {list}", path.display())]
    SeveralSeries {
        path: PathBuf,
        count: usize,
        list: String,
    },
    #[error("{}: --series {selector:?} matches no series; the series are: {list}", path.display())]
    NoMatch {
        path: PathBuf,
        selector: String,
        list: String,
    },
    #[error("{}: --series {selector:?} matches {count} series, be more specific: {list}", path.display())]
    AmbiguousMatch {
        path: PathBuf,
        selector: String,
        count: usize,
        list: String,
    },
    #[error("invalid --series {selector:?}: {reason}")]
    BadSelector { selector: String, reason: String },
    #[error("{}: missing or invalid {attribute}", path.display())]
    MissingAttribute {
        path: PathBuf,
        attribute: &'static str,
    },
    #[error("{}: {reason}", path.display())]
    Geometry { path: PathBuf, reason: String },
    #[error("{}: unsupported transfer syntax {name} ({uid})", path.display())]
    UnsupportedTransferSyntax {
        path: PathBuf,
        name: String,
        uid: String,
    },
    #[error("{}: unsupported {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("{}: cannot decode pixel data: {reason}", path.display())]
    PixelData { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Mask { path: PathBuf, reason: String },
    #[error("{}: cannot write: {reason}", path.display())]
    Unwritable { path: PathBuf, reason: String },
}

impl DicomError {
    /// The exit code for this error, from the project's one table:
    /// invalid input, unwritable output, series choice needed or not
    /// matching, unsupported DICOM feature.
    pub fn code(&self) -> Code {
        match self {
            DicomError::SeveralSeries { .. }
            | DicomError::NoMatch { .. }
            | DicomError::AmbiguousMatch { .. } => Code::SeriesChoice,
            DicomError::UnsupportedTransferSyntax { .. } | DicomError::Unsupported { .. } => {
                Code::Unsupported
            }
            DicomError::Unwritable { .. } => Code::Output,
            _ => Code::Input,
        }
    }

    /// The file or folder the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DicomError::BadSelector { .. } => None,
            DicomError::Io { path, .. }
            | DicomError::NotDicom { path, .. }
            | DicomError::NoSeries { path, .. }
            | DicomError::SeveralSeries { path, .. }
            | DicomError::NoMatch { path, .. }
            | DicomError::AmbiguousMatch { path, .. }
            | DicomError::MissingAttribute { path, .. }
            | DicomError::Geometry { path, .. }
            | DicomError::UnsupportedTransferSyntax { path, .. }
            | DicomError::Unsupported { path, .. }
            | DicomError::PixelData { path, .. }
            | DicomError::Mask { path, .. }
            | DicomError::Unwritable { path, .. } => Some(path),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> DicomError {
        DicomError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn geometry(path: &Path, reason: impl Into<String>) -> DicomError {
        DicomError::Geometry {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

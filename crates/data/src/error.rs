//! The one error type of this crate: every variant names the file or case
//! it is about and the reason, in one line.

use std::path::PathBuf;

/// Why a collection could not be built, loaded, batched or written.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A folder or file could not be listed, opened or read.
    #[error("{}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },
    /// A volume file could not be read.
    #[error("case {case}: {source}")]
    Read {
        case: String,
        #[source]
        source: Box<deepneuro_io::IoError>,
    },
    /// The group specification is unusable (no groups, an empty pattern
    /// list, an invalid glob, a reserved or duplicate group name).
    #[error("invalid group specification: {reason}")]
    BadSpec { reason: String },
    /// A CSV case list that cannot be used.
    #[error("{}:{line}: {reason}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// Discovery found no usable case.
    #[error("{}: no usable case ({skipped} skipped)", path.display())]
    NoCases { path: PathBuf, skipped: usize },
    /// Channels of one case lie on different voxel grids and resampling was
    /// not requested.
    #[error("case {case}: {detail}")]
    GridMismatch { case: String, detail: String },
    /// Resampling a channel onto the case's reference grid failed.
    #[error("case {case}: resampling {group} failed: {source}")]
    Resample {
        case: String,
        group: String,
        #[source]
        source: Box<deepneuro_preprocess::PreprocessError>,
    },
    /// An HDF5 file that cannot be read or written.
    #[error("{}: HDF5: {reason}", path.display())]
    Hdf5 { path: PathBuf, reason: String },
    /// An HDF5 file that is not a deepneuro dataset of a known version.
    #[error("{}: not a deepneuro dataset: {reason}", path.display())]
    BadLayout { path: PathBuf, reason: String },
    /// A sample whose shape does not fit the dataset or batch it goes into.
    #[error("case {case}: group {group} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        case: String,
        group: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    /// The augmentation failed on a case.
    #[error("case {case}: augmentation failed: {source}")]
    Augment {
        case: String,
        #[source]
        source: Box<deepneuro_augment::AugmentError>,
    },
    /// A case index outside the collection.
    #[error("case index {index} is out of range (the collection has {len} cases)")]
    CaseIndex { index: usize, len: usize },
    /// Options that cannot work together (a zero batch size, ...).
    #[error("invalid option {name}: {reason}")]
    BadOption { name: &'static str, reason: String },
    /// The output could not be written (nothing partial is left).
    #[error("{}: cannot write: {reason}", path.display())]
    Unwritable { path: PathBuf, reason: String },
    /// A prefetch worker thread stopped without an answer (a bug).
    #[error("a prefetch worker stopped unexpectedly: {reason}")]
    Worker { reason: String },
}

impl DataError {
    /// True when the problem is with writing the output, not the input
    /// (the CLI maps it to its "output cannot be written" exit code).
    pub fn is_output_error(&self) -> bool {
        matches!(self, DataError::Unwritable { .. })
    }

    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> DataError {
        DataError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }

    pub(crate) fn hdf5(path: &std::path::Path, e: impl std::fmt::Display) -> DataError {
        DataError::Hdf5 {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

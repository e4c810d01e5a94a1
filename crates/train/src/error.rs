//! [`TrainError`]: why a training run could not start or stopped.

use deepneuro_core::first_line;
use std::path::PathBuf;

/// Why training failed. Messages are one line and name the file or config
/// field and the reason.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The config file could not be read or parsed.
    #[error("{path}: {reason}", path = .path.display())]
    ConfigFile {
        /// The config file (or `<inline>`).
        path: PathBuf,
        /// What is wrong, with the line when known.
        reason: String,
    },
    /// A config field has an invalid value.
    #[error("config field `{field}`: {reason}")]
    Config {
        /// The field, dotted (`optimizer.learning_rate`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The data could not be opened or loaded.
    #[error("data: {0}")]
    Data(#[from] deepneuro_data::DataError),
    /// The augmentation spec is invalid.
    #[error("data.augment: {0}")]
    Augment(#[from] deepneuro_augment::AugmentError),
    /// The model could not be built, run or saved.
    #[error("model: {0}")]
    Model(#[from] deepneuro_models::ModelError),
    /// The label maps do not say which BraTS label scheme they follow.
    #[error("{path}: {reason}", path = .path.display())]
    LabelScheme {
        /// The data source (or the label map at fault).
        path: PathBuf,
        /// What was found and what to set.
        reason: String,
    },
    /// A recipe's data folder has no usable case.
    #[error("{path}: {reason}", path = .path.display())]
    DataFolder {
        /// The folder.
        path: PathBuf,
        /// Why no case could be used.
        reason: String,
    },
    /// The device could not be used.
    #[error("device: {0}")]
    Device(String),
    /// A log or checkpoint file could not be written.
    #[error("{path}: {reason}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
    /// libtorch refused an operation.
    #[error("libtorch: {}", first_line(.0))]
    Torch(#[from] tch::TchError),
}

impl TrainError {
    pub(crate) fn config(field: &str, reason: impl Into<String>) -> Self {
        TrainError::Config {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            reason: first_line(&e),
        }
    }
}

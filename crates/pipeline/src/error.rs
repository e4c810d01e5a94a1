use deepneuro_registry::RegistryError;
use std::path::PathBuf;
use thiserror::Error;

/// Exit codes shared with the `deepneuro` binary (README "Exit codes"), plus
/// the two that only pipelines produce.
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const BAD_INPUT: i32 = 3;
    pub const OUTPUT: i32 = 4;
    pub const DEVICE: i32 = 8;
    /// DICOM: several series and no `--series` (deepneuro-dicom's code).
    pub const SERIES_CHOICE: i32 = 10;
    /// DICOM: a feature this build cannot decode (deepneuro-dicom's code).
    pub const UNSUPPORTED: i32 = 11;
    /// No brain found: the image is not a head MRI (pure noise, no contrast,
    /// an empty mask).
    pub const NO_BRAIN: i32 = 12;
    /// Batch: at least one case failed (each case's code is in the summary).
    pub const SOME_CASES_FAILED: i32 = 13;
}

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("pipeline spec {}: {reason}", path.display())]
    Spec { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    BadInput { path: PathBuf, reason: String },
    #[error(transparent)]
    Io(#[from] deepneuro_io::IoError),
    #[error("{}: cannot write: {reason}", path.display())]
    Output { path: PathBuf, reason: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Device(#[from] deepneuro_core::DeviceError),
    #[error("model {name} ({}): {reason}", path.display())]
    Model {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("no brain found: {0}")]
    NoBrain(String),
    #[error("step {step}: {reason}")]
    Step { step: String, reason: String },
    /// An input loader's own failure with its documented exit code (a DICOM
    /// loader maps `DicomError` here: 3, 10 or 11).
    #[error("{}: {reason}", path.display())]
    Loader {
        path: PathBuf,
        reason: String,
        code: i32,
    },
    #[error("usage: {0}")]
    Usage(String),
    /// Only the first line: libtorch appends a C++ backtrace to its messages.
    #[error("libtorch: {}", deepneuro_core::first_line(.0))]
    Torch(#[from] tch::TchError),
}

impl PipelineError {
    pub fn exit_code(&self) -> i32 {
        use deepneuro_io::IoError;
        match self {
            PipelineError::Spec { .. } | PipelineError::BadInput { .. } => exit::BAD_INPUT,
            PipelineError::Io(IoError::Unwritable { .. }) => exit::OUTPUT,
            PipelineError::Io(_) => exit::BAD_INPUT,
            PipelineError::Output { .. } => exit::OUTPUT,
            PipelineError::Registry(e) => e.exit_code(),
            PipelineError::Device(_) => exit::DEVICE,
            PipelineError::Usage(_) => exit::USAGE,
            PipelineError::Loader { code, .. } => *code,
            PipelineError::NoBrain(_) => exit::NO_BRAIN,
            PipelineError::Model { .. } | PipelineError::Step { .. } | PipelineError::Torch(_) => {
                exit::INTERNAL
            }
        }
    }

    pub(crate) fn step(step: &str, reason: impl Into<String>) -> Self {
        PipelineError::Step {
            step: step.to_string(),
            reason: reason.into(),
        }
    }
}

use deepneuro_exit::Code;
use deepneuro_registry::RegistryError;
use std::path::PathBuf;
use thiserror::Error;

/// The exit codes modules use, from the one table (`deepneuro-exit`).
pub mod exit {
    use deepneuro_exit::Code;
    pub const OK: i32 = Code::Ok.code();
    pub const INTERNAL: i32 = Code::Internal.code();
    pub const USAGE: i32 = Code::Usage.code();
    pub const BAD_INPUT: i32 = Code::Input.code();
    pub const OUTPUT: i32 = Code::Output.code();
    pub const DEVICE: i32 = Code::Device.code();
    pub const NOTHING_FOUND: i32 = Code::NothingFound.code();
    pub const SOME_CASES_FAILED: i32 = Code::SomeCasesFailed.code();
    pub const FRAME: i32 = Code::Frame.code();

    /// The table for `--help`.
    pub fn help() -> String {
        deepneuro_exit::help()
    }
}

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("module spec {0}")]
    Spec(#[from] crate::spec::SpecError),
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
    /// The result is empty where the spec does not allow it, or the image
    /// is not one the module can work on (noise, no contrast); the text
    /// starts with the module's `nothing_found` phrase.
    #[error("{0}")]
    NothingFound(String),
    /// The inputs cannot be brought into one frame (registration failed,
    /// different frames of reference).
    #[error("{0}")]
    Frame(String),
    #[error("step {step}: {reason}")]
    Step { step: String, reason: String },
    /// An input loader's own failure with its documented exit code (a DICOM
    /// loader maps `DicomError` here: 3, 10 or 11).
    #[error("{}: {reason}", path.display())]
    Loader {
        path: PathBuf,
        reason: String,
        code: Code,
    },
    #[error("usage: {0}")]
    Usage(String),
    /// Only the first line: libtorch appends a C++ backtrace to its messages.
    #[error("libtorch: {}", deepneuro_core::first_line(.0))]
    Torch(#[from] tch::TchError),
}

impl PipelineError {
    /// The exit code for this error, from the project's one table.
    pub fn code(&self) -> Code {
        use deepneuro_io::IoError;
        match self {
            PipelineError::Spec(_) | PipelineError::BadInput { .. } => Code::Input,
            PipelineError::Io(IoError::Unwritable { .. }) => Code::Output,
            PipelineError::Io(_) => Code::Input,
            PipelineError::Output { .. } => Code::Output,
            PipelineError::Registry(e) => e.code(),
            PipelineError::Device(_) => Code::Device,
            PipelineError::Usage(_) => Code::Usage,
            PipelineError::Loader { code, .. } => *code,
            PipelineError::NothingFound(_) => Code::NothingFound,
            PipelineError::Frame(_) => Code::Frame,
            // Running out of accelerator memory is the device's limit, not a bug.
            PipelineError::Model { reason, .. } | PipelineError::Step { reason, .. }
                if reason.contains("out of memory") =>
            {
                Code::Device
            }
            PipelineError::Torch(e) if e.to_string().contains("out of memory") => Code::Device,
            PipelineError::Model { .. } | PipelineError::Step { .. } | PipelineError::Torch(_) => {
                Code::Internal
            }
        }
    }

    /// [`Self::code`] as a number.
    pub fn exit_code(&self) -> i32 {
        self.code().code()
    }

    pub(crate) fn step(step: &str, reason: impl Into<String>) -> Self {
        PipelineError::Step {
            step: step.to_string(),
            reason: reason.into(),
        }
    }
}

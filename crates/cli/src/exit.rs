//! Errors on their way to the user, with the exit codes of the one table
//! (`deepneuro-exit`): each library error maps to its code here.

use std::fmt;
use std::process::ExitCode;

pub use deepneuro_exit::Code;

/// The exit-code table for `--help`.
pub fn help() -> String {
    deepneuro_exit::help()
}

/// An error on its way to the user: one line, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn new(code: Code, message: impl fmt::Display) -> Failure {
        Failure {
            code,
            message: message.to_string(),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        self.code.exit()
    }
}

impl From<deepneuro_io::IoError> for Failure {
    fn from(e: deepneuro_io::IoError) -> Failure {
        let code = if e.is_output_error() {
            Code::Output
        } else {
            Code::Input
        };
        Failure::new(code, e)
    }
}

impl From<deepneuro_core::DeviceError> for Failure {
    fn from(e: deepneuro_core::DeviceError) -> Failure {
        Failure::new(Code::Device, e)
    }
}

impl From<deepneuro_registry::RegistryError> for Failure {
    fn from(e: deepneuro_registry::RegistryError) -> Failure {
        Failure::new(e.code(), e)
    }
}

impl From<deepneuro_dicom::DicomError> for Failure {
    fn from(e: deepneuro_dicom::DicomError) -> Failure {
        Failure::new(e.code(), e)
    }
}

impl From<deepneuro_pipeline::PipelineError> for Failure {
    fn from(e: deepneuro_pipeline::PipelineError) -> Failure {
        Failure::new(e.code(), e)
    }
}

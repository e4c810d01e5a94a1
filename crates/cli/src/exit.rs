//! Exit codes, the contract with shell scripts and batch jobs. Documented
//! in the README and in `deepneuro --help`; never renumber one.

use std::fmt;
use std::process::ExitCode;

/// Documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// 1: an unexpected internal error (a bug: please report it).
    Internal = 1,
    /// 2: bad command-line usage (printed by the argument parser).
    #[allow(dead_code)]
    Usage = 2,
    /// 3: an input file or folder is missing, unreadable or invalid.
    Input = 3,
    /// 4: an output cannot be written (folder missing, no permission, disk full).
    Output = 4,
    /// 5: a network failure while fetching model weights.
    Network = 5,
    /// 6: a downloaded or cached file does not have the expected SHA-256.
    Checksum = 6,
    /// 7: a model is not cached and the network may not be used (offline).
    NotCached = 7,
    /// 8: the requested compute device is not available.
    Device = 8,
    /// 9: `doctor` found a problem that needs fixing.
    Unhealthy = 9,
    /// 10: a DICOM folder holds several series and `--series` chose none
    /// (or matched none or several); the message lists them.
    SeriesChoice = 10,
    /// 11: valid DICOM using a feature this build cannot decode.
    Unsupported = 11,
    /// 14: an external program a step needs (ANTs, a 3D Slicer CLI module)
    /// is not installed; the message names it.
    ToolMissing = 14,
    /// 15: an external program ran and failed; the message quotes its stderr.
    ToolFailed = 15,
}

pub const HELP: &str = "\
Exit codes:
  0  success
  1  internal error (a bug: please report it)
  2  bad command-line usage
  3  input missing, unreadable or invalid
  4  output cannot be written
  5  network failure while fetching model weights
  6  checksum mismatch of model weights
  7  model not cached while offline (see `deepneuro models import`)
  8  requested device not available
  9  doctor found a problem
  10 several DICOM series: choose one with --series (the message lists them)
  11 unsupported DICOM feature (e.g. a transfer syntax; the message names it)
  12 no brain found (noise, no contrast, empty mask)
  13 batch run in which some cases failed (the summary lists them)
  14 external tool (ANTs, 3D Slicer module) not found; the message names it
  15 external tool failed; the message quotes its error";

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
        ExitCode::from(self.code as u8)
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
        let code = match e.exit_code() {
            3 => Code::Input,
            4 => Code::Output,
            5 => Code::Network,
            6 => Code::Checksum,
            7 => Code::NotCached,
            _ => Code::Internal,
        };
        Failure::new(code, e)
    }
}

impl From<deepneuro_dicom::DicomError> for Failure {
    fn from(e: deepneuro_dicom::DicomError) -> Failure {
        let code = match e.exit_code() {
            deepneuro_dicom::EXIT_OUTPUT => Code::Output,
            deepneuro_dicom::EXIT_SERIES_CHOICE => Code::SeriesChoice,
            deepneuro_dicom::EXIT_UNSUPPORTED => Code::Unsupported,
            _ => Code::Input,
        };
        Failure::new(code, e)
    }
}

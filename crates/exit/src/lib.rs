//! The exit codes of every deepneuro command, defined once. Libraries
//! classify their errors with [`Code`]; only the binaries turn a code into
//! a process exit status. Documented in the README and in every `--help`;
//! never renumber one.

/// Documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    /// An unexpected internal error (a bug).
    Internal = 1,
    /// Bad command-line usage.
    Usage = 2,
    /// An input file or folder (a spec included) is missing, unreadable or invalid.
    Input = 3,
    /// An output cannot be written.
    Output = 4,
    /// A network failure while fetching model weights.
    Network = 5,
    /// A downloaded or cached file does not have the expected SHA-256.
    Checksum = 6,
    /// A model is not cached and the network may not be used.
    NotCached = 7,
    /// The requested compute device is not available.
    Device = 8,
    /// `doctor` found a problem.
    Unhealthy = 9,
    /// A DICOM folder holds several series and `--series` chose none.
    SeriesChoice = 10,
    /// Valid DICOM using a feature this build cannot decode.
    Unsupported = 11,
    /// Nothing found: not the image the module expects (noise, no
    /// contrast) or an empty result the module does not allow.
    NothingFound = 12,
    /// A batch in which some cases failed.
    SomeCasesFailed = 13,
    /// An external program a step needs is not installed.
    ToolMissing = 14,
    /// An external program ran and failed.
    ToolFailed = 15,
    /// The inputs cannot be brought into one frame (different patients or
    /// frames of reference, registration failed).
    Frame = 16,
    /// Access to a model source denied, or credentials missing.
    Access = 17,
    /// Interrupted by SIGINT (as shells report it: 128 + 2).
    Interrupted = 130,
    /// Terminated by SIGTERM (128 + 15).
    Terminated = 143,
}

impl Code {
    /// Every code, in order.
    pub const ALL: [Code; 20] = [
        Code::Ok,
        Code::Internal,
        Code::Usage,
        Code::Input,
        Code::Output,
        Code::Network,
        Code::Checksum,
        Code::NotCached,
        Code::Device,
        Code::Unhealthy,
        Code::SeriesChoice,
        Code::Unsupported,
        Code::NothingFound,
        Code::SomeCasesFailed,
        Code::ToolMissing,
        Code::ToolFailed,
        Code::Frame,
        Code::Access,
        Code::Interrupted,
        Code::Terminated,
    ];

    pub const fn code(self) -> i32 {
        self as u8 as i32
    }

    /// The code as a process exit status.
    pub fn exit(self) -> std::process::ExitCode {
        std::process::ExitCode::from(self as u8)
    }

    /// One line: what the code means.
    pub fn meaning(self) -> &'static str {
        match self {
            Code::Ok => "success",
            Code::Internal => "internal error (a bug: please report it)",
            Code::Usage => "bad command-line usage",
            Code::Input => "input missing, unreadable or invalid (the message names the file and the reason)",
            Code::Output => "output cannot be written (nothing partial is left)",
            Code::Network => "network failure while fetching model weights",
            Code::Checksum => "checksum mismatch of model weights",
            Code::NotCached => "model not cached while offline (`deepneuro models import` installs weights without network)",
            Code::Device => "requested compute device not available",
            Code::Unhealthy => "`deepneuro doctor` found a problem",
            Code::SeriesChoice => "a DICOM folder holds several series and `--series` chose none (or matched none or several); the message lists them",
            Code::Unsupported => "valid DICOM that uses a feature this build cannot decode (the message names it)",
            Code::NothingFound => "nothing found: not a head MRI (noise, no contrast) or an empty result the module does not allow (\"no brain found\")",
            Code::SomeCasesFailed => "a batch run in which some cases failed (the summary and `--json` list them; the others completed)",
            Code::ToolMissing => "an external tool a step needs (ANTs, a 3D Slicer CLI module) is not installed; the message names it",
            Code::ToolFailed => "an external tool ran and failed; the message quotes its error",
            Code::Frame => "the inputs cannot be brought into one frame (different patients or frames of reference, registration failed)",
            Code::Access => "access to a model source denied, or credentials missing",
            Code::Interrupted => "interrupted (SIGINT)",
            Code::Terminated => "terminated (SIGTERM)",
        }
    }

    /// The code with this number.
    pub fn from_code(code: i32) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// The table for `--help`.
pub fn help() -> String {
    let mut s = String::from("Exit codes:\n");
    for c in Code::ALL {
        s.push_str(&format!("  {:<3} {}\n", c.code(), c.meaning()));
    }
    s.pop();
    s
}

/// The table for the README.
pub fn markdown() -> String {
    let mut s = String::from("| code | meaning |\n| --- | --- |\n");
    for c in Code::ALL {
        s.push_str(&format!("| {} | {} |\n", c.code(), c.meaning()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_in_order() {
        for w in Code::ALL.windows(2) {
            assert!(w[0].code() < w[1].code());
        }
        assert_eq!(Code::from_code(16), Some(Code::Frame));
        assert_eq!(Code::Interrupted.code(), 130);
        assert_eq!(Code::Terminated.code(), 143);
    }

    /// The README's table is this one.
    #[test]
    fn readme_lists_every_code() {
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(&markdown()),
            "README.md's exit-code table differs from deepneuro-exit's; it should read:\n{}",
            markdown()
        );
    }
}

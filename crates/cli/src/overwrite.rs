//! Refusing an output that is one of the command's inputs: written in place,
//! the input would be gone, and a failed step could not be run again. Every
//! command that writes files calls [`refuse`] before it reads or creates
//! anything.

use crate::exit::{Code, Failure};
use std::path::Path;

/// Fails with exit 2 (bad usage) and a line naming the file when an output
/// is the same file as an input (see [`deepneuro_io::same_file`]), is a
/// DICOM file inside an input folder (a DICOM input folder is read file by
/// file), or when two outputs are one file. `None` entries are options that
/// were not given.
pub fn refuse(inputs: &[Option<&Path>], outputs: &[Option<&Path>]) -> Result<(), Failure> {
    let inputs: Vec<&Path> = inputs.iter().flatten().copied().collect();
    let outputs: Vec<&Path> = outputs.iter().flatten().copied().collect();
    for (n, out) in outputs.iter().enumerate() {
        for input in &inputs {
            if deepneuro_io::same_file(input, out) {
                let message = if input == out {
                    format!(
                        "{}: this output is also an input; choose another output file",
                        out.display()
                    )
                } else {
                    format!(
                        "{}: this output is the input {} (the same file); choose another output file",
                        out.display(),
                        input.display()
                    )
                };
                return Err(Failure::new(Code::Usage, message));
            }
            if input.is_dir()
                && out.is_file()
                && deepneuro_io::is_inside(input, out)
                && deepneuro_dicom::is_dicom_input(out)
            {
                return Err(Failure::new(
                    Code::Usage,
                    format!(
                        "{}: this output is a DICOM file of the input folder {}; choose another output file",
                        out.display(),
                        input.display()
                    ),
                ));
            }
        }
        if let Some(first) = outputs[..n]
            .iter()
            .find(|o| deepneuro_io::same_file(o, out))
        {
            return Err(Failure::new(
                Code::Usage,
                format!(
                    "{}: given for two outputs (also as {}); give each output its own file",
                    out.display(),
                    first.display()
                ),
            ));
        }
    }
    Ok(())
}

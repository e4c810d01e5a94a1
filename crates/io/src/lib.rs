//! Reading and writing volumes: NIfTI-1/2 and NRRD, plain or gzip.
//!
//! Every reader returns a [`Volume`] whose data and affine equal what
//! nibabel (NIfTI) or pynrrd plus the LPS-to-RAS flip (NRRD) give. Every
//! writer writes to a temporary file in the destination folder and renames
//! it into place, so a failed write never leaves a partial file.

mod alloc;
mod atomic;
mod error;
mod gz;
pub mod nifti;
pub mod nrrd;
mod paths;

pub use atomic::write_atomic;
pub use error::IoError;
pub use paths::{is_inside, same_file};

use deepneuro_volume::Volume;
use std::path::Path;

/// The file formats this crate knows, chosen from the file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Nifti { gzip: bool },
    Nrrd { detached: bool },
}

impl Format {
    /// Picks the format from the extension: `.nii`, `.nii.gz`, `.nrrd`, `.nhdr`.
    pub fn from_path(path: &Path) -> Result<Format, IoError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".nii.gz") {
            Ok(Format::Nifti { gzip: true })
        } else if name.ends_with(".nii") {
            Ok(Format::Nifti { gzip: false })
        } else if name.ends_with(".nrrd") {
            Ok(Format::Nrrd { detached: false })
        } else if name.ends_with(".nhdr") {
            Ok(Format::Nrrd { detached: true })
        } else {
            Err(IoError::UnknownFormat {
                path: path.to_path_buf(),
            })
        }
    }
}

/// Reads a volume, choosing the format from the file name.
pub fn read(path: &Path) -> Result<Volume, IoError> {
    match Format::from_path(path)? {
        Format::Nifti { .. } => nifti::read(path),
        Format::Nrrd { .. } => nrrd::read(path),
    }
}

/// Writes a volume, choosing the format from the file name. The element
/// type on disk is the volume's [`Volume::dtype`].
pub fn write(volume: &Volume, path: &Path) -> Result<(), IoError> {
    match Format::from_path(path)? {
        Format::Nifti { .. } => nifti::write(volume, path),
        Format::Nrrd { .. } => nrrd::write(volume, path),
    }
}

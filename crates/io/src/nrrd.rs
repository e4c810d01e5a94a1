//! NRRD reading and writing (owned by the NRRD work; stub until it lands).

use crate::IoError;
use deepneuro_volume::Volume;
use std::path::Path;

pub fn read(path: &Path) -> Result<Volume, IoError> {
    Err(IoError::BadHeader {
        path: path.to_path_buf(),
        format: "NRRD",
        reason: "NRRD support is not built yet".into(),
    })
}

pub fn write(_volume: &Volume, path: &Path) -> Result<(), IoError> {
    Err(IoError::Unwritable {
        path: path.to_path_buf(),
        reason: "NRRD support is not built yet".into(),
    })
}

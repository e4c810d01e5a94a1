//! Reading a volume from any input the project accepts: a NIfTI or NRRD
//! file, or a DICOM folder (or file). Every command that reads a volume
//! flattens [`InputOptions`], so `--series` means the same everywhere.

use crate::exit::Failure;
use deepneuro_dicom::{LoadOptions, SeriesSelector};
use deepneuro_volume::Volume;
use std::path::Path;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct InputOptions {
    /// DICOM input: the series to read, by number (`5`, `5.2`), UID, or a
    /// regex on the description; required when the folder holds several
    /// (default: the folder's only series).
    #[arg(long, value_name = "NUMBER|UID|REGEX")]
    pub series: Option<SeriesSelector>,
    /// DICOM input: resample a series with missing slices or uneven spacing
    /// onto a regular grid instead of failing.
    #[arg(long)]
    pub allow_gaps: bool,
}

/// Whether `path` is read as DICOM: a folder, or a file with the DICM marker.
pub fn is_dicom(path: &Path) -> bool {
    deepneuro_dicom::is_dicom_input(path)
}

pub fn read_input(path: &Path, opts: &InputOptions) -> Result<Volume, Failure> {
    if is_dicom(path) {
        let load = LoadOptions {
            allow_gaps: opts.allow_gaps,
            ..LoadOptions::default()
        };
        Ok(deepneuro_dicom::read_volume(
            path,
            opts.series.as_ref(),
            &load,
        )?)
    } else {
        Ok(deepneuro_io::read(path)?)
    }
}

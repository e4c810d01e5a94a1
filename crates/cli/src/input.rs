//! Reading a volume from any input the project accepts: a NIfTI or NRRD
//! file, or a DICOM folder (or file). Every command that reads a volume
//! flattens [`InputOptions`], so `--series` and `--allow-gaps` mean the same
//! everywhere, and reads through the modules' one loader
//! (`deepneuro_pipeline::input::load`).

use crate::exit::Failure;
use deepneuro_pipeline::input::{load, LoadOptions};
use deepneuro_volume::Volume;
use std::path::Path;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct InputOptions {
    /// DICOM input: the series to read, by number (`5`, `5.2`), UID, or a
    /// regex on the description; required when the folder holds several
    /// (default: the folder's only series).
    #[arg(long, value_name = "NUMBER|UID|REGEX")]
    pub series: Option<String>,
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
    let opts = LoadOptions {
        series: opts.series.clone(),
        allow_gaps: opts.allow_gaps,
    };
    Ok(load(path, &opts)?.volume)
}

//! The one volume loader of every command: a NIfTI or NRRD file, or a
//! DICOM folder (or file) with a series choice, gaps allowed on request.
//! It also says what the input was, for outputs that refer to it (a DICOM
//! SEG) and for the contrast check.

use crate::PipelineError;
use deepneuro_dicom::{DicomError, SeriesSelector};
use deepneuro_volume::Volume;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// DICOM: which series of a folder holding several (`--series`).
    pub series: Option<String>,
    /// DICOM: resample a series with gaps or uneven spacing onto a regular grid.
    pub allow_gaps: bool,
}

/// A loaded input and what it was.
pub struct Loaded {
    pub volume: Volume,
    pub kind: InputKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A NIfTI or NRRD file.
    File,
    /// A DICOM series: the folder, the chosen series UID and its description.
    Dicom {
        folder: PathBuf,
        series: String,
        description: String,
    },
}

/// Maps a DICOM error to the pipeline's, keeping its exit code.
pub(crate) fn dicom_error(path: &Path, e: DicomError) -> PipelineError {
    PipelineError::Loader {
        path: path.to_path_buf(),
        reason: e.to_string(),
        code: e.code(),
    }
}

pub fn is_image_file(path: &Path) -> bool {
    path.is_file() && deepneuro_io::Format::from_path(path).is_ok()
}

/// Loads `path`: an image file through deepneuro-io, anything DICOM (a
/// folder, or a file with the DICM marker) through deepneuro-dicom.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, PipelineError> {
    if !path.exists() {
        return Err(PipelineError::BadInput {
            path: path.to_path_buf(),
            reason: "does not exist".into(),
        });
    }
    if is_image_file(path) {
        return Ok(Loaded {
            volume: deepneuro_io::read(path)?,
            kind: InputKind::File,
        });
    }
    if !deepneuro_dicom::is_dicom_input(path) {
        return Err(PipelineError::BadInput {
            path: path.to_path_buf(),
            reason: "unknown file type (expected .nii, .nii.gz, .nrrd, .nhdr or a DICOM folder)"
                .into(),
        });
    }
    let scan = deepneuro_dicom::scan(path).map_err(|e| dicom_error(path, e))?;
    deepneuro_dicom::warn_skipped(path, &scan);
    let info = pick(&scan, path, opts.series.as_deref())?;
    let load = deepneuro_dicom::LoadOptions {
        allow_gaps: opts.allow_gaps,
        ..deepneuro_dicom::LoadOptions::default()
    };
    let volume = deepneuro_dicom::load(info, &load).map_err(|e| dicom_error(path, e))?;
    Ok(Loaded {
        volume,
        kind: InputKind::Dicom {
            folder: path.to_path_buf(),
            series: info.uid.clone(),
            description: info.description.clone(),
        },
    })
}

/// The series of `scan` that `series` selects (the only one when `None`).
pub(crate) fn pick<'a>(
    scan: &'a deepneuro_dicom::Scan,
    folder: &Path,
    series: Option<&str>,
) -> Result<&'a deepneuro_dicom::SeriesInfo, PipelineError> {
    let selector = series
        .map(str::parse::<SeriesSelector>)
        .transpose()
        .map_err(|e| dicom_error(folder, e))?;
    deepneuro_dicom::select(scan, selector.as_ref()).map_err(|e| dicom_error(folder, e))
}

/// The case name of an input: the file name without its image extension,
/// or the folder name.
pub fn case_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "case".into());
    for ext in [".nii.gz", ".nii", ".nrrd", ".nhdr"] {
        if name.to_ascii_lowercase().ends_with(ext) && name.len() > ext.len() {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name
}

/// The contrast a DICOM series description suggests, if it names one.
fn contrast_of(description: &str) -> Option<&'static str> {
    let d = description.to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| d.contains(x));
    if has(&["flair"]) {
        Some("FLAIR")
    } else if has(&["dwi", "diffusion", "adc", "dti"]) {
        Some("DWI")
    } else if has(&["t2"]) {
        Some("T2w")
    } else if has(&["t1", "mprage", "spgr", "bravo", "tfl"]) {
        Some("T1w")
    } else {
        None
    }
}

/// A warning when a DICOM input's series description names another
/// contrast than the spec expects (a FLAIR given as `--t1`). Contrasts of
/// one family (`T1w`, `T1w-ce`) agree.
pub fn contrast_warning(input: &str, expected: &str, loaded: &Loaded) -> Option<String> {
    let InputKind::Dicom { description, .. } = &loaded.kind else {
        return None;
    };
    let seen = contrast_of(description)?;
    let family = |c: &str| {
        c.split(['-', '+', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    (family(seen) != family(expected)).then(|| {
        format!(
            "input {input}: the DICOM series \"{description}\" looks like {seen}, but this module expects {expected}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_descriptions_give_contrasts() {
        assert_eq!(contrast_of("AX FLAIR"), Some("FLAIR"));
        assert_eq!(contrast_of("T1 MPRAGE repeat"), Some("T1w"));
        assert_eq!(contrast_of("sag t2 tse"), Some("T2w"));
        assert_eq!(contrast_of("localizer"), None);
    }
}

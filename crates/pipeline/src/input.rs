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

#[derive(Clone, Debug, PartialEq)]
pub enum InputKind {
    /// A NIfTI or NRRD file.
    File,
    /// A DICOM series: the folder, the chosen series UID and its description.
    Dicom {
        folder: PathBuf,
        series: String,
        description: String,
        acquisition: deepneuro_dicom::Acquisition,
        patient_id: Option<String>,
        frame_of_reference: Option<String>,
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
            acquisition: info.acquisition.clone(),
            patient_id: info.patient_id.clone(),
            frame_of_reference: info.frame_of_reference_uid.clone(),
        },
    })
}

/// Refuses DICOM inputs of one case that name different patients or
/// frames of reference: images of two patients must never be combined, and
/// a module that assumes co-registered inputs would silently misalign
/// them. NIfTI inputs carry neither and are not compared.
pub fn check_same_frame(inputs: &[(&str, &Loaded)]) -> Result<(), PipelineError> {
    let dicom: Vec<(&str, &Option<String>, &Option<String>, &PathBuf)> = inputs
        .iter()
        .filter_map(|(name, l)| match &l.kind {
            InputKind::Dicom {
                patient_id,
                frame_of_reference,
                folder,
                ..
            } => Some((*name, patient_id, frame_of_reference, folder)),
            InputKind::File => None,
        })
        .collect();
    let Some((first, pid0, for0, _)) = dicom.first() else {
        return Ok(());
    };
    for (name, pid, fr, folder) in &dicom[1..] {
        let what = if pid.is_some() && pid0.is_some() && pid != pid0 {
            Some(format!(
                "PatientID {:?} differs from --{first}'s {:?}",
                pid.as_deref().unwrap_or(""),
                pid0.as_deref().unwrap_or("")
            ))
        } else if fr.is_some() && for0.is_some() && fr != for0 {
            Some(format!(
                "FrameOfReferenceUID {} differs from --{first}'s {}",
                fr.as_deref().unwrap_or(""),
                for0.as_deref().unwrap_or("")
            ))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(PipelineError::Frame(format!(
                "{} (--{name}): {what}; refusing to combine them (--allow-frame-mismatch overrides)",
                folder.display()
            )));
        }
    }
    Ok(())
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

/// The contrast TR, TE and TI suggest (ms), if they are typical of one:
/// a long inversion with a long echo is FLAIR, a long echo and repetition
/// T2, a short echo with a short repetition or an MPRAGE-like inversion T1.
fn contrast_of_timing(a: &deepneuro_dicom::Acquisition) -> Option<&'static str> {
    let (tr, te) = (a.repetition_time_ms?, a.echo_time_ms?);
    let ti = a.inversion_time_ms.unwrap_or(0.0);
    if ti >= 1500.0 && te >= 70.0 {
        Some("FLAIR")
    } else if te >= 70.0 && tr >= 1500.0 {
        Some("T2w")
    } else if te <= 20.0 && (tr <= 1000.0 || (300.0..1500.0).contains(&ti)) {
        Some("T1w")
    } else {
        None
    }
}

/// Warnings when a DICOM input's metadata contradict the contrast the spec
/// expects: a series description naming another contrast (a FLAIR given
/// as `--t1`), TR/TE/TI typical of another, or a contrast agent where a
/// pre-contrast image (no `-ce`) is expected. Contrasts of one family
/// (`T1w`, `T1w-ce`) agree.
pub fn contrast_warnings(input: &str, expected: &str, loaded: &Loaded) -> Vec<String> {
    let InputKind::Dicom {
        description,
        acquisition,
        ..
    } = &loaded.kind
    else {
        return Vec::new();
    };
    let family = |c: &str| {
        c.split(['-', '+', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let mut out = Vec::new();
    if let Some(seen) = contrast_of(description).filter(|s| family(s) != family(expected)) {
        out.push(format!(
            "input {input}: the DICOM series \"{description}\" looks like {seen}, but this module expects {expected}"
        ));
    }
    if let Some(seen) = contrast_of_timing(acquisition).filter(|s| family(s) != family(expected)) {
        let a = acquisition;
        out.push(format!(
            "input {input}: TR {} ms, TE {} ms{} look like {seen}, but this module expects {expected}",
            a.repetition_time_ms.unwrap_or_default(),
            a.echo_time_ms.unwrap_or_default(),
            a.inversion_time_ms.map(|ti| format!(", TI {ti} ms")).unwrap_or_default(),
        ));
    }
    let post_contrast = expected.to_ascii_lowercase().contains("ce");
    if let (Some(agent), false) = (&acquisition.contrast_agent, post_contrast) {
        out.push(format!(
            "input {input}: the series was acquired with a contrast agent ({agent}), but this module expects {expected} without one"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dicom(patient: Option<&str>, frame: Option<&str>) -> Loaded {
        let volume = Volume::from_nifti_vec(
            [1, 2, 2, 2],
            vec![0.0; 8],
            deepneuro_volume::Affine::identity(),
            deepneuro_volume::DType::F32,
        )
        .unwrap();
        Loaded {
            volume,
            kind: InputKind::Dicom {
                folder: PathBuf::from(format!("/data/{}", patient.unwrap_or("anon"))),
                series: "1.2.3".into(),
                description: String::new(),
                acquisition: deepneuro_dicom::Acquisition::default(),
                patient_id: patient.map(str::to_string),
                frame_of_reference: frame.map(str::to_string),
            },
        }
    }

    #[test]
    fn inputs_of_two_patients_or_frames_are_refused_with_exit_16() {
        let a = dicom(Some("P1"), Some("1.2.840.1"));
        let same = dicom(Some("P1"), Some("1.2.840.1"));
        let other_patient = dicom(Some("P2"), Some("1.2.840.1"));
        let other_frame = dicom(Some("P1"), Some("1.2.840.9"));
        let unknown = dicom(None, None);
        assert!(check_same_frame(&[("flair", &a), ("t1", &same), ("t2", &unknown)]).is_ok());
        let e = check_same_frame(&[("flair", &a), ("t1", &other_patient)]).unwrap_err();
        assert_eq!(e.exit_code(), 16);
        let msg = e.to_string();
        assert!(
            msg.contains("/data/P2 (--t1): PatientID \"P2\" differs from --flair's \"P1\""),
            "{msg}"
        );
        let e = check_same_frame(&[("flair", &a), ("t1post", &other_frame)]).unwrap_err();
        assert!(
            e.to_string()
                .contains("FrameOfReferenceUID 1.2.840.9 differs"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 16);
    }

    #[test]
    fn timings_give_contrasts() {
        let a = |tr, te, ti| deepneuro_dicom::Acquisition {
            repetition_time_ms: Some(tr),
            echo_time_ms: Some(te),
            inversion_time_ms: ti,
            contrast_agent: None,
        };
        assert_eq!(
            contrast_of_timing(&a(9000.0, 120.0, Some(2500.0))),
            Some("FLAIR")
        );
        assert_eq!(contrast_of_timing(&a(4000.0, 100.0, None)), Some("T2w"));
        assert_eq!(
            contrast_of_timing(&a(2300.0, 3.0, Some(900.0))),
            Some("T1w")
        );
        assert_eq!(contrast_of_timing(&a(500.0, 12.0, None)), Some("T1w"));
        assert_eq!(contrast_of_timing(&a(3000.0, 40.0, None)), None);
    }

    #[test]
    fn series_descriptions_give_contrasts() {
        assert_eq!(contrast_of("AX FLAIR"), Some("FLAIR"));
        assert_eq!(contrast_of("T1 MPRAGE repeat"), Some("T1w"));
        assert_eq!(contrast_of("sag t2 tse"), Some("T2w"));
        assert_eq!(contrast_of("localizer"), None);
    }
}

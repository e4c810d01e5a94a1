//! Discovery: walk a folder, read every file's header, skip what is not a
//! DICOM image, and group the rest into series.

use crate::geometry::{analyse, has_repeated_positions, orientation_label, sort_frames};
use crate::header::{read_frames, Frame};
use crate::ts::ts_name;
use crate::DicomError;
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A file that was not used, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// One volume's worth of images: a DICOM series, or a part of one when the
/// series mixes orientations, image sizes, echoes or temporal positions.
/// The acquisition parameters of an MR series that tell its contrast
/// apart (from its first image; absent when the files do not say).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Acquisition {
    pub repetition_time_ms: Option<f64>,
    pub echo_time_ms: Option<f64>,
    pub inversion_time_ms: Option<f64>,
    /// ContrastBolusAgent, when one was given.
    pub contrast_agent: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesInfo {
    /// What `--series` accepts to pick exactly this series: the series
    /// number, with `.1`, `.2`, ... appended when the number is shared.
    pub key: String,
    pub number: Option<i64>,
    pub description: String,
    pub modality: String,
    /// Number of images (slices) in the volume.
    pub slices: usize,
    /// Voxel counts along x (columns), y (rows) and z (slices).
    pub dimensions: [usize; 3],
    /// Voxel size in mm along x, y and z (z: the median slice step).
    pub spacing: [f64; 3],
    /// `axial`, `coronal`, `sagittal` or `oblique`.
    pub orientation: String,
    pub uid: String,
    /// What sets this part apart when the series was split, e.g. `echo 2`.
    pub split: Option<String>,
    pub study_uid: String,
    /// PatientID, to refuse inputs of different patients.
    pub patient_id: Option<String>,
    pub frame_of_reference_uid: Option<String>,
    pub transfer_syntax: String,
    /// TR, TE, TI and contrast agent, for checks of the contrast.
    pub acquisition: Acquisition,
    /// Geometry problems found while scanning (gaps, tilt, missing tags);
    /// `load` turns the serious ones into errors.
    pub warnings: Vec<String>,
    /// The images, sorted by position along the slice normal.
    #[serde(skip)]
    pub(crate) frames: Vec<Frame>,
    /// The folder or file that was scanned, for error messages.
    #[serde(skip)]
    pub(crate) root: PathBuf,
}

/// Everything found under a folder.
#[derive(Clone, Debug, Serialize)]
pub struct Scan {
    pub folder: PathBuf,
    pub series: Vec<SeriesInfo>,
    pub skipped: Vec<Skipped>,
}

/// Whether `path` looks like DICOM input: a folder, or a file with the
/// `DICM` magic (with or without preamble).
pub fn is_dicom_input(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    let mut bytes = Vec::with_capacity(132);
    let read = std::fs::File::open(path).and_then(|f| {
        use std::io::Read;
        f.take(132).read_to_end(&mut bytes)
    });
    if read.is_err() {
        return false;
    }
    bytes.get(128..132) == Some(b"DICM") || bytes.get(..4) == Some(b"DICM")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut Vec<Skipped>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            skipped.push(Skipped {
                path: dir.to_path_buf(),
                reason: format!("cannot list folder: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        // Follow symbolic links to files but not to folders, so that a
        // link cycle cannot make the walk endless.
        let is_link = std::fs::symlink_metadata(&p)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if p.is_dir() {
            if !is_link {
                walk(&p, out, skipped);
            }
        } else if p.is_file() {
            out.push(p);
        }
    }
}

/// Scans a folder recursively (or a single file) for DICOM images and
/// groups them into series. Files that are not DICOM images are listed in
/// [`Scan::skipped`], never an error; a missing folder or one without any
/// image is.
pub fn scan(folder: &Path) -> Result<Scan, DicomError> {
    let meta = std::fs::metadata(folder).map_err(|e| DicomError::io(folder, e))?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    if meta.is_dir() {
        walk(folder, &mut files, &mut skipped);
    } else {
        files.push(folder.to_path_buf());
    }
    let results: Vec<(PathBuf, Result<Vec<Frame>, DicomError>)> = files
        .into_par_iter()
        .map(|p| {
            let r = read_frames(&p);
            (p, r)
        })
        .collect();
    let mut frames = Vec::new();
    for (path, r) in results {
        match r {
            Ok(f) => frames.extend(f),
            Err(e) => skipped.push(Skipped {
                reason: skip_reason(&e, &path),
                path,
            }),
        }
    }
    let series = group(frames, folder);
    if series.is_empty() {
        return Err(DicomError::NoSeries {
            path: folder.to_path_buf(),
            skipped: skipped.len(),
        });
    }
    Ok(Scan {
        folder: folder.to_path_buf(),
        series,
        skipped,
    })
}

/// The error message without the leading path, which [`Skipped`] carries.
fn skip_reason(e: &DicomError, path: &Path) -> String {
    let msg = e.to_string();
    let prefix = format!("{}: ", path.display());
    msg.strip_prefix(&prefix).unwrap_or(&msg).to_string()
}

/// What splits a series into separate volumes: the same image size, echo,
/// temporal position and orientation (to 1e-4) belong together.
fn same_volume(a: &Frame, b: &Frame) -> bool {
    let close = match (a.iop, b.iop) {
        (Some(x), Some(y)) => x.iter().zip(&y).all(|(p, q)| (p - q).abs() < 1e-4),
        (None, None) => true,
        _ => false,
    };
    a.series_uid == b.series_uid
        && a.rows == b.rows
        && a.cols == b.cols
        && a.echo == b.echo
        && a.temporal == b.temporal
        && a.part == b.part
        && close
}

fn group(frames: Vec<Frame>, root: &Path) -> Vec<SeriesInfo> {
    let mut groups: Vec<Vec<Frame>> = Vec::new();
    for f in frames {
        match groups.iter_mut().find(|g| same_volume(&g[0], &f)) {
            Some(g) => g.push(f),
            None => groups.push(vec![f]),
        }
    }
    let groups: Vec<Vec<Frame>> = groups.into_iter().flat_map(split_repeats).collect();
    let mut groups = groups;
    for g in &mut groups {
        sort_frames(g);
    }
    // Order series by number, then UID, then the distinguishing values, so
    // that keys are stable whatever the file names.
    groups.sort_by(|a, b| {
        let (a, b) = (&a[0], &b[0]);
        (
            a.series_number.unwrap_or(i64::MAX),
            &a.series_uid,
            &a.echo,
            &a.temporal,
        )
            .cmp(&(
                b.series_number.unwrap_or(i64::MAX),
                &b.series_uid,
                &b.echo,
                &b.temporal,
            ))
            .then_with(|| natural(&a.part).cmp(&natural(&b.part)))
            .then_with(|| (a.rows, a.cols).cmp(&(b.rows, b.cols)))
            .then_with(|| {
                let key = |f: &Frame| f.iop.map(|o| o.map(|v| (v * 1e4).round() as i64));
                key(a).cmp(&key(b))
            })
    });
    let mut series: Vec<SeriesInfo> = groups.iter().map(|g| info(g, root)).collect();
    label_splits(&mut series, &groups);
    assign_keys(&mut series);
    for (s, g) in series.iter_mut().zip(groups) {
        s.frames = g;
    }
    series
}

/// A group whose images repeat positions (a time series or diffusion
/// series without temporal positions) is split by the first of
/// AcquisitionNumber, TriggerTime and DiffusionBValue that gives every
/// part distinct positions; otherwise it is left whole, and `load` names
/// the clash.
fn split_repeats(mut g: Vec<Frame>) -> Vec<Vec<Frame>> {
    sort_frames(&mut g);
    if !has_repeated_positions(&g) {
        return vec![g];
    }
    const NAMES: [&str; 3] = ["acquisition", "trigger time", "b-value"];
    for (k, name) in NAMES.iter().enumerate() {
        let mut parts: Vec<Vec<Frame>> = Vec::new();
        for f in &g {
            match parts.iter_mut().find(|p| p[0].repeats[k] == f.repeats[k]) {
                Some(p) => p.push(f.clone()),
                None => parts.push(vec![f.clone()]),
            }
        }
        if parts.len() > 1 && parts.iter().all(|p| !has_repeated_positions(p)) {
            for p in &mut parts {
                let label = format!("{name} {}", p[0].repeats[k].as_deref().unwrap_or("none"));
                for f in p.iter_mut() {
                    f.part = Some(match &f.part {
                        Some(old) => format!("{old}, {label}"),
                        None => label.clone(),
                    });
                }
            }
            return parts;
        }
    }
    vec![g]
}

/// Sorts "segment 10" after "segment 9": text, then the number at the end.
fn natural(part: &Option<String>) -> (String, u64) {
    let s = part.as_deref().unwrap_or("");
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (text, num) = s.split_at(s.len() - digits);
    (text.to_string(), num.parse().unwrap_or(0))
}

fn info(frames: &[Frame], root: &Path) -> SeriesInfo {
    let f = &frames[0];
    let mut s = SeriesInfo {
        key: String::new(),
        number: f.series_number,
        description: f.description.clone(),
        modality: f.modality.clone(),
        slices: frames.len(),
        dimensions: [f.cols as usize, f.rows as usize, frames.len()],
        spacing: [0.0; 3],
        orientation: "unknown".into(),
        uid: f.series_uid.clone(),
        split: None,
        study_uid: f.study_uid.clone(),
        patient_id: f.patient_id.clone(),
        frame_of_reference_uid: f.frame_of_reference_uid.clone(),
        transfer_syntax: ts_name(&f.transfer_syntax),
        acquisition: f.acquisition.clone(),
        warnings: Vec::new(),
        frames: Vec::new(),
        root: root.to_path_buf(),
    };
    match analyse(frames) {
        Ok(geo) => {
            s.spacing = [geo.dx, geo.dy, geo.step];
            s.orientation = orientation_label(&geo.normal).into();
            s.warnings = geo.warnings(frames);
        }
        Err(e) => s.warnings.push(e.to_string()),
    }
    s
}

/// Says what sets apart the parts of a split series.
fn label_splits(series: &mut [SeriesInfo], groups: &[Vec<Frame>]) {
    for i in 0..series.len() {
        let a = &groups[i][0];
        let siblings: Vec<&Frame> = groups
            .iter()
            .enumerate()
            .filter(|(j, g)| *j != i && g[0].series_uid == a.series_uid)
            .map(|(_, g)| &g[0])
            .collect();
        if siblings.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        if siblings.iter().any(|b| b.echo != a.echo) {
            parts.push(format!("echo {}", a.echo.as_deref().unwrap_or("none")));
        }
        if siblings.iter().any(|b| b.temporal != a.temporal) {
            parts.push(format!("time {}", a.temporal.as_deref().unwrap_or("none")));
        }
        if siblings.iter().any(|b| b.part != a.part) {
            parts.push(a.part.clone().unwrap_or_else(|| "no stack".into()));
        }
        if siblings
            .iter()
            .any(|b| (b.rows, b.cols) != (a.rows, a.cols))
        {
            parts.push(format!("{}x{}", a.cols, a.rows));
        }
        if parts.is_empty() {
            parts.push(format!("{} stack", series[i].orientation));
        }
        series[i].split = Some(parts.join(", "));
    }
}

/// Keys are the series number, suffixed `.1`, `.2`, ... where several
/// volumes share it (split series, or series of different studies).
fn assign_keys(series: &mut [SeriesInfo]) {
    let base: Vec<String> = series
        .iter()
        .map(|s| match s.number {
            Some(n) => n.to_string(),
            None => "0".to_string(),
        })
        .collect();
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    for (i, b) in base.iter().enumerate() {
        let total = base.iter().filter(|x| *x == b).count();
        let n = seen.entry(b.as_str()).or_insert(0);
        *n += 1;
        series[i].key = if total > 1 {
            format!("{b}.{n}")
        } else {
            b.clone()
        };
    }
}

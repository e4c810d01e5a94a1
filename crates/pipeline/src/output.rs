//! Writing a case's declared outputs with no partial result: every file is
//! first written completely under a hidden staging name in the output
//! folder, and renamed into place only when all of them exist; the
//! per-case record is renamed last, so it marks a finished case.

use crate::engine::{CaseRun, Value};
use crate::input::InputKind;
use crate::spec::{OutputDecl, Spec, Ty};
use crate::PipelineError;
use deepneuro_volume::Volume;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the command line chose to write.
#[derive(Clone, Debug)]
pub struct OutputPlan {
    pub folder: PathBuf,
    /// The outputs to write, each with its file-name template.
    pub outputs: Vec<(OutputDecl, String)>,
    pub quicklook: bool,
    /// `--dicom-seg`: a SEG also for non-DICOM input (from `dicom_source`).
    pub dicom_seg: bool,
    pub dicom_source: Option<PathBuf>,
    /// The series of `dicom_source` (`--<input>-series` of the SEG's source).
    pub dicom_source_series: Option<String>,
}

/// The files of one case and the volumes of its masks and label maps.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Written {
    /// Output name (and `quicklook`, `dicom_seg`) to file.
    pub files: BTreeMap<String, PathBuf>,
    /// Output name to label to cm^3, for masks and label maps.
    pub volumes_cm3: BTreeMap<String, BTreeMap<String, f64>>,
}

pub fn unwritable(path: &Path, reason: impl Into<String>) -> PipelineError {
    PipelineError::Output {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Creates the folder if needed and proves a file can be created in it.
pub fn check_writable(folder: &Path) -> Result<(), PipelineError> {
    std::fs::create_dir_all(folder).map_err(|e| unwritable(folder, e.to_string()))?;
    tempfile::Builder::new()
        .prefix(".deepneuro-probe-")
        .tempfile_in(folder)
        .map_err(|e| unwritable(folder, e.to_string()))?;
    Ok(())
}

pub fn file_name(template: &str, case: &str) -> String {
    template.replace("{case}", case)
}

/// Files staged but not yet renamed; dropped (deleted) on failure.
pub struct Staged(Vec<(PathBuf, PathBuf)>);

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.0 {
            if tmp.is_dir() {
                let _ = std::fs::remove_dir_all(tmp);
            } else {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
}

impl Staged {
    pub fn new() -> Staged {
        Staged(Vec::new())
    }

    /// The staging path of `dest` (same folder, hidden; the real name stays
    /// the suffix, so the format is still picked from it).
    pub fn path(&mut self, dest: PathBuf) -> PathBuf {
        let file = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dest.with_file_name(format!(".staged-{}-{file}", std::process::id()));
        self.0.push((tmp.clone(), dest));
        tmp
    }

    pub fn commit(mut self) -> Result<(), PipelineError> {
        for (tmp, dest) in std::mem::take(&mut self.0) {
            if dest.is_dir() {
                let _ = std::fs::remove_dir_all(&dest);
            }
            std::fs::rename(&tmp, &dest).map_err(|e| unwritable(&dest, e.to_string()))?;
        }
        Ok(())
    }
}

impl Default for Staged {
    fn default() -> Self {
        Staged::new()
    }
}

/// Label value to cm^3 of a mask or label map.
fn label_volumes(v: &Volume) -> BTreeMap<String, f64> {
    let voxel_mm3: f64 = v.spacing().iter().product();
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for &x in v.nifti_slice().iter() {
        if x != 0.0 && x.is_finite() {
            *counts.entry(x.round() as i64).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(l, n)| (l.to_string(), 1e-3 * n as f64 * voxel_mm3))
        .collect()
}

/// One output ready to write.
struct Job {
    name: String,
    volume: Arc<Volume>,
    tmp: PathBuf,
}

/// Takes the declared outputs from the values, checks them (empty results,
/// plausible volumes), and stages them; the quick-look and SEG too.
#[allow(clippy::too_many_arguments)]
pub fn stage_case(
    spec: &Spec,
    plan: &OutputPlan,
    case: &str,
    run: &mut CaseRun,
    inputs: &BTreeMap<String, InputKind>,
    input_paths: &[PathBuf],
    staged: &mut Staged,
) -> Result<Written, PipelineError> {
    let mut written = Written::default();
    let mut jobs = Vec::new();
    for (decl, template) in &plan.outputs {
        let Some(value) = run.values.get_mut(&decl.value) else {
            // Derived from an absent optional input: nothing to write.
            continue;
        };
        let volume = output_volume(value, spec, decl, &mut run.warnings, &mut written)?;
        let dest = plan.folder.join(file_name(template, case));
        refuse_input(&dest, input_paths)?;
        written.files.insert(decl.name.clone(), dest.clone());
        jobs.push(Job {
            name: decl.name.clone(),
            volume,
            tmp: staged.path(dest),
        });
    }
    let description = format!("deepneuro {} {}", spec.module.name, spec.module.version);
    let opts = deepneuro_io::nifti::WriteOptions {
        description,
        ..Default::default()
    };
    jobs.par_iter()
        .map(|j| write_volume(&j.volume, &j.tmp, &opts).map_err(|e| (j.name.clone(), e)))
        .collect::<Result<Vec<()>, _>>()
        .map_err(|(_, e)| e)?;
    if plan.quicklook {
        if let Some(q) = &spec.quicklook {
            let dest = plan.folder.join(file_name(&q.file, case));
            refuse_input(&dest, input_paths)?;
            let tmp = staged.path(dest.clone());
            quicklook(run, q, &tmp)?;
            written.files.insert("quicklook".into(), dest);
        }
    }
    if let Some(dest) = seg(spec, plan, case, run, inputs, staged)? {
        written.files.insert("dicom_seg".into(), dest);
    }
    Ok(written)
}

/// The volume of an output, with its checks: masks and label maps are
/// uint8 without scaling, may not be empty unless allowed, and warn outside
/// their plausible volume.
fn output_volume(
    value: &mut Value,
    spec: &Spec,
    decl: &OutputDecl,
    warnings: &mut Vec<String>,
    written: &mut Written,
) -> Result<Arc<Volume>, PipelineError> {
    let ty = value.ty();
    let volume = value.to_volume()?;
    if !matches!(ty, Ty::Mask | Ty::Labels) {
        return Ok(volume);
    }
    let mut v = (*volume).clone();
    v.set_disk_scaling(None);
    let vols = label_volumes(&v);
    let total: f64 = vols.values().sum();
    if vols.is_empty() && !decl.allow_empty {
        return Err(PipelineError::NothingFound(format!(
            "{}: the output {} is empty",
            spec.module.nothing_found, decl.name
        )));
    }
    if let Some([lo, hi]) = decl.range_cm3 {
        if !(lo..=hi).contains(&total) {
            let msg = format!(
                "{} volume {total:.0} cm^3 is outside {lo:.0}-{hi:.0} cm^3: check the input and the {}",
                decl.name, decl.name
            );
            tracing::warn!("{msg}");
            warnings.push(msg);
        }
    }
    written.volumes_cm3.insert(decl.name.clone(), vols);
    Ok(Arc::new(v))
}

fn write_volume(
    v: &Volume,
    path: &Path,
    opts: &deepneuro_io::nifti::WriteOptions,
) -> Result<(), PipelineError> {
    match deepneuro_io::Format::from_path(path)? {
        deepneuro_io::Format::Nifti { .. } => deepneuro_io::nifti::write_with(v, path, opts)?,
        _ => deepneuro_io::write(v, path)?,
    }
    Ok(())
}

/// An output may never replace an input.
pub fn refuse_input(dest: &Path, inputs: &[PathBuf]) -> Result<(), PipelineError> {
    if inputs.iter().any(|i| deepneuro_io::same_file(i, dest)) {
        return Err(PipelineError::Usage(format!(
            "the output {} is an input: choose another output folder or name",
            dest.display()
        )));
    }
    Ok(())
}

fn quicklook(
    run: &mut CaseRun,
    q: &crate::spec::QuicklookDecl,
    tmp: &Path,
) -> Result<(), PipelineError> {
    let rows = std::iter::once((&q.image, &q.labels, &q.colours))
        .chain(q.rows.iter().map(|r| (&r.image, &r.labels, &r.colours)));
    let mut rendered = Vec::new();
    for (image, labels, colours) in rows {
        rendered.push(quicklook_row(run, image, labels, colours)?);
    }
    let rgb = crate::quicklook::stack_rows(&rendered);
    deepneuro_io::write_atomic(tmp, |w| crate::quicklook::encode_png(&rgb, w))?;
    Ok(())
}

fn quicklook_row(
    run: &mut CaseRun,
    image: &str,
    labels: &str,
    colours: &BTreeMap<String, [u8; 3]>,
) -> Result<crate::quicklook::Rgb, PipelineError> {
    let missing =
        |v: &str| PipelineError::step("quicklook", format!("value {v:?} was not produced"));
    let image = run
        .values
        .get_mut(image)
        .ok_or_else(|| missing(image))?
        .to_volume()?;
    let labels = run
        .values
        .get_mut(labels)
        .ok_or_else(|| missing(labels))?
        .to_volume()?;
    let colours = crate::quicklook::Colours(
        colours
            .iter()
            .filter_map(|(k, c)| k.parse::<u32>().ok().map(|l| (l, *c)))
            .collect(),
    );
    let shown = crate::engine::value::first_volume(&image)?;
    Ok(crate::quicklook::render_labels(&shown, &labels, &colours))
}

/// The SEG: for DICOM input always, for other input on `--dicom-seg` with
/// `--dicom-source`.
fn seg(
    spec: &Spec,
    plan: &OutputPlan,
    case: &str,
    run: &mut CaseRun,
    inputs: &BTreeMap<String, InputKind>,
    staged: &mut Staged,
) -> Result<Option<PathBuf>, PipelineError> {
    let Some(decl) = &spec.seg else {
        return Ok(None);
    };
    let source = inputs.get(&decl.source);
    let (folder, series) = match (source, &plan.dicom_source) {
        (Some(InputKind::Dicom { folder, series, .. }), _) => {
            (folder.clone(), Some(series.clone()))
        }
        (_, Some(src)) if plan.dicom_seg => (src.clone(), plan.dicom_source_series.clone()),
        (_, None) if plan.dicom_seg => {
            return Err(PipelineError::Usage(
                "--dicom-seg needs DICOM input or --dicom-source".into(),
            ))
        }
        _ => return Ok(None),
    };
    let Some(value) = run.values.get_mut(&decl.value) else {
        return Ok(None);
    };
    let labels = value.to_volume()?;
    if labels.nifti_slice().iter().all(|&v| v == 0.0) {
        // A SEG has no way to say "nothing": an allowed empty result gets none.
        let msg = "no DICOM SEG written: the result is empty".to_string();
        tracing::warn!("{msg}");
        run.warnings.push(msg);
        return Ok(None);
    }
    let dest = plan.folder.join(file_name(&decl.file, case));
    let tmp = staged.path(dest.clone());
    crate::dicom::write_seg(
        &folder,
        series.as_deref(),
        &labels,
        &tmp,
        decl,
        &spec.module.name,
    )?;
    Ok(Some(dest))
}

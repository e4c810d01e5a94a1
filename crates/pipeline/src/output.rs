//! Writing a case's outputs with no partial result: every file is first
//! written completely under a hidden staging name in the output folder, and
//! renamed into place only when all of them exist.

use crate::cli::Args;
use crate::input::{InputKind, Loaded, SegWriter};
use crate::{CaseOutput, PipelineError, Spec};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct OutputOptions {
    pub folder: PathBuf,
    pub mask: String,
    pub brain: String,
    pub quicklook: Option<String>,
    pub preprocessed: Option<String>,
    pub dicom_seg: bool,
    pub dicom_source: Option<PathBuf>,
    pub series: Option<String>,
    pub seg: String,
}

impl OutputOptions {
    pub fn from_args(args: &Args, spec: &Spec) -> OutputOptions {
        let o = &spec.outputs;
        OutputOptions {
            folder: args.output_folder.clone(),
            mask: args.mask_name.clone().unwrap_or_else(|| o.mask.clone()),
            brain: args.brain_name.clone().unwrap_or_else(|| o.brain.clone()),
            quicklook: (!args.no_quicklook).then(|| o.quicklook.clone()),
            preprocessed: args.save_preprocessed.then(|| o.preprocessed.clone()),
            dicom_seg: args.dicom_seg,
            dicom_source: args.dicom_source.clone(),
            series: args.series.clone(),
            seg: "{case}_mask_seg.dcm".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseFiles {
    pub mask: PathBuf,
    pub brain: PathBuf,
    pub quicklook: Option<PathBuf>,
    pub preprocessed: Option<PathBuf>,
    pub dicom_seg: Option<PathBuf>,
}

fn unwritable(path: &Path, reason: impl Into<String>) -> PipelineError {
    PipelineError::Output {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Creates the folder if needed and proves a file can be created in it,
/// before any model is loaded or case run.
pub fn check_writable(folder: &Path) -> Result<(), PipelineError> {
    std::fs::create_dir_all(folder).map_err(|e| unwritable(folder, e.to_string()))?;
    tempfile::Builder::new()
        .prefix(".deepneuro-probe-")
        .tempfile_in(folder)
        .map_err(|e| unwritable(folder, e.to_string()))?;
    Ok(())
}

fn name(template: &str, case: &str) -> String {
    template.replace("{case}", case)
}

/// Files staged but not yet renamed; dropped (deleted) on failure.
struct Staged(Vec<(PathBuf, PathBuf)>);

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.0 {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl Staged {
    fn path(&mut self, dest: PathBuf) -> PathBuf {
        let file = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The real name stays the suffix, so the format is still picked from it.
        let tmp = dest.with_file_name(format!(".staged-{}-{file}", std::process::id()));
        self.0.push((tmp.clone(), dest));
        tmp
    }

    fn commit(mut self) -> Result<(), PipelineError> {
        for (tmp, dest) in std::mem::take(&mut self.0) {
            std::fs::rename(&tmp, &dest).map_err(|e| unwritable(&dest, e.to_string()))?;
        }
        Ok(())
    }
}

pub fn write_case(
    case: &str,
    out: &CaseOutput,
    input: &Loaded,
    o: &OutputOptions,
    seg_writer: Option<&dyn SegWriter>,
) -> Result<CaseFiles, PipelineError> {
    let mut staged = Staged(Vec::new());
    let mask = o.folder.join(name(&o.mask, case));
    let brain = o.folder.join(name(&o.brain, case));
    let mask_tmp = staged.path(mask.clone());
    let brain_tmp = staged.path(brain.clone());
    let quicklook = o.quicklook.as_ref().map(|t| {
        let dest = o.folder.join(name(t, case));
        (staged.path(dest.clone()), dest)
    });
    // The three files are independent and each mostly one thread's work
    // (the quick-look) or memory-bound (gzip): written side by side they take
    // the time of the slowest, which matters on a GPU, where writing was a
    // third of a case. A failure in any leaves the staged files to `staged`.
    let (masks, look) = rayon::join(
        || {
            rayon::join(
                || deepneuro_io::write(&out.mask, &mask_tmp),
                || deepneuro_io::write(&out.brain, &brain_tmp),
            )
        },
        || match &quicklook {
            Some((tmp, _)) => {
                let shown = crate::runner::first_volume(&input.volume)?;
                let rgb = crate::quicklook::render(&shown, &out.mask);
                deepneuro_io::write_atomic(tmp, |w| crate::quicklook::encode_png(&rgb, w))?;
                Ok(())
            }
            None => Ok::<(), PipelineError>(()),
        },
    );
    masks.0?;
    masks.1?;
    look?;
    let quicklook = quicklook.map(|(_, dest)| dest);
    let preprocessed = match (&o.preprocessed, &out.preprocessed) {
        (Some(t), Some(v)) => {
            let dest = o.folder.join(name(t, case));
            let p = staged.path(dest.clone());
            deepneuro_io::write(v, &p)?;
            Some(dest)
        }
        _ => None,
    };
    // DICOM input always gets a SEG next to the NIfTI mask.
    let dicom_input = matches!(input.kind, InputKind::Dicom { .. });
    let dicom_seg = if o.dicom_seg || dicom_input {
        let (source, series) = match (&input.kind, &o.dicom_source) {
            (InputKind::Dicom { folder, series }, _) => (folder.clone(), Some(series.clone())),
            (InputKind::File, Some(src)) => (src.clone(), o.series.clone()),
            (InputKind::File, None) => {
                return Err(PipelineError::Usage(
                    "--dicom-seg needs DICOM input or --dicom-source".into(),
                ))
            }
        };
        // Refuse rather than silently skip an output the user asked for.
        let w = seg_writer.ok_or_else(|| {
            PipelineError::Usage("this build cannot write DICOM SEG (no DICOM support)".into())
        })?;
        let dest = o.folder.join(name(&o.seg, case));
        let p = staged.path(dest.clone());
        w.write_seg(&source, series.as_deref(), &out.mask, &p)?;
        Some(dest)
    } else {
        None
    };
    staged.commit()?;
    Ok(CaseFiles {
        mask,
        brain,
        quicklook,
        preprocessed,
        dicom_seg,
    })
}

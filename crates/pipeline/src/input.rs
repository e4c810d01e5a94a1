//! Where a case's image comes from. NIfTI/NRRD files load here; a DICOM
//! folder loader (crates/dicom) plugs in through [`InputLoader`] without
//! touching the runner: pass it to [`crate::cli::run_cli_with`].

use crate::PipelineError;
use deepneuro_volume::Volume;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// DICOM: which series of a folder holding several (`--series`).
    pub series: Option<String>,
}

/// A loaded input and what it was, for outputs that depend on it (a DICOM
/// SEG needs the source series).
pub struct Loaded {
    pub volume: Volume,
    pub kind: InputKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A NIfTI or NRRD file.
    File,
    /// A DICOM series; `folder` and the chosen series UID.
    Dicom { folder: PathBuf, series: String },
}

pub trait InputLoader: Send + Sync {
    /// Whether this loader handles `path` (cheap: extension or folder check).
    fn accepts(&self, path: &Path) -> bool;
    fn load(&self, path: &Path, opts: &LoadOptions) -> Result<Loaded, PipelineError>;
}

/// `.nii`, `.nii.gz`, `.nrrd`, `.nhdr` through deepneuro-io.
pub struct FileLoader;

pub fn is_image_file(path: &Path) -> bool {
    path.is_file() && deepneuro_io::Format::from_path(path).is_ok()
}

impl InputLoader for FileLoader {
    fn accepts(&self, path: &Path) -> bool {
        is_image_file(path)
    }

    fn load(&self, path: &Path, _opts: &LoadOptions) -> Result<Loaded, PipelineError> {
        Ok(Loaded {
            volume: deepneuro_io::read(path)?,
            kind: InputKind::File,
        })
    }
}

/// Writes a mask as a DICOM SEG referring to a source series (implemented
/// with crates/dicom by the binary that has it).
pub trait SegWriter: Send + Sync {
    /// `source`: the DICOM folder; `series`: the `--series` choice, if any;
    /// `mask`: uint8, on the source's grid; `dest`: the file to write.
    fn write_seg(
        &self,
        source: &Path,
        series: Option<&str>,
        mask: &Volume,
        dest: &Path,
    ) -> Result<(), PipelineError>;
}

/// What a binary adds to the pipeline command line: input loaders (tried
/// in order) and a DICOM SEG writer.
pub struct Plugins {
    pub loaders: Vec<Box<dyn InputLoader>>,
    pub seg_writer: Option<Box<dyn SegWriter>>,
}

impl Default for Plugins {
    fn default() -> Self {
        Plugins {
            loaders: default_loaders(),
            seg_writer: Some(Box::new(crate::dicom::DicomSegWriter)),
        }
    }
}

/// The loaders this crate knows, tried in order: image files, then DICOM
/// (folders and DICOM files).
pub fn default_loaders() -> Vec<Box<dyn InputLoader>> {
    vec![Box::new(FileLoader), Box::new(crate::dicom::DicomLoader)]
}

/// Loads `path` with the first loader that accepts it.
pub fn load_input(
    loaders: &[Box<dyn InputLoader>],
    path: &Path,
    opts: &LoadOptions,
) -> Result<Loaded, PipelineError> {
    if !path.exists() {
        return Err(PipelineError::BadInput {
            path: path.to_path_buf(),
            reason: "does not exist".into(),
        });
    }
    match loaders.iter().find(|l| l.accepts(path)) {
        Some(l) => l.load(path, opts),
        None if path.is_dir() => Err(PipelineError::BadInput {
            path: path.to_path_buf(),
            reason: "is a folder, and no loader for it (DICOM) is available in this build".into(),
        }),
        None => Err(PipelineError::BadInput {
            path: path.to_path_buf(),
            reason: "unknown file type (expected .nii, .nii.gz, .nrrd, .nhdr or a DICOM folder)"
                .into(),
        }),
    }
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

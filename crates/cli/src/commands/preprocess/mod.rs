//! `deepneuro preprocess <step>`: the native preprocessing operations of
//! `deepneuro-preprocess` (and the external tools) on files.
//!
//! Every step reads its inputs, runs, writes its outputs atomically and, with
//! `--json`, prints a one-object summary with the compute time (file I/O
//! excluded), which `make bench` compares with SimpleITK and ANTs.

mod n4;
mod normalize;
mod register;
mod resample;

use crate::exit::{Code, Failure};
use crate::input::{read_input, InputOptions};
use deepneuro_preprocess::PreprocessError;
use deepneuro_volume::Volume;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum PreprocessCommand {
    /// Resample onto a new spacing or onto another image's grid (nearest, linear, cubic B-spline, label-safe).
    #[command(
        after_help = "Examples:\n  deepneuro preprocess resample t1.nii.gz t1_1mm.nii.gz --spacing 1\n  deepneuro preprocess resample seg.nii.gz seg_on_flair.nii.gz --like flair.nii.gz --interp label"
    )]
    Resample(resample::Args),
    /// Intensity normalisation: z-score, percentile clip and rescale, histogram matching.
    #[command(
        after_help = "Examples:\n  deepneuro preprocess normalize t1.nii.gz t1_z.nii.gz --zscore --mask brain.nii.gz\n  deepneuro preprocess normalize t1.nii.gz t1_01.nii.gz --percentiles 0.5,99.5 --rescale 0,1\n  deepneuro preprocess normalize t2.nii.gz t2_hm.nii.gz --histogram-match ref_t2.nii.gz"
    )]
    Normalize(normalize::Args),
    /// N4 bias field correction (native; or ANTs / 3D Slicer with --tool).
    #[command(
        after_help = "Example:\n  deepneuro preprocess n4 t1.nii.gz t1_n4.nii.gz --mask brain.nii.gz --bias-field field.nii.gz"
    )]
    N4(n4::Args),
    /// Rigid or affine registration of a moving image onto a fixed one (native; or ANTs / BRAINSFit with --tool).
    #[command(
        after_help = "Example:\n  deepneuro preprocess register t1.nii.gz flair.nii.gz flair_on_t1.nii.gz --itk-transform flair_to_t1.txt --matrix flair_to_t1_ras.txt"
    )]
    Register(register::Args),
}

/// Options every step shares.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Common {
    /// Print a JSON summary (outputs, compute seconds) on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: InputOptions,
}

pub fn run(cmd: &PreprocessCommand) -> Result<(), Failure> {
    match cmd {
        PreprocessCommand::Resample(a) => resample::run(a),
        PreprocessCommand::Normalize(a) => normalize::run(a),
        PreprocessCommand::N4(a) => n4::run(a),
        PreprocessCommand::Register(a) => register::run(a),
    }
}

/// Reads an input volume; errors name the file.
fn load(path: &Path, common: &Common) -> Result<Volume, Failure> {
    read_input(path, &common.source)
}

/// Checks that an output name has a known format before any work is done.
fn check_output(path: &Path) -> Result<(), Failure> {
    deepneuro_io::Format::from_path(path)
        .map(|_| ())
        .map_err(|e| Failure::new(Code::Output, e))
}

/// Maps a library error to a one-line message naming `file` and its exit code.
fn fail(file: &Path, e: PreprocessError) -> Failure {
    let code = match &e {
        PreprocessError::ToolMissing { .. } => Code::ToolMissing,
        PreprocessError::ToolFailed { .. } => Code::ToolFailed,
        PreprocessError::BadParameter { .. } => Code::Usage,
        e if e.is_output_error() => Code::Output,
        _ => Code::Input,
    };
    match e {
        // These already name their file or program.
        PreprocessError::Io(_)
        | PreprocessError::BadTransform { .. }
        | PreprocessError::ToolMissing { .. }
        | PreprocessError::ToolFailed { .. }
        | PreprocessError::BadParameter { .. } => Failure::new(code, e),
        e => Failure::new(code, format!("{}: {e}", file.display())),
    }
}

/// Times `f`, the compute part of a step.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

/// Prints the summary: JSON with `--json`, else one line per output on stderr
/// at info level.
fn report(common: &Common, summary: serde_json::Value) {
    if common.json {
        crate::commands::print_json(&summary);
    } else {
        tracing::info!("{summary}");
    }
}

/// Parses "a" or "a,b,c" into three numbers.
fn triple(s: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>().map_err(|e| format!("'{p}': {e}")))
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [a] => Ok([*a, *a, *a]),
        [a, b, c] => Ok([*a, *b, *c]),
        _ => Err(format!(
            "expected 1 or 3 comma-separated numbers, got '{s}'"
        )),
    }
}

/// Parses "a,b" into two numbers.
fn pair(s: &str) -> Result<(f64, f64), String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>().map_err(|e| format!("'{p}': {e}")))
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [a, b] => Ok((*a, *b)),
        _ => Err(format!("expected two comma-separated numbers, got '{s}'")),
    }
}

fn path_json(p: &Path) -> serde_json::Value {
    serde_json::Value::String(p.display().to_string())
}

#[allow(dead_code)]
fn opt_path_json(p: &Option<PathBuf>) -> serde_json::Value {
    p.as_deref()
        .map(path_json)
        .unwrap_or(serde_json::Value::Null)
}

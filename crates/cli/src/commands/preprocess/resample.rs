use super::{check_output, fail, load, path_json, report, timed, triple, Common};
use crate::exit::{Code, Failure};
use deepneuro_preprocess::resample::{self, Grid, Interpolation, ResampleOptions};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp {
    Nearest,
    Linear,
    Bspline,
    /// Label maps: every label resampled as its own map, the largest wins.
    Label,
}

#[derive(clap::Args)]
pub struct Args {
    /// Input volume (NIfTI, NRRD or a DICOM folder).
    pub input: PathBuf,
    /// Output file (.nii.gz, .nii, .nrrd).
    pub output: PathBuf,
    /// New voxel size in mm: one number or x,y,z.
    #[arg(long, value_parser = triple, conflicts_with = "like", required_unless_present = "like")]
    pub spacing: Option<[f64; 3]>,
    /// Resample onto this image's grid (same world frame).
    #[arg(long)]
    pub like: Option<PathBuf>,
    /// Interpolation.
    #[arg(long, value_enum, default_value = "linear")]
    pub interp: Interp,
    /// Smooth before downsampling to avoid aliasing.
    #[arg(long)]
    pub antialias: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(a: &Args) -> Result<(), Failure> {
    crate::overwrite::refuse(
        &[Some(a.input.as_path()), a.like.as_deref()],
        &[Some(a.output.as_path())],
    )?;
    check_output(&a.output)?;
    let vol = load(&a.input, &a.common)?;
    let grid = match (&a.like, a.spacing) {
        (Some(like), _) => Grid::of(&load(like, &a.common)?),
        (None, Some(sp)) => Grid::with_spacing(&vol, sp).map_err(|e| fail(&a.input, e))?,
        (None, None) => return Err(Failure::new(Code::Usage, "give --spacing or --like")),
    };
    let opts = ResampleOptions {
        interpolation: match a.interp {
            Interp::Nearest => Interpolation::Nearest,
            Interp::Linear | Interp::Label => Interpolation::Linear,
            Interp::Bspline => Interpolation::BSpline,
        },
        antialias: a.antialias,
        ..ResampleOptions::default()
    };
    let (out, secs) = timed(|| {
        if a.interp == Interp::Label {
            resample::resample_labels(&vol, &grid, None)
        } else {
            resample::resample(&vol, &grid, None, &opts)
        }
    });
    let mut out = out.map_err(|e| fail(&a.input, e))?;
    // Labels keep the input's integer type; intensities become float32
    // (interpolated values are not integers).
    if a.interp == Interp::Label || a.interp == Interp::Nearest {
        out.set_dtype(vol.dtype());
    }
    deepneuro_io::write(&out, &a.output)?;
    report(
        &a.common,
        serde_json::json!({
            "step": "resample",
            "input": path_json(&a.input),
            "output": path_json(&a.output),
            "shape": out.spatial_shape(),
            "spacing": out.spacing(),
            "seconds": secs,
        }),
    );
    Ok(())
}

use super::{check_output, fail, load, opt_path_json, path_json, report, timed, Common};
use crate::exit::{Code, Failure};
use deepneuro_preprocess::external::{self, ExternalTransform, Tool};
use deepneuro_preprocess::register::{
    register, resample_moving, Initialization, Metric, RegistrationOptions, TransformKind,
};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 6 degrees of freedom: rotation and translation.
    Rigid,
    /// 12 degrees of freedom.
    Affine,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricArg {
    /// Mattes mutual information: different contrasts (FLAIR onto T1).
    Mattes,
    /// Normalised cross-correlation: the same contrast.
    Ncc,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Align the centres of mass.
    CenterOfMass,
    /// Align the centres of the two grids.
    Geometry,
    /// Align centres of mass and principal axes.
    Moments,
    /// Start from the scanner coordinates as they are.
    Identity,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegTool {
    /// deepneuro's own registration (no external program needed).
    Native,
    /// ANTs' antsRegistration on PATH.
    Ants,
    /// 3D Slicer's BRAINSFit (PATH or DEEPNEURO_SLICER_CLI).
    Slicer,
}

#[derive(clap::Args)]
pub struct Args {
    /// The reference image (its grid is the output grid).
    pub fixed: PathBuf,
    /// The image to move.
    pub moving: PathBuf,
    /// The moving image resampled onto the fixed grid (.nii.gz, .nii, .nrrd).
    pub output: PathBuf,
    /// The transform estimated.
    #[arg(long, value_enum, default_value = "rigid")]
    pub transform: Kind,
    /// The similarity measure optimised.
    #[arg(long, value_enum, default_value = "mattes")]
    pub metric: MetricArg,
    /// Histogram bins of Mattes mutual information.
    #[arg(long, default_value_t = 50)]
    pub bins: usize,
    /// How the first transform is chosen.
    #[arg(long, value_enum, default_value = "center-of-mass")]
    pub init: Init,
    /// Shrink factors of the pyramid, coarse to fine.
    #[arg(long, value_delimiter = ',', default_value = "4,2,1")]
    pub shrink_factors: Vec<usize>,
    /// Gaussian smoothing per level in mm.
    #[arg(long, value_delimiter = ',', default_value = "2,1,0")]
    pub smoothing_sigmas: Vec<f64>,
    /// Only voxels inside this mask of the fixed image drive the metric (default: every voxel).
    #[arg(long)]
    pub fixed_mask: Option<PathBuf>,
    /// Write the transform (fixed to moving, ITK's convention) as an ITK text transform file
    /// (default: not written).
    #[arg(long)]
    pub itk_transform: Option<PathBuf>,
    /// Write the transform as a 4x4 matrix in RAS mm, fixed world to moving world
    /// (default: not written).
    #[arg(long)]
    pub matrix: Option<PathBuf>,
    /// Which implementation runs.
    #[arg(long, value_enum, default_value = "native")]
    pub tool: RegTool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(a: &Args) -> Result<(), Failure> {
    crate::overwrite::refuse(
        &[
            Some(a.fixed.as_path()),
            Some(a.moving.as_path()),
            a.fixed_mask.as_deref(),
        ],
        &[
            Some(a.output.as_path()),
            a.itk_transform.as_deref(),
            a.matrix.as_deref(),
        ],
    )?;
    check_output(&a.output)?;
    if a.tool != RegTool::Native {
        return run_external(a);
    }
    let fixed = load(&a.fixed, &a.common)?;
    let moving = load(&a.moving, &a.common)?;
    let mask = a
        .fixed_mask
        .as_ref()
        .map(|m| load(m, &a.common))
        .transpose()?;
    let defaults = RegistrationOptions::default();
    let levels = a.shrink_factors.len();
    let opts = RegistrationOptions {
        transform: match a.transform {
            Kind::Rigid => TransformKind::Rigid,
            Kind::Affine => TransformKind::Affine,
        },
        metric: match a.metric {
            MetricArg::Mattes => Metric::MattesMutualInformation { bins: a.bins },
            MetricArg::Ncc => Metric::NormalizedCrossCorrelation,
        },
        initialization: match a.init {
            Init::CenterOfMass => Initialization::CenterOfMass,
            Init::Geometry => Initialization::Geometry,
            Init::Moments => Initialization::Moments,
            Init::Identity => Initialization::Identity,
        },
        shrink_factors: a.shrink_factors.clone(),
        smoothing_sigmas_mm: a.smoothing_sigmas.clone(),
        iterations: defaults
            .iterations
            .iter()
            .copied()
            .chain(std::iter::repeat(
                *defaults.iterations.last().unwrap_or(&100),
            ))
            .take(levels)
            .collect(),
        ..defaults
    };
    let (r, secs) = timed(|| register(&fixed, &moving, mask.as_ref(), &opts));
    let reg = r.map_err(|e| fail(&a.moving, e))?;
    let mut out =
        resample_moving(&moving, &fixed, &reg.transform).map_err(|e| fail(&a.moving, e))?;
    out.set_dtype(deepneuro_volume::DType::F32);
    deepneuro_io::write(&out, &a.output)?;
    if let Some(p) = &a.itk_transform {
        reg.transform.write_itk(p).map_err(|e| fail(p, e))?;
    }
    if let Some(p) = &a.matrix {
        reg.transform.write_matrix(p).map_err(|e| fail(p, e))?;
    }
    let m = reg.transform.ras_matrix();
    let rows: Vec<Vec<f64>> = (0..4)
        .map(|i| (0..4).map(|j| m[(i, j)]).collect())
        .collect();
    report(
        &a.common,
        serde_json::json!({"step": "register", "tool": "native", "fixed": path_json(&a.fixed),
            "moving": path_json(&a.moving), "output": path_json(&a.output),
            "itk_transform": opt_path_json(&a.itk_transform), "matrix_file": opt_path_json(&a.matrix),
            "matrix": rows, "metric": reg.metric_value, "iterations": reg.iterations, "seconds": secs}),
    );
    Ok(())
}

/// ANTs or BRAINSFit: they write the warped image and their own transform
/// file next to the output.
fn run_external(a: &Args) -> Result<(), Failure> {
    if a.itk_transform.is_some() || a.matrix.is_some() || a.fixed_mask.is_some() {
        return Err(Failure::new(
            Code::Usage,
            "--itk-transform, --matrix and --fixed-mask apply to --tool native only",
        ));
    }
    let tool = if a.tool == RegTool::Ants {
        Tool::AntsRegistration
    } else {
        Tool::SlicerBrainsFit
    };
    let kind = match a.transform {
        Kind::Rigid => ExternalTransform::Rigid,
        Kind::Affine => ExternalTransform::Affine,
    };
    let stem = a
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem
        .trim_end_matches(".gz")
        .trim_end_matches(".nii")
        .trim_end_matches(".nrrd");
    let prefix = a.output.with_file_name(format!("{stem}_"));
    let (r, secs) = timed(|| external::register(tool, &a.fixed, &a.moving, &prefix, kind));
    let r = r.map_err(|e| fail(&a.moving, e))?;
    std::fs::rename(&r.warped, &a.output)
        .map_err(|e| Failure::new(Code::Output, format!("{}: {e}", a.output.display())))?;
    report(
        &a.common,
        serde_json::json!({"step": "register", "tool": tool.program(), "fixed": path_json(&a.fixed),
            "moving": path_json(&a.moving), "output": path_json(&a.output),
            "transform_file": path_json(&r.transform), "seconds": secs}),
    );
    Ok(())
}

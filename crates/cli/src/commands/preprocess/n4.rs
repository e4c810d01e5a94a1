use super::{check_output, fail, load, opt_path_json, path_json, report, timed, Common};
use crate::exit::Failure;
use deepneuro_preprocess::external::{self, ExternalN4, Tool};
use deepneuro_preprocess::n4::{n4, N4Options};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum N4Tool {
    /// deepneuro's own N4 (no external program needed).
    Native,
    /// ANTs' N4BiasFieldCorrection, which must be on PATH.
    Ants,
    /// 3D Slicer's N4ITKBiasFieldCorrection (PATH or DEEPNEURO_SLICER_CLI).
    Slicer,
}

#[derive(clap::Args)]
pub struct Args {
    /// Input volume (NIfTI, NRRD or a DICOM folder; a file for --tool ants|slicer).
    pub input: PathBuf,
    /// Corrected output (.nii.gz, .nii, .nrrd), float32.
    pub output: PathBuf,
    /// Fit the field inside this mask (non-zero voxels; default: every voxel).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Also write the estimated multiplicative bias field here (default: not written).
    #[arg(long)]
    pub bias_field: Option<PathBuf>,
    /// Shrink factor of the image the field is fitted on.
    #[arg(long, default_value_t = N4Options::default().shrink_factor)]
    pub shrink_factor: usize,
    /// Maximum iterations per fitting level, e.g. 50,50,50,50 (the count sets the levels).
    #[arg(long, value_delimiter = ',', default_value = "50,50,50,50")]
    pub maximum_number_of_iterations: Vec<usize>,
    /// Stop a level when the field's coefficient of variation changes less than this.
    #[arg(long, default_value_t = N4Options::default().convergence_threshold)]
    pub convergence_threshold: f64,
    /// Full width at half maximum of the Gaussian deconvolved from the histogram.
    #[arg(long, default_value_t = N4Options::default().bias_field_fwhm)]
    pub bias_field_fwhm: f64,
    /// Wiener filter noise of the histogram sharpening.
    #[arg(long, default_value_t = N4Options::default().wiener_filter_noise)]
    pub wiener_filter_noise: f64,
    /// Histogram bins of the sharpening.
    #[arg(long, default_value_t = N4Options::default().number_of_histogram_bins)]
    pub number_of_histogram_bins: usize,
    /// B-spline control points per axis at the first level.
    #[arg(long, default_value_t = N4Options::default().number_of_control_points[0])]
    pub number_of_control_points: usize,
    /// Which implementation runs.
    #[arg(long, value_enum, default_value = "native")]
    pub tool: N4Tool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(a: &Args) -> Result<(), Failure> {
    crate::overwrite::refuse(
        &[Some(a.input.as_path()), a.mask.as_deref()],
        &[Some(a.output.as_path()), a.bias_field.as_deref()],
    )?;
    check_output(&a.output)?;
    if let Some(f) = &a.bias_field {
        check_output(f)?;
    }
    if a.tool != N4Tool::Native {
        let tool = if a.tool == N4Tool::Ants {
            Tool::AntsN4
        } else {
            Tool::SlicerN4
        };
        let opts = ExternalN4 {
            shrink_factor: a.shrink_factor,
            iterations: a.maximum_number_of_iterations.clone(),
            convergence_threshold: a.convergence_threshold,
            spline_mesh: a.number_of_control_points.saturating_sub(3).max(1),
        };
        let (r, secs) = timed(|| {
            external::n4(
                tool,
                &a.input,
                &a.output,
                a.mask.as_deref(),
                a.bias_field.as_deref(),
                &opts,
            )
        });
        r.map_err(|e| fail(&a.input, e))?;
        report(
            &a.common,
            serde_json::json!({"step": "n4", "tool": tool.program(), "input": path_json(&a.input),
                "output": path_json(&a.output), "bias_field": opt_path_json(&a.bias_field), "seconds": secs}),
        );
        return Ok(());
    }
    let vol = load(&a.input, &a.common)?;
    let mask = a.mask.as_ref().map(|m| load(m, &a.common)).transpose()?;
    let opts = N4Options {
        shrink_factor: a.shrink_factor,
        maximum_number_of_iterations: a.maximum_number_of_iterations.clone(),
        convergence_threshold: a.convergence_threshold,
        bias_field_fwhm: a.bias_field_fwhm,
        wiener_filter_noise: a.wiener_filter_noise,
        number_of_histogram_bins: a.number_of_histogram_bins,
        number_of_control_points: [a.number_of_control_points; 3],
        ..N4Options::default()
    };
    let (r, secs) = timed(|| n4(&vol, mask.as_ref(), &opts));
    let mut r = r.map_err(|e| fail(&a.input, e))?;
    r.corrected.set_dtype(deepneuro_volume::DType::F32);
    deepneuro_io::write(&r.corrected, &a.output)?;
    if let Some(f) = &a.bias_field {
        r.bias_field.set_dtype(deepneuro_volume::DType::F32);
        deepneuro_io::write(&r.bias_field, f)?;
    }
    report(
        &a.common,
        serde_json::json!({"step": "n4", "tool": "native", "input": path_json(&a.input),
            "output": path_json(&a.output), "bias_field": opt_path_json(&a.bias_field),
            "iterations": r.iterations, "seconds": secs}),
    );
    Ok(())
}

use super::{check_output, fail, load, pair, path_json, report, timed, Common};
use crate::exit::{Code, Failure};
use deepneuro_preprocess::intensity::{self, HistogramMatchOptions, ZScoreRegion};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Input volume (NIfTI, NRRD or a DICOM folder).
    pub input: PathBuf,
    /// Output file (.nii.gz, .nii, .nrrd); written as float32.
    pub output: PathBuf,
    /// Z-score: subtract the mean, divide by the standard deviation (over the whole volume, --mask or --nonzero).
    #[arg(long, group = "method")]
    pub zscore: bool,
    /// With --zscore: statistics inside this mask (non-zero voxels; default: the whole volume).
    #[arg(long, requires = "zscore")]
    pub mask: Option<PathBuf>,
    /// With --zscore: statistics over the non-zero voxels.
    #[arg(long, requires = "zscore", conflicts_with = "mask")]
    pub nonzero: bool,
    /// Clip to these percentiles, e.g. 0.5,99.5.
    #[arg(long, value_parser = pair, group = "method")]
    pub percentiles: Option<(f64, f64)>,
    /// With --percentiles: rescale the clipped range linearly to a,b (default: keep the clipped values).
    #[arg(long, value_parser = pair, requires = "percentiles")]
    pub rescale: Option<(f64, f64)>,
    /// Match the intensity histogram to this reference image.
    #[arg(long, value_name = "REFERENCE", group = "method")]
    pub histogram_match: Option<PathBuf>,
    /// With --histogram-match: histogram levels.
    #[arg(long, default_value_t = HistogramMatchOptions::default().levels)]
    pub levels: usize,
    /// With --histogram-match: quantiles matched between the two histograms.
    #[arg(long, default_value_t = HistogramMatchOptions::default().match_points)]
    pub match_points: usize,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(a: &Args) -> Result<(), Failure> {
    crate::overwrite::refuse(
        &[
            Some(a.input.as_path()),
            a.mask.as_deref(),
            a.histogram_match.as_deref(),
        ],
        &[Some(a.output.as_path())],
    )?;
    check_output(&a.output)?;
    let vol = load(&a.input, &a.common)?;
    let (out, secs, method) = if a.zscore {
        let mask = a.mask.as_ref().map(|m| load(m, &a.common)).transpose()?;
        let region = match (&mask, a.nonzero) {
            (Some(m), _) => ZScoreRegion::Mask(m),
            (None, true) => ZScoreRegion::NonZero,
            (None, false) => ZScoreRegion::Whole,
        };
        let (r, s) = timed(|| intensity::zscore(&vol, region));
        let file = a.mask.as_ref().unwrap_or(&a.input);
        (r.map_err(|e| fail(file, e))?, s, "zscore")
    } else if let Some((lo, hi)) = a.percentiles {
        let rescale = a.rescale.map(|(x, y)| (x as f32, y as f32));
        let (r, s) = timed(|| intensity::percentile_clip(&vol, lo, hi, rescale));
        (r.map_err(|e| fail(&a.input, e))?, s, "percentiles")
    } else if let Some(reference) = &a.histogram_match {
        let rvol = load(reference, &a.common)?;
        let opts = HistogramMatchOptions {
            levels: a.levels,
            match_points: a.match_points,
            ..HistogramMatchOptions::default()
        };
        let (r, s) = timed(|| intensity::histogram_match(&vol, &rvol, &opts));
        (r.map_err(|e| fail(&a.input, e))?, s, "histogram-match")
    } else {
        return Err(Failure::new(
            Code::Usage,
            "choose one of --zscore, --percentiles or --histogram-match",
        ));
    };
    let mut out = out;
    out.set_dtype(deepneuro_volume::DType::F32);
    deepneuro_io::write(&out, &a.output)?;
    report(
        &a.common,
        serde_json::json!({
            "step": "normalize",
            "method": method,
            "input": path_json(&a.input),
            "output": path_json(&a.output),
            "seconds": secs,
        }),
    );
    Ok(())
}

//! N4 bias field correction (Tustison et al. 2010, "N4ITK: improved N3
//! bias correction"), following ITK's `N4BiasFieldCorrectionImageFilter`.
//!
//! The image is modelled as `v = u * b`: the true image `u` times a smooth
//! multiplicative field `b`. In the log domain the field is additive; N4
//! alternates between sharpening the histogram of the current corrected
//! log image (a Wiener deconvolution of the field's Gaussian blur) and
//! fitting a cubic B-spline to the difference, on a control-point lattice
//! whose number of spans doubles at every fitting level.
//!
//! Like the ANTs `N4BiasFieldCorrection` driver, the iterations run on the
//! image shrunk by [`N4Options::shrink_factor`] (every `factor`-th voxel,
//! centred like ITK's `ShrinkImageFilter`), and the returned field is the
//! final B-spline evaluated at every full-resolution voxel in the same
//! world frame, not an interpolation of the shrunk field.
//!
//! Voxels selected by the mask (mask != 0; every voxel without a mask, as
//! SimpleITK does) whose intensity is zero or negative have no logarithm:
//! they are excluded from the fit, as the ANTs driver does, but still
//! divided by the field. Every channel of a multi-channel image is
//! corrected independently with the same mask.

mod bspline;
mod iterate;
mod sharpen;
mod shrink;

use crate::PreprocessError;
use deepneuro_volume::{DType, Volume};
use rayon::prelude::*;

/// Largest number of control points of the final lattice, to fail early on
/// options that would need gigabytes.
const MAX_LATTICE_POINTS: usize = 1 << 24;

/// N4 settings; the defaults are those of ITK and SimpleITK except for the
/// shrink factor.
#[derive(Debug, Clone, PartialEq)]
pub struct N4Options {
    /// Every `shrink_factor`-th voxel along each axis is fitted. The
    /// default 4 is the ANTs driver's and what SimpleITK users typically
    /// pass to `sitk.Shrink` (the filter itself shrinks nothing); 1 fits
    /// every voxel.
    pub shrink_factor: usize,
    /// The maximum number of iterations at each fitting level; its length
    /// is the number of levels.
    pub maximum_number_of_iterations: Vec<usize>,
    /// A level stops when the coefficient of variation of the field update
    /// (exp of old minus new log field, over the fitted voxels) is at or
    /// below this.
    pub convergence_threshold: f64,
    /// Full width at half maximum of the Gaussian that models the field's
    /// blur of the log-intensity histogram.
    pub bias_field_fwhm: f64,
    /// Noise term of the Wiener deconvolution of the histogram.
    pub wiener_filter_noise: f64,
    /// Bins of the log-intensity histogram.
    pub number_of_histogram_bins: usize,
    /// Control points per axis at the first level (at least
    /// `spline_order + 1`); each further level doubles the spans.
    pub number_of_control_points: [usize; 3],
    /// Degree of the B-spline (3: cubic).
    pub spline_order: usize,
}

impl Default for N4Options {
    fn default() -> Self {
        N4Options {
            shrink_factor: 4,
            maximum_number_of_iterations: vec![50, 50, 50, 50],
            convergence_threshold: 0.001,
            bias_field_fwhm: 0.15,
            wiener_filter_noise: 0.01,
            number_of_histogram_bins: 200,
            number_of_control_points: [4, 4, 4],
            spline_order: 3,
        }
    }
}

/// What [`n4`] returns.
#[derive(Debug, Clone)]
pub struct N4Result {
    /// `input / bias_field`, every voxel (also outside the mask).
    pub corrected: Volume,
    /// The multiplicative field on the input grid (exp of the log field).
    pub bias_field: Volume,
    /// Iterations run at each level (for several channels, the most any
    /// channel ran).
    pub iterations: Vec<usize>,
    /// The last convergence measure of each level (for several channels,
    /// the largest); infinite for a level that ran no iteration.
    pub converged: Vec<f64>,
}

fn bad(name: &'static str, reason: String) -> PreprocessError {
    PreprocessError::BadParameter { name, reason }
}

impl N4Options {
    /// Checks every option; [`n4`] calls this first.
    pub fn validate(&self) -> Result<(), PreprocessError> {
        if self.shrink_factor == 0 {
            return Err(bad("shrink_factor", "must be at least 1".into()));
        }
        if self.maximum_number_of_iterations.is_empty() {
            return Err(bad(
                "maximum_number_of_iterations",
                "needs one entry per fitting level (at least one)".into(),
            ));
        }
        if !(self.convergence_threshold >= 0.0 && self.convergence_threshold.is_finite()) {
            return Err(bad(
                "convergence_threshold",
                format!("{} is not a finite value >= 0", self.convergence_threshold),
            ));
        }
        if !(self.bias_field_fwhm > 0.0 && self.bias_field_fwhm.is_finite()) {
            return Err(bad(
                "bias_field_fwhm",
                format!("{} is not a finite value > 0", self.bias_field_fwhm),
            ));
        }
        if !(self.wiener_filter_noise > 0.0 && self.wiener_filter_noise.is_finite()) {
            return Err(bad(
                "wiener_filter_noise",
                format!("{} is not a finite value > 0", self.wiener_filter_noise),
            ));
        }
        if !(2..=1 << 20).contains(&self.number_of_histogram_bins) {
            return Err(bad(
                "number_of_histogram_bins",
                format!("{} is not in 2..=1048576", self.number_of_histogram_bins),
            ));
        }
        if !(1..=10).contains(&self.spline_order) {
            return Err(bad(
                "spline_order",
                format!("{} is not in 1..=10", self.spline_order),
            ));
        }
        let mut total = 1usize;
        for &c in &self.number_of_control_points {
            if c <= self.spline_order {
                return Err(bad(
                    "number_of_control_points",
                    format!(
                        "{:?}: need more than spline_order = {} per axis",
                        self.number_of_control_points, self.spline_order
                    ),
                ));
            }
            let levels = self.maximum_number_of_iterations.len() as u32;
            let last = 1usize
                .checked_shl(levels - 1)
                .and_then(|s| (c - self.spline_order).checked_mul(s))
                .map(|s| s + self.spline_order);
            total = last
                .and_then(|l| total.checked_mul(l))
                .unwrap_or(usize::MAX);
        }
        if total > MAX_LATTICE_POINTS {
            return Err(bad(
                "maximum_number_of_iterations",
                format!(
                    "{} levels from {:?} control points give a lattice of more than {MAX_LATTICE_POINTS} points",
                    self.maximum_number_of_iterations.len(),
                    self.number_of_control_points
                ),
            ));
        }
        Ok(())
    }
}

/// Checks that `mask` shares the image's grid and selects a voxel; returns
/// its voxels flat in NIfTI order.
fn check_mask(image: &Volume, mask: &Volume) -> Result<Vec<f32>, PreprocessError> {
    crate::error::check_mask_grid(image, mask)?;
    let mismatch = |detail: String| PreprocessError::MismatchedFrames {
        what: "mask".into(),
        detail,
    };
    if mask.channels() != 1 {
        return Err(mismatch(format!(
            "has {} channels; a mask has one",
            mask.channels()
        )));
    }
    let m = mask.nifti_slice().into_owned();
    let bad = m.iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(PreprocessError::NonFinite {
            what: "mask".into(),
            count: bad,
        });
    }
    if m.iter().all(|&v| v == 0.0) {
        return Err(PreprocessError::EmptyMask {
            what: "mask".into(),
        });
    }
    Ok(m)
}

/// Corrects the bias field of `image` (see the module docs); `mask`
/// (optional, on the image's grid) selects the voxels that drive the fit.
///
/// # Errors
///
/// - [`PreprocessError::BadParameter`] for invalid options, or when no
///   fitted voxel is left on the shrunk grid (use a smaller shrink factor);
/// - [`PreprocessError::NonFinite`] for NaN or infinite voxels in the image
///   or the mask;
/// - [`PreprocessError::MismatchedFrames`] for a mask of another shape, an
///   affine more than 1e-4 mm away, or several channels;
/// - [`PreprocessError::EmptyMask`] for a mask without a nonzero voxel, or
///   without a voxel above zero in the image;
/// - [`PreprocessError::Constant`] when the selected voxels of a channel all
///   have one value.
pub fn n4(
    image: &Volume,
    mask: Option<&Volume>,
    opts: &N4Options,
) -> Result<N4Result, PreprocessError> {
    opts.validate()?;
    let data = image.nifti_slice();
    let nonfinite = data.par_iter().filter(|v| !v.is_finite()).count();
    if nonfinite > 0 {
        return Err(PreprocessError::NonFinite {
            what: "image".into(),
            count: nonfinite,
        });
    }
    let mask = mask.map(|m| check_mask(image, m)).transpose()?;
    let full = image.spatial_shape();
    let nvox = full.iter().product::<usize>();
    let channels = image.channels();
    let grid = shrink::ShrinkGrid::new(full, opts.shrink_factor);

    let mut field = vec![0f32; data.len()];
    let mut iterations = vec![0; opts.maximum_number_of_iterations.len()];
    let mut converged = vec![f64::NEG_INFINITY; iterations.len()];
    for c in 0..channels {
        let what = if channels == 1 {
            "image".to_string()
        } else {
            format!("image (channel {c})")
        };
        let chan = &data[c * nvox..(c + 1) * nvox];
        check_contrast(chan, mask.as_deref(), &what)?;
        let samples = shrink::collect(chan, mask.as_deref(), full, &grid);
        if samples.points.is_empty() {
            return Err(PreprocessError::BadParameter {
                name: "shrink_factor",
                reason: format!(
                    "{what}: no voxel above zero inside the mask is left after shrinking by {}",
                    opts.shrink_factor
                ),
            });
        }
        let fitted = iterate::fit_channel(&samples, &grid, opts);
        for (l, (&it, &cv)) in fitted.iterations.iter().zip(&fitted.converged).enumerate() {
            iterations[l] = iterations[l].max(it);
            converged[l] = converged[l].max(cv);
        }
        let axes = iterate::full_axes(&grid, full, fitted.lattice.dims, opts.spline_order);
        let log_field = fitted.lattice.eval_grid(&axes, full);
        field[c * nvox..(c + 1) * nvox]
            .par_iter_mut()
            .zip(&log_field)
            .for_each(|(f, l)| *f = l.exp());
    }
    let corrected: Vec<f32> = data.par_iter().zip(&field).map(|(v, f)| v / f).collect();
    let shape = [channels, full[0], full[1], full[2]];
    let affine = *image.affine();
    Ok(N4Result {
        corrected: Volume::from_nifti_vec(shape, corrected, affine, DType::F32)?,
        bias_field: Volume::from_nifti_vec(shape, field, affine, DType::F32)?,
        iterations,
        converged,
    })
}

/// Fails when the voxels that would be fitted cannot define a field: all
/// equal (Constant), or none above zero (EmptyMask).
fn check_contrast(chan: &[f32], mask: Option<&[f32]>, what: &str) -> Result<(), PreprocessError> {
    let selected = |i: usize| mask.is_none_or(|m| m[i] != 0.0);
    let (lo, hi, positive) = chan
        .par_iter()
        .enumerate()
        .filter(|(i, _)| selected(*i))
        .map(|(_, &v)| (v, v, v > 0.0))
        .reduce(
            || (f32::INFINITY, f32::NEG_INFINITY, false),
            |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 || b.2),
        );
    if lo == hi {
        return Err(PreprocessError::Constant {
            what: what.into(),
            value: lo,
        });
    }
    if !positive {
        return Err(PreprocessError::EmptyMask {
            what: format!("{what}: voxels above zero inside the mask"),
        });
    }
    Ok(())
}

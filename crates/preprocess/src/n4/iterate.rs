//! The N4 iterations of one channel on the shrunk grid (ITK's
//! `N4BiasFieldCorrectionImageFilter::GenerateData`): per fitting level,
//! sharpen the current corrected log image, fit a B-spline to the residual,
//! add its control points to the total, until the field update converges.

use super::bspline::{fit, AxisWeights, Lattice};
use super::sharpen::{sharpen, SharpenParams};
use super::shrink::{Samples, ShrinkGrid};
use super::N4Options;
use rayon::prelude::*;

/// The fitted log field of one channel.
#[derive(Debug, Clone)]
pub(crate) struct ChannelFit {
    /// Control points of the log bias field; its parametric domain is the
    /// shrunk grid, voxel 0 to voxel n - 1 along each axis.
    pub lattice: Lattice,
    pub iterations: Vec<usize>,
    pub converged: Vec<f64>,
}

/// The B-spline weights of every voxel position of the shrunk grid for a
/// lattice with `dims` control points.
pub(crate) fn shrunk_axes(grid: &ShrinkGrid, dims: [usize; 3], order: usize) -> [AxisWeights; 3] {
    std::array::from_fn(|d| {
        let spans = dims[d] - order;
        let n = grid.n[d];
        let scale = if n > 1 {
            spans as f64 / (n - 1) as f64
        } else {
            0.0
        };
        AxisWeights::new(order, spans, (0..n).map(move |i| i as f64 * scale))
    })
}

/// The B-spline weights of every voxel position of the full grid: input
/// voxel i lies at shrunk coordinate (i - offset) / factor, so the field is
/// the fitted spline itself, not a resampling of its shrunk image. The few
/// border voxels beyond the shrunk grid take the value at its edge.
pub(crate) fn full_axes(
    grid: &ShrinkGrid,
    full: [usize; 3],
    dims: [usize; 3],
    order: usize,
) -> [AxisWeights; 3] {
    std::array::from_fn(|d| {
        let spans = dims[d] - order;
        let n = grid.n[d];
        let scale = if n > 1 {
            spans as f64 / (n - 1) as f64
        } else {
            0.0
        };
        AxisWeights::new(
            order,
            spans,
            (0..full[d]).map(move |i| grid.shrunk_coord(d, i) * scale),
        )
    })
}

/// Runs every fitting level on the samples of one channel.
pub(crate) fn fit_channel(samples: &Samples, grid: &ShrinkGrid, opts: &N4Options) -> ChannelFit {
    let order = opts.spline_order;
    let params = SharpenParams {
        bins: opts.number_of_histogram_bins,
        fwhm: opts.bias_field_fwhm,
        noise: opts.wiener_filter_noise,
    };
    let m = samples.points.len();
    let mut lattice = Lattice::zeros(opts.number_of_control_points);
    let mut field = vec![0.0; m];
    let mut uncorrected = samples.log_values.clone();
    let mut sharpened = vec![0.0; m];
    let mut residual = vec![0.0; m];
    let levels = opts.maximum_number_of_iterations.len();
    let mut iterations = Vec::with_capacity(levels);
    let mut converged = Vec::with_capacity(levels);

    for (level, &max_iter) in opts.maximum_number_of_iterations.iter().enumerate() {
        let axes = shrunk_axes(grid, lattice.dims, order);
        let mut done = 0;
        let mut cv = f64::INFINITY;
        while done < max_iter && cv > opts.convergence_threshold {
            done += 1;
            sharpen(&uncorrected, &mut sharpened, params);
            residual
                .par_iter_mut()
                .zip(&uncorrected)
                .zip(&sharpened)
                .for_each(|((r, u), s)| *r = u - s);
            let update = fit(&samples.points, &residual, &axes, lattice.dims);
            lattice.add(&update);
            let new_field: Vec<f64> = samples
                .points
                .par_iter()
                .map(|p| lattice.eval_at(&axes, p.map(|v| v as usize)))
                .collect();
            cv = update_variation(&field, &new_field);
            field = new_field;
            uncorrected
                .par_iter_mut()
                .zip(&samples.log_values)
                .zip(&field)
                .for_each(|((u, v), f)| *u = v - f);
        }
        tracing::debug!(level, iterations = done, cv, "N4 level done");
        iterations.push(done);
        converged.push(cv);
        if level + 1 < levels {
            lattice = lattice.refined(order);
        }
    }
    ChannelFit {
        lattice,
        iterations,
        converged,
    }
}

/// The coefficient of variation of exp(old - new) over the samples: N4's
/// convergence measure (zero with fewer than two samples).
fn update_variation(old: &[f64], new: &[f64]) -> f64 {
    let n = old.len();
    if n < 2 {
        return 0.0;
    }
    let ratio = |i: usize| (old[i] - new[i]).exp();
    let mean = (0..n).into_par_iter().map(ratio).sum::<f64>() / n as f64;
    let ss = (0..n)
        .into_par_iter()
        .map(|i| (ratio(i) - mean).powi(2))
        .sum::<f64>();
    (ss / (n - 1) as f64).sqrt() / mean
}

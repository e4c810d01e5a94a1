//! Histogram matching as ITK's `HistogramMatchingImageFilter` computes it
//! for float images (histogram measurements in single precision).
//!
//! Both images get a histogram of `levels` equal bins between a threshold
//! (the image mean, or its minimum) and its maximum, counting only voxels in
//! that range; the first bin is then widened down to the image minimum.
//! `match_points` quantiles at `j / (match_points + 1)` of both histograms,
//! together with the thresholds and the maxima, define a piecewise linear
//! map from source to reference intensities; below the source threshold the
//! map runs linearly from (source min, reference min).

use super::{check_finite, float_dtype};
use crate::PreprocessError;
use deepneuro_volume::Volume;
use rayon::prelude::*;

/// Histograms and quantile tables beyond this size only cost memory.
const MAX_LEVELS: usize = 1 << 24;

/// Options of [`histogram_match`]; the defaults are ITK's and SimpleITK's
/// (256 levels, 1 match point, threshold at the mean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistogramMatchOptions {
    /// Number of histogram bins.
    pub levels: usize,
    /// Number of quantiles matched between the threshold and the maximum.
    pub match_points: usize,
    /// Exclude voxels below the mean intensity (the background of most
    /// MRI) from the histograms; otherwise the threshold is the minimum.
    pub threshold_at_mean: bool,
}

impl Default for HistogramMatchOptions {
    fn default() -> Self {
        HistogramMatchOptions {
            levels: 256,
            match_points: 1,
            threshold_at_mean: true,
        }
    }
}

/// Statistics of one channel in ITK's precision: min, max and mean are
/// single precision; the sum is accumulated in double.
struct Stats {
    min: f32,
    max: f32,
    mean: f32,
}

fn stats(x: &[f32]) -> Stats {
    let (min, max, sum) = x
        .par_chunks(1 << 16)
        .map(|c| {
            c.iter().fold(
                (f32::INFINITY, f32::NEG_INFINITY, 0.0f64),
                |(lo, hi, s), &v| (lo.min(v), hi.max(v), s + v as f64),
            )
        })
        .reduce(
            || (f32::INFINITY, f32::NEG_INFINITY, 0.0),
            |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 + b.2),
        );
    Stats {
        min,
        max,
        mean: (sum / x.len() as f64) as f32,
    }
}

/// A one-dimensional histogram with ITK's bin layout.
struct Histogram {
    min: Vec<f32>,
    max: Vec<f32>,
    freq: Vec<f64>,
    total: f64,
}

impl Histogram {
    /// `levels` bins of equal width between `lo` and `hi` (computed in
    /// single precision as ITK's `Histogram::Initialize`), the first bin
    /// extended down to `true_min`; voxels in `[lo, hi]` are counted.
    fn new(x: &[f32], levels: usize, lo: f32, hi: f32, true_min: f32) -> Histogram {
        let interval = (hi - lo) / levels as f32;
        let mut min: Vec<f32> = (0..levels).map(|j| lo + j as f32 * interval).collect();
        let mut max: Vec<f32> = (0..levels)
            .map(|j| lo + (j + 1) as f32 * interval)
            .collect();
        min[0] = true_min;
        max[levels - 1] = hi;
        let freq = x
            .par_chunks(1 << 16)
            .fold(
                || vec![0u64; levels],
                |mut f, c| {
                    for &v in c {
                        if v >= lo && v <= hi {
                            // The bin with min <= v < max; the maximum itself
                            // goes to the last bin.
                            f[min[1..].partition_point(|&m| m <= v)] += 1;
                        }
                    }
                    f
                },
            )
            .reduce(
                || vec![0u64; levels],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        let freq: Vec<f64> = freq.into_iter().map(|f| f as f64).collect();
        let total = freq.iter().sum();
        Histogram {
            min,
            max,
            freq,
            total,
        }
    }

    /// ITK's `Histogram::Quantile`: walks the bins from the nearer end and
    /// interpolates linearly inside the bin where the cumulated frequency
    /// crosses `p`.
    fn quantile(&self, p: f64) -> f64 {
        let size = self.freq.len();
        let mut cumulated = 0.0;
        let (mut f_n, mut p_n_prev);
        if p < 0.5 {
            let mut n = 0;
            let mut p_n = 0.0;
            loop {
                f_n = self.freq[n];
                cumulated += f_n;
                p_n_prev = p_n;
                p_n = cumulated / self.total;
                n += 1;
                if !(n < size && p_n < p) {
                    break;
                }
            }
            let bin = n - 1;
            let (lo, hi) = (self.min[bin] as f64, self.max[bin] as f64);
            lo + ((p - p_n_prev) / (f_n / self.total)) * (hi - lo)
        } else {
            let mut n = size as i64 - 1;
            let mut m = 0;
            let mut p_n = 1.0;
            loop {
                f_n = self.freq[n as usize];
                cumulated += f_n;
                p_n_prev = p_n;
                p_n = 1.0 - cumulated / self.total;
                n -= 1;
                m += 1;
                if !(m < size && p_n > p) {
                    break;
                }
            }
            let bin = (n + 1) as usize;
            let (lo, hi) = (self.min[bin] as f64, self.max[bin] as f64);
            hi - ((p_n_prev - p) / (f_n / self.total)) * (hi - lo)
        }
    }
}

/// ITK's `Math::NotAlmostEquals(d, 0.0)` for doubles.
fn nonzero(d: f64) -> bool {
    d.abs() > 0.1 * f64::EPSILON
}

/// The piecewise linear intensity map of one channel.
struct Mapping {
    /// Source (row 0) and reference (row 1) knots: threshold, quantiles, max.
    src: Vec<f64>,
    refr: Vec<f64>,
    gradients: Vec<f64>,
    src_min: f64,
    ref_min: f64,
    lower: f64,
}

impl Mapping {
    fn new(src: &[f32], reference: &[f32], opts: &HistogramMatchOptions) -> Mapping {
        let side = |x: &[f32]| {
            let s = stats(x);
            let threshold = if opts.threshold_at_mean {
                s.mean
            } else {
                s.min
            };
            let h = Histogram::new(x, opts.levels, threshold, s.max, s.min);
            let delta = 1.0 / (opts.match_points as f64 + 1.0);
            let mut knots = vec![threshold as f64];
            knots.extend((1..=opts.match_points).map(|j| h.quantile(j as f64 * delta)));
            knots.push(s.max as f64);
            (s, knots)
        };
        let (s_stats, s_knots) = side(src);
        let (r_stats, r_knots) = side(reference);
        let gradients = (0..s_knots.len() - 1)
            .map(|j| {
                let d = s_knots[j + 1] - s_knots[j];
                if nonzero(d) {
                    (r_knots[j + 1] - r_knots[j]) / d
                } else {
                    0.0
                }
            })
            .collect();
        let d = s_knots[0] - s_stats.min as f64;
        let lower = if nonzero(d) {
            (r_knots[0] - r_stats.min as f64) / d
        } else {
            0.0
        };
        Mapping {
            src: s_knots,
            refr: r_knots,
            gradients,
            src_min: s_stats.min as f64,
            ref_min: r_stats.min as f64,
            lower,
        }
    }

    fn apply(&self, v: f32) -> f32 {
        let x = v as f64;
        let j = self
            .src
            .iter()
            .position(|&k| x < k)
            .unwrap_or(self.src.len());
        let y = if j == 0 {
            self.ref_min + (x - self.src_min) * self.lower
        } else if j == self.src.len() {
            // Only the source maximum lands here; ITK's upper gradient is
            // always 0, so it maps to the reference maximum.
            self.refr[j - 1]
        } else {
            self.refr[j - 1] + (x - self.src[j - 1]) * self.gradients[j - 1]
        };
        y as f32
    }
}

/// Maps the intensities of every channel of `v` so that its histogram
/// matches `reference`'s (ITK's `HistogramMatchingImageFilter`; see the
/// module docs). `reference` may be on any grid; it needs one channel, used
/// for every channel of `v`, or as many channels as `v`.
///
/// Errors: `BadParameter` for `levels` outside 1..=2^24, more than 2^24
/// match points, or a reference with another
/// number of channels; `NonFinite` for NaN or infinite voxels in either
/// image; `Constant` for a constant image or reference (its histogram has
/// no width).
pub fn histogram_match(
    v: &Volume,
    reference: &Volume,
    opts: &HistogramMatchOptions,
) -> Result<Volume, PreprocessError> {
    if opts.levels == 0 || opts.levels > MAX_LEVELS {
        return Err(PreprocessError::BadParameter {
            name: "levels",
            reason: format!("{} histogram bins; need 1 to {MAX_LEVELS}", opts.levels),
        });
    }
    if opts.match_points > MAX_LEVELS {
        return Err(PreprocessError::BadParameter {
            name: "match_points",
            reason: format!(
                "{} match points; need at most {MAX_LEVELS}",
                opts.match_points
            ),
        });
    }
    if reference.channels() != 1 && reference.channels() != v.channels() {
        return Err(PreprocessError::BadParameter {
            name: "reference",
            reason: format!(
                "{} channels for an image with {}",
                reference.channels(),
                v.channels()
            ),
        });
    }
    check_finite(v, "image")?;
    check_finite(reference, "reference")?;
    let data = v.nifti_slice();
    let ref_data = reference.nifti_slice();
    let per = v.spatial_shape().iter().product::<usize>();
    let ref_per = reference.spatial_shape().iter().product::<usize>();
    let mut out = Vec::with_capacity(data.len());
    for (c, ch) in data.chunks(per).enumerate() {
        let rc = if reference.channels() == 1 { 0 } else { c };
        let rch = &ref_data[rc * ref_per..(rc + 1) * ref_per];
        for (x, what) in [(ch, "image"), (rch, "reference")] {
            let s = stats(x);
            if s.min == s.max {
                return Err(PreprocessError::Constant {
                    what: what.to_string(),
                    value: s.min,
                });
            }
        }
        let map = Mapping::new(ch, rch, opts);
        let start = out.len();
        out.resize(start + per, 0.0);
        out[start..]
            .par_chunks_mut(1 << 16)
            .zip(ch.par_chunks(1 << 16))
            .for_each(|(o, x)| o.iter_mut().zip(x).for_each(|(o, &x)| *o = map.apply(x)));
    }
    Ok(Volume::from_nifti_vec(
        v.shape(),
        out,
        *v.affine(),
        float_dtype(v),
    )?)
}

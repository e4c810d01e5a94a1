//! Mattes mutual information (Mattes et al. 2003, as ITK's
//! MattesMutualInformationImageToImageMetricv4): a joint histogram with
//! zero-order (box) Parzen windows along the fixed axis and cubic B-spline
//! windows along the moving axis, two padding bins at each end, and the
//! analytic gradient.
//!
//! With `N` valid samples, fixed bins `i_k`, continuous moving bin positions
//! `u_k = (m_k - min) / dm + 2` and `p(i, j) = 1/N sum_k [i = i_k] B(j - u_k)`,
//! the metric is `-MI = -sum p log(p / (pf pm))`. The fixed marginal does not
//! depend on the transform and `sum p` is always 1, so
//! `d(-MI)/dmu = 1 / (N dm) sum_k w_k dm_k/dmu` with
//! `w_k = sum_j B'(j - u_k) log(p(i_k, j) / pm(j))`.

use super::metric::{accumulate, Eval, VoxelMap, CHUNK};
use super::sampler::{MovingSampler, Samples};
use rayon::prelude::*;

pub(crate) struct Mattes {
    bins: usize,
    /// The fixed bin of every sample (fixed intensities never change).
    fixed_bin: Vec<u16>,
    moving_min: f32,
    /// `1 / dm`, the inverse width of a moving bin (0 for a flat image).
    inv_width: f32,
    /// Per sample, from the histogram pass for the gradient pass:
    /// `[u, gradient x, y, z]`, or NaN where the sample fell outside.
    cache: Vec<[f32; 4]>,
}

/// Cubic B-spline kernel.
#[inline]
fn bspline3(u: f32) -> f32 {
    let a = u.abs();
    if a < 1.0 {
        (4.0 - 6.0 * a * a + 3.0 * a * a * a) / 6.0
    } else if a < 2.0 {
        let t = 2.0 - a;
        t * t * t / 6.0
    } else {
        0.0
    }
}

/// Derivative of [`bspline3`].
#[inline]
fn dbspline3(u: f32) -> f32 {
    let a = u.abs();
    if a < 1.0 {
        -2.0 * u + 1.5 * u * a
    } else if a < 2.0 {
        let t = 2.0 - a;
        -0.5 * t * t * u.signum()
    } else {
        0.0
    }
}

/// The first of the four moving bins that the kernel centred at `u` touches.
#[inline]
fn first_bin(u: f32, bins: usize) -> usize {
    (u as usize).saturating_sub(1).min(bins - 4)
}

impl Mattes {
    /// Sets the histogram up for `samples` and `moving`. The caller makes
    /// sure that the fixed samples are not all equal; if they were, every
    /// sample would fall in one bin and the metric would be flat.
    pub fn new<M: MovingSampler>(bins: usize, samples: &Samples, moving: &M) -> Mattes {
        let (fmin, fmax) = samples
            .f
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let usable = (bins - 4) as f64;
        let fwidth = ((fmax - fmin) as f64 / usable).max(f64::MIN_POSITIVE);
        let fixed_bin = samples
            .f
            .iter()
            .map(|v| {
                let b = ((*v - fmin) as f64 / fwidth).floor() as i64 + 2;
                b.clamp(2, bins as i64 - 3) as u16
            })
            .collect();
        let (mmin, mmax) = moving.range();
        let range = (mmax - mmin) as f64;
        let inv_width = if range > 0.0 {
            (usable / range) as f32
        } else {
            0.0
        };
        Mattes {
            bins,
            fixed_bin,
            moving_min: mmin,
            inv_width,
            cache: vec![[0.0; 4]; samples.f.len()],
        }
    }

    pub fn evaluate<M: MovingSampler>(&mut self, moving: &M, s: &Samples, map: &VoxelMap) -> Eval {
        let tw = moving.to_world();
        let nb = self.bins;
        let (fixed_bin, mmin, inv_w) = (&self.fixed_bin, self.moving_min, self.inv_width);
        let top = (nb - 2) as f32;
        let hist = self
            .cache
            .par_chunks_mut(CHUNK)
            .enumerate()
            .fold(
                || vec![0.0f64; nb * nb],
                |mut h, (ci, cache)| {
                    for (q, slot) in cache.iter_mut().enumerate() {
                        let k = ci * CHUNK + q;
                        *slot = match moving.sample(map.apply(s.r[k])) {
                            Some([v, gx, gy, gz]) => {
                                let u = ((v - mmin) * inv_w + 2.0).clamp(2.0, top);
                                let b0 = first_bin(u, nb);
                                let row = &mut h[fixed_bin[k] as usize * nb + b0..][..4];
                                for (d, hv) in row.iter_mut().enumerate() {
                                    *hv += bspline3((b0 + d) as f32 - u) as f64;
                                }
                                [u, gx, gy, gz]
                            }
                            None => [f32::NAN; 4],
                        };
                    }
                    h
                },
            )
            .reduce(
                || vec![0.0f64; nb * nb],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let valid = self.cache.par_iter().filter(|c| !c[0].is_nan()).count();
        let total: f64 = hist.iter().sum();
        if valid == 0 || total <= 0.0 {
            return Eval::from_sums(0.0, &[0.0; 12], 0.0, 0, &tw);
        }
        let p: Vec<f64> = hist.iter().map(|h| h / total).collect();
        let mut pf = vec![0.0f64; nb];
        let mut pm = vec![0.0f64; nb];
        for i in 0..nb {
            for j in 0..nb {
                pf[i] += p[i * nb + j];
                pm[j] += p[i * nb + j];
            }
        }
        let mut mi = 0.0;
        // log(p / pm) per bin pair, the weight of the gradient pass.
        let mut log_ratio = vec![0.0f32; nb * nb];
        for i in 0..nb {
            for j in 0..nb {
                let pij = p[i * nb + j];
                if pij > 0.0 {
                    mi += pij * (pij / (pf[i] * pm[j])).ln();
                    log_ratio[i * nb + j] = (pij / pm[j]).ln() as f32;
                }
            }
        }
        let sums = self
            .cache
            .par_chunks(CHUNK)
            .enumerate()
            .fold(
                || [0.0f64; 12],
                |mut acc, (ci, cache)| {
                    for (q, c) in cache.iter().enumerate() {
                        if c[0].is_nan() {
                            continue;
                        }
                        let k = ci * CHUNK + q;
                        let b0 = first_bin(c[0], nb);
                        let lr = &log_ratio[fixed_bin[k] as usize * nb + b0..][..4];
                        let w: f32 = (0..4)
                            .map(|d| dbspline3((b0 + d) as f32 - c[0]) * lr[d])
                            .sum();
                        accumulate(&mut acc, w as f64, [c[1], c[2], c[3]], s.r[k]);
                    }
                    acc
                },
            )
            .reduce(
                || [0.0f64; 12],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        Eval::from_sums(-mi, &sums, inv_w as f64 / total, valid, &tw)
    }
}

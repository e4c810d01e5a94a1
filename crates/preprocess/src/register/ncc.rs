//! Normalised cross-correlation as ITK's CorrelationImageToImageMetricv4:
//! `-(sum f~ m~)^2 / (sum f~^2 sum m~^2)` over the samples inside the moving
//! image, with `f~`, `m~` the intensities minus their means. Squaring makes
//! it indifferent to an inverted contrast, as in ITK.
//!
//! With raw sums over the valid samples, `sfm = sum f m - n fbar mbar`,
//! `smm = sum m^2 - n mbar^2`, and for any parameter
//! `d sfm = sum f dm - fbar sum dm`, `d smm = 2 (sum m dm - mbar sum dm)`,
//! so one pass gathers everything: the scalar sums and three gradient sums
//! (weighted by f, by m and by 1).

use super::metric::{accumulate, Eval, VoxelMap, CHUNK};
use super::sampler::{MovingSampler, Samples};
use rayon::prelude::*;

/// Scalar sums: n, sum f, sum f^2, sum m, sum m^2, sum f m; then the
/// gradient sums weighted by f, by m and by 1 (12 each).
const N_SUMS: usize = 6 + 36;

pub(crate) struct Ncc;

impl Ncc {
    pub fn evaluate<M: MovingSampler>(&mut self, moving: &M, s: &Samples, map: &VoxelMap) -> Eval {
        let tw = moving.to_world();
        let n_samples = s.f.len();
        let sums = (0..n_samples.div_ceil(CHUNK))
            .into_par_iter()
            .fold(
                || [0.0f64; N_SUMS],
                |mut acc, ci| {
                    let end = ((ci + 1) * CHUNK).min(n_samples);
                    for k in ci * CHUNK..end {
                        let Some([m, gx, gy, gz]) = moving.sample(map.apply(s.r[k])) else {
                            continue;
                        };
                        let (f, m) = (s.f[k] as f64, m as f64);
                        acc[0] += 1.0;
                        acc[1] += f;
                        acc[2] += f * f;
                        acc[3] += m;
                        acc[4] += m * m;
                        acc[5] += f * m;
                        let g = [gx, gy, gz];
                        let (by_f, rest) = acc[6..].split_at_mut(12);
                        let (by_m, by_one) = rest.split_at_mut(12);
                        accumulate(by_f, f, g, s.r[k]);
                        accumulate(by_m, m, g, s.r[k]);
                        accumulate(by_one, 1.0, g, s.r[k]);
                    }
                    acc
                },
            )
            .reduce(
                || [0.0f64; N_SUMS],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let n = sums[0];
        if n < 2.0 {
            return Eval::from_sums(0.0, &[0.0; 12], 0.0, n as usize, &tw);
        }
        let (fbar, mbar) = (sums[1] / n, sums[3] / n);
        let sff = sums[2] - n * fbar * fbar;
        let smm = sums[4] - n * mbar * mbar;
        let sfm = sums[5] - n * fbar * mbar;
        if sff <= 0.0 || smm <= 0.0 {
            return Eval::from_sums(0.0, &[0.0; 12], 0.0, n as usize, &tw);
        }
        let value = -sfm * sfm / (sff * smm);
        // d value = -(2 sfm d sfm / (sff smm) - sfm^2 d smm / (sff smm^2)).
        let mut grad = [0.0f64; 12];
        for (q, g) in grad.iter_mut().enumerate() {
            let (by_f, by_m, by_one) = (sums[6 + q], sums[18 + q], sums[30 + q]);
            let dsfm = by_f - fbar * by_one;
            let dsmm = 2.0 * (by_m - mbar * by_one);
            *g = -(2.0 * sfm * dsfm / (sff * smm) - sfm * sfm * dsmm / (sff * smm * smm));
        }
        Eval::from_sums(value, &grad, 1.0, n as usize, &tw)
    }
}

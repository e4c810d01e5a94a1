//! Cubic B-spline interpolation as ITK's BSplineInterpolateImageFunction
//! (order 3) does it: the image is first turned into B-spline coefficients
//! by the recursive prefilter of Unser (1999, Box 2) with mirror boundaries
//! about the edge voxels, then each sample is a 4x4x4 weighted sum of
//! coefficients, indices outside the image mirrored the same way.

use super::taps::reflect_whole;
use rayon::prelude::*;

/// The pole of the cubic B-spline prefilter, sqrt(3) - 2.
const POLE: f64 = -0.267_949_192_431_122_7;
/// ITK's prefilter tolerance: the causal initialisation sums
/// `ceil(ln(1e-10) / ln|z|)` terms when the line is longer than that.
const TOLERANCE: f64 = 1e-10;

fn horizon() -> usize {
    (TOLERANCE.ln() / POLE.abs().ln()).ceil() as usize
}

/// The weights of the causal initialisation: `c[0] = sum_n a[n] * c[n]`.
/// Lines longer than the horizon use a truncated geometric sum; shorter ones
/// the exact mirror-boundary sum, as ITK does.
fn causal_init_weights(n: usize) -> Vec<f64> {
    let h = horizon();
    let z = POLE;
    if h < n {
        (0..h).map(|i| z.powi(i as i32)).collect()
    } else {
        let last = n - 1;
        let denom = 1.0 - z.powi(2 * last as i32);
        (0..n)
            .map(|i| {
                let a = if i == 0 {
                    1.0
                } else if i == last {
                    z.powi(last as i32)
                } else {
                    z.powi(i as i32) + z.powi((2 * last - i) as i32)
                };
                a / denom
            })
            .collect()
    }
}

/// Prefilters one line in place.
fn prefilter_line(c: &mut [f64], init: &[f64]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = POLE;
    // The overall gain (1 - z)(1 - 1/z) = 6 for the cubic spline.
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    c.iter_mut().for_each(|v| *v *= gain);
    c[0] = init.iter().zip(c.iter()).map(|(a, v)| a * v).sum();
    for i in 1..n {
        c[i] += z * c[i - 1];
    }
    c[n - 1] = (z / (z * z - 1.0)) * (z * c[n - 2] + c[n - 1]);
    for i in (0..n - 1).rev() {
        c[i] = z * (c[i + 1] - c[i]);
    }
}

/// Prefilters rows of `w` lanes: `data` holds `len` rows of `w` values and
/// the recursion runs across rows, lane by lane. `par` spreads each row
/// operation over threads (for large rows processed one axis step at a time).
fn prefilter_lanes(data: &mut [f32], w: usize, init: &[f64], par: bool) {
    let len = data.len() / w;
    if len < 2 {
        return;
    }
    let z = POLE as f32;
    let gain = ((1.0 - POLE) * (1.0 - 1.0 / POLE)) as f32;
    let axpby = |dst: &mut [f32], src: &[f32], a: f32, b: f32| {
        // dst = a * dst + b * src
        if par {
            dst.par_chunks_mut(4096)
                .zip(src.par_chunks(4096))
                .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(d, &s)| *d = a * *d + b * s));
        } else {
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, &s)| *d = a * *d + b * s);
        }
    };
    if par {
        data.par_chunks_mut(4096)
            .for_each(|c| c.iter_mut().for_each(|v| *v *= gain));
    } else {
        data.iter_mut().for_each(|v| *v *= gain);
    }
    {
        let (first, rest) = data.split_at_mut(w);
        let a0 = init[0] as f32;
        if par {
            first.par_iter_mut().for_each(|v| *v *= a0);
        } else {
            first.iter_mut().for_each(|v| *v *= a0);
        }
        for (i, row) in rest.chunks(w).enumerate().take(init.len() - 1) {
            axpby(first, row, 1.0, init[i + 1] as f32);
        }
    }
    for i in 1..len {
        let (head, tail) = data.split_at_mut(i * w);
        axpby(&mut tail[..w], &head[(i - 1) * w..], 1.0, z);
    }
    {
        let k = (POLE / (POLE * POLE - 1.0)) as f32;
        let (head, tail) = data.split_at_mut((len - 1) * w);
        // c[n-1] = k * (z * c[n-2] + c[n-1])
        axpby(tail, &head[(len - 2) * w..], k, k * z);
    }
    for i in (0..len - 1).rev() {
        let (head, tail) = data.split_at_mut((i + 1) * w);
        // c[i] = z * (c[i+1] - c[i])
        axpby(&mut head[i * w..], &tail[..w], -z, z);
    }
}

/// Prefilters `data` (shape `[x, y, z]`, x fastest) in place along `axis`.
pub(crate) fn prefilter_axis(data: &mut [f32], shape: [usize; 3], axis: usize) {
    let [nx, ny, _] = shape;
    let init = causal_init_weights(shape[axis].max(1));
    match axis {
        0 => data.par_chunks_mut(nx).for_each_init(
            || vec![0f64; nx],
            |scratch, row| {
                scratch
                    .iter_mut()
                    .zip(row.iter())
                    .for_each(|(s, &v)| *s = v as f64);
                prefilter_line(scratch, &init);
                row.iter_mut()
                    .zip(scratch.iter())
                    .for_each(|(v, &s)| *v = s as f32);
            },
        ),
        1 => data
            .par_chunks_mut(nx * ny)
            .for_each(|slice| prefilter_lanes(slice, nx, &init, false)),
        _ => prefilter_lanes(data, nx * ny, &init, true),
    }
}

/// The four cubic B-spline weights for offset `w = x - floor(x)` in [0, 1),
/// applied to coefficients `floor(x) - 1 ..= floor(x) + 2`.
#[inline]
pub(crate) fn weights(w: f64) -> [f64; 4] {
    let w3 = w * w * w / 6.0;
    let w0 = 1.0 / 6.0 + 0.5 * w * (w - 1.0) - w3;
    let w2 = w + w0 - 2.0 * w3;
    let w1 = 1.0 - w0 - w2 - w3;
    [w0, w1, w2, w3]
}

/// The support of a sample at continuous index `c` along an axis of `n`
/// voxels: four mirrored indices and their weights.
#[inline]
pub(crate) fn support(c: f64, n: usize) -> ([usize; 4], [f64; 4]) {
    let f = c.floor();
    let base = f as i64 - 1;
    let idx = [0, 1, 2, 3].map(|m| reflect_whole(base + m, n));
    (idx, weights(c - f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefilter must make the spline interpolate the samples exactly.
    #[test]
    fn coefficients_reproduce_samples() {
        let data: Vec<f64> = (0..40).map(|i| ((i * 7) % 11) as f64 - 3.0).collect();
        let mut c = data.clone();
        let init = causal_init_weights(c.len());
        prefilter_line(&mut c, &init);
        for (i, &d) in data.iter().enumerate() {
            let (idx, w) = support(i as f64, data.len());
            let v: f64 = idx.iter().zip(w).map(|(&j, w)| w * c[j]).sum();
            assert!((v - d).abs() < 1e-6, "sample {i}: {v} vs {d}");
        }
        // A short line takes the exact (full) initialisation.
        let short = [1.0, 4.0, -2.0, 5.0, 0.5];
        let mut c = short.to_vec();
        let init = causal_init_weights(c.len());
        prefilter_line(&mut c, &init);
        for (i, &d) in short.iter().enumerate() {
            let (idx, w) = support(i as f64, short.len());
            let v: f64 = idx.iter().zip(w).map(|(&j, w)| w * c[j]).sum();
            assert!((v - d).abs() < 1e-9, "short sample {i}: {v} vs {d}");
        }
    }

    /// The lane version equals the line version.
    #[test]
    fn lanes_match_lines() {
        let (w, len) = (3, 25);
        let data: Vec<f32> = (0..w * len).map(|i| ((i * 13) % 17) as f32).collect();
        let init = causal_init_weights(len);
        for par in [false, true] {
            let mut lanes = data.clone();
            prefilter_lanes(&mut lanes, w, &init, par);
            for l in 0..w {
                let mut line: Vec<f64> = (0..len).map(|i| data[i * w + l] as f64).collect();
                prefilter_line(&mut line, &init);
                for i in 0..len {
                    assert!((lanes[i * w + l] as f64 - line[i]).abs() < 1e-4);
                }
            }
        }
    }
}

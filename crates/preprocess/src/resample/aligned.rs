//! Resampling along axis-aligned maps (scaling, flips, shifts and axis
//! permutations): interpolation is separable, so it runs as one 1D pass per
//! axis with precomputed index/weight tables, shrinking axes first.

use super::bspline::{prefilter_axis, support};
use super::map::AxisLine;
use super::taps::{apply_axis, Taps};
use super::{rows, Interpolation};
use rayon::prelude::*;
use std::borrow::Cow;

/// Whether a continuous index lies in the source buffer as ITK's
/// `IsInsideBuffer` decides: `[-0.5, n - 0.5)`.
#[inline]
pub(crate) fn inside(c: f64, n: usize) -> bool {
    c >= -0.5 && c < n as f64 - 0.5
}

/// ITK's linear interpolation along one axis: the base index is the floor
/// clamped to the first voxel, and the next voxel only contributes when the
/// distance is positive and that voxel exists. Returns (i0, i1, weight of i1).
#[inline]
pub(crate) fn linear_axis(c: f64, n: usize) -> (usize, usize, f64) {
    let f = c.floor();
    let i0 = if f < 0.0 { 0 } else { (f as usize).min(n - 1) };
    let d = c - i0 as f64;
    if d <= 0.0 || i0 + 1 >= n {
        (i0, i0, 0.0)
    } else {
        (i0, i0 + 1, d)
    }
}

/// ITK's nearest neighbour: round half up, clamped to the buffer.
#[inline]
pub(crate) fn nearest_axis(c: f64, n: usize) -> usize {
    let r = (c + 0.5).floor();
    if r < 0.0 {
        0
    } else {
        (r as usize).min(n - 1)
    }
}

fn taps_for(line: &AxisLine, n_src: usize, n_out: usize, interp: Interpolation) -> Taps {
    let k = match interp {
        Interpolation::Nearest => 1,
        Interpolation::Linear => 2,
        Interpolation::BSpline => 4,
    };
    let mut taps = Taps::new(n_out, k);
    for t in 0..n_out {
        // Positions outside the source are filled afterwards; clamping
        // only keeps their (discarded) taps inside the buffer.
        let c = (line.scale * t as f64 + line.offset).clamp(-0.5, n_src as f64 - 0.5);
        match interp {
            Interpolation::Nearest => taps.push(nearest_axis(c, n_src), 1.0),
            Interpolation::Linear => {
                let (i0, i1, d) = linear_axis(c, n_src);
                taps.push(i0, 1.0 - d);
                taps.push(i1, d);
            }
            Interpolation::BSpline => {
                let (idx, w) = support(c, n_src);
                for (i, w) in idx.into_iter().zip(w) {
                    taps.push(i, w);
                }
            }
        }
    }
    taps
}

/// Resamples one channel (`src`, shape `src_shape`) onto an output grid
/// whose axes follow `lines`.
pub(crate) fn resample_aligned(
    src: &[f32],
    src_shape: [usize; 3],
    lines: &[AxisLine; 3],
    out_shape: [usize; 3],
    interp: Interpolation,
    fill: f32,
) -> Vec<f32> {
    if interp != Interpolation::BSpline && lines[0].src_axis == 0 {
        return rows::resample_rows(src, src_shape, lines, out_shape, interp, fill);
    }
    let mut out_axis_of = [0usize; 3];
    for (a, l) in lines.iter().enumerate() {
        out_axis_of[l.src_axis] = a;
    }
    // Shrinking axes go first so that later passes touch fewer voxels.
    let mut order = [0usize, 1, 2];
    let ratio = |p: usize| out_shape[out_axis_of[p]] as f64 / src_shape[p] as f64;
    order.sort_by(|&a, &b| ratio(a).total_cmp(&ratio(b)));

    let mut data: Cow<[f32]> = Cow::Borrowed(src);
    let mut shape = src_shape;
    for p in order {
        let line = &lines[out_axis_of[p]];
        let n_out = out_shape[out_axis_of[p]];
        // Sampling exactly at the source voxels changes nothing (a B-spline
        // interpolates its samples), so the pass is skipped.
        if line.scale == 1.0 && line.offset == 0.0 && n_out == src_shape[p] {
            continue;
        }
        if interp == Interpolation::BSpline {
            let mut owned = data.into_owned();
            prefilter_axis(&mut owned, shape, p);
            data = Cow::Owned(owned);
        }
        let taps = taps_for(line, src_shape[p], n_out, interp);
        data = Cow::Owned(apply_axis(&data, shape, p, &taps));
        shape[p] = n_out;
    }
    finish(data, shape, lines, out_shape, src_shape, fill)
}

/// Reorders the axes of `data` (source axis order, output lengths) into
/// output order and fills the positions outside the source.
fn finish(
    data: Cow<[f32]>,
    shape: [usize; 3],
    lines: &[AxisLine; 3],
    out_shape: [usize; 3],
    src_shape: [usize; 3],
    fill: f32,
) -> Vec<f32> {
    let strides = [1, shape[0], shape[0] * shape[1]];
    let [nx, ny, _] = out_shape;
    let axis = |a: usize| {
        let l = &lines[a];
        let n = src_shape[l.src_axis];
        let inside: Vec<bool> = (0..out_shape[a])
            .map(|t| inside(l.scale * t as f64 + l.offset, n))
            .collect();
        let offsets: Vec<usize> = (0..out_shape[a]).map(|t| t * strides[l.src_axis]).collect();
        (inside, offsets)
    };
    let (in_x, off_x) = axis(0);
    let (in_y, off_y) = axis(1);
    let (in_z, off_z) = axis(2);
    let identity = lines.iter().enumerate().all(|(a, l)| l.src_axis == a);
    let all_inside = in_x.iter().chain(&in_y).chain(&in_z).all(|&b| b);
    if identity && all_inside {
        return data.into_owned();
    }
    let mut out = vec![fill; out_shape.iter().product()];
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, slice)| {
            if !in_z[k] {
                return;
            }
            for (j, row) in slice.chunks_mut(nx).enumerate() {
                if !in_y[j] {
                    continue;
                }
                let base = off_y[j] + off_z[k];
                if identity {
                    let src = &data[base..base + nx];
                    for ((o, &s), &ok) in row.iter_mut().zip(src).zip(&in_x) {
                        if ok {
                            *o = s;
                        }
                    }
                } else {
                    for ((o, &ox), &ok) in row.iter_mut().zip(&off_x).zip(&in_x) {
                        if ok {
                            *o = data[base + ox];
                        }
                    }
                }
            }
        });
    out
}

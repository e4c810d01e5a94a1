//! Nearest and linear resampling along axis-aligned maps whose output x
//! axis runs along the source x axis (the common case): each output row is
//! computed from a few whole source rows, combined with vector operations
//! into one row that is then sampled along x. Every source voxel is read
//! about once and every output voxel written once.

use super::aligned::{inside, linear_axis, nearest_axis};
use super::map::AxisLine;
use super::Interpolation;
use rayon::prelude::*;

/// Per output position along one axis: whether it is inside the source and
/// its (source index, weight) taps.
struct AxisTaps {
    inside: Vec<bool>,
    taps: Vec<[(usize, f32); 2]>,
}

fn axis_taps(line: &AxisLine, n: usize, m: usize, interp: Interpolation) -> AxisTaps {
    let mut inside_v = Vec::with_capacity(m);
    let mut taps = Vec::with_capacity(m);
    for t in 0..m {
        let c = line.scale * t as f64 + line.offset;
        inside_v.push(inside(c, n));
        let c = c.clamp(-0.5, n as f64 - 0.5);
        taps.push(match interp {
            Interpolation::Linear => {
                let (i0, i1, d) = linear_axis(c, n);
                [(i0, (1.0 - d) as f32), (i1, d as f32)]
            }
            _ => [(nearest_axis(c, n), 1.0), (0, 0.0)],
        });
    }
    AxisTaps {
        inside: inside_v,
        taps,
    }
}

/// Resamples one channel; `lines[0].src_axis` must be 0 and `interp`
/// nearest or linear.
pub(crate) fn resample_rows(
    src: &[f32],
    src_shape: [usize; 3],
    lines: &[AxisLine; 3],
    out_shape: [usize; 3],
    interp: Interpolation,
    fill: f32,
) -> Vec<f32> {
    let strides = [1, src_shape[0], src_shape[0] * src_shape[1]];
    let tx = axis_taps(&lines[0], src_shape[0], out_shape[0], interp);
    let ty = axis_taps(
        &lines[1],
        src_shape[lines[1].src_axis],
        out_shape[1],
        interp,
    );
    let tz = axis_taps(
        &lines[2],
        src_shape[lines[2].src_axis],
        out_shape[2],
        interp,
    );
    let (sy, sz) = (strides[lines[1].src_axis], strides[lines[2].src_axis]);
    let [nx, ny, _] = out_shape;
    let snx = src_shape[0];
    // The source x range that inside outputs read.
    let (lo, hi) = tx
        .taps
        .iter()
        .zip(&tx.inside)
        .filter(|(_, &ok)| ok)
        .fold((usize::MAX, 0), |(lo, hi), (t, _)| {
            (lo.min(t[0].0.min(t[1].0)), hi.max(t[0].0.max(t[1].0)))
        });
    let mut out = vec![0f32; out_shape.iter().product()];
    out.par_chunks_mut(nx * ny).enumerate().for_each_init(
        || vec![0f32; snx],
        |row_buf, (k, slice)| {
            for (j, orow) in slice.chunks_mut(nx).enumerate() {
                if !(tz.inside[k] && ty.inside[j]) || lo > hi {
                    orow.fill(fill);
                    continue;
                }
                // The source rows of this output row, with their weights.
                let mut rows: [(usize, f32); 4] = [(0, 0.0); 4];
                let mut n = 0;
                for &(z, wz) in &tz.taps[k] {
                    for &(y, wy) in &ty.taps[j] {
                        let w = wz * wy;
                        if w != 0.0 {
                            rows[n] = (y * sy + z * sz, w);
                            n += 1;
                        }
                    }
                }
                let row: &[f32] = if n == 1 && rows[0].1 == 1.0 {
                    &src[rows[0].0..rows[0].0 + snx]
                } else {
                    let buf = &mut row_buf[lo..=hi];
                    for (r, &(off, w)) in rows[..n].iter().enumerate() {
                        let s = &src[off + lo..=off + hi];
                        if r == 0 {
                            buf.iter_mut().zip(s).for_each(|(b, &v)| *b = w * v);
                        } else {
                            buf.iter_mut().zip(s).for_each(|(b, &v)| *b += w * v);
                        }
                    }
                    &row_buf[..]
                };
                for ((o, t), &ok) in orow.iter_mut().zip(&tx.taps).zip(&tx.inside) {
                    *o = if !ok {
                        fill
                    } else if interp == Interpolation::Linear {
                        t[0].1 * row[t[0].0] + t[1].1 * row[t[1].0]
                    } else {
                        row[t[0].0]
                    };
                }
            }
        },
    );
    out
}

//! One-dimensional resampling passes: every output position along one axis
//! is a weighted sum of a few input positions along that axis. Separable
//! interpolation (axis-aligned maps), B-spline evaluation and Gaussian
//! smoothing are all sequences of such passes.

use rayon::prelude::*;

/// The taps of a pass: output position `t` reads the input positions
/// `idx[t * k..(t + 1) * k]` with the weights at the same places in `w`.
#[derive(Clone, Debug)]
pub(crate) struct Taps {
    pub n_out: usize,
    pub k: usize,
    pub idx: Vec<usize>,
    pub w: Vec<f32>,
}

impl Taps {
    pub fn new(n_out: usize, k: usize) -> Self {
        Taps {
            n_out,
            k,
            idx: Vec::with_capacity(n_out * k),
            w: Vec::with_capacity(n_out * k),
        }
    }

    pub fn push(&mut self, idx: usize, w: f64) {
        self.idx.push(idx);
        self.w.push(w as f32);
    }

    fn at(&self, t: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = t * self.k..(t + 1) * self.k;
        self.idx[r.clone()]
            .iter()
            .copied()
            .zip(self.w[r].iter().copied())
    }
}

/// Index `k` reflected into `0..n` about the edge voxels' outer faces
/// (`d c b a | a b c d | d c b a`), scipy.ndimage's "reflect" mode.
pub(crate) fn reflect_half(k: i64, n: usize) -> usize {
    let n = n as i64;
    let r = k.rem_euclid(2 * n);
    (if r >= n { 2 * n - 1 - r } else { r }) as usize
}

/// Index `k` reflected into `0..n` about the edge voxels' centres
/// (`c b | a b c d | c b`), the mirror boundary of ITK's B-splines.
pub(crate) fn reflect_whole(k: i64, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as i64 - 1);
    let r = k.rem_euclid(period);
    (if r >= n as i64 { period - r } else { r }) as usize
}

/// Applies `taps` along `axis` of `data` (shape `[x, y, z]`, x fastest);
/// the result has `taps.n_out` positions along that axis.
pub(crate) fn apply_axis(data: &[f32], shape: [usize; 3], axis: usize, taps: &Taps) -> Vec<f32> {
    let [nx, ny, nz] = shape;
    let m = taps.n_out;
    let mut out_shape = shape;
    out_shape[axis] = m;
    let mut out = vec![0f32; out_shape.iter().product()];
    if out.is_empty() {
        return out;
    }
    match axis {
        0 => {
            // Rows are contiguous: each output row gathers from its input row.
            out.par_chunks_mut(m)
                .zip(data.par_chunks(nx))
                .for_each(|(o, row)| {
                    for (t, v) in o.iter_mut().enumerate() {
                        *v = taps.at(t).map(|(i, w)| w * row[i]).sum();
                    }
                });
        }
        1 => {
            // Within a z slice, whole x rows combine as vectors.
            out.par_chunks_mut(nx * m)
                .zip(data.par_chunks(nx * ny))
                .for_each(|(o, slice)| {
                    for (t, orow) in o.chunks_mut(nx).enumerate() {
                        combine_rows(
                            orow,
                            taps.at(t).map(|(i, w)| (&slice[i * nx..(i + 1) * nx], w)),
                        );
                    }
                });
        }
        _ => {
            // Whole xy planes combine as vectors, one output plane per task.
            let plane = nx * ny;
            debug_assert_eq!(data.len(), plane * nz);
            out.par_chunks_mut(plane).enumerate().for_each(|(t, o)| {
                combine_rows(
                    o,
                    taps.at(t)
                        .map(|(i, w)| (&data[i * plane..(i + 1) * plane], w)),
                );
            });
        }
    }
    out
}

/// `out = sum_i w_i * row_i`, element-wise.
fn combine_rows<'a>(out: &mut [f32], rows: impl Iterator<Item = (&'a [f32], f32)>) {
    let mut first = true;
    for (row, w) in rows {
        if first {
            out.iter_mut().zip(row).for_each(|(o, &r)| *o = w * r);
            first = false;
        } else {
            out.iter_mut().zip(row).for_each(|(o, &r)| *o += w * r);
        }
    }
}

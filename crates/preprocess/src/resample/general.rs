//! Resampling along any affine map (oblique grids, rotations): each output
//! voxel's continuous source index is stepped along output rows, and the
//! source is interpolated there as ITK's interpolators do.

use super::aligned::{inside, linear_axis, nearest_axis};
use super::bspline::{prefilter_axis, support};
use super::map::VoxelMap;
use super::Interpolation;
use rayon::prelude::*;

/// Calls `f(slice, k, j, row_start, step)` for every output row, in
/// parallel over z slices: `row_start` is the continuous source index of
/// voxel `(0, j, k)` and `step` the increment per output voxel along x.
pub(crate) fn for_each_row<T: Send>(
    out: &mut [T],
    out_shape: [usize; 3],
    map: &VoxelMap,
    f: impl Fn(&mut [T], [f64; 3], [f64; 3]) + Sync,
) {
    let [nx, ny, _] = out_shape;
    let step = [map.lin[(0, 0)], map.lin[(1, 0)], map.lin[(2, 0)]];
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, slice)| {
            for (j, row) in slice.chunks_mut(nx).enumerate() {
                f(row, map.at(0.0, j as f64, k as f64), step);
            }
        });
}

/// The continuous index of the `i`-th voxel of a row. Computed from the row
/// start rather than accumulated, so that rounding does not drift.
#[inline]
pub(crate) fn point(start: [f64; 3], step: [f64; 3], i: usize) -> [f64; 3] {
    let t = i as f64;
    [
        start[0] + t * step[0],
        start[1] + t * step[1],
        start[2] + t * step[2],
    ]
}

/// Resamples one channel along a general map.
pub(crate) fn resample_general(
    src: &[f32],
    src_shape: [usize; 3],
    map: &VoxelMap,
    out_shape: [usize; 3],
    interp: Interpolation,
    fill: f32,
) -> Vec<f32> {
    let mut out = vec![fill; out_shape.iter().product()];
    let coefficients;
    let data = if interp == Interpolation::BSpline {
        let mut c = src.to_vec();
        for axis in 0..3 {
            prefilter_axis(&mut c, src_shape, axis);
        }
        coefficients = c;
        &coefficients[..]
    } else {
        src
    };
    let [nx, ny, nz] = src_shape;
    let sy = nx;
    let sz = nx * ny;
    for_each_row(&mut out, out_shape, map, |row, start, step| {
        for (i, o) in row.iter_mut().enumerate() {
            let c = point(start, step, i);
            if !(inside(c[0], nx) && inside(c[1], ny) && inside(c[2], nz)) {
                continue;
            }
            *o = match interp {
                Interpolation::Nearest => {
                    let (x, y, z) = (
                        nearest_axis(c[0], nx),
                        nearest_axis(c[1], ny),
                        nearest_axis(c[2], nz),
                    );
                    data[x + y * sy + z * sz]
                }
                Interpolation::Linear => {
                    let (x0, x1, dx) = linear_axis(c[0], nx);
                    let (y0, y1, dy) = linear_axis(c[1], ny);
                    let (z0, z1, dz) = linear_axis(c[2], nz);
                    let v = |x: usize, y: usize, z: usize| data[x + y * sy + z * sz] as f64;
                    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
                    let plane = |z: usize| {
                        lerp(
                            lerp(v(x0, y0, z), v(x1, y0, z), dx),
                            lerp(v(x0, y1, z), v(x1, y1, z), dx),
                            dy,
                        )
                    };
                    lerp(plane(z0), plane(z1), dz) as f32
                }
                Interpolation::BSpline => {
                    let (ix, wx) = support(c[0], nx);
                    let (iy, wy) = support(c[1], ny);
                    let (iz, wz) = support(c[2], nz);
                    let mut acc = 0.0f64;
                    for (&z, &wz) in iz.iter().zip(&wz) {
                        let mut accy = 0.0f64;
                        for (&y, &wy) in iy.iter().zip(&wy) {
                            let r = &data[y * sy + z * sz..];
                            let accx: f64 =
                                ix.iter().zip(&wx).map(|(&x, &w)| w * r[x] as f64).sum();
                            accy += wy * accx;
                        }
                        acc += wz * accy;
                    }
                    acc as f32
                }
            };
        }
    });
    out
}

//! Scalar images on a world grid and the multi-resolution pyramid: block
//! averaging (shrinking) and separable Gaussian smoothing in mm.

use nalgebra::{Matrix4, Vector4};
use rayon::prelude::*;
use std::borrow::Cow;

/// One scalar image: voxels in NIfTI order (x fastest) and the affine from
/// voxel indices to RAS mm. The voxels are borrowed from the volume where
/// possible: the finest level is usually the input itself.
#[derive(Clone, Debug)]
pub(crate) struct Image<'a> {
    pub dims: [usize; 3],
    pub data: Cow<'a, [f32]>,
    pub affine: Matrix4<f64>,
}

impl Image<'_> {
    /// Spacing (mm) along each voxel axis.
    pub fn spacing(&self) -> [f64; 3] {
        [0, 1, 2].map(|j| self.affine.fixed_view::<3, 1>(0, j).norm())
    }

    /// World position of a voxel index.
    pub fn world(&self, ijk: [f64; 3]) -> [f64; 3] {
        let p = self.affine * Vector4::new(ijk[0], ijk[1], ijk[2], 1.0);
        [p[0], p[1], p[2]]
    }

    /// The world centre of the field of view.
    pub fn centre(&self) -> [f64; 3] {
        self.world(self.dims.map(|n| (n as f64 - 1.0) / 2.0))
    }

    /// The shrink factor actually used along each axis: at most `shrink`,
    /// and small enough to keep two voxels per axis, which the gradient and
    /// the trilinear interpolation need.
    pub fn factors(&self, shrink: usize) -> [usize; 3] {
        self.dims.map(|n| shrink.min((n / 2).max(1)).max(1))
    }

    /// The image of one pyramid level: block-averaged by `shrink`, then
    /// smoothed so that the total blur is a Gaussian of about `sigma_mm`.
    ///
    /// Averaging a block of `f` voxels already blurs with the variance
    /// `(f^2 - 1) / 12` voxel^2 along that axis, so only the remainder of
    /// `sigma_mm^2` is applied as a Gaussian on the (much smaller) shrunk
    /// grid, which is far cheaper than smoothing at full resolution first.
    pub fn level(&self, shrink: usize, sigma_mm: f64) -> Image<'_> {
        let f = self.factors(shrink);
        let spacing = self.spacing();
        let mut img = if f == [1, 1, 1] {
            Image {
                dims: self.dims,
                data: Cow::Borrowed(&self.data),
                affine: self.affine,
            }
        } else {
            self.shrunk(f)
        };
        let sigmas: [f64; 3] = [0, 1, 2].map(|a| {
            let box_var = (f[a] * f[a] - 1) as f64 / 12.0 * spacing[a] * spacing[a];
            (sigma_mm * sigma_mm - box_var).max(0.0).sqrt()
        });
        if sigmas.iter().any(|s| *s > 0.0) {
            img.smooth(sigmas);
        }
        img
    }

    /// Averages blocks of `f` voxels; the new voxel centres are the block
    /// centres, so the world extent of the image is kept.
    pub fn shrunk(&self, f: [usize; 3]) -> Image<'static> {
        let [nx, ny, _] = self.dims;
        let dims = [0, 1, 2].map(|a| self.dims[a] / f[a]);
        let [mx, my, mz] = dims;
        let mut data = vec![0.0f32; mx * my * mz];
        let norm = 1.0 / (f[0] * f[1] * f[2]) as f32;
        data.par_chunks_mut(mx * my)
            .enumerate()
            .for_each(|(k, slice)| {
                for dz in 0..f[2] {
                    let z = k * f[2] + dz;
                    for j in 0..my {
                        let out = &mut slice[j * mx..(j + 1) * mx];
                        for dy in 0..f[1] {
                            let y = j * f[1] + dy;
                            let row = &self.data[(z * ny + y) * nx..(z * ny + y + 1) * nx];
                            for (i, o) in out.iter_mut().enumerate() {
                                let block = &row[i * f[0]..(i + 1) * f[0]];
                                *o += block.iter().sum::<f32>();
                            }
                        }
                    }
                }
                slice.iter_mut().for_each(|v| *v *= norm);
            });
        let mut scale = Matrix4::identity();
        for a in 0..3 {
            scale[(a, a)] = f[a] as f64;
            scale[(a, 3)] = (f[a] as f64 - 1.0) / 2.0;
        }
        Image {
            dims,
            data: Cow::Owned(data),
            affine: self.affine * scale,
        }
    }

    /// Separable Gaussian smoothing with the given sigma (mm) per voxel axis;
    /// the border is extended by repeating the edge voxels.
    pub fn smooth(&mut self, sigma_mm: [f64; 3]) {
        let spacing = self.spacing();
        for (axis, s) in sigma_mm.iter().enumerate() {
            let sigma = s / spacing[axis];
            // Below a tenth of a voxel the kernel is a delta to f32 precision.
            if sigma < 0.1 {
                continue;
            }
            let kernel = gaussian_kernel(sigma);
            self.data = Cow::Owned(smooth_axis(&self.data, self.dims, axis, &kernel));
        }
    }
}

/// A normalised Gaussian kernel truncated at three sigmas.
fn gaussian_kernel(sigma: f64) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil().max(1.0) as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Convolves along one axis. Every loop runs along x (contiguous memory):
/// the y and z passes add whole shifted rows or slices, which vectorises.
fn smooth_axis(data: &[f32], dims: [usize; 3], axis: usize, kernel: &[f32]) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let r = (kernel.len() / 2) as isize;
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    let mut out = vec![0.0f32; data.len()];
    match axis {
        0 => out.par_chunks_mut(nx).enumerate().for_each(|(line, o)| {
            let src = &data[line * nx..(line + 1) * nx];
            for (i, v) in o.iter_mut().enumerate() {
                *v = kernel
                    .iter()
                    .enumerate()
                    .map(|(k, w)| w * src[clamp(i as isize + k as isize - r, nx)])
                    .sum();
            }
        }),
        1 => out.par_chunks_mut(nx * ny).enumerate().for_each(|(z, o)| {
            let slice = &data[z * nx * ny..(z + 1) * nx * ny];
            for j in 0..ny {
                let row = &mut o[j * nx..(j + 1) * nx];
                for (k, w) in kernel.iter().enumerate() {
                    let sj = clamp(j as isize + k as isize - r, ny);
                    let src = &slice[sj * nx..(sj + 1) * nx];
                    row.iter_mut().zip(src).for_each(|(a, b)| *a += w * b);
                }
            }
        }),
        _ => out.par_chunks_mut(nx * ny).enumerate().for_each(|(z, o)| {
            for (k, w) in kernel.iter().enumerate() {
                let sz = clamp(z as isize + k as isize - r, nz);
                let src = &data[sz * nx * ny..(sz + 1) * nx * ny];
                o.iter_mut().zip(src).for_each(|(a, b)| *a += w * b);
            }
        }),
    }
    out
}

/// Shrinks a mask like [`Image::shrunk`]: a coarse voxel is inside when any
/// voxel of its block is, so that a thin mask never vanishes.
pub(crate) fn shrink_mask(mask: &[bool], dims: [usize; 3], f: [usize; 3]) -> Vec<bool> {
    let [nx, ny, _] = dims;
    let [mx, my, mz] = [0, 1, 2].map(|a| dims[a] / f[a]);
    let mut out = vec![false; mx * my * mz];
    out.par_chunks_mut(mx * my)
        .enumerate()
        .for_each(|(k, slice)| {
            for j in 0..my {
                for i in 0..mx {
                    slice[j * mx + i] = (0..f[2]).any(|dz| {
                        (0..f[1]).any(|dy| {
                            let base = ((k * f[2] + dz) * ny + j * f[1] + dy) * nx + i * f[0];
                            mask[base..base + f[0]].iter().any(|m| *m)
                        })
                    });
                }
            }
        });
    out
}

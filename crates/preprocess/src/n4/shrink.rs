//! The shrunk grid on which N4 iterates, and the voxels it fits.
//!
//! Like ITK's `ShrinkImageFilter` (what SimpleITK users and the ANTs N4
//! driver run before N4), the shrunk grid keeps every `factor`-th voxel
//! along each axis, has `floor(n / factor)` voxels per axis, and is centred
//! on the input grid. Shrunk voxel `o` is input voxel `o * factor + offset`
//! exactly, so the fitted spline can be evaluated at full resolution in
//! the same world frame.

use rayon::prelude::*;

/// How the shrunk grid sits in the input grid, per axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ShrinkGrid {
    pub factor: usize,
    /// Voxels of the shrunk grid.
    pub n: [usize; 3],
    /// Input index of shrunk voxel 0.
    pub offset: [usize; 3],
}

impl ShrinkGrid {
    pub fn new(full: [usize; 3], factor: usize) -> ShrinkGrid {
        let n = full.map(|s| (s / factor).max(1));
        let mut offset = [0; 3];
        for d in 0..3 {
            // Centre the kept voxels: (full - 1) / 2 == offset + (n - 1) * factor / 2,
            // rounded like ITK's physical-point-to-index conversion.
            let centre = (full[d] as f64 - 1.0) / 2.0 - (n[d] as f64 - 1.0) * factor as f64 / 2.0;
            let last_valid = full[d] - 1 - (n[d] - 1) * factor;
            offset[d] = ((centre + 0.5).floor().max(0.0) as usize).min(last_valid);
        }
        ShrinkGrid { factor, n, offset }
    }

    /// The coordinate on the shrunk grid (in shrunk voxels) of input voxel
    /// `i` along `axis`; outside `[0, n - 1]` near the borders.
    pub fn shrunk_coord(&self, axis: usize, i: usize) -> f64 {
        (i as f64 - self.offset[axis] as f64) / self.factor as f64
    }
}

/// The voxels that N4 fits on the shrunk grid: selected by the mask (all
/// voxels without one) and with an intensity above zero, whose logarithm
/// is defined.
#[derive(Debug, Clone)]
pub(crate) struct Samples {
    pub points: Vec<[u32; 3]>,
    pub log_values: Vec<f64>,
}

/// Collects the samples of one channel. `image` and `mask` are flat in
/// NIfTI order on the full grid `full`.
pub(crate) fn collect(
    image: &[f32],
    mask: Option<&[f32]>,
    full: [usize; 3],
    grid: &ShrinkGrid,
) -> Samples {
    let [nx, ny, _] = full;
    let f = grid.factor;
    let per_slice: Vec<Vec<([u32; 3], f64)>> = (0..grid.n[2])
        .into_par_iter()
        .map(|z| {
            let mut out = Vec::new();
            let iz = z * f + grid.offset[2];
            for y in 0..grid.n[1] {
                let iy = y * f + grid.offset[1];
                for x in 0..grid.n[0] {
                    let ix = x * f + grid.offset[0];
                    let idx = (iz * ny + iy) * nx + ix;
                    let selected = mask.is_none_or(|m| m[idx] != 0.0);
                    let v = image[idx];
                    if selected && v > 0.0 {
                        out.push(([x as u32, y as u32, z as u32], (v as f64).ln()));
                    }
                }
            }
            out
        })
        .collect();
    let total = per_slice.iter().map(Vec::len).sum();
    let mut points = Vec::with_capacity(total);
    let mut log_values = Vec::with_capacity(total);
    for (p, v) in per_slice.into_iter().flatten() {
        points.push(p);
        log_values.push(v);
    }
    Samples { points, log_values }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_centred_like_itk() {
        // The MNI152 1 mm grid shrunk by 4: ITK keeps input voxels 2, 6, ...
        let g = ShrinkGrid::new([197, 233, 189], 4);
        assert_eq!(g.n, [49, 58, 47]);
        assert_eq!(g.offset, [2, 2, 2]);
        let g = ShrinkGrid::new([10, 3, 1], 4);
        assert_eq!(g.n, [2, 1, 1]);
        assert_eq!(g.offset, [3, 1, 0]);
        assert_eq!(g.shrunk_coord(0, 7), 1.0);
    }
}

//! The affine map from output voxel indices to continuous source voxel
//! indices, and its axis-aligned special case.

use crate::PreprocessError;
use deepneuro_volume::Affine;
use nalgebra::{Matrix3, Vector3};

/// Continuous source index = `lin * (i, j, k) + offset` for output index
/// `(i, j, k)`: the composition source-world-to-voxel ∘ world map ∘
/// grid voxel-to-world.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VoxelMap {
    /// Column `j` is the step in source voxels per output step along axis `j`.
    pub lin: Matrix3<f64>,
    pub offset: Vector3<f64>,
}

/// One output axis of an axis-aligned map: it moves along a single source
/// axis, `c = scale * t + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AxisLine {
    pub src_axis: usize,
    pub scale: f64,
    pub offset: f64,
}

/// Checks that an affine supplied by the caller is finite and affine.
pub(crate) fn check_affine(a: &Affine, what: &str) -> Result<(), PreprocessError> {
    let bad = a.iter().filter(|x| !x.is_finite()).count();
    if bad > 0 {
        return Err(PreprocessError::NonFinite {
            what: what.to_string(),
            count: bad,
        });
    }
    if a[(3, 0)] != 0.0 || a[(3, 1)] != 0.0 || a[(3, 2)] != 0.0 || a[(3, 3)] != 1.0 {
        return Err(PreprocessError::BadParameter {
            name: "affine",
            reason: format!("the last row of the {what} must be [0, 0, 0, 1]"),
        });
    }
    Ok(())
}

impl VoxelMap {
    /// The map for sampling a source with affine `src` at the voxel centres
    /// of a grid with affine `grid`, through `world_map` (target world to
    /// source world) when given.
    pub fn new(
        src: &Affine,
        grid: &Affine,
        world_map: Option<&Affine>,
    ) -> Result<Self, PreprocessError> {
        check_affine(grid, "grid affine")?;
        if let Some(w) = world_map {
            check_affine(w, "world map")?;
        }
        let inv = src
            .try_inverse()
            .filter(|m| m.iter().all(|x| x.is_finite()))
            .ok_or_else(|| PreprocessError::BadParameter {
                name: "affine",
                reason: "the source affine is singular".to_string(),
            })?;
        let full = match world_map {
            Some(w) => inv * w * grid,
            None => inv * grid,
        };
        Ok(VoxelMap {
            lin: full.fixed_view::<3, 3>(0, 0).into_owned(),
            offset: full.fixed_view::<3, 1>(0, 3).into_owned(),
        })
    }

    /// The continuous source index of output index `(i, j, k)`.
    #[inline]
    pub fn at(&self, i: f64, j: f64, k: f64) -> [f64; 3] {
        let p = self.lin * Vector3::new(i, j, k) + self.offset;
        [p[0], p[1], p[2]]
    }

    /// The per-axis description when every output axis runs along exactly
    /// one source axis (a permutation with scaling, flips and shifts).
    ///
    /// A cross term is ignored when it moves the source coordinate by less
    /// than 1e-7 voxels over the whole output axis: affines that are
    /// aligned on paper pick up such terms from rounding in the inverse,
    /// and they are far below any interpolation accuracy.
    pub fn axis_aligned(&self, out_shape: [usize; 3]) -> Option<[AxisLine; 3]> {
        let mut lines = [AxisLine {
            src_axis: 0,
            scale: 0.0,
            offset: 0.0,
        }; 3];
        let mut used = [false; 3];
        for (j, line) in lines.iter_mut().enumerate() {
            let col = self.lin.column(j);
            let r = (0..3).max_by(|&a, &b| col[a].abs().total_cmp(&col[b].abs()))?;
            let span = out_shape[j].max(1) as f64;
            if used[r] || col[r] == 0.0 {
                return None;
            }
            if (0..3).any(|q| q != r && col[q].abs() * span > 1e-7) {
                return None;
            }
            used[r] = true;
            *line = AxisLine {
                src_axis: r,
                scale: col[r],
                offset: self.offset[r],
            };
        }
        Some(lines)
    }

    /// How many source voxels one output voxel spans along each source
    /// axis: the norm of the corresponding row of the Jacobian. It equals
    /// the spacing ratio for axis-aligned grids and 1 for a pure rotation.
    pub fn footprint(&self) -> [f64; 3] {
        [0, 1, 2].map(|r| self.lin.row(r).norm())
    }
}

//! What the metrics share: the map from fixed sample points to moving voxel
//! indices, the result of one evaluation, and the dispatch between metrics.

use super::mattes::Mattes;
use super::ncc::Ncc;
use super::sampler::{MovingSampler, Samples};
use nalgebra::{Matrix3, Vector3};

/// Samples are processed in chunks of this many, one rayon task each; large
/// enough to amortise a per-task histogram, small enough to balance load.
pub(crate) const CHUNK: usize = 4096;

/// The current transform seen from the samples: the continuous moving voxel
/// index of a sample is `lin * r + off`, with `r = x - centre`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VoxelMap {
    pub lin: [[f32; 3]; 3],
    pub off: [f32; 3],
}

impl VoxelMap {
    #[inline]
    pub fn apply(&self, r: [f32; 3]) -> [f32; 3] {
        let l = &self.lin;
        [0, 1, 2].map(|i| l[i][0] * r[0] + l[i][1] * r[1] + l[i][2] * r[2] + self.off[i])
    }
}

/// One evaluation of a metric (lower is better) with its gradient with
/// respect to the affine part `A` and translation `t` of the transform
/// `y = A (x - c) + c + t`; the transform kinds derive their parameter
/// gradients from these.
#[derive(Clone, Debug)]
pub(crate) struct Eval {
    pub value: f64,
    pub grad_a: Matrix3<f64>,
    pub grad_t: Vector3<f64>,
    /// Samples that mapped inside the moving image.
    pub valid: usize,
}

impl Eval {
    /// An evaluation from the sums `sum_k w_k g_k r_k^T` (9, row-major) and
    /// `sum_k w_k g_k` (3), times `scale`.
    pub fn from_sums(
        value: f64,
        sums: &[f64; 12],
        scale: f64,
        valid: usize,
        to_world: &Matrix3<f64>,
    ) -> Eval {
        Eval {
            value,
            grad_a: to_world * Matrix3::from_row_slice(&sums[..9]) * scale,
            grad_t: to_world * Vector3::new(sums[9], sums[10], sums[11]) * scale,
            valid,
        }
    }
}

/// Adds `w * g r^T` and `w * g` to the 12 gradient sums.
#[inline]
pub(crate) fn accumulate(acc: &mut [f64], w: f64, g: [f32; 3], r: [f32; 3]) {
    for a in 0..3 {
        let wg = w * g[a] as f64;
        acc[3 * a] += wg * r[0] as f64;
        acc[3 * a + 1] += wg * r[1] as f64;
        acc[3 * a + 2] += wg * r[2] as f64;
        acc[9 + a] += wg;
    }
}

/// The metric of one level, set up for its samples.
pub(crate) enum LevelMetric {
    Mattes(Mattes),
    Ncc(Ncc),
}

impl LevelMetric {
    /// Evaluates the metric and its gradient at the transform `map`.
    pub fn evaluate<M: MovingSampler>(
        &mut self,
        moving: &M,
        samples: &Samples,
        map: &VoxelMap,
    ) -> Eval {
        match self {
            LevelMetric::Mattes(m) => m.evaluate(moving, samples, map),
            LevelMetric::Ncc(n) => n.evaluate(moving, samples, map),
        }
    }
}

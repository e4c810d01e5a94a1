//! The transform being optimised and a regular-step gradient descent in
//! whitened ("physical shift") parameters.
//!
//! Parameters mix radians, matrix entries and mm, so the gradient is first
//! preconditioned with `W = E[J^T J]^(-1/2)`, where `J` is the Jacobian of
//! the transformed sample position with respect to the parameters. In the
//! coordinates `u` with `mu = W u`, a step of length `s` moves the samples by
//! `s` mm root-mean-square whatever the parameters mean, which generalises
//! ITK's RegistrationParameterScalesFromPhysicalShift (a diagonal scaling)
//! to the full matrix: it also removes the coupling between rotation and
//! translation when the centre is not the centroid of the samples.
//!
//! The descent is ITK's regular-step scheme: fixed-length steps along the
//! negative whitened gradient; the length is multiplied by the relaxation
//! factor whenever the gradient turns back (or the metric got worse), and a
//! level ends when the length falls below the minimum step.

use super::metric::{Eval, LevelMetric, VoxelMap};
use super::sampler::{MovingSampler, Samples};
use nalgebra::{DMatrix, DVector, Matrix3, Matrix4, Rotation3, Vector3};

/// A rigid or affine transform `y = A (x - c) + c + t` (fixed world to
/// moving world, RAS mm) around a fixed centre `c`.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub rigid: bool,
    pub centre: Vector3<f64>,
    pub a: Matrix3<f64>,
    pub t: Vector3<f64>,
}

impl State {
    fn nparams(&self) -> usize {
        if self.rigid {
            6
        } else {
            12
        }
    }

    /// The homogeneous RAS matrix of the transform.
    pub fn matrix(&self) -> Matrix4<f64> {
        let mut m = Matrix4::identity();
        m.fixed_view_mut::<3, 3>(0, 0).copy_from(&self.a);
        let off = self.centre + self.t - self.a * self.centre;
        m.fixed_view_mut::<3, 1>(0, 3).copy_from(&off);
        m
    }

    /// The map from sample offsets `r = x - c` to moving voxel indices.
    pub fn voxel_map(&self, moving_w2v: &Matrix4<f64>) -> VoxelMap {
        let w2v_lin: Matrix3<f64> = moving_w2v.fixed_view::<3, 3>(0, 0).into_owned();
        let w2v_off = Vector3::new(moving_w2v[(0, 3)], moving_w2v[(1, 3)], moving_w2v[(2, 3)]);
        let lin = w2v_lin * self.a;
        let off = w2v_lin * (self.centre + self.t) + w2v_off;
        VoxelMap {
            lin: [0, 1, 2].map(|i| [0, 1, 2].map(|j| lin[(i, j)] as f32)),
            off: [0, 1, 2].map(|i| off[i] as f32),
        }
    }

    /// The metric gradient with respect to this kind's parameters: for an
    /// affine, the 9 entries of `A` (row-major) and `t`; for a rigid
    /// transform, a small rotation `w` applied on the left (`A <- exp([w]x) A`)
    /// and `t`. Moving a sample by `w x (A r)` changes the metric by
    /// `w . (A r x g)`, whose sum over samples is the axial vector of the
    /// antisymmetric part of `A G^T` for `G = d metric / d A`.
    fn param_gradient(&self, e: &Eval) -> DVector<f64> {
        let mut g = DVector::zeros(self.nparams());
        if self.rigid {
            let m = self.a * e.grad_a.transpose();
            g[0] = m[(1, 2)] - m[(2, 1)];
            g[1] = m[(2, 0)] - m[(0, 2)];
            g[2] = m[(0, 1)] - m[(1, 0)];
            g.rows_mut(3, 3).copy_from(&e.grad_t);
        } else {
            for i in 0..3 {
                for j in 0..3 {
                    g[3 * i + j] = e.grad_a[(i, j)];
                }
            }
            g.rows_mut(9, 3).copy_from(&e.grad_t);
        }
        g
    }

    /// Applies a parameter step (see [`State::param_gradient`]).
    fn apply(&mut self, d: &DVector<f64>) {
        if self.rigid {
            let w = Vector3::new(d[0], d[1], d[2]);
            let r = Rotation3::new(w).into_inner() * self.a;
            // Re-orthonormalise so that rounding never accumulates into a
            // scale or shear.
            let guess = Rotation3::from_matrix_unchecked(r);
            self.a = Rotation3::from_matrix_eps(&r, 1e-15, 20, guess).into_inner();
            self.t += Vector3::new(d[3], d[4], d[5]);
        } else {
            for i in 0..3 {
                for j in 0..3 {
                    self.a[(i, j)] += d[3 * i + j];
                }
            }
            self.t += Vector3::new(d[9], d[10], d[11]);
        }
    }

    /// `W = E[J^T J]^(-1/2)` over (a subset of) the samples.
    fn whitening(&self, s: &Samples) -> DMatrix<f64> {
        let p = self.nparams();
        let stride = (s.r.len() / 20_000).max(1);
        let mut m = DMatrix::<f64>::zeros(p, p);
        let mut n = 0.0f64;
        let mut jac = DMatrix::<f64>::zeros(3, p);
        for r in s.r.iter().step_by(stride) {
            let r = Vector3::new(r[0] as f64, r[1] as f64, r[2] as f64);
            jac.fill(0.0);
            if self.rigid {
                let v = self.a * r;
                for i in 0..3 {
                    let col = Vector3::ith(i, 1.0).cross(&v);
                    jac.fixed_view_mut::<3, 1>(0, i).copy_from(&col);
                }
                jac.fixed_view_mut::<3, 3>(0, 3).fill_with_identity();
            } else {
                for i in 0..3 {
                    for j in 0..3 {
                        jac[(i, 3 * i + j)] = r[j];
                    }
                }
                jac.fixed_view_mut::<3, 3>(0, 9).fill_with_identity();
            }
            m += jac.transpose() * &jac;
            n += 1.0;
        }
        m /= n.max(1.0);
        let eig = m.symmetric_eigen();
        let top = eig.eigenvalues.max().max(1e-12);
        let inv_sqrt = eig.eigenvalues.map(|l| 1.0 / l.max(top * 1e-12).sqrt());
        &eig.eigenvectors * DMatrix::from_diagonal(&inv_sqrt) * eig.eigenvectors.transpose()
    }
}

/// Step lengths (mm, RMS displacement of the samples) of one level.
pub(crate) struct Steps {
    pub initial: f64,
    pub min: f64,
    pub relaxation: f64,
    pub max_iterations: usize,
}

/// Why a level could not run.
pub(crate) enum LevelError {
    /// Too few samples map inside the moving image at the start.
    NoOverlap { valid: usize, samples: usize },
}

/// Optimises `state` on one level; returns the iterations done and the final
/// metric value.
pub(crate) fn run_level<M: MovingSampler>(
    state: &mut State,
    metric: &mut LevelMetric,
    moving: &M,
    moving_w2v: &Matrix4<f64>,
    samples: &Samples,
    steps: &Steps,
) -> Result<(usize, f64), LevelError> {
    // Below a tenth of the samples the metric is too noisy to trust; a step
    // that leaves fewer inside is refused.
    let min_valid = (samples.r.len() / 10).max(16);
    let mut e = metric.evaluate(moving, samples, &state.voxel_map(moving_w2v));
    if e.valid < min_valid {
        return Err(LevelError::NoOverlap {
            valid: e.valid,
            samples: samples.r.len(),
        });
    }
    let w = state.whitening(samples);
    let mut step = steps.initial;
    let mut previous: Option<DVector<f64>> = None;
    let mut got_worse = false;
    let mut iterations = 0;
    while iterations < steps.max_iterations {
        let gu = &w * state.param_gradient(&e);
        let norm = gu.norm();
        if !(norm > 0.0 && norm.is_finite()) {
            break;
        }
        let turned = previous.as_ref().is_some_and(|p| p.dot(&gu) < 0.0);
        if turned || got_worse {
            step *= steps.relaxation;
        }
        if step < steps.min {
            break;
        }
        let before = state.clone();
        state.apply(&(&w * (&gu * (-step / norm))));
        iterations += 1;
        let next = metric.evaluate(moving, samples, &state.voxel_map(moving_w2v));
        if next.valid < min_valid || !next.value.is_finite() {
            *state = before;
            got_worse = true;
            continue;
        }
        got_worse = next.value > e.value;
        e = next;
        previous = Some(gu);
    }
    Ok((iterations, e.value))
}

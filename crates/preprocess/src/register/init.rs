//! Initial transforms: field-of-view centres, centres of mass, principal
//! axes (moments), or the identity.

use super::optimizer::State;
use super::pyramid::Image;
use super::Initialization;
use nalgebra::{Matrix3, SymmetricEigen, Vector3};
use rayon::prelude::*;

/// Intensity-weighted centre of mass and covariance of an image.
struct Moments {
    centre: Vector3<f64>,
    covariance: Matrix3<f64>,
}

/// Weights are intensities minus the image minimum, so that a constant
/// background (or negative values, as in CT) does not pull the centre towards
/// the middle of the field of view. `None` when all weights are zero.
fn moments(img: &Image<'_>, mask: Option<&[bool]>) -> Option<Moments> {
    let min = img.data.iter().copied().fold(f32::INFINITY, f32::min);
    let [nx, ny, _] = img.dims;
    // Sums of w, w*ijk and w*ijk*ijk^T in voxel coordinates (per slice, in
    // f64), converted to world coordinates at the end: the affine is linear.
    let sums = img
        .data
        .par_chunks(nx * ny)
        .enumerate()
        .map(|(k, slice)| {
            let mut s = [0.0f64; 10];
            for j in 0..ny {
                for i in 0..nx {
                    let idx = (k * ny + j) * nx + i;
                    if mask.is_some_and(|m| !m[idx]) {
                        continue;
                    }
                    let w = (slice[j * nx + i] - min) as f64;
                    if w <= 0.0 {
                        continue;
                    }
                    let (x, y, z) = (i as f64, j as f64, k as f64);
                    s[0] += w;
                    s[1] += w * x;
                    s[2] += w * y;
                    s[3] += w * z;
                    s[4] += w * x * x;
                    s[5] += w * x * y;
                    s[6] += w * x * z;
                    s[7] += w * y * y;
                    s[8] += w * y * z;
                    s[9] += w * z * z;
                }
            }
            s
        })
        .reduce(
            || [0.0; 10],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    if sums[0] <= 0.0 {
        return None;
    }
    let w = sums[0];
    let mean = Vector3::new(sums[1], sums[2], sums[3]) / w;
    let second = Matrix3::new(
        sums[4], sums[5], sums[6], sums[5], sums[7], sums[8], sums[6], sums[8], sums[9],
    ) / w;
    let cov_vox = second - mean * mean.transpose();
    let lin: Matrix3<f64> = img.affine.fixed_view::<3, 3>(0, 0).into_owned();
    let centre = img.world([mean[0], mean[1], mean[2]]);
    Some(Moments {
        centre: Vector3::from(centre),
        covariance: lin * cov_vox * lin.transpose(),
    })
}

/// Principal axes as the columns of a matrix, sorted by decreasing variance.
fn principal_axes(cov: &Matrix3<f64>) -> Matrix3<f64> {
    let eig = SymmetricEigen::new(*cov);
    let mut order = [0usize, 1, 2];
    order.sort_by(|a, b| eig.eigenvalues[*b].total_cmp(&eig.eigenvalues[*a]));
    Matrix3::from_columns(&order.map(|i| eig.eigenvectors.column(i).into_owned()))
}

/// The rotation taking the fixed principal axes onto the moving ones. Axes
/// have no sign, so of the four proper rotations that match them the one
/// closest to the identity is chosen: brain images are rarely more than a
/// quarter turn apart.
fn axes_rotation(fixed: &Matrix3<f64>, moving: &Matrix3<f64>) -> Matrix3<f64> {
    let mut best = Matrix3::identity();
    let mut best_trace = f64::NEG_INFINITY;
    for signs in [
        [1.0, 1.0, 1.0],
        [1.0, -1.0, -1.0],
        [-1.0, 1.0, -1.0],
        [-1.0, -1.0, 1.0],
    ] {
        let s = Matrix3::from_diagonal(&Vector3::from(signs));
        let mut r = moving * s * fixed.transpose();
        if r.determinant() < 0.0 {
            // One of the bases is left-handed: flip the least certain axis.
            let flip = Matrix3::from_diagonal(&Vector3::new(signs[0], signs[1], -signs[2]));
            r = moving * flip * fixed.transpose();
        }
        if r.trace() > best_trace {
            best_trace = r.trace();
            best = r;
        }
    }
    best
}

/// The starting transform for `init`; the centre of rotation is the fixed
/// centre of mass (field-of-view centre for `Geometry` and `Identity`).
pub(crate) fn initial_state(
    rigid: bool,
    init: Initialization,
    fixed: &Image<'_>,
    mask: Option<&[bool]>,
    moving: &Image<'_>,
) -> State {
    let fov = |img: &Image<'_>| Vector3::from(img.centre());
    let mut state = State {
        rigid,
        centre: fov(fixed),
        a: Matrix3::identity(),
        t: Vector3::zeros(),
    };
    match init {
        Initialization::Identity => {}
        Initialization::Geometry => state.t = fov(moving) - fov(fixed),
        Initialization::CenterOfMass | Initialization::Moments => {
            let (Some(mf), Some(mm)) = (moments(fixed, mask), moments(moving, None)) else {
                // No positive weight anywhere: fall back to the geometry.
                state.t = fov(moving) - fov(fixed);
                return state;
            };
            state.centre = mf.centre;
            state.t = mm.centre - mf.centre;
            if init == Initialization::Moments {
                let (af, am) = (
                    principal_axes(&mf.covariance),
                    principal_axes(&mm.covariance),
                );
                state.a = axes_rotation(&af, &am);
            }
        }
    }
    state
}

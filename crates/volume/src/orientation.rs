//! Axis orientation, following `nibabel.orientations` exactly so that our
//! "closest canonical" volume is the one nibabel users know.

use crate::Affine;
use nalgebra::{Matrix3, Matrix4};

/// For each input (voxel) axis: the world axis it is closest to (0 = R/L,
/// 1 = A/P, 2 = S/I) and whether it runs along (+1) or against (-1) it.
pub type Ornt = [(usize, i8); 3];

/// The orientation of a RAS+ volume: each voxel axis along its world axis.
pub const CANONICAL_ORNT: Ornt = [(0, 1), (1, 1), (2, 1)];

/// A one-letter axis code: the world direction a voxel axis increases towards.
pub type AxisCode = char;

/// nibabel's `io_orientation`: the polar decomposition of the direction
/// matrix, then input axes taken strongest first (stable on ties), each
/// claiming the world axis it moves most along.
pub fn io_orientation(affine: &Affine) -> Ornt {
    let rzs: Matrix3<f64> = affine.fixed_view::<3, 3>(0, 0).into_owned();
    let mut rs = rzs;
    for j in 0..3 {
        let norm = rzs.column(j).norm();
        let norm = if norm == 0.0 { 1.0 } else { norm };
        rs.column_mut(j).scale_mut(1.0 / norm);
    }
    let svd = rs.svd(true, true);
    let (u, vt) = (svd.u.expect("u requested"), svd.v_t.expect("v_t requested"));
    let s = svd.singular_values;
    let tol = s.max() * 3.0 * f64::EPSILON;
    let mut r = Matrix3::zeros();
    for k in 0..3 {
        if s[k] > tol {
            r += u.column(k) * vt.row(k);
        }
    }
    // Strongest input axis first: sort by the largest squared entry of each
    // column, descending, keeping the original order on ties (numpy's stable
    // argsort of -max(R**2)).
    let mut in_axes = [0usize, 1, 2];
    let strength = |j: usize| r.column(j).iter().map(|v| v * v).fold(f64::MIN, f64::max);
    let keys: Vec<f64> = (0..3).map(|j| -strength(j)).collect();
    in_axes.sort_by(|&a, &b| {
        keys[a]
            .partial_cmp(&keys[b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut ornt = [(usize::MAX, 0i8); 3];
    for &in_ax in &in_axes {
        let col = r.column(in_ax);
        if col.iter().all(|v| v.abs() <= 1e-8) {
            continue;
        }
        let mut out_ax = 0;
        for i in 1..3 {
            if col[i].abs() > col[out_ax].abs() {
                out_ax = i;
            }
        }
        ornt[in_ax] = (out_ax, if col[out_ax] < 0.0 { -1 } else { 1 });
        for j in 0..3 {
            r[(out_ax, j)] = 0.0;
        }
    }
    // A rank-deficient affine leaves an axis unassigned; give it the world
    // axis nobody claimed so that reorientation stays a permutation.
    for i in 0..3 {
        if ornt[i].0 == usize::MAX {
            let free = (0..3).find(|w| ornt.iter().all(|o| o.0 != *w)).unwrap_or(i);
            ornt[i] = (free, 1);
        }
    }
    ornt
}

/// nibabel's `aff2axcodes` with the default RAS labels.
pub fn aff2axcodes(affine: &Affine) -> [AxisCode; 3] {
    let labels = [('L', 'R'), ('P', 'A'), ('I', 'S')];
    io_orientation(affine).map(|(ax, flip)| {
        let (neg, pos) = labels[ax];
        if flip < 0 {
            neg
        } else {
            pos
        }
    })
}

/// nibabel's `inv_ornt_aff`: the voxel-to-voxel affine that takes indices of
/// the reoriented array back to indices of the original one, for an array of
/// spatial `shape` *before* reorientation.
pub fn inv_ornt_aff(ornt: &Ornt, shape: [usize; 3]) -> Affine {
    let mut undo_reorder = Matrix4::zeros();
    for (i, (ax, _)) in ornt.iter().enumerate() {
        undo_reorder[(i, *ax)] = 1.0;
    }
    undo_reorder[(3, 3)] = 1.0;
    let mut undo_flip = Matrix4::identity();
    for (i, (_, flip)) in ornt.iter().enumerate() {
        let f = *flip as f64;
        let center = -((shape[i] as f64) - 1.0) / 2.0;
        undo_flip[(i, i)] = f;
        undo_flip[(i, 3)] = f * center - center;
    }
    undo_flip * undo_reorder
}

/// The orientation that undoes `ornt`: applying `ornt` and then its inverse
/// returns the original array.
pub fn ornt_inverse(ornt: &Ornt) -> Ornt {
    let mut inv = [(0usize, 1i8); 3];
    for (i, (ax, flip)) in ornt.iter().enumerate() {
        inv[*ax] = (i, *flip);
    }
    inv
}

/// Whether `ornt` maps the three axes one-to-one.
pub fn is_permutation(ornt: &Ornt) -> bool {
    let mut seen = [false; 3];
    for (ax, flip) in ornt {
        if *ax > 2 || seen[*ax] || (*flip != 1 && *flip != -1) {
            return false;
        }
        seen[*ax] = true;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn las_codes() {
        let aff = Affine::new(
            -1.5, 0., 0., 90., 0., 1.5, 0., -120., 0., 0., 1.5, -70., 0., 0., 0., 1.,
        );
        assert_eq!(aff2axcodes(&aff), ['L', 'A', 'S']);
        assert_eq!(io_orientation(&aff), [(0, -1), (1, 1), (2, 1)]);
    }

    #[test]
    fn pir_codes() {
        // x runs to posterior, y to inferior, z to right.
        let aff = Affine::new(
            0., 0., 1., 0., -1., 0., 0., 0., 0., -1., 0., 0., 0., 0., 0., 1.,
        );
        assert_eq!(aff2axcodes(&aff), ['P', 'I', 'R']);
        let inv = ornt_inverse(&io_orientation(&aff));
        assert_eq!(ornt_inverse(&inv), io_orientation(&aff));
    }
}

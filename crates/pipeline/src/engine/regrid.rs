//! Bringing a volume onto another grid of the same world frame exactly
//! when the two grids hold the same voxels in another axis order or
//! direction (a reorientation and its undo): a reordering of the voxels,
//! no interpolation, and the target's affine bit for bit.

use deepneuro_volume::{nifti_layout, Affine, Volume};
use ndarray::Axis;

/// `v` on the grid (`affine`, `shape`) when that grid is a permutation and
/// flip of `v`'s own covering the same voxels; `None` otherwise.
pub fn exact(v: &Volume, affine: &Affine, shape: [usize; 3]) -> Option<Volume> {
    let (perm, flip) = axis_map(v, affine, shape)?;
    let mut view = v
        .data()
        .view()
        .permuted_axes([0, 1 + perm[0], 1 + perm[1], 1 + perm[2]]);
    for (j, &f) in flip.iter().enumerate() {
        if f {
            view.invert_axis(Axis(1 + j));
        }
    }
    let data = nifti_layout(view);
    let mut out = Volume::new(data, *affine, v.dtype()).ok()?;
    out.set_disk_scaling(v.disk_scaling());
    Some(out)
}

/// For each target axis j: the source axis it walks and whether backwards.
fn axis_map(v: &Volume, affine: &Affine, shape: [usize; 3]) -> Option<([usize; 3], [bool; 3])> {
    let m = v.affine().try_inverse()? * affine;
    let src = v.spatial_shape();
    let mut perm = [usize::MAX; 3];
    let mut flip = [false; 3];
    for j in 0..3 {
        let mut found = None;
        for i in 0..3 {
            let x = m[(i, j)];
            if (x.abs() - 1.0).abs() < 1e-6 {
                if found.is_some() {
                    return None;
                }
                found = Some((i, x < 0.0));
            } else if x.abs() > 1e-6 {
                return None;
            }
        }
        let (i, backwards) = found?;
        if perm.contains(&i) || src[i] != shape[j] {
            return None;
        }
        let start = if backwards { (src[i] - 1) as f64 } else { 0.0 };
        if (m[(i, 3)] - start).abs() > 1e-4 {
            return None;
        }
        perm[j] = i;
        flip[j] = backwards;
    }
    Some((perm, flip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepneuro_volume::DType;

    #[test]
    fn undoes_a_reorientation_exactly() {
        let mut a = Affine::identity();
        a[(0, 0)] = -1.5;
        a[(1, 2)] = 2.0;
        a[(2, 1)] = 1.0;
        a[(0, 3)] = 10.0;
        let data: Vec<f32> = (0..2 * 3 * 4 * 5).map(|i| i as f32).collect();
        let v = Volume::from_nifti_vec([2, 3, 4, 5], data, a, DType::I16).unwrap();
        let (canon, _) = v.to_canonical();
        let back = exact(&canon, v.affine(), v.spatial_shape()).unwrap();
        assert_eq!(back.affine(), v.affine());
        assert_eq!(back.data(), v.data());
        assert_eq!(back.dtype(), DType::I16);
        // A shifted grid is not a reordering.
        let mut shifted = *v.affine();
        shifted[(0, 3)] += 0.5;
        assert!(exact(&canon, &shifted, v.spatial_shape()).is_none());
    }
}

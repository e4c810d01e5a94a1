//! Helpers shared by the augmentations: shapes, layouts, draws, checks.

use ndarray::{Array4, ArrayView, ArrayViewMut, Dimension, ShapeBuilder};
use rand::Rng as _;

use crate::{AugmentError, Groups, Rng, Sample};

/// The spatial shape `[x, y, z]` of a `[channel, x, y, z]` array.
pub(crate) fn spatial(a: &Array4<f32>) -> [usize; 3] {
    let s = a.shape();
    [s[1], s[2], s[3]]
}

/// Resolves `groups` and checks that the chosen groups share one spatial
/// shape, which is returned (`None` when no group is chosen).
pub(crate) fn chosen_with_shape(
    groups: &Groups,
    sample: &Sample,
) -> Result<(Vec<String>, Option<[usize; 3]>), AugmentError> {
    let names = groups.resolve(sample)?;
    let shape = common_shape(sample, &names)?;
    Ok((names, shape))
}

/// The spatial shape shared by the named groups, or a
/// [`AugmentError::ShapeMismatch`] listing them all.
pub(crate) fn common_shape(
    sample: &Sample,
    names: &[String],
) -> Result<Option<[usize; 3]>, AugmentError> {
    let shapes: Vec<[usize; 3]> = names.iter().map(|n| spatial(&sample.groups[n])).collect();
    if shapes.windows(2).any(|w| w[0] != w[1]) {
        let listed: Vec<String> = names
            .iter()
            .zip(&shapes)
            .map(|(n, s)| format!("{n:?} {s:?}"))
            .collect();
        return Err(AugmentError::ShapeMismatch {
            case: sample.case.clone(),
            shapes: listed.join(", "),
        });
    }
    Ok(shapes.first().copied())
}

/// True when the array is stored in NIfTI order: `x` fastest, then `y`,
/// `z`, channel (a standard-layout array once the axes are reversed).
pub(crate) fn is_nifti_layout(a: &Array4<f32>) -> bool {
    a.view().permuted_axes([0, 3, 2, 1]).is_standard_layout() && !a.is_standard_layout()
}

/// A zero array of `shape` in the layout of `like`: NIfTI order stays NIfTI
/// order, anything else is standard order (so copies into it run along
/// contiguous memory on both sides when the source is `like`).
pub(crate) fn zeros_like_layout(shape: [usize; 4], like: &Array4<f32>) -> Array4<f32> {
    if is_nifti_layout(like) {
        // [x, y, z, c] in column-major order has x fastest and the channel
        // slowest; moving the channel axis first gives NIfTI order.
        let [c, x, y, z] = shape;
        Array4::zeros((x, y, z, c).f()).permuted_axes([3, 0, 1, 2])
    } else {
        Array4::zeros(shape)
    }
}

/// The axes of `strides` from the largest to the smallest absolute stride:
/// the order in which a loop walks memory forwards.
pub(crate) fn memory_order(strides: &[isize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..strides.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(strides[i].unsigned_abs()));
    order
}

/// Copies `src` into `dst` (same shape) walking `dst`'s memory in order.
///
/// ndarray's `assign` walks the last axis innermost unless both sides are
/// plainly C or Fortran ordered; a NIfTI-ordered `[c, x, y, z]` array is
/// neither (x fastest, channel slowest), so a plain `assign` would stride
/// through memory. Permuting both views by `dst`'s strides first makes the
/// innermost loop contiguous.
pub(crate) fn copy_into<D: Dimension>(dst: ArrayViewMut<'_, f32, D>, src: ArrayView<'_, f32, D>) {
    let order = memory_order(dst.strides());
    let dst = dst.permuted_axes(D::from_dimension(&ndarray::IxDyn(&order)).unwrap_or_default());
    let src = src.permuted_axes(D::from_dimension(&ndarray::IxDyn(&order)).unwrap_or_default());
    let mut dst = dst;
    dst.assign(&src);
}

/// A draw uniform in `[lo, hi]` (exactly `lo` when `lo == hi`); never panics.
pub(crate) fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// True with probability `p` (always for `p >= 1`, never for `p <= 0`).
pub(crate) fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// An index uniform in `0..n`; `n` must be positive.
pub(crate) fn index(rng: &mut Rng, n: usize) -> usize {
    debug_assert!(n > 0);
    rng.random_range(0..n.max(1))
}

/// Checks a probability field.
pub(crate) fn check_probability(op: &str, p: f64) -> Result<(), AugmentError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(AugmentError::spec(op, format!("p={p} is not in [0, 1]")))
    }
}

/// Checks a spatial axis number (0 = x, 1 = y, 2 = z).
pub(crate) fn check_axis(op: &str, axis: usize) -> Result<(), AugmentError> {
    if axis < 3 {
        Ok(())
    } else {
        Err(AugmentError::spec(
            op,
            format!("axis {axis} is not a spatial axis (0, 1 or 2)"),
        ))
    }
}

/// Checks a `[min, max]` range of finite numbers.
pub(crate) fn check_range(op: &str, min: f64, max: f64) -> Result<(), AugmentError> {
    if min.is_finite() && max.is_finite() && min <= max {
        Ok(())
    } else {
        Err(AugmentError::spec(
            op,
            format!("range [{min}, {max}] is not a finite interval with min <= max"),
        ))
    }
}

//! Flips and quarter-turn rotations: exact index permutations, done as
//! strided copies (or in place for flips).

use ndarray::{Array4, Axis, Slice, Zip};

use crate::util::{chance, check_axis, check_probability, chosen_with_shape, index};
use crate::{AugmentError, Augmentation, Groups, Rng, Sample};

/// Flips along chosen spatial axes, as `np.flip(a, axis)`.
#[derive(Clone, Debug)]
pub struct Flip {
    /// Spatial axes (0 = x, 1 = y, 2 = z); each is flipped with probability `p`.
    pub axes: Vec<usize>,
    /// The probability of flipping each axis, drawn per axis and per sample.
    pub p: f64,
    /// The groups flipped (the same flips for all of them).
    pub groups: Groups,
}

impl Default for Flip {
    fn default() -> Self {
        Flip {
            axes: vec![0],
            p: 0.5,
            groups: Groups::All,
        }
    }
}

impl Augmentation for Flip {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        check_probability("flip", self.p)?;
        for &a in &self.axes {
            check_axis("flip", a)?;
        }
        let (names, _) = chosen_with_shape(&self.groups, &sample)?;
        // Draw every axis's decision before touching data, one draw per
        // listed axis, so the stream does not depend on the data.
        let flips: Vec<usize> = self
            .axes
            .iter()
            .filter(|_| chance(rng, self.p))
            .copied()
            .collect();
        for name in &names {
            if let Some(arr) = sample.groups.get_mut(name) {
                for &a in &flips {
                    flip_in_place(arr, a + 1);
                }
            }
        }
        Ok(vec![sample])
    }

    fn name(&self) -> &'static str {
        "flip"
    }
}

/// Reverses `axis` of `a` in place by swapping mirrored halves.
pub(crate) fn flip_in_place(a: &mut Array4<f32>, axis: usize) {
    let n = a.len_of(Axis(axis));
    let half = n / 2;
    if half == 0 {
        return;
    }
    if a.stride_of(Axis(axis)) == 1 {
        // The flipped axis is contiguous (x of a NIfTI-ordered array, z of
        // a C-ordered one): reverse each line, which vectorises.
        Zip::from(a.lanes_mut(Axis(axis))).for_each(|mut lane| {
            if let Some(line) = lane.as_slice_mut() {
                line.reverse();
            }
        });
        return;
    }
    let (lo, hi) = a.view_mut().split_at(Axis(axis), half);
    // `hi` holds indices half..n; its last `half` entries, reversed, mirror `lo`.
    let mut hi = hi.slice_axis_move(Axis(axis), Slice::from((n - 2 * half) as isize..));
    hi.invert_axis(Axis(axis));
    // Walk both halves in memory order (see `copy_into`).
    let order = crate::util::memory_order(lo.strides());
    let order = [order[0], order[1], order[2], order[3]];
    let mut lo = lo.permuted_axes(order);
    let mut hi = hi.permuted_axes(order);
    Zip::from(&mut lo).and(&mut hi).for_each(std::mem::swap);
}

/// Rotates by `k` quarter turns in a plane, as `np.rot90(a, k, axes)`.
#[derive(Clone, Debug)]
pub struct Rotate90 {
    /// The plane as two spatial axes; the rotation goes from the first
    /// towards the second, as numpy's.
    pub axes: [usize; 2],
    /// A fixed number of quarter turns (any integer, taken modulo 4), or
    /// `None` for a uniform draw from {0, 1, 2, 3}.
    pub k: Option<i64>,
    /// The probability of rotating at all.
    pub p: f64,
    /// The groups rotated (the same rotation for all of them).
    pub groups: Groups,
}

impl Default for Rotate90 {
    fn default() -> Self {
        Rotate90 {
            axes: [0, 1],
            k: None,
            p: 1.0,
            groups: Groups::All,
        }
    }
}

impl Augmentation for Rotate90 {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        check_probability("rotate90", self.p)?;
        let [a, b] = self.axes;
        check_axis("rotate90", a)?;
        check_axis("rotate90", b)?;
        if a == b {
            return Err(AugmentError::spec(
                "rotate90",
                format!("axes {a}-{b} do not span a plane"),
            ));
        }
        let (names, _) = chosen_with_shape(&self.groups, &sample)?;
        let apply = chance(rng, self.p);
        let k = match self.k {
            Some(k) => k.rem_euclid(4) as usize,
            None => index(rng, 4),
        };
        if !apply || k == 0 {
            return Ok(vec![sample]);
        }
        for name in &names {
            if let Some(arr) = sample.groups.get_mut(name) {
                rot90(arr, k, a + 1, b + 1);
            }
        }
        Ok(vec![sample])
    }

    fn name(&self) -> &'static str {
        "rotate90"
    }
}

/// `np.rot90(arr, k, axes=(a, b))` for `k` in 1..=3 (array axes).
fn rot90(arr: &mut Array4<f32>, k: usize, a: usize, b: usize) {
    if k == 2 {
        flip_in_place(arr, a);
        flip_in_place(arr, b);
        return;
    }
    // numpy: k = 1 is transpose(flip(m, b)); k = 3 is flip(transpose(m), b),
    // where the transpose swaps axes a and b.
    let mut v = arr.view();
    if k == 1 {
        v.invert_axis(Axis(b));
        v.swap_axes(a, b);
    } else {
        v.swap_axes(a, b);
        v.invert_axis(Axis(b));
    }
    let s = v.shape();
    let mut out = crate::util::zeros_like_layout([s[0], s[1], s[2], s[3]], arr);
    crate::util::copy_into(out.view_mut(), v);
    *arr = out;
}

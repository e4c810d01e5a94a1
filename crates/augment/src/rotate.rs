//! Rotation by an arbitrary angle in a plane, with the semantics of
//! `scipy.ndimage.rotate(a, angle, axes, reshape=False, order, mode='constant', cval)`.
//!
//! scipy sorts the two axes, builds `R = [[c, s], [-s, c]]` from the angle in
//! degrees, and pulls every output pixel `o` of each plane from the input
//! coordinate `R o + (centre - R centre)`, where `centre = (n - 1) / 2` along
//! each plane axis: a rotation about the array centre. A coordinate outside
//! `[0, n - 1]` on either axis gives `cval`; inside, order 0 takes the
//! nearest voxel (`floor(x + 0.5)`), order 1 interpolates linearly and
//! order 3 evaluates the cubic B-spline of the mirror-extended plane. The
//! arithmetic follows scipy's own operation by operation (f64, the same
//! matrix bits, summation orders and weights), so results are bit-identical
//! to scipy's in the tests, ties at 45 degrees included.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

use crate::rotate_table::{Kernel, Table, CVAL};
use crate::spline::prefilter_plane;
use crate::util::{
    chance, check_axis, check_probability, chosen_with_shape, copy_into, memory_order, uniform,
};
use crate::{AugmentError, Augmentation, Groups, Rng, Sample};

/// Rotates every chosen group by the same angle about the array centre.
#[derive(Clone, Debug)]
pub struct Rotate {
    /// The largest rotation in degrees; the angle is uniform in `[-degrees, degrees]`.
    pub degrees: f64,
    /// A fixed angle in degrees instead of a random one.
    pub angle: Option<f64>,
    /// The plane, as two spatial axes (sorted, as scipy does, so `1-0` is `0-1`).
    pub axes: [usize; 2],
    /// Interpolation order: 0 (nearest), 1 (linear) or 3 (cubic B-spline).
    pub order: usize,
    /// Per-group orders overriding `order` (e.g. 0 for a label map).
    pub group_order: BTreeMap<String, usize>,
    /// The value outside the rotated input.
    pub cval: f32,
    /// The probability of rotating at all.
    pub p: f64,
    /// The groups rotated.
    pub groups: Groups,
}

impl Default for Rotate {
    fn default() -> Self {
        Rotate {
            degrees: 15.0,
            angle: None,
            axes: [0, 1],
            order: 1,
            group_order: BTreeMap::new(),
            cval: 0.0,
            p: 1.0,
            groups: Groups::All,
        }
    }
}

impl Rotate {
    fn check(&self) -> Result<(), AugmentError> {
        check_probability("rotate", self.p)?;
        let [a, b] = self.axes;
        check_axis("rotate", a)?;
        check_axis("rotate", b)?;
        if a == b {
            return Err(AugmentError::spec(
                "rotate",
                format!("axes {a}-{b} do not span a plane"),
            ));
        }
        if !(self.degrees.is_finite() && self.degrees >= 0.0) {
            return Err(AugmentError::spec(
                "rotate",
                format!("degrees={} must be finite and >= 0", self.degrees),
            ));
        }
        if !self.cval.is_finite() {
            return Err(AugmentError::spec(
                "rotate",
                format!("cval={} is not finite", self.cval),
            ));
        }
        if let Some(angle) = self.angle.filter(|a| !a.is_finite()) {
            return Err(AugmentError::spec(
                "rotate",
                format!("angle={angle} is not finite"),
            ));
        }
        for (g, o) in std::iter::once(("", &self.order))
            .chain(self.group_order.iter().map(|(g, o)| (g.as_str(), o)))
        {
            if ![0, 1, 3].contains(o) {
                return Err(AugmentError::spec(
                    "rotate",
                    format!("order={o} {g} is not 0, 1 or 3"),
                ));
            }
        }
        Ok(())
    }
}

impl Augmentation for Rotate {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        self.check()?;
        let (names, shape) = chosen_with_shape(&self.groups, &sample)?;
        let apply = chance(rng, self.p);
        let angle = match self.angle {
            Some(a) => a,
            None => uniform(rng, -self.degrees, self.degrees),
        };
        let Some(shape) = shape.filter(|_| apply) else {
            return Ok(vec![sample]);
        };
        let (a, b) = (
            self.axes[0].min(self.axes[1]),
            self.axes[0].max(self.axes[1]),
        );
        if (shape[a] as u64) * (shape[b] as u64) >= u64::from(CVAL) {
            return Err(AugmentError::Unsupported {
                case: sample.case.clone(),
                reason: format!("rotate: a {} x {} plane is too large", shape[a], shape[b]),
            });
        }
        let mut tables: BTreeMap<usize, Table> = BTreeMap::new();
        for name in &names {
            let order = self.group_order.get(name).copied().unwrap_or(self.order);
            let table = tables
                .entry(order)
                .or_insert_with(|| Table::new(shape[a], shape[b], angle, order));
            if let Some(arr) = sample.groups.get_mut(name) {
                rotate_group(arr, a + 1, b + 1, table, self.cval);
            }
        }
        Ok(vec![sample])
    }

    fn name(&self) -> &'static str {
        "rotate"
    }
}

/// Rotates the planes spanned by array axes `a < b` of one group, in
/// parallel over planes (no randomness is drawn here).
fn rotate_group(arr: &mut ndarray::Array4<f32>, a: usize, b: usize, table: &Table, cval: f32) {
    // The axis that is neither channel nor in the plane indexes the planes.
    let other = (1..4).find(|&d| d != a && d != b).unwrap_or(3);
    let other_in_channel = other - 1; // its index once the channel axis is removed
    let input = arr.clone();
    let mut jobs: Vec<(ArrayView2<'_, f32>, ArrayViewMut2<'_, f32>)> = Vec::new();
    for (src_ch, dst_ch) in input.axis_iter(Axis(0)).zip(arr.axis_iter_mut(Axis(0))) {
        for (src, dst) in src_ch
            .into_axis_iter(Axis(other_in_channel))
            .zip(dst_ch.into_axis_iter_mut(Axis(other_in_channel)))
        {
            jobs.push((src, dst));
        }
    }
    jobs.into_par_iter().for_each_init(
        || {
            let n = table.na * table.nb;
            (
                Array2::<f64>::zeros((table.na, table.nb)),
                vec![0f32; n],
                Vec::new(),
            )
        },
        |(buf, out, line), (src, dst)| {
            // Read the plane in its own memory order (see `copy_into`).
            let order = memory_order(src.strides());
            let p = [order[0], order[1]];
            Zip::from(buf.view_mut().permuted_axes(p))
                .and(src.permuted_axes(p))
                .for_each(|d, &s| *d = s as f64);
            if table.order == 3 {
                if let Some(plane) = buf.as_slice_mut() {
                    prefilter_plane(plane, table.na, table.nb, line);
                }
            }
            if let Some(input) = buf.as_slice() {
                rotate_plane(input, table, cval, out);
            }
            if let Ok(view) = ArrayView2::from_shape((table.na, table.nb), &out[..]) {
                copy_into(dst, view);
            }
        },
    );
}

/// Evaluates one output plane, row-major, from its (prefiltered) input plane.
fn rotate_plane(data: &[f64], table: &Table, cval: f32, out: &mut [f32]) {
    match &table.kernel {
        Kernel::Nearest(idx) => {
            for (o, &i) in out.iter_mut().zip(idx) {
                *o = if i == CVAL {
                    cval
                } else {
                    data[i as usize] as f32
                };
            }
        }
        Kernel::Linear(taps) => {
            for (o, t) in out.iter_mut().zip(taps) {
                *o = if t.idx[0] == CVAL {
                    cval
                } else {
                    // scipy's loop: the last axis varies fastest, each term
                    // is (value * w_a) * w_b, summed from zero.
                    let (wa1, wb1) = (1.0 - t.wa, 1.0 - t.wb);
                    let mut sum = 0.0f64;
                    sum += data[t.idx[0] as usize] * t.wa * t.wb;
                    sum += data[t.idx[1] as usize] * t.wa * wb1;
                    sum += data[t.idx[2] as usize] * wa1 * t.wb;
                    sum += data[t.idx[3] as usize] * wa1 * wb1;
                    sum as f32
                };
            }
        }
        Kernel::Cubic(taps) => {
            let nb = table.nb;
            for (o, taps) in out.iter_mut().zip(taps) {
                *o = match taps {
                    None => cval,
                    Some(t) => {
                        let mut sum = 0.0f64;
                        for fa in 0..4 {
                            let row = t.ia[fa] as usize * nb;
                            for fb in 0..4 {
                                sum += data[row + t.ib[fb] as usize] * t.wa[fa] * t.wb[fb];
                            }
                        }
                        sum as f32
                    }
                };
            }
        }
    }
}

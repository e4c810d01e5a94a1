//! Patch extraction with label- and mask-centred sampling.

use ndarray::{s, Array3, Array4, Axis, Slice, Zip};
use rand::seq::SliceRandom;

use crate::util::{common_shape, index, zeros_like_layout};
use crate::{AugmentError, Augmentation, Groups, Rng, Sample};

/// The most patches one sample may yield (a guard against typos that
/// would exhaust memory).
const MAX_COUNT: usize = 100_000;
/// The most voxels one patch may hold (2^31, 8 GiB per f32 channel).
const MAX_PATCH_VOXELS: usize = 1 << 31;

/// Extracts `count` patches of `size` voxels from every chosen group.
///
/// - **Centre.** A patch's centre voxel is its voxel `size / 2` (integer
///   division) along each axis, so the patch starts at `centre - size / 2`.
/// - **Criteria, met exactly.** The first `round(count * label_fraction)`
///   patches are centred on a voxel where the `label` group is non-zero (in
///   any channel); the next `min(round(count * mask_fraction), rest)` on a
///   voxel where the `mask` group is non-zero; the rest anywhere. Rounding is
///   half away from zero. Centres are drawn uniformly, with replacement,
///   among the qualifying voxels. With `shuffle` the order of the patches is
///   then shuffled; otherwise it is label, mask, anywhere.
/// - **Borders.** Without `pad`, patches lie fully inside the volume: only
///   voxels at least `size / 2` from the start and `size - size / 2 - 1`
///   from the end of each axis can be centres (a qualifying voxel nearer the
///   border is skipped rather than moved, so every label patch really is
///   centred on the label), and a patch larger than the volume is a
///   [`AugmentError::PatchTooLarge`]. With `pad`, any voxel can be a centre
///   and the part of the patch outside the volume is `cval`.
/// - **No candidate.** When no voxel qualifies for a criterion, the result is
///   [`AugmentError::NoCandidate`], or, with `fallback`, those patches are
///   centred anywhere.
/// - **Output.** Sample `i` is named `<case>#p<i>`; its affine is
///   `affine * T(start)` (the patch keeps its world position). Groups not
///   chosen are copied unchanged into every patch.
#[derive(Clone, Debug)]
pub struct Patches {
    /// The patch size `[x, y, z]` in voxels (z = 1 for 2D data).
    pub size: [usize; 3],
    /// The number of patches per sample.
    pub count: usize,
    /// The group whose non-zero voxels centre the label patches.
    pub label: Option<String>,
    /// The fraction of patches centred on the label.
    pub label_fraction: f64,
    /// The group whose non-zero voxels centre the mask patches (the
    /// command-line form `mask=nonzero` names the group `input`).
    pub mask: Option<String>,
    /// The fraction of patches centred in the mask.
    pub mask_fraction: f64,
    /// Allow patches to extend past the volume, padded with `cval`.
    pub pad: bool,
    /// The padding value.
    pub cval: f32,
    /// Centre patches anywhere when a criterion has no qualifying voxel.
    pub fallback: bool,
    /// Shuffle the order of the patches.
    pub shuffle: bool,
    /// The groups cut into patches (the label and mask groups need only
    /// share their spatial shape).
    pub groups: Groups,
}

impl Default for Patches {
    fn default() -> Self {
        Patches {
            size: [64, 64, 64],
            count: 1,
            label: None,
            label_fraction: 0.0,
            mask: None,
            mask_fraction: 0.0,
            pad: false,
            cval: 0.0,
            fallback: false,
            shuffle: false,
            groups: Groups::All,
        }
    }
}

impl Patches {
    pub(crate) fn check(&self) -> Result<(), AugmentError> {
        let bad = |reason: String| Err(AugmentError::spec("patches", reason));
        if self.size.contains(&0) {
            return bad(format!("size {:?} has a zero", self.size));
        }
        if self.count == 0 || self.count > MAX_COUNT {
            return bad(format!("count={} is not in 1..={MAX_COUNT}", self.count));
        }
        let voxels = self
            .size
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n));
        if voxels.is_none_or(|v| v > MAX_PATCH_VOXELS) {
            return bad(format!(
                "size {:?} exceeds {MAX_PATCH_VOXELS} voxels per patch",
                self.size
            ));
        }
        for (name, f) in [
            ("label_fraction", self.label_fraction),
            ("mask_fraction", self.mask_fraction),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return bad(format!("{name}={f} is not in [0, 1]"));
            }
        }
        if self.label_fraction + self.mask_fraction > 1.0 + 1e-9 {
            return bad("label_fraction + mask_fraction exceeds 1".into());
        }
        if self.label_fraction > 0.0 && self.label.is_none() {
            return bad("label_fraction > 0 needs label=<group>".into());
        }
        if self.mask_fraction > 0.0 && self.mask.is_none() {
            return bad("mask_fraction > 0 needs mask=<group>".into());
        }
        if !self.cval.is_finite() {
            return bad(format!("cval={} is not finite", self.cval));
        }
        Ok(())
    }

    /// The inclusive range of valid centres along each axis.
    fn centre_box(&self, shape: [usize; 3]) -> [(usize, usize); 3] {
        std::array::from_fn(|k| {
            if self.pad {
                (0, shape[k] - 1)
            } else {
                let h = self.size[k] / 2;
                (h, shape[k] - self.size[k] + h)
            }
        })
    }
}

/// The voxels where any channel of `group` is non-zero, in standard layout.
fn nonzero_mask(
    sample: &Sample,
    group: &str,
    shape: [usize; 3],
) -> Result<Array3<bool>, AugmentError> {
    let arr = sample
        .groups
        .get(group)
        .ok_or_else(|| AugmentError::GroupMissing {
            case: sample.case.clone(),
            group: group.to_string(),
        })?;
    if crate::util::spatial(arr) != shape {
        return Err(AugmentError::ShapeMismatch {
            case: sample.case.clone(),
            shapes: format!(
                "patches {shape:?}, {group:?} {:?}",
                crate::util::spatial(arr)
            ),
        });
    }
    let mut mask = Array3::from_elem(shape, false);
    for ch in arr.axis_iter(Axis(0)) {
        Zip::from(&mut mask)
            .and(&ch)
            .for_each(|m, &v| *m |= v != 0.0);
    }
    Ok(mask)
}

/// Draws `n` centres uniformly (with replacement) among the true voxels of
/// `mask` inside `bx`; `None` when there is none.
fn draw_in_mask(
    mask: &Array3<bool>,
    bx: [(usize, usize); 3],
    n: usize,
    rng: &mut Rng,
) -> Option<Vec<[usize; 3]>> {
    let sub = mask.slice(s![bx[0].0..=bx[0].1, bx[1].0..=bx[1].1, bx[2].0..=bx[2].1]);
    let total = sub.iter().filter(|&&m| m).count();
    if total == 0 {
        return None;
    }
    // Draw ranks first, then find them all in one scan in index order.
    let mut ranks: Vec<(usize, usize)> = (0..n).map(|i| (index(rng, total), i)).collect();
    ranks.sort_unstable();
    let mut out = vec![[0usize; 3]; n];
    let mut next = 0;
    let mut seen = 0;
    for ((x, y, z), &m) in sub.indexed_iter() {
        if !m {
            continue;
        }
        while next < ranks.len() && ranks[next].0 == seen {
            out[ranks[next].1] = [x + bx[0].0, y + bx[1].0, z + bx[2].0];
            next += 1;
        }
        seen += 1;
        if next == ranks.len() {
            break;
        }
    }
    Some(out)
}

fn draw_anywhere(bx: [(usize, usize); 3], rng: &mut Rng) -> [usize; 3] {
    std::array::from_fn(|k| bx[k].0 + index(rng, bx[k].1 - bx[k].0 + 1))
}

/// Copies the patch starting at `start` (possibly outside) out of `a`;
/// voxels outside the volume are `cval`.
fn crop(a: &Array4<f32>, start: [i64; 3], size: [usize; 3], cval: f32) -> Array4<f32> {
    let channels = a.len_of(Axis(0));
    let mut out = zeros_like_layout([channels, size[0], size[1], size[2]], a);
    let shape = crate::util::spatial(a);
    // The part of the patch inside the volume, as [lo, hi) in volume indices.
    let ranges: [(i64, i64); 3] = std::array::from_fn(|k| {
        let lo = start[k].clamp(0, shape[k] as i64);
        let hi = (start[k] + size[k] as i64).clamp(lo, shape[k] as i64);
        (lo, hi)
    });
    let partial = (0..3).any(|k| ranges[k] != (start[k], start[k] + size[k] as i64));
    if partial && cval != 0.0 {
        out.fill(cval);
    }
    if ranges.iter().any(|(lo, hi)| lo >= hi) {
        return out;
    }
    let mut src = a.view();
    let mut dst = out.view_mut();
    for (k, &(lo, hi)) in ranges.iter().enumerate() {
        src.slice_axis_inplace(Axis(k + 1), Slice::from(lo as usize..hi as usize));
        let (dlo, dhi) = ((lo - start[k]) as usize, (hi - start[k]) as usize);
        dst.slice_axis_inplace(Axis(k + 1), Slice::from(dlo..dhi));
    }
    crate::util::copy_into(dst, src);
    out
}

impl Augmentation for Patches {
    fn apply(&self, sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        self.check()?;
        let names = self.groups.resolve(&sample)?;
        let Some(shape) = common_shape(&sample, &names)? else {
            return Err(AugmentError::Unsupported {
                case: sample.case.clone(),
                reason: "patches: no group chosen to cut".into(),
            });
        };
        if shape.contains(&0) {
            return Err(AugmentError::Unsupported {
                case: sample.case.clone(),
                reason: format!("patches: the volume {shape:?} is empty"),
            });
        }
        if !self.pad && (0..3).any(|k| self.size[k] > shape[k]) {
            return Err(AugmentError::PatchTooLarge {
                case: sample.case.clone(),
                patch: self.size,
                shape,
            });
        }
        let bx = self.centre_box(shape);
        let n_label = ((self.count as f64 * self.label_fraction).round() as usize).min(self.count);
        let n_mask =
            ((self.count as f64 * self.mask_fraction).round() as usize).min(self.count - n_label);
        let n_any = self.count - n_label - n_mask;

        let mut centres = Vec::with_capacity(self.count);
        let criteria = [
            (self.label.as_deref(), n_label, "label"),
            (self.mask.as_deref(), n_mask, "mask"),
        ];
        for (group, n, what) in criteria {
            let Some(group) = group.filter(|_| n > 0) else {
                continue;
            };
            let mask = nonzero_mask(&sample, group, shape)?;
            match draw_in_mask(&mask, bx, n, rng) {
                Some(c) => centres.extend(c),
                None if self.fallback => centres.extend((0..n).map(|_| draw_anywhere(bx, rng))),
                None => {
                    return Err(AugmentError::NoCandidate {
                        case: sample.case.clone(),
                        criterion: format!(
                            "{what} {group:?} (non-zero voxels where a patch of {:?} fits)",
                            self.size
                        ),
                    })
                }
            }
        }
        centres.extend((0..n_any).map(|_| draw_anywhere(bx, rng)));
        if self.shuffle {
            centres.shuffle(rng);
        }

        let mut out = Vec::with_capacity(centres.len());
        for (i, c) in centres.iter().enumerate() {
            let start: [i64; 3] = std::array::from_fn(|k| c[k] as i64 - (self.size[k] / 2) as i64);
            let mut t = deepneuro_volume::Affine::identity();
            for k in 0..3 {
                t[(k, 3)] = start[k] as f64;
            }
            let groups = sample
                .groups
                .iter()
                .map(|(name, arr)| {
                    let a = if names.contains(name) {
                        crop(arr, start, self.size, self.cval)
                    } else {
                        arr.clone()
                    };
                    (name.clone(), a)
                })
                .collect();
            out.push(Sample {
                case: format!("{}#p{i}", sample.case),
                groups,
                affine: sample.affine * t,
            });
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "patches"
    }
}

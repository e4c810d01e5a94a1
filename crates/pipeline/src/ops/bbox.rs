//! deepbet's bounding box: the extent of the slices whose foreground
//! fraction exceeds a threshold, scaled to the full grid, grown by a margin.
//! The arithmetic is f32 and the rounding half-to-even, as torch does it in
//! `BrainExtraction.get_bbox_with_margin`, so the box is the same to the voxel.

use crate::ops::Mask;

/// A half-open box `lo..hi` on each axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BBox {
    pub lo: [usize; 3],
    pub hi: [usize; 3],
}

impl BBox {
    pub fn dims(&self) -> [usize; 3] {
        [0, 1, 2].map(|a| self.hi[a] - self.lo[a])
    }

    pub fn full(dims: [usize; 3]) -> BBox {
        BBox {
            lo: [0; 3],
            hi: dims,
        }
    }
}

/// For each axis, the first and last index (inclusive) of the slices whose
/// mean over the other two axes is above `min_fraction`; `None` when an axis
/// has no such slice (deepbet asserts "Not enough foreground").
pub fn foreground_extent(mask: &Mask, min_fraction: f32) -> Option<[(usize, usize); 3]> {
    let d = mask.dims();
    let mut counts = [vec![0u64; d[0]], vec![0u64; d[1]], vec![0u64; d[2]]];
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                if mask.get(x, y, z) {
                    counts[0][x] += 1;
                    counts[1][y] += 1;
                    counts[2][z] += 1;
                }
            }
        }
    }
    let mut out = [(0, 0); 3];
    for a in 0..3 {
        let plane = (d.iter().product::<usize>() / d[a]) as f32;
        // torch computes the slice mean in f32 and compares it with the
        // threshold cast to f32.
        let hits: Vec<usize> = (0..d[a])
            .filter(|&i| counts[a][i] as f32 / plane > min_fraction)
            .collect();
        out[a] = (*hits.first()?, *hits.last()?);
    }
    Some(out)
}

/// deepbet's `get_bbox_with_margin(mask_small, shape, margin)`: the
/// foreground extent of the small mask, scaled by `shape / small_shape`,
/// grown by `margin` of its size on each side, clipped to `shape`.
pub fn bbox_with_margin(
    small: &Mask,
    shape: [usize; 3],
    margin: f32,
    min_fraction: f32,
) -> Option<BBox> {
    let ext = foreground_extent(small, min_fraction)?;
    let sd = small.dims();
    let mut b = BBox {
        lo: [0; 3],
        hi: shape,
    };
    let grow = 1.0f32 + 2.0f32 * margin;
    for a in 0..3 {
        let (lo, hi) = (ext[a].0 as i64, ext[a].1 as i64);
        let center = (hi + 1 + lo) as f32 / 2.0;
        let size = (hi + 1 - lo) as f32;
        let scale = shape[a] as f32 / sd[a] as f32;
        let center = (scale * center).round_ties_even();
        let size = (grow * (scale * size)).round_ties_even();
        // Python's int() truncates towards zero.
        let start = (center - size / 2.0).trunc() as i64;
        let stop = (center + size / 2.0).trunc() as i64;
        b.lo[a] = start.max(0) as usize;
        b.hi[a] = (stop.min(shape[a] as i64)).max(b.lo[a] as i64) as usize;
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_gets_ten_percent_margin() {
        let m = Mask::from_fn([10, 10, 10], |x, y, z| {
            (2..8).contains(&x) && (2..8).contains(&y) && (2..8).contains(&z)
        });
        // center 5*2=10, size 6*2*1.2=14.4 -> 14: 10-7..10+7
        let b = bbox_with_margin(&m, [20, 20, 20], 0.1, 0.02).unwrap();
        assert_eq!(
            b,
            BBox {
                lo: [3; 3],
                hi: [17; 3]
            }
        );
    }

    #[test]
    fn sparse_slices_do_not_count() {
        let mut m = Mask::zeros([10, 10, 10]);
        m.set(0, 0, 0, true); // 1/100 = 0.01 < 0.02
        assert!(foreground_extent(&m, 0.02).is_none());
        // A 3x3 patch: 3/100 of every y and z slice it crosses.
        for y in 0..3 {
            for z in 0..3 {
                m.set(0, y, z, true);
            }
        }
        let e = foreground_extent(&m, 0.02).unwrap();
        assert_eq!(e, [(0, 0), (0, 2), (0, 2)]);
    }

    #[test]
    fn clipped_to_grid() {
        let m = Mask::from_fn([4, 4, 4], |_, _, _| true);
        let b = bbox_with_margin(&m, [8, 8, 8], 0.1, 0.02).unwrap();
        assert_eq!(b, BBox::full([8, 8, 8]));
    }
}

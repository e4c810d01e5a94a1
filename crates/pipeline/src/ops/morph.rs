//! deepbet's `dilate(x, n)`: each pass, every voxel with a face neighbour of
//! the other value becomes foreground (n > 0) or background (n < 0). Voxels
//! outside the array count as equal (cc3d's connectivity graph sets those
//! bits), so the border itself never grows or shrinks the mask.

use crate::ops::Mask;

fn pass(mask: &Mask, value: u8) -> Mask {
    let d = mask.dims();
    let s = mask.as_slice();
    let mut out = mask.clone();
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let i = mask.index(x, y, z);
                let v = s[i];
                let differs = (x > 0 && s[i - 1] != v)
                    || (x + 1 < d[0] && s[i + 1] != v)
                    || (y > 0 && s[i - d[0]] != v)
                    || (y + 1 < d[1] && s[i + d[0]] != v)
                    || (z > 0 && s[i - d[0] * d[1]] != v)
                    || (z + 1 < d[2] && s[i + d[0] * d[1]] != v);
                if differs {
                    out.as_mut_slice()[i] = value;
                }
            }
        }
    }
    out
}

pub fn dilate(mask: &Mask, n: usize) -> Mask {
    (0..n).fold(mask.clone(), |m, _| pass(&m, 1))
}

pub fn erode(mask: &Mask, n: usize) -> Mask {
    (0..n).fold(mask.clone(), |m, _| pass(&m, 0))
}

/// Dilates by `n` voxels when positive, erodes by `-n` when negative.
pub fn grow(mask: &Mask, n: i64) -> Mask {
    if n >= 0 {
        dilate(mask, n as usize)
    } else {
        erode(mask, n.unsigned_abs() as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_voxel_grows_to_a_cross_and_border_stays() {
        // cc3d check: a single voxel at (2,2,2) of 5^3 dilates to 7 voxels
        // and nothing on the border of the array changes.
        let mut m = Mask::zeros([5, 5, 5]);
        m.set(2, 2, 2, true);
        let d = dilate(&m, 1);
        assert_eq!(d.count(), 7);
        // The centre of the cross has only foreground neighbours.
        assert_eq!(erode(&d, 1).count(), 1);
        let full = Mask::from_fn([3, 3, 3], |_, _, _| true);
        assert_eq!(erode(&full, 1).count(), 27);
        assert_eq!(grow(&d, -1), erode(&d, 1));
    }
}

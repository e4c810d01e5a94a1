//! Hole filling with `scipy.ndimage.binary_fill_holes` / `fill_voids.fill`
//! semantics: background voxels that cannot reach the array's border through
//! face-connected (6-connectivity) background become foreground.

use crate::ops::Mask;

pub fn fill_holes(mask: &Mask) -> Mask {
    let d = mask.dims();
    let n = mask.as_slice().len();
    // 1 = background reachable from the border.
    let mut outside = vec![0u8; n];
    let mut stack = Vec::new();
    let seed =
        |x: usize, y: usize, z: usize, outside: &mut Vec<u8>, stack: &mut Vec<[usize; 3]>| {
            let i = mask.index(x, y, z);
            if mask.as_slice()[i] == 0 && outside[i] == 0 {
                outside[i] = 1;
                stack.push([x, y, z]);
            }
        };
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let border =
                    x == 0 || y == 0 || z == 0 || x + 1 == d[0] || y + 1 == d[1] || z + 1 == d[2];
                if border {
                    seed(x, y, z, &mut outside, &mut stack);
                }
            }
        }
    }
    while let Some([x, y, z]) = stack.pop() {
        let mut visit = |x: usize, y: usize, z: usize| seed(x, y, z, &mut outside, &mut stack);
        if x > 0 {
            visit(x - 1, y, z);
        }
        if x + 1 < d[0] {
            visit(x + 1, y, z);
        }
        if y > 0 {
            visit(x, y - 1, z);
        }
        if y + 1 < d[1] {
            visit(x, y + 1, z);
        }
        if z > 0 {
            visit(x, y, z - 1);
        }
        if z + 1 < d[2] {
            visit(x, y, z + 1);
        }
    }
    Mask::from_vec(d, outside.iter().map(|&o| 1 - o).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_cavities_not_border_dents() {
        // As checked against fill_voids 2.1.2 and scipy: a hollow cube is
        // filled; a hole on the border stays.
        let mut m = Mask::from_fn([5, 5, 5], |_, _, _| true);
        m.set(2, 2, 2, false);
        m.set(0, 2, 2, false);
        let f = fill_holes(&m);
        assert_eq!(f.count(), 124);
        assert!(f.get(2, 2, 2) && !f.get(0, 2, 2));
    }

    #[test]
    fn diagonal_leaks_do_not_count() {
        // A cavity touching the outside only through an edge is still a hole
        // for 6-connected background.
        let mut m = Mask::from_fn([5, 5, 5], |x, y, z| {
            !((1..4).contains(&x) && (1..4).contains(&y) && (1..4).contains(&z))
        });
        m.set(0, 0, 0, false);
        assert_eq!(fill_holes(&m).count(), 124);
    }
}

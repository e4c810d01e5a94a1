//! Connected components, as `cc3d.connected_components` labels them (26-
//! connectivity by default, which is what deepbet uses).

use crate::ops::Mask;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
pub enum Connectivity {
    /// Faces only.
    #[serde(rename = "6")]
    Six,
    /// Faces, edges and corners (cc3d's default).
    #[default]
    #[serde(rename = "26")]
    TwentySix,
}

impl Connectivity {
    pub(crate) fn offsets(self) -> Vec<[i64; 3]> {
        let mut v = Vec::new();
        for dz in -1i64..=1 {
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let n = dx.abs() + dy.abs() + dz.abs();
                    let keep = match self {
                        Connectivity::Six => n == 1,
                        Connectivity::TwentySix => n >= 1,
                    };
                    if keep {
                        v.push([dx, dy, dz]);
                    }
                }
            }
        }
        v
    }
}

/// Labels the foreground; returns the label of each voxel (0 background,
/// 1.. in order of first appearance in memory order) and each label's size.
pub fn label(mask: &Mask, conn: Connectivity) -> (Vec<u32>, Vec<usize>) {
    let d = mask.dims();
    let offsets = conn.offsets();
    let mut labels = vec![0u32; mask.as_slice().len()];
    let mut sizes = vec![0usize]; // index 0: background
    let mut stack = Vec::new();
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let i = mask.index(x, y, z);
                if !mask.get(x, y, z) || labels[i] != 0 {
                    continue;
                }
                let l = sizes.len() as u32;
                let mut size = 0usize;
                labels[i] = l;
                stack.push([x, y, z]);
                while let Some(p) = stack.pop() {
                    size += 1;
                    for o in &offsets {
                        let q = [p[0] as i64 + o[0], p[1] as i64 + o[1], p[2] as i64 + o[2]];
                        if (0..3).any(|a| q[a] < 0 || q[a] >= d[a] as i64) {
                            continue;
                        }
                        let q = q.map(|v| v as usize);
                        let j = mask.index(q[0], q[1], q[2]);
                        if labels[j] == 0 && mask.as_slice()[j] != 0 {
                            labels[j] = l;
                            stack.push(q);
                        }
                    }
                }
                sizes.push(size);
            }
        }
    }
    (labels, sizes)
}

/// Keeps only the largest connected component (the first one on a tie, as
/// `np.bincount(...).argmax()` does). `None` when the mask is empty (deepbet
/// fails there with a ValueError).
pub fn largest_component(mask: &Mask, conn: Connectivity) -> Option<Mask> {
    let (labels, sizes) = label(mask, conn);
    let (best, _) =
        sizes
            .iter()
            .enumerate()
            .skip(1)
            .fold(None, |acc: Option<(usize, usize)>, (l, &s)| match acc {
                Some((_, bs)) if bs >= s => acc,
                _ => Some((l, s)),
            })?;
    let data = labels.iter().map(|&l| (l as usize == best) as u8).collect();
    Some(Mask::from_vec(mask.dims(), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_neighbours_join_only_with_26() {
        let mut m = Mask::zeros([5, 5, 5]);
        for i in 0..3 {
            m.set(i, i, i, true);
        }
        m.set(4, 0, 0, true);
        let l26 = largest_component(&m, Connectivity::TwentySix).unwrap();
        assert_eq!(l26.count(), 3);
        let l6 = largest_component(&m, Connectivity::Six).unwrap();
        assert_eq!(l6.count(), 1);
    }

    #[test]
    fn keeps_the_biggest_and_empty_is_none() {
        let mut m = Mask::from_fn([8, 8, 8], |x, y, z| x < 3 && y < 3 && z < 3);
        m.set(7, 7, 7, true);
        let l = largest_component(&m, Connectivity::TwentySix).unwrap();
        assert_eq!(l.count(), 27);
        assert!(!l.get(7, 7, 7));
        assert!(largest_component(&Mask::zeros([2, 2, 2]), Connectivity::Six).is_none());
    }
}

//! Connected components, as `cc3d.connected_components` labels them (26-
//! connectivity by default, which is what deepbet uses).

use crate::ops::runs::{Runs, Sets};
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

/// Keeps only the largest connected component (the first one in memory
/// order on a tie, as `np.bincount(labels).argmax()` over cc3d's labels,
/// which number components by first appearance). `None` when the mask is
/// empty (deepbet fails there with a ValueError).
pub fn largest_component(mask: &Mask, conn: Connectivity) -> Option<Mask> {
    let (runs, mut sets, size) = components(mask, conn);
    // Roots are their component's first run, so ascending order is cc3d's
    // label order and `>` keeps the first of equal sizes.
    let mut best: Option<usize> = None;
    for (r, &s) in size.iter().enumerate() {
        if s > 0 && best.is_none_or(|b| s > size[b]) {
            best = Some(r);
        }
    }
    let best = best?;
    let mut out = vec![0u8; mask.as_slice().len()];
    runs.paint(&mut out, |i| sets.find(i) == best);
    Some(Mask::from_vec(mask.dims(), out))
}

/// The runs of `mask`, their components (union-find) and each root run's
/// component size in voxels.
fn components(mask: &Mask, conn: Connectivity) -> (Runs, Sets, Vec<usize>) {
    let runs = Runs::of(mask, 1);
    let n = runs.spans.len();
    let mut sets = Sets::new(n);
    runs.for_each_touching(conn == Connectivity::TwentySix, |i, j| sets.union(i, j));
    let mut size = vec![0usize; n];
    for (i, [x0, x1]) in runs.spans.iter().enumerate() {
        size[sets.find(i)] += (x1 - x0) as usize;
    }
    (runs, sets, size)
}

/// Removes the connected components with fewer than `min_voxels` voxels.
pub fn remove_small(mask: &Mask, conn: Connectivity, min_voxels: usize) -> Mask {
    let (runs, mut sets, size) = components(mask, conn);
    let mut out = vec![0u8; mask.as_slice().len()];
    runs.paint(&mut out, |i| size[sets.find(i)] >= min_voxels);
    Mask::from_vec(mask.dims(), out)
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
    fn a_tie_keeps_the_component_that_starts_first_in_memory_order() {
        // x is fastest: (3, 0, 0) comes before (0, 1, 0), whatever their
        // coordinates' order, and before the bar's later voxels.
        let mut m = Mask::zeros([5, 5, 5]);
        m.set(0, 1, 0, true);
        m.set(0, 1, 1, true);
        m.set(3, 0, 0, true);
        m.set(3, 0, 1, true);
        for conn in [Connectivity::Six, Connectivity::TwentySix] {
            let l = largest_component(&m, conn).unwrap();
            assert_eq!(l.count(), 2);
            assert!(
                l.get(3, 0, 0) && l.get(3, 0, 1) && !l.get(0, 1, 0),
                "{conn:?}"
            );
        }
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

    #[test]
    fn remove_small_keeps_components_of_at_least_n_voxels() {
        let mut m = Mask::from_fn([8, 8, 8], |x, y, z| x < 2 && y < 2 && z < 2);
        m.set(7, 7, 7, true);
        m.set(5, 5, 5, true);
        m.set(5, 5, 6, true);
        let r = remove_small(&m, Connectivity::TwentySix, 2);
        assert_eq!(r.count(), 10);
        assert!(!r.get(7, 7, 7) && r.get(5, 5, 6));
        assert_eq!(remove_small(&m, Connectivity::TwentySix, 9).count(), 0);
    }
}

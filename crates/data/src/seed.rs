//! Seeds derived from a user seed and the position of an item, so that
//! every random choice depends only on (seed, epoch, index, ...) and never
//! on which thread did the work or when.

/// Domain tags keep the streams of different purposes apart.
pub(crate) const ORDER: u64 = 0x006f_7264_6572;
pub(crate) const ITEM: u64 = 0x6974_656d;
pub(crate) const COLLECT: u64 = 0x636f_6c6c;

/// SplitMix64's finaliser: a bijection with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed for the stream named by `parts` under `seed`.
pub(crate) fn derive(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix(seed), |h, &p| {
        mix(h ^ mix(p.wrapping_add(h.rotate_left(17))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_every_part() {
        let base = derive(1, &[ITEM, 0, 5]);
        assert_eq!(base, derive(1, &[ITEM, 0, 5]));
        assert_ne!(base, derive(2, &[ITEM, 0, 5]));
        assert_ne!(base, derive(1, &[ITEM, 1, 5]));
        assert_ne!(base, derive(1, &[ITEM, 0, 6]));
        assert_ne!(base, derive(1, &[ORDER, 0, 5]));
        assert_ne!(derive(1, &[ITEM, 0, 1]), derive(1, &[ITEM, 1, 0]));
    }
}

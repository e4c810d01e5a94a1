//! Gaussian antialiasing before downsampling.
//!
//! The rule is scikit-image's `resize(anti_aliasing=True)`: along each
//! source axis that the output samples more coarsely than the source, by a
//! factor `f` (source voxels per output voxel), the source is smoothed with
//! a Gaussian of `sigma = max(0, (f - 1) / 2)` source voxels. The filter is
//! `scipy.ndimage.gaussian_filter`'s: truncated at `round(4 sigma)` voxels,
//! normalised, with mirror ("reflect") boundaries.

use super::taps::{apply_axis, reflect_half, Taps};

/// Per source axis, the Gaussian sigma in source voxels for an output that
/// spans `footprint` source voxels per output voxel along that axis.
pub(crate) fn sigmas(footprint: [f64; 3]) -> [f64; 3] {
    footprint.map(|f| ((f - 1.0) / 2.0).max(0.0))
}

/// The 1D kernel `exp(-x^2 / (2 sigma^2))` on `-r..=r`, normalised, with
/// `r = floor(4 sigma + 0.5)`; `None` when it is the identity.
fn kernel(sigma: f64) -> Option<Vec<f64>> {
    // scipy skips axes with sigma <= 1e-15; a radius of 0 is the identity too.
    if sigma <= 1e-15 {
        return None;
    }
    let r = (4.0 * sigma + 0.5) as i64;
    if r == 0 {
        return None;
    }
    let k: Vec<f64> = (-r..=r)
        .map(|x| (-0.5 / (sigma * sigma) * (x * x) as f64).exp())
        .collect();
    let s: f64 = k.iter().sum();
    Some(k.into_iter().map(|v| v / s).collect())
}

/// Smooths one channel (`data`, shape `[x, y, z]`) with the given per-axis
/// sigmas; `None` when no axis needs smoothing.
pub(crate) fn smooth(data: &[f32], shape: [usize; 3], sigmas: [f64; 3]) -> Option<Vec<f32>> {
    let mut cur: Option<Vec<f32>> = None;
    for (axis, &sigma) in sigmas.iter().enumerate() {
        let Some(k) = kernel(sigma) else { continue };
        let n = shape[axis];
        let r = (k.len() / 2) as i64;
        let mut taps = Taps::new(n, k.len());
        for t in 0..n as i64 {
            for (m, &w) in k.iter().enumerate() {
                taps.push(reflect_half(t + m as i64 - r, n), w);
            }
        }
        let next = apply_axis(cur.as_deref().unwrap_or(data), shape, axis, &taps);
        cur = Some(next);
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_matches_scipy_rule() {
        assert!(kernel(0.0).is_none());
        // 4 * 0.1 + 0.5 truncates to 0: the identity.
        assert!(kernel(0.1).is_none());
        let k = kernel(1.0).unwrap();
        assert_eq!(k.len(), 9);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((k[4] - 0.398_942_3 / 0.999_93).abs() < 1e-3);
    }

    #[test]
    fn smoothing_keeps_constants() {
        let data = vec![3.5f32; 5 * 4 * 3];
        let out = smooth(&data, [5, 4, 3], [2.0, 0.7, 1.2]).unwrap();
        assert!(out.iter().all(|v| (v - 3.5).abs() < 1e-5));
    }
}

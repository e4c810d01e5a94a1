//! Percentile clipping.

use super::{check_finite, float_dtype};
use crate::PreprocessError;
use deepneuro_volume::Volume;

/// The `q`-th percentile (0..=100) of `values` as `numpy.percentile`'s
/// default ("linear") method: linear interpolation between the two order
/// statistics around `(n - 1) * q / 100`. Reorders `values`.
pub(crate) fn percentile(values: &mut [f32], q: f64) -> f64 {
    let n = values.len();
    let pos = (n - 1) as f64 * (q / 100.0);
    let lo = (pos.floor() as usize).min(n - 1);
    let t = pos - lo as f64;
    let (_, &mut a, right) = values.select_nth_unstable_by(lo, f32::total_cmp);
    let a = a as f64;
    if t == 0.0 || right.is_empty() {
        return a;
    }
    let b = right.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    // numpy's _lerp: the form that is exact at the nearer end.
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

/// Clips every channel to its `[low, high]` percentiles (0..=100, numpy's
/// default linear method over all voxels of the channel) and, with
/// `rescale = Some((a, b))`, maps that range linearly onto `[a, b]`.
///
/// Errors: `BadParameter` unless `0 <= low <= high <= 100` and the rescale
/// bounds are finite; `NonFinite` for NaN or infinite voxels; `Constant`
/// when rescaling a channel whose two percentiles are equal.
pub fn percentile_clip(
    v: &Volume,
    low: f64,
    high: f64,
    rescale: Option<(f32, f32)>,
) -> Result<Volume, PreprocessError> {
    percentile_clip_in(v, None, low, high, rescale)
}

/// [`percentile_clip`] with the percentiles taken over the voxels where
/// `mask` (one channel, or one per image channel, on the image's grid) is
/// non-zero, and applied to every voxel. `EmptyMask` when a channel's region
/// is empty.
pub fn percentile_clip_in(
    v: &Volume,
    mask: Option<&Volume>,
    low: f64,
    high: f64,
    rescale: Option<(f32, f32)>,
) -> Result<Volume, PreprocessError> {
    if let Some(m) = mask {
        super::check_mask(v, m)?;
    }
    if !(low.is_finite() && high.is_finite() && 0.0 <= low && low <= high && high <= 100.0) {
        return Err(PreprocessError::BadParameter {
            name: "percentiles",
            reason: format!("need 0 <= low <= high <= 100, got {low} and {high}"),
        });
    }
    if let Some((a, b)) = rescale {
        if !(a.is_finite() && b.is_finite()) {
            return Err(PreprocessError::BadParameter {
                name: "rescale",
                reason: format!("bounds must be finite, got {a} and {b}"),
            });
        }
    }
    check_finite(v, "image")?;
    let data = v.nifti_slice();
    let per = v.spatial_shape().iter().product::<usize>();
    let mut out = Vec::with_capacity(data.len());
    let mask_data = mask.map(|m| m.nifti_slice());
    for (c, ch) in data.chunks(per).enumerate() {
        let mut scratch: Vec<f32> = match &mask_data {
            None => ch.to_vec(),
            Some(m) => {
                let mc = &m[(c * per) % m.len()..][..per];
                ch.iter()
                    .zip(mc)
                    .filter(|(_, &k)| k != 0.0)
                    .map(|(&x, _)| x)
                    .collect()
            }
        };
        if scratch.is_empty() {
            return Err(PreprocessError::EmptyMask {
                what: "mask".to_string(),
            });
        }
        let lo = percentile(&mut scratch, low);
        let hi = percentile(&mut scratch, high);
        match rescale {
            None => out.extend(ch.iter().map(|&x| (x as f64).clamp(lo, hi) as f32)),
            Some((a, b)) => {
                if hi <= lo {
                    return Err(PreprocessError::Constant {
                        what: "image".to_string(),
                        value: lo as f32,
                    });
                }
                let scale = (b as f64 - a as f64) / (hi - lo);
                out.extend(
                    ch.iter()
                        .map(|&x| (a as f64 + ((x as f64).clamp(lo, hi) - lo) * scale) as f32),
                );
            }
        }
    }
    Ok(Volume::from_nifti_vec(
        v.shape(),
        out,
        *v.affine(),
        float_dtype(v),
    )?)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], q) for q = 0, 10, 50, 90, 100.
        let v = [4.0f32, 1.0, 3.0, 2.0];
        for (q, want) in [
            (0.0, 1.0),
            (10.0, 1.3),
            (50.0, 2.5),
            (90.0, 3.7),
            (100.0, 4.0),
        ] {
            let got = percentile(&mut v.clone(), q);
            assert!((got - want).abs() < 1e-12, "q={q}: {got} vs {want}");
        }
        assert_eq!(percentile(&mut [7.0], 35.0), 7.0);
    }
}

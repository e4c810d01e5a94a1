//! Intensity normalisation: z-scoring over a region, percentile clipping
//! (numpy's default percentile) and histogram matching (ITK's
//! `HistogramMatchingImageFilter`).
//!
//! Every operation works channel by channel, returns a new volume on the
//! same grid and refuses NaN or infinite voxels (`NonFinite`).

mod histogram;
mod percentile;

pub use histogram::{histogram_match, HistogramMatchOptions};
pub use percentile::{percentile_clip, percentile_clip_in};

use crate::PreprocessError;
use deepneuro_volume::{DType, Volume};
use rayon::prelude::*;

/// The voxels whose mean and standard deviation [`zscore`] uses.
#[derive(Clone, Copy, Debug)]
pub enum ZScoreRegion<'a> {
    /// Every voxel.
    Whole,
    /// The voxels where the mask is non-zero. The mask must have the
    /// image's spatial shape and an affine equal within 1e-4 mm; a
    /// single-channel mask applies to every channel, otherwise it needs one
    /// channel per image channel.
    Mask(&'a Volume),
    /// The voxels where the channel itself is non-zero (typical for
    /// skull-stripped images with a zero background).
    NonZero,
}

/// Counts NaN and infinite voxels of `v`, as an error when there are any.
pub(crate) fn check_finite(v: &Volume, what: &str) -> Result<(), PreprocessError> {
    let count = v
        .nifti_slice()
        .par_chunks(1 << 16)
        .map(|c| c.iter().filter(|x| !x.is_finite()).count())
        .sum::<usize>();
    if count > 0 {
        return Err(PreprocessError::NonFinite {
            what: what.to_string(),
            count,
        });
    }
    Ok(())
}

/// The dtype of a volume whose values were transformed into non-integers.
pub(crate) fn float_dtype(v: &Volume) -> DType {
    if v.dtype().is_float() {
        v.dtype()
    } else {
        DType::F32
    }
}

fn check_mask(v: &Volume, mask: &Volume) -> Result<(), PreprocessError> {
    crate::error::check_mask_grid(v, mask)?;
    let mismatch = |detail: String| PreprocessError::MismatchedFrames {
        what: "mask".to_string(),
        detail,
    };
    if mask.channels() != 1 && mask.channels() != v.channels() {
        return Err(mismatch(format!(
            "{} channels for an image with {}",
            mask.channels(),
            v.channels()
        )));
    }
    check_finite(mask, "mask")
}

/// Standardises every channel to zero mean and unit (population) standard
/// deviation over `region`: `(x - mean) / std`, applied to all voxels.
///
/// Errors: `NonFinite` for NaN or infinite voxels (image or mask),
/// `MismatchedFrames` for a mask on another grid, `EmptyMask` when the
/// region of a channel is empty, `Constant` when the region of a channel
/// has a single value.
pub fn zscore(v: &Volume, region: ZScoreRegion) -> Result<Volume, PreprocessError> {
    check_finite(v, "image")?;
    let mask_data = match region {
        ZScoreRegion::Mask(m) => {
            check_mask(v, m)?;
            Some((m.nifti_slice(), m.channels()))
        }
        _ => None,
    };
    let data = v.nifti_slice();
    let per = v.spatial_shape().iter().product::<usize>();
    let mut out = Vec::with_capacity(data.len());
    for (c, ch) in data.chunks(per).enumerate() {
        let mask: Option<&[f32]> = mask_data.as_ref().map(|(m, n)| {
            let mc = if *n == 1 { 0 } else { c };
            &m[mc * per..(mc + 1) * per]
        });
        let selected = |i: usize, x: f32| match region {
            ZScoreRegion::Whole => true,
            ZScoreRegion::NonZero => x != 0.0,
            ZScoreRegion::Mask(_) => mask.is_some_and(|m| m[i] != 0.0),
        };
        let (mean, std) = mean_std(ch, &selected).ok_or_else(|| PreprocessError::EmptyMask {
            what: match region {
                ZScoreRegion::Mask(_) => "mask".to_string(),
                _ => "image".to_string(),
            },
        })?;
        if std == 0.0 {
            return Err(PreprocessError::Constant {
                what: "image".to_string(),
                value: mean as f32,
            });
        }
        out.extend(ch.iter().map(|&x| ((x as f64 - mean) / std) as f32));
    }
    Ok(Volume::from_nifti_vec(
        v.shape(),
        out,
        *v.affine(),
        float_dtype(v),
    )?)
}

/// Mean and population standard deviation of the selected values (two
/// passes in f64 for accuracy); `None` when nothing is selected.
fn mean_std(ch: &[f32], selected: &(impl Fn(usize, f32) -> bool + Sync)) -> Option<(f64, f64)> {
    const CHUNK: usize = 1 << 16;
    let fold = |f: &(dyn Fn(f64) -> f64 + Sync)| {
        ch.par_chunks(CHUNK)
            .enumerate()
            .map(|(b, c)| {
                let mut s = 0.0f64;
                let mut n = 0usize;
                for (i, &x) in c.iter().enumerate() {
                    if selected(b * CHUNK + i, x) {
                        s += f(x as f64);
                        n += 1;
                    }
                }
                (s, n)
            })
            .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    let (sum, n) = fold(&|x| x);
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    let (ss, _) = fold(&|x| (x - mean) * (x - mean));
    Some((mean, (ss / n as f64).sqrt()))
}

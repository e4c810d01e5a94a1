//! Validation of the options and inputs of [`super::register`].

use super::pyramid::Image;
use super::{Metric, RegistrationOptions};
use crate::PreprocessError;
use deepneuro_volume::Volume;
use rayon::prelude::*;
use std::borrow::Cow;

pub(super) fn bad(name: &'static str, reason: impl Into<String>) -> PreprocessError {
    PreprocessError::BadParameter {
        name,
        reason: reason.into(),
    }
}

pub(super) fn validate(o: &RegistrationOptions) -> Result<(), PreprocessError> {
    let n = o.shrink_factors.len();
    if n == 0 {
        return Err(bad("shrink_factors", "at least one level is needed"));
    }
    if o.smoothing_sigmas_mm.len() != n || o.iterations.len() != n {
        return Err(bad(
            "shrink_factors",
            format!(
                "the per-level lists differ in length: {n} shrink factors, {} smoothing sigmas, {} iteration counts",
                o.smoothing_sigmas_mm.len(),
                o.iterations.len()
            ),
        ));
    }
    if o.shrink_factors.contains(&0) {
        return Err(bad("shrink_factors", "factors must be at least 1"));
    }
    if o.smoothing_sigmas_mm
        .iter()
        .any(|s| !(s.is_finite() && *s >= 0.0))
    {
        return Err(bad("smoothing_sigmas_mm", "sigmas must be finite and >= 0"));
    }
    if !(o.sampling_fraction > 0.0 && o.sampling_fraction <= 1.0) {
        return Err(bad(
            "sampling_fraction",
            format!("{} is not in (0, 1]", o.sampling_fraction),
        ));
    }
    if let Metric::MattesMutualInformation { bins } = o.metric {
        if !(5..=1000).contains(&bins) {
            return Err(bad("bins", format!("{bins} is not in 5..=1000")));
        }
    }
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(o.learning_rate) || !positive(o.min_step) || o.min_step > o.learning_rate {
        return Err(bad("learning_rate", "need 0 < min_step <= learning_rate"));
    }
    if !(o.relaxation > 0.0 && o.relaxation < 1.0) {
        return Err(bad(
            "relaxation",
            format!("{} is not in (0, 1)", o.relaxation),
        ));
    }
    Ok(())
}

/// Checks one image and copies its voxels out.
pub(super) fn image<'a>(vol: &'a Volume, what: &str) -> Result<Image<'a>, PreprocessError> {
    if vol.channels() != 1 {
        return Err(bad(
            "image",
            format!(
                "{what} has {} channels; registration needs one",
                vol.channels()
            ),
        ));
    }
    let dims = vol.spatial_shape();
    if dims.iter().any(|n| *n < 4) {
        return Err(bad(
            "image",
            format!("{what} is {dims:?} voxels; registration needs at least 4 per axis"),
        ));
    }
    if vol.affine().fixed_view::<3, 3>(0, 0).determinant().abs() < 1e-12 {
        return Err(PreprocessError::MismatchedFrames {
            what: what.to_string(),
            detail: "the affine is singular".into(),
        });
    }
    let data: Cow<'a, [f32]> = vol.nifti_slice();
    let count = data.par_iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        return Err(PreprocessError::NonFinite {
            what: what.to_string(),
            count,
        });
    }
    if data.par_iter().all(|v| *v == data[0]) {
        return Err(PreprocessError::Constant {
            what: what.to_string(),
            value: data[0],
        });
    }
    Ok(Image {
        dims,
        data,
        affine: *vol.affine(),
    })
}

/// The fixed mask as booleans (voxels > 0); it must share the fixed grid.
pub(super) fn mask(m: &Volume, fixed: &Volume) -> Result<Vec<bool>, PreprocessError> {
    let same_affine = (m.affine() - fixed.affine()).abs().max() < 1e-4;
    if m.spatial_shape() != fixed.spatial_shape() || !same_affine || m.channels() != 1 {
        return Err(PreprocessError::MismatchedFrames {
            what: "mask".into(),
            detail: format!(
                "the mask ({:?}, {} channels) is not on the fixed image's grid ({:?})",
                m.spatial_shape(),
                m.channels(),
                fixed.spatial_shape()
            ),
        });
    }
    let out: Vec<bool> = m.nifti_slice().iter().map(|v| *v > 0.0).collect();
    if !out.contains(&true) {
        return Err(PreprocessError::EmptyMask {
            what: "mask".into(),
        });
    }
    Ok(out)
}

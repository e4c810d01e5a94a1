//! The one error type of the preprocessing operations.
//!
//! Operations work on volumes, not files, so `what` names the image as the
//! caller knows it (the CLI passes the file path); each message is one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// Two images that must share a world frame (an image and its mask,
    /// images that must be on one grid) do not.
    #[error("{what}: {detail}")]
    MismatchedFrames { what: String, detail: String },
    /// A mask selects no voxel.
    #[error("{what}: the mask selects no voxel")]
    EmptyMask { what: String },
    /// NaN or infinite voxels where finite intensities are required.
    #[error("{what}: {count} voxels are NaN or infinite")]
    NonFinite { what: String, count: usize },
    /// An image without contrast where an operation needs some.
    #[error("{what}: the image is constant (every voxel is {value})")]
    Constant { what: String, value: f32 },
    /// A parameter outside its valid range.
    #[error("invalid {name}: {reason}")]
    BadParameter { name: &'static str, reason: String },
    /// An external program that a step needs is not on PATH.
    #[error("{tool} was not found on PATH; {hint}")]
    ToolMissing { tool: String, hint: String },
    /// An external program ran and failed.
    #[error("{tool} failed ({status}): {stderr}")]
    ToolFailed {
        tool: String,
        status: String,
        stderr: String,
    },
    /// A transform file that cannot be read.
    #[error("{}: {reason}", path.display())]
    BadTransform { path: PathBuf, reason: String },
    #[error(transparent)]
    Io(#[from] deepneuro_io::IoError),
    #[error(transparent)]
    Volume(#[from] deepneuro_volume::VolumeError),
}

impl PreprocessError {
    /// Whether the error is about the caller's output (exit 4) rather than
    /// the input (exit 3).
    pub fn is_output_error(&self) -> bool {
        matches!(self, PreprocessError::Io(e) if e.is_output_error())
    }
}

/// How far two affines may differ (mm, largest element) and still be the
/// same voxel grid: NIfTI stores affines in float32, so a mask written by
/// another tool can differ from its image in the last digits.
pub(crate) const FRAME_TOLERANCE: f64 = 1e-4;

/// Checks that `mask` lies on `image`'s voxel grid (same spatial shape,
/// affine within [`FRAME_TOLERANCE`]); the error names the mask.
pub(crate) fn check_mask_grid(
    image: &deepneuro_volume::Volume,
    mask: &deepneuro_volume::Volume,
) -> Result<(), PreprocessError> {
    let mismatch = |detail: String| PreprocessError::MismatchedFrames {
        what: "mask".to_string(),
        detail,
    };
    if mask.spatial_shape() != image.spatial_shape() {
        return Err(mismatch(format!(
            "shape {:?} differs from the image's {:?}",
            mask.spatial_shape(),
            image.spatial_shape()
        )));
    }
    let diff = (mask.affine() - image.affine()).abs().max();
    if diff > FRAME_TOLERANCE {
        return Err(mismatch(format!(
            "affine differs from the image's by up to {diff:.3e} mm"
        )));
    }
    Ok(())
}

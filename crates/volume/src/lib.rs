//! Volumes with exact world geometry, independent of libtorch.
//!
//! # Axis convention
//!
//! Every [`Volume`] holds its voxels as an `ndarray::Array4<f32>` indexed
//! `[channel, x, y, z]`: the channel axis first (the fourth NIfTI dimension,
//! time or modality), then the three spatial axes in the order the file
//! stores them. The memory layout is NIfTI's: `x` varies fastest, then `y`,
//! then `z`, then the channel, so reading and writing a NIfTI file needs no
//! transposition. A 2D image is a volume with `z` of length 1.
//!
//! The affine maps voxel indices `(x, y, z, 1)` to RAS+ world millimetres,
//! exactly as `nibabel`'s `img.affine` does.

mod dtype;
mod error;
mod orientation;
mod volume;

pub use dtype::DType;
pub use error::VolumeError;
pub use orientation::{
    aff2axcodes, inv_ornt_aff, io_orientation, ornt_inverse, AxisCode, Ornt, CANONICAL_ORNT,
};
pub use volume::{nifti_layout, Reorientation, Volume};

/// A 4x4 voxel-to-world matrix in RAS+ millimetres.
pub type Affine = nalgebra::Matrix4<f64>;

//! Native preprocessing for brain MRI volumes: resampling (`resample`),
//! intensity normalisation (`intensity`), N4 bias field correction (`n4`),
//! rigid and affine registration (`register`), ITK transform files
//! (`transform`) and optional external tools (`external`: ANTs, 3D Slicer).
//!
//! Everything here works on [`deepneuro_volume::Volume`] in RAS world
//! coordinates and never links libtorch, so it builds and tests in seconds.
//! CPU loops are parallel with rayon.

pub mod error;
pub mod external;
pub mod intensity;
pub mod n4;
pub mod register;
pub mod resample;
pub mod transform;

pub use error::PreprocessError;

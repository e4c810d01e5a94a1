//! Image operations on binary masks, free of libtorch: connected components,
//! hole filling, morphology, bounding boxes. Each reproduces the library that
//! deepbet 1.0.2 calls (cc3d, fill_voids), so masks agree voxel for voxel.

mod bbox;
mod components;
mod fill;
mod mask;
mod morph;
mod runs;

pub use bbox::{bbox_with_margin, foreground_extent, BBox};
pub use components::{largest_component, remove_small, Connectivity};
pub use fill::fill_holes;
pub use mask::Mask;
pub use morph::{dilate, erode, grow};

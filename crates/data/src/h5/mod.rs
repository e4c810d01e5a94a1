//! The HDF5 dataset layout (format version 1).
//!
//! ```text
//! /                    attributes: format = "deepneuro-data", format_version = 1,
//!                      deepneuro_version, groups (group names, in order),
//!                      axis_order = "case,channel,x,y,z"
//! /<group>             float32 [cases, channels, x, y, z], C order; chunk = one
//!                      case's channel [1, 1, x, y, z]; shuffle + deflate;
//!                      attribute channels (one name per channel)
//! /case_ids            [cases] variable-length UTF-8 strings
//! /affines             float64 [cases, 4, 4], voxel (x, y, z, 1) to RAS+ mm
//! /shapes              uint64 [cases, 3], the valid x, y, z extent of each row
//! ```
//!
//! Indexing a group dataset with `[i, c]` in h5py gives the same array as
//! nibabel's `get_fdata()` of that channel's source file: the spatial axes
//! are in the file's voxel order, x first. All rows of a group share one
//! spatial shape; a row whose source was smaller (when collecting with a
//! fixed shape) is zero-padded at the high end of each axis and `/shapes`
//! holds its real extent, so padding never moves the affine's origin.

mod describe;
mod direct;
mod read;
mod write;

pub use describe::{describe, H5GroupInfo, H5Info};
pub(crate) use read::H5Reader;
pub(crate) use write::H5Writer;

/// The value of the root attribute `format`.
pub const FORMAT: &str = "deepneuro-data";
/// The layout version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The value of the root attribute `axis_order`.
pub const AXIS_ORDER: &str = "case,channel,x,y,z";

pub(crate) const CASE_IDS: &str = "case_ids";

/// File options without HDF5's `flock` file locking. The lock lives on the
/// open file description, which a child process forked while the file is
/// open inherits (HDF5 does not open with `O_CLOEXEC`), so a subprocess
/// started elsewhere in the program (a data loader, a converter) would keep
/// the file locked after we closed it, and the next open would fail with
/// EAGAIN. Writers need no lock here: they write a private `.part` file that
/// is renamed into place only when complete.
pub(crate) fn file_options() -> hdf5::FileBuilder {
    let mut builder = hdf5::File::with_options();
    builder.with_fapl(|p| p.file_locking(false));
    builder
}
pub(crate) const AFFINES: &str = "affines";
pub(crate) const SHAPES: &str = "shapes";

//! NIfTI-1 and NIfTI-2 reading (`.nii`, `.nii.gz`), NIfTI-1 writing.
//!
//! Reading follows nibabel: the affine is `header.get_best_affine()` after
//! nibabel's load-time header fixes, and voxel values are
//! `get_fdata()` (raw values times `scl_slope` plus `scl_inter`), rounded
//! once to f32.

mod convert;
mod header;
mod write;

pub use header::Header;
pub use write::{write, write_with, WriteOptions};

use crate::{gz, IoError};
use deepneuro_volume::Volume;
use header::{dtype_from_code, HeaderError, NIFTI1_SIZE, NIFTI2_SIZE};
use std::path::Path;

fn header_error(path: &Path, e: HeaderError) -> IoError {
    let path = path.to_path_buf();
    match e {
        HeaderError::Bad(reason) => IoError::BadHeader {
            path,
            format: "NIfTI",
            reason,
        },
        HeaderError::Datatype(what) => IoError::UnsupportedDatatype { path, what },
        HeaderError::Dims(dims, reason) => IoError::BadDimensions { path, dims, reason },
    }
}

/// Reads a `.nii` or `.nii.gz` file (gzip is detected from the content).
pub fn read(path: &Path) -> Result<Volume, IoError> {
    let raw = std::fs::read(path).map_err(|e| IoError::io(path, e))?;
    let bytes = if gz::is_gzip(&raw) {
        gz::decompress(path, &raw)?
    } else {
        raw
    };
    from_bytes(path, &bytes)
}

/// Parses only the header of a file, for tools that describe a file
/// without loading its voxels.
pub fn read_header(path: &Path) -> Result<Header, IoError> {
    let raw = std::fs::read(path).map_err(|e| IoError::io(path, e))?;
    let bytes = if gz::is_gzip(&raw) {
        gz::decompress(path, &raw)?
    } else {
        raw
    };
    Header::parse(&bytes).map_err(|e| header_error(path, e))
}

/// Decodes a whole single-file NIfTI image held in memory.
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Volume, IoError> {
    let h = Header::parse(bytes).map_err(|e| header_error(path, e))?;
    let shape = h.shape().map_err(|e| header_error(path, e))?;
    let dtype = dtype_from_code(h.datatype).map_err(|e| header_error(path, e))?;
    let scaling = h.slope_inter().map_err(|e| header_error(path, e))?;
    let min_offset = if h.version == 1 {
        NIFTI1_SIZE + 4
    } else {
        NIFTI2_SIZE + 4
    };
    // nibabel moves a too-small offset of a single file up to the minimum.
    let offset = if h.vox_offset.is_finite() && h.vox_offset >= min_offset as f64 {
        h.vox_offset as u64
    } else {
        min_offset as u64
    };
    let count: usize = shape.iter().product();
    let need = (count as u64) * dtype.size() as u64;
    let have = (bytes.len() as u64).saturating_sub(offset);
    if have < need {
        return Err(IoError::Truncated {
            path: path.to_path_buf(),
            expected: need,
            actual: have,
        });
    }
    let start = offset as usize;
    let data = convert::to_f32(
        &bytes[start..start + need as usize],
        dtype,
        h.big_endian,
        scaling,
    );
    let mut vol =
        Volume::from_nifti_vec(shape, data, h.best_affine(), dtype).map_err(|source| {
            IoError::Volume {
                path: path.to_path_buf(),
                source,
            }
        })?;
    if !dtype.is_float() {
        vol.set_disk_scaling(scaling.filter(|s| *s != (1.0, 0.0)));
    }
    Ok(vol)
}

//! NRRD reading (`.nrrd` with attached data, `.nhdr` with a detached data
//! file) and writing.
//!
//! # Reading
//!
//! Encodings raw, gzip and ascii; either byte order; every scalar type name
//! NRRD and teem accept. Two to four axes, of which two or three are
//! spatial and at most one is not (`none` in `space directions`, or a
//! non-domain kind such as `list` or `vector`); that one becomes the
//! channel axis, wherever the file lists it. Values are what pynrrd
//! returns, as f32.
//!
//! The affine is pynrrd's `space directions` (as columns) and `space
//! origin`, converted to RAS: LPS negates the first two rows, LAS the first.
//! `scanner-xyz`, `3D-right-handed` and files with no space at all are read
//! as LPS, as ITK and 3D Slicer read them. Without space directions the
//! affine is diagonal with the `spacings` (1 where absent) and origin 0. A
//! 2D image gets z of length 1 along the unit normal of its plane.
//!
//! # Writing
//!
//! See [`write_with`]: attached `.nrrd` or detached `.nhdr`, gzip or raw,
//! always in LPS with a multi-channel volume's channel axis listed first.

mod data;
mod geometry;
mod header;
mod write;

pub use write::{write, write_with, Encoding, WriteOptions};

use crate::{gz, IoError};
use deepneuro_volume::Volume;
use header::Header;
use std::path::{Path, PathBuf};

/// A reason for rejecting a file; the caller adds the file's path.
#[derive(Debug)]
pub(crate) enum Fail {
    Bad(String),
    Datatype(String),
    Dims(Vec<i64>, String),
    Truncated { expected: u64, actual: u64 },
}

impl Fail {
    fn bad(reason: String) -> Fail {
        Fail::Bad(reason)
    }

    fn at(self, path: &Path) -> IoError {
        let path = path.to_path_buf();
        match self {
            Fail::Bad(reason) => IoError::BadHeader {
                path,
                format: "NRRD",
                reason,
            },
            Fail::Datatype(what) => IoError::UnsupportedDatatype { path, what },
            Fail::Dims(dims, reason) => IoError::BadDimensions { path, dims, reason },
            Fail::Truncated { expected, actual } => IoError::Truncated {
                path,
                expected,
                actual,
            },
        }
    }
}

/// The largest factor by which deflate can shrink data; a gzip stream can
/// never inflate to more than this times its own length.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads an `.nrrd` or `.nhdr` file; a detached data file is found
/// relative to the header's folder.
pub fn read(path: &Path) -> Result<Volume, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::io(path, e))?;
    let h = header::parse(&bytes).map_err(|f| f.at(path))?;
    match detached_file(&h, path) {
        Some(data_path) => {
            let data = std::fs::read(&data_path).map_err(|e| IoError::io(&data_path, e))?;
            decode(&h, &data, path, &data_path)
        }
        None => decode(&h, attached_data(&h, &bytes, path)?, path, path),
    }
}

/// Decodes an NRRD file held in memory, whose data follow its header;
/// `path` only names the source in errors. A header that points to a
/// detached data file is rejected, since reading it would touch the disk.
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Volume, IoError> {
    let h = header::parse(bytes).map_err(|f| f.at(path))?;
    if let Some(name) = detached_file(&h, path) {
        return Err(Fail::bad(format!(
            "the data are in a separate file ({}); read the header from disk",
            name.display()
        ))
        .at(path));
    }
    decode(&h, attached_data(&h, bytes, path)?, path, path)
}

/// The data file a header names, resolved against the header's folder;
/// `None` when the data are attached (`LOCAL` also means attached).
fn detached_file(h: &Header, header_path: &Path) -> Option<PathBuf> {
    let name = h.data_file.as_deref()?;
    if name == "LOCAL" {
        return None;
    }
    let p = Path::new(name);
    Some(if p.is_absolute() {
        p.to_path_buf()
    } else {
        header_path
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(p)
    })
}

fn attached_data<'a>(h: &Header, bytes: &'a [u8], path: &Path) -> Result<&'a [u8], IoError> {
    match h.data_offset {
        Some(off) => Ok(&bytes[off..]),
        None => Err(Fail::bad(
            "the header does not end with a blank line, so there is no data".into(),
        )
        .at(path)),
    }
}

/// Drops the first `lines` lines (the `line skip` field).
fn skip_lines(mut data: &[u8], lines: usize) -> Result<&[u8], Fail> {
    for _ in 0..lines {
        let nl = data
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| Fail::bad(format!("the data have fewer than {lines} lines to skip")))?;
        data = &data[nl + 1..];
    }
    Ok(data)
}

/// The `need` bytes of data after applying `byte skip` (-1: the last bytes).
fn skip_bytes(data: &[u8], skip: i64, need: u64) -> Result<&[u8], Fail> {
    let have = data.len() as u64;
    let start = if skip == -1 {
        have.saturating_sub(need)
    } else {
        skip as u64
    };
    let actual = have.saturating_sub(start);
    if actual < need {
        return Err(Fail::Truncated {
            expected: need,
            actual,
        });
    }
    // Both bounds are within `data`, checked just above.
    Ok(&data[start as usize..(start + need) as usize])
}

/// Turns the bytes after the header (or the detached file) into a volume.
/// Header problems name `header_path`; data problems name `data_path`.
fn decode(
    h: &Header,
    data: &[u8],
    header_path: &Path,
    data_path: &Path,
) -> Result<Volume, IoError> {
    let layout = geometry::layout(h).map_err(|f| f.at(header_path))?;
    // `header::parse` checked that the voxel count fits in usize.
    let count: usize = h.sizes.iter().product();
    let need = (count as u64)
        .checked_mul(h.dtype.size() as u64)
        .ok_or_else(|| {
            let dims = h.sizes.iter().map(|&s| s as i64).collect();
            Fail::Dims(dims, "the data size overflows".into()).at(header_path)
        })?;
    let data = skip_lines(data, h.line_skip).map_err(|f| f.at(data_path))?;
    let values = match h.encoding {
        header::Encoding::Raw => {
            let bytes = skip_bytes(data, h.byte_skip, need).map_err(|f| f.at(data_path))?;
            data::decode(bytes, h.dtype, h.big_endian)
        }
        header::Encoding::Gzip => {
            check_gzip_trailer(data_path, data)?;
            let inflated = gz::decompress(data_path, data)?;
            let bytes = skip_bytes(&inflated, h.byte_skip, need).map_err(|f| f.at(data_path))?;
            data::decode(bytes, h.dtype, h.big_endian)
        }
        header::Encoding::Ascii => {
            if h.byte_skip == -1 {
                return Err(
                    Fail::bad("byte skip -1 is meaningless for ascii data".into()).at(header_path),
                );
            }
            let text = data.get(h.byte_skip as usize..).unwrap_or(&[]);
            data::parse_ascii(text, count)
                .map_err(|f| match f {
                    // Report counts of values in bytes of the element type, the
                    // unit the error message speaks of.
                    Fail::Truncated { expected, actual } => Fail::Truncated {
                        expected: expected * h.dtype.size() as u64,
                        actual: actual * h.dtype.size() as u64,
                    },
                    other => other,
                })
                .map_err(|f| f.at(data_path))?
        }
    };
    let values = data::to_volume_order(values, &h.sizes, &layout);
    Volume::from_nifti_vec(layout.shape, values, layout.affine, h.dtype).map_err(|source| {
        IoError::Volume {
            path: header_path.to_path_buf(),
            source,
        }
    })
}

/// Rejects a gzip stream whose trailer claims more output than any deflate
/// stream of its length can produce. Valid files always pass (the last
/// member alone is bounded by its own length); the check keeps a forged
/// trailer from making the decompressor reserve gigabytes up front.
fn check_gzip_trailer(path: &Path, data: &[u8]) -> Result<(), IoError> {
    let n = data.len();
    if n < 18 || !gz::is_gzip(data) {
        return Ok(()); // gz::decompress reports these itself.
    }
    let claimed = u32::from_le_bytes([data[n - 4], data[n - 3], data[n - 2], data[n - 1]]) as u64;
    if claimed > (n as u64) * MAX_DEFLATE_RATIO {
        return Err(IoError::Gzip {
            path: path.to_path_buf(),
            reason: format!(
                "the trailer claims {claimed} bytes, more than {n} compressed bytes can hold"
            ),
        });
    }
    Ok(())
}

//! Pixel decoding: stored values of one frame to f32, through whatever
//! codec the transfer syntax needs (dicom-pixeldata's registry), with bits
//! stored, sign and MONOCHROME1 handled here so that every syntax goes
//! through the same, tested arithmetic.

use crate::header::{int_of, str_of, Obj};
use crate::ts::check_supported;
use crate::DicomError;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use std::path::Path;

/// How stored values are laid out, read once per file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub rows: usize,
    pub cols: usize,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub signed: bool,
    pub monochrome1: bool,
}

impl Layout {
    pub fn of(obj: &InMemDicomObject, path: &Path) -> Result<Layout, DicomError> {
        let unsupported = |what: String| DicomError::Unsupported {
            path: path.to_path_buf(),
            what,
        };
        let spp = int_of(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        if spp != 1 {
            return Err(unsupported(format!(
                "SamplesPerPixel {spp}: only grayscale images are read"
            )));
        }
        let pi = str_of(obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
        if !pi.is_empty() && pi != "MONOCHROME1" && pi != "MONOCHROME2" {
            return Err(unsupported(format!("PhotometricInterpretation {pi}")));
        }
        let bits_allocated = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(0);
        if ![1, 8, 16, 32].contains(&bits_allocated) {
            return Err(unsupported(format!("BitsAllocated {bits_allocated}")));
        }
        let bits_stored = int_of(obj, tags::BITS_STORED)
            .unwrap_or(bits_allocated)
            .clamp(1, bits_allocated);
        let missing = |attribute| DicomError::MissingAttribute {
            path: path.to_path_buf(),
            attribute,
        };
        let rows = int_of(obj, tags::ROWS).ok_or_else(|| missing("Rows (0028,0010)"))?;
        let cols = int_of(obj, tags::COLUMNS).ok_or_else(|| missing("Columns (0028,0011)"))?;
        Ok(Layout {
            rows: rows.clamp(0, 65535) as usize,
            cols: cols.clamp(0, 65535) as usize,
            bits_allocated: bits_allocated as u16,
            bits_stored: bits_stored as u16,
            signed: int_of(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1,
            monochrome1: pi == "MONOCHROME1",
        })
    }

    /// Smallest and largest stored value the bits allow.
    pub fn stored_range(&self) -> (i64, i64) {
        let b = self.bits_stored as u32;
        if self.signed {
            (-(1i64 << (b - 1)), (1i64 << (b - 1)) - 1)
        } else {
            (0, (1i64 << b) - 1)
        }
    }

    /// One stored value as an integer: the low `bits_stored` bits,
    /// sign-extended when the pixel representation is signed.
    #[inline]
    fn value(&self, raw: u32) -> i64 {
        let b = self.bits_stored as u32;
        if self.signed && b < 32 {
            let shift = 32 - b;
            (((raw << shift) as i32) >> shift) as i64
        } else if self.signed {
            raw as i32 as i64
        } else {
            raw as i64
        }
    }
}

/// Options for turning stored values into voxel values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transform {
    pub slope: f64,
    pub intercept: f64,
    pub invert_monochrome1: bool,
}

/// Decodes frame `frame` of a fully read object into `out` (rows x cols,
/// x fastest), applying the transform.
pub(crate) fn decode_frame(
    obj: &Obj,
    path: &Path,
    layout: &Layout,
    frame: u32,
    t: Transform,
    out: &mut [f32],
) -> Result<(), DicomError> {
    check_supported(obj.meta().transfer_syntax().trim_end_matches('\0'), path)?;
    let bytes = crate::codec::frame_bytes(obj, path, layout, frame)?;
    convert(&bytes, path, layout, frame, t, out)
}

/// Stored values (little endian, BitsAllocated wide; one byte of 0 or 1
/// per pixel for 1-bit data) to voxel values.
pub(crate) fn convert(
    data: &[u8],
    path: &Path,
    layout: &Layout,
    frame: u32,
    t: Transform,
    out: &mut [f32],
) -> Result<(), DicomError> {
    let n = layout.rows * layout.cols;
    if out.len() != n {
        return Err(DicomError::PixelData {
            path: path.to_path_buf(),
            reason: "frame size does not match Rows x Columns".into(),
        });
    }
    let (lo, hi) = layout.stored_range();
    let invert = t.invert_monochrome1 && layout.monochrome1;
    let short = || DicomError::PixelData {
        path: path.to_path_buf(),
        reason: format!(
            "frame {} has {} bytes, {} x {} pixels of {} bits need more",
            frame + 1,
            data.len(),
            layout.cols,
            layout.rows,
            layout.bits_allocated
        ),
    };
    let map = |v: i64| -> f32 {
        let v = if invert { hi + lo - v } else { v };
        (v as f64 * t.slope + t.intercept) as f32
    };
    let identity = !invert && t.slope == 1.0 && t.intercept == 0.0;
    if identity && layout.bits_allocated == 16 && layout.bits_stored == 16 {
        // The usual MR and CT case, kept free of per-pixel branches.
        let src = data.get(..2 * n).ok_or_else(short)?;
        if layout.signed {
            for (o, c) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = i16::from_le_bytes([c[0], c[1]]) as f32;
            }
        } else {
            for (o, c) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = u16::from_le_bytes([c[0], c[1]]) as f32;
            }
        }
        return Ok(());
    }
    match layout.bits_allocated {
        1 => {
            let src = data.get(..n).ok_or_else(short)?;
            for (o, b) in out.iter_mut().zip(src) {
                *o = map((*b != 0) as i64);
            }
        }
        8 => {
            let src = data.get(..n).ok_or_else(short)?;
            for (o, b) in out.iter_mut().zip(src) {
                *o = map(layout.value(*b as u32));
            }
        }
        16 => {
            let src = data.get(..2 * n).ok_or_else(short)?;
            for (o, c) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = map(layout.value(u16::from_le_bytes([c[0], c[1]]) as u32));
            }
        }
        _ => {
            let src = data.get(..4 * n).ok_or_else(short)?;
            for (o, c) in out.iter_mut().zip(src.chunks_exact(4)) {
                *o = map(layout.value(u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            }
        }
    }
    Ok(())
}

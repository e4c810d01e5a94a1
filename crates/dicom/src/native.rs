//! A fast path for the common case: native little-endian pixel data as the
//! last element of the file. The frame is read straight from its offset,
//! without parsing the data set again (the header was parsed by `scan`).
//! Anything else (another syntax, trailing elements, an odd header) falls
//! back to the full parser.

use crate::header::Frame;
use crate::pixel::{convert, Transform};
use crate::DicomError;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const PIXEL_DATA_TAG: [u8; 4] = [0xE0, 0x7F, 0x10, 0x00];

/// Decodes `f` into `out` when the fast path applies; `Ok(false)` when it
/// does not and the caller must use the full parser.
pub(crate) fn try_read_frame(f: &Frame, t: Transform, out: &mut [f32]) -> Result<bool, DicomError> {
    let explicit = match f.transfer_syntax.as_str() {
        EXPLICIT_LE => true,
        IMPLICIT_LE => false,
        _ => return Ok(false),
    };
    let Some(layout) = f.layout else {
        return Ok(false);
    };
    if layout.bits_allocated == 1 {
        return Ok(false);
    }
    let io = |e| DicomError::io(&f.path, e);
    let frame_len = layout.rows * layout.cols * layout.bits_allocated as usize / 8;
    let total = frame_len as u64 * f.frames_in_file as u64;
    let padded = total + total % 2;
    let mut file = File::open(&f.path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let header_len: u64 = if explicit { 12 } else { 8 };
    if size < padded + header_len {
        return Ok(false);
    }
    let start = size - padded;
    let mut head = [0u8; 12];
    let head = &mut head[..header_len as usize];
    file.seek(SeekFrom::Start(start - header_len)).map_err(io)?;
    file.read_exact(head).map_err(io)?;
    if !header_matches(head, explicit, padded) {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(start + frame_len as u64 * f.frame as u64))
        .map_err(io)?;
    let mut buf = vec![0u8; frame_len];
    file.read_exact(&mut buf).map_err(io)?;
    convert(&buf, &f.path, &layout, f.frame, t, out)?;
    Ok(true)
}

/// Whether `head` is a PixelData element header with exactly `len` bytes of
/// value (OB or OW in explicit VR).
fn header_matches(head: &[u8], explicit: bool, len: u64) -> bool {
    if head[..4] != PIXEL_DATA_TAG {
        return false;
    }
    if explicit {
        let vr_ok = &head[4..6] == b"OW" || &head[4..6] == b"OB";
        vr_ok
            && head[6..8] == [0, 0]
            && u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as u64 == len
    } else {
        u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as u64 == len
    }
}

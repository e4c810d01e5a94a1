//! Getting one frame's stored values as little-endian bytes of
//! BitsAllocated width. Most syntaxes go through dicom-pixeldata's codec
//! registry; two are handled here because the registry gets them wrong or
//! not at all: explicit big endian with 32-bit samples (the parser swaps
//! 16-bit words, not 32-bit values) and RLE Lossless with 32-bit samples.

use crate::header::{error_chain, Obj};
use crate::pixel::Layout;
use crate::ts::ts_name;
use crate::DicomError;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_pixeldata::PixelDecoder;
use std::borrow::Cow;
use std::path::Path;

const BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";
const NATIVE: [&str; 4] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    BIG_ENDIAN,
];
const RLE: &str = "1.2.840.10008.1.2.5";
pub(crate) const JPEG_LS_LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
pub(crate) const JPEG_LS_NEAR_LOSSLESS: &str = "1.2.840.10008.1.2.4.81";

pub(crate) fn frame_bytes<'a>(
    obj: &'a Obj,
    path: &Path,
    layout: &Layout,
    frame: u32,
) -> Result<Cow<'a, [u8]>, DicomError> {
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0');
    let bad = |reason: String| DicomError::PixelData {
        path: path.to_path_buf(),
        reason,
    };
    let bytes_per = (layout.bits_allocated as usize).div_ceil(8);
    let frame_len = layout.rows * layout.cols * bytes_per;
    if layout.bits_allocated == 1 && NATIVE.contains(&ts) {
        // Frames of 1-bit data are packed back to back, not byte-aligned,
        // so a frame starts at bit `frame * pixels` (PS3.5 8.1.1).
        let elem = obj
            .element(tags::PIXEL_DATA)
            .map_err(|_| bad("no PixelData".into()))?;
        let raw = elem
            .to_bytes()
            .map_err(|_| bad("PixelData is not native".into()))?;
        let n = layout.rows * layout.cols;
        let first = frame as usize * n;
        if raw.len() * 8 < first + n {
            return Err(bad(format!("frame {} is beyond the pixel data", frame + 1)));
        }
        let out = (first..first + n)
            .map(|b| (raw[b / 8] >> (b % 8)) & 1)
            .collect();
        return Ok(Cow::Owned(out));
    }
    if ts == BIG_ENDIAN && layout.bits_allocated > 8 {
        let elem = obj
            .element(tags::PIXEL_DATA)
            .map_err(|_| bad("no PixelData".into()))?;
        let start = frame as usize * frame_len;
        let native: Vec<u8> = match elem.value() {
            Value::Primitive(PrimitiveValue::U16(words)) if layout.bits_allocated == 32 => {
                // Each 32-bit value arrived as two byte-swapped 16-bit
                // words, most significant first.
                words
                    .chunks_exact(2)
                    .flat_map(|w| (((w[0] as u32) << 16) | w[1] as u32).to_le_bytes())
                    .collect()
            }
            Value::Primitive(PrimitiveValue::U8(raw)) => raw
                .chunks_exact(bytes_per)
                .flat_map(|c| c.iter().rev().copied().collect::<Vec<u8>>())
                .collect(),
            Value::Primitive(p) => p.to_bytes().into_owned(),
            _ => return Err(bad("PixelData is not native".into())),
        };
        let out = native
            .get(start..start + frame_len)
            .ok_or_else(|| bad(format!("frame {} is beyond the pixel data", frame + 1)))?;
        return Ok(Cow::Owned(out.to_vec()));
    }
    if ts == RLE {
        let data = fragment(obj, frame).map_err(bad)?;
        return rle_decode(&data, layout.rows * layout.cols, bytes_per)
            .map(Cow::Owned)
            .map_err(bad);
    }
    if ts == JPEG_LS_LOSSLESS || ts == JPEG_LS_NEAR_LOSSLESS {
        let data = fragment(obj, frame).map_err(bad)?;
        let samples = crate::jpegls::decode(&data, layout.cols, layout.rows)
            .map_err(|e| bad(format!("JPEG-LS: {e}")))?;
        let out: Vec<u8> = match bytes_per {
            1 => samples.iter().map(|v| *v as u8).collect(),
            2 => samples.iter().flat_map(|v| v.to_le_bytes()).collect(),
            _ => samples
                .iter()
                .flat_map(|v| (*v as u32).to_le_bytes())
                .collect(),
        };
        return Ok(Cow::Owned(out));
    }
    let px = obj.decode_pixel_data_frame(frame).map_err(|e| {
        let reason = error_chain(&e);
        if reason.contains("unsupported JPEG feature") || reason.contains("Unsupported") {
            DicomError::UnsupportedTransferSyntax {
                path: path.to_path_buf(),
                name: format!("{} with {}", ts_name(ts), feature(&reason)),
                uid: ts.to_string(),
            }
        } else {
            bad(reason)
        }
    })?;
    Ok(Cow::Owned(px.into_data()))
}

/// The encapsulated data of one frame: its own fragment when there is one
/// fragment per frame, else (a single frame split in pieces) all of them.
fn fragment(obj: &Obj, frame: u32) -> Result<Cow<'_, [u8]>, String> {
    let elem = obj
        .element(tags::PIXEL_DATA)
        .map_err(|_| "no PixelData".to_string())?;
    let fragments = elem
        .value()
        .fragments()
        .ok_or_else(|| "pixel data is not encapsulated".to_string())?;
    let frames = frames_of(obj) as usize;
    if fragments.len() == frames {
        fragments
            .get(frame as usize)
            .map(|f| Cow::Borrowed(f.as_slice()))
            .ok_or_else(|| format!("no fragment for frame {}", frame + 1))
    } else if frames == 1 {
        Ok(Cow::Owned(fragments.concat()))
    } else {
        Err(format!(
            "{} fragments for {frames} frames: frames split across fragments are not supported",
            fragments.len()
        ))
    }
}

/// The feature a codec refused, in words: "12-bit samples" for the
/// decoder's `SamplePrecision(12)`.
fn feature(reason: &str) -> String {
    let last = reason.rsplit(": ").next().unwrap_or(reason);
    match last
        .strip_prefix("SamplePrecision(")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(bits) => format!("{bits}-bit samples"),
        None => last.to_string(),
    }
}

fn frames_of(obj: &Obj) -> u32 {
    crate::header::int_of(obj, tags::NUMBER_OF_FRAMES)
        .unwrap_or(1)
        .clamp(1, u32::MAX as i64) as u32
}

/// Decodes one RLE Lossless frame (PS3.5 G): a 64-byte header of segment
/// offsets, then one PackBits segment per byte plane, most significant
/// byte first. Returns little-endian samples.
pub(crate) fn rle_decode(data: &[u8], pixels: usize, bytes_per: usize) -> Result<Vec<u8>, String> {
    let word = |i: usize| -> Option<u32> {
        data.get(4 * i..4 * i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let n = word(0).ok_or("RLE header is truncated")? as usize;
    if n != bytes_per {
        return Err(format!(
            "RLE frame has {n} segments, {bytes_per} expected for grayscale"
        ));
    }
    let mut offsets = Vec::with_capacity(n + 1);
    for i in 0..n {
        offsets.push(word(i + 1).ok_or("RLE header is truncated")? as usize);
    }
    offsets.push(data.len());
    let mut out = vec![0u8; pixels * bytes_per];
    for s in 0..n {
        let (a, b) = (offsets[s], offsets[s + 1].min(data.len()));
        if a > b || a < 64 {
            return Err(format!("RLE segment {} has a bad offset", s + 1));
        }
        let plane = packbits(&data[a..b], pixels)?;
        // Segment 0 holds the most significant byte.
        let byte = bytes_per - 1 - s;
        for (p, v) in plane.into_iter().enumerate() {
            out[p * bytes_per + byte] = v;
        }
    }
    Ok(out)
}

fn packbits(src: &[u8], want: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(want);
    let mut i = 0;
    while i < src.len() && out.len() < want {
        let h = src[i] as i8;
        i += 1;
        if h >= 0 {
            let n = h as usize + 1;
            let lit = src.get(i..i + n).ok_or("RLE literal run is truncated")?;
            out.extend_from_slice(lit);
            i += n;
        } else if h != -128 {
            let n = (1 - h as isize) as usize;
            let v = *src.get(i).ok_or("RLE replicate run is truncated")?;
            out.extend(std::iter::repeat_n(v, n));
            i += 1;
        }
    }
    if out.len() < want {
        return Err(format!(
            "RLE segment decodes to {} bytes, {want} needed",
            out.len()
        ));
    }
    out.truncate(want);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_runs() {
        // Literal of 2, replicate 3 times, no-op, literal of 1.
        let src = [1u8, 7, 8, (-2i8) as u8, 9, 128, 0, 5];
        assert_eq!(packbits(&src, 6).unwrap(), [7, 8, 9, 9, 9, 5]);
        assert!(packbits(&src[..2], 6).is_err());
    }

    #[test]
    fn rle_two_planes_are_little_endian() {
        let mut data = vec![0u8; 64];
        data[0] = 2;
        data[4] = 64;
        data[8] = 67;
        data.extend([1u8, 0x12, 0x34]); // high bytes
        data.extend([1u8, 0x56, 0x78]); // low bytes
        let out = rle_decode(&data, 2, 2).unwrap();
        assert_eq!(out, [0x56, 0x12, 0x78, 0x34]);
        assert!(rle_decode(&data[..10], 2, 2).is_err());
    }
}

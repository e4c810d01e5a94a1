//! Voxel values: bytes or text to f32 in volume order, and back.
//!
//! Every function here checks lengths against what it was given before it
//! allocates, so a header that lies about its sizes costs nothing.

use super::geometry::Layout;
use super::Fail;
use deepneuro_volume::DType;

macro_rules! decode {
    ($bytes:expr, $t:ty, $be:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        $bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                let v = if $be {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                };
                v as f32
            })
            .collect()
    }};
}

/// Decodes exactly `bytes.len() / dtype.size()` binary values.
pub fn decode(bytes: &[u8], dtype: DType, big_endian: bool) -> Vec<f32> {
    match dtype {
        DType::U8 => bytes.iter().map(|&b| b as f32).collect(),
        DType::I8 => bytes.iter().map(|&b| b as i8 as f32).collect(),
        DType::I16 => decode!(bytes, i16, big_endian),
        DType::U16 => decode!(bytes, u16, big_endian),
        DType::I32 => decode!(bytes, i32, big_endian),
        DType::U32 => decode!(bytes, u32, big_endian),
        DType::I64 => decode!(bytes, i64, big_endian),
        DType::U64 => decode!(bytes, u64, big_endian),
        // float32 in the machine's byte order is the common case; one
        // copy of the bytes is all it needs.
        DType::F32 if big_endian == cfg!(target_endian = "big") => {
            let n = bytes.len() / 4;
            let mut out = vec![0f32; n];
            bytemuck::cast_slice_mut::<f32, u8>(&mut out).copy_from_slice(&bytes[..n * 4]);
            out
        }
        DType::F32 => decode!(bytes, f32, big_endian),
        DType::F64 => decode!(bytes, f64, big_endian),
    }
}

/// Parses `count` numbers separated by white space (or commas, which teem
/// also writes). Text beyond `count` values is ignored, as with binary data.
pub fn parse_ascii(text: &[u8], count: usize) -> Result<Vec<f32>, Fail> {
    // Each value needs at least one character and a separator, so the
    // text bounds what can be there, whatever the header claims.
    let mut out = Vec::with_capacity(count.min(text.len() / 2 + 1));
    let tokens = text
        .split(|b| b.is_ascii_whitespace() || *b == b',')
        .filter(|t| !t.is_empty());
    for token in tokens {
        if out.len() == count {
            break;
        }
        let value = std::str::from_utf8(token)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| {
                let shown = String::from_utf8_lossy(&token[..token.len().min(20)]).into_owned();
                Fail::bad(format!("ascii data: {shown:?} is not a number"))
            })?;
        out.push(value as f32);
    }
    if out.len() < count {
        return Err(Fail::Truncated {
            expected: count as u64,
            actual: out.len() as u64,
        });
    }
    Ok(out)
}

/// Reorders values from file order (first listed axis fastest) to volume
/// order (x fastest, then y, z, channel). The common layouts, no channel or
/// a channel axis listed last, are already in volume order.
pub fn to_volume_order(values: Vec<f32>, sizes: &[usize], layout: &Layout) -> Vec<f32> {
    let n = sizes.len();
    if layout.channel.is_none_or(|c| c == n - 1) {
        return values;
    }
    let mut strides = vec![1usize; n];
    for a in 1..n {
        strides[a] = strides[a - 1] * sizes[a - 1];
    }
    let stride_of = |axis: Option<usize>| axis.map_or(0, |a| strides[a]);
    let sx = stride_of(layout.spatial.first().copied());
    let sy = stride_of(layout.spatial.get(1).copied());
    let sz = stride_of(layout.spatial.get(2).copied());
    let sc = stride_of(layout.channel);
    let [nc, nx, ny, nz] = layout.shape;
    let mut out = Vec::with_capacity(values.len());
    for c in 0..nc {
        for z in 0..nz {
            for y in 0..ny {
                let base = c * sc + z * sz + y * sy;
                out.extend((0..nx).map(|x| values[base + x * sx]));
            }
        }
    }
    out
}

/// Whether every value fits `dtype` exactly, so that writing it loses
/// nothing. Float types always fit (the data are f32 already).
pub fn fits(values: &[f32], dtype: DType) -> bool {
    let Some((lo, hi)) = dtype.int_range() else {
        return true;
    };
    values.iter().all(|&v| {
        let v = v as f64;
        v.fract() == 0.0 && v >= lo && v <= hi
    })
}

/// Appends `values` to `out` as little-endian `dtype`. Integer types are
/// only asked for when [`fits`] holds, so the casts are exact.
pub fn encode(values: &[f32], dtype: DType, out: &mut Vec<u8>) {
    out.reserve(values.len() * dtype.size());
    macro_rules! put {
        ($t:ty) => {
            for &v in values {
                out.extend_from_slice(&(v as $t).to_le_bytes());
            }
        };
    }
    match dtype {
        DType::U8 => out.extend(values.iter().map(|&v| v as u8)),
        DType::I8 => put!(i8),
        DType::I16 => put!(i16),
        DType::U16 => put!(u16),
        DType::I32 => put!(i32),
        DType::U32 => put!(u32),
        DType::I64 => put!(i64),
        DType::U64 => put!(u64),
        DType::F32 if cfg!(target_endian = "little") => {
            out.extend_from_slice(bytemuck::cast_slice::<f32, u8>(values))
        }
        DType::F32 => put!(f32),
        DType::F64 => put!(f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepneuro_volume::Affine;

    #[test]
    fn big_endian_and_signed() {
        assert_eq!(decode(&[0xff, 0xfe], DType::I16, true), vec![-2.0]);
        assert_eq!(decode(&[0xfe, 0xff], DType::I16, false), vec![-2.0]);
        assert_eq!(decode(&[0x80], DType::I8, false), vec![-128.0]);
    }

    #[test]
    fn channel_first_is_transposed() {
        // Two channels interleaved over a 3x1x1 image.
        let layout = Layout {
            spatial: vec![1, 2, 3],
            channel: Some(0),
            shape: [2, 3, 1, 1],
            affine: Affine::identity(),
        };
        let v = to_volume_order(vec![0., 10., 1., 11., 2., 12.], &[2, 3, 1, 1], &layout);
        assert_eq!(v, vec![0., 1., 2., 10., 11., 12.]);
    }

    #[test]
    fn ascii_counts_values() {
        assert_eq!(parse_ascii(b"1 2\n3,4\n", 4).unwrap(), vec![1., 2., 3., 4.]);
        assert!(matches!(
            parse_ascii(b"1 2", 3),
            Err(Fail::Truncated { .. })
        ));
        assert!(matches!(parse_ascii(b"1 x", 2), Err(Fail::Bad(_))));
    }

    #[test]
    fn fits_checks_range_and_fraction() {
        assert!(fits(&[0.0, 255.0], DType::U8));
        assert!(!fits(&[256.0], DType::U8));
        assert!(!fits(&[0.5], DType::I16));
        assert!(!fits(&[f32::NAN], DType::I32));
        assert!(fits(&[0.5], DType::F32));
    }
}

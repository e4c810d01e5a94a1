//! Raw voxel bytes to f32 and back.

use deepneuro_volume::DType;

macro_rules! decode {
    ($bytes:expr, $t:ty, $be:expr, $map:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let map = $map;
        $bytes
            .chunks_exact(N)
            .map(|c| {
                let a: [u8; N] = c.try_into().expect("chunks_exact yields N bytes");
                let v = if $be {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                };
                map(v as f64)
            })
            .collect()
    }};
}

/// Decodes `bytes` of `dtype` into f32, applying `value * slope + inter` in
/// double precision first, as nibabel's `get_fdata()` does.
pub fn to_f32(
    bytes: &[u8],
    dtype: DType,
    big_endian: bool,
    scaling: Option<(f64, f64)>,
) -> Vec<f32> {
    // The unscaled 8- and 16-bit and f32 cases dominate real data; they
    // convert exactly without the detour through f64.
    if scaling.is_none() || scaling == Some((1.0, 0.0)) {
        match dtype {
            DType::U8 => return bytes.iter().map(|&b| b as f32).collect(),
            DType::I8 => return bytes.iter().map(|&b| b as i8 as f32).collect(),
            DType::F32 if !big_endian => {
                return bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            }
            _ => {}
        }
    }
    let (slope, inter) = scaling.unwrap_or((1.0, 0.0));
    let f = move |v: f64| (v * slope + inter) as f32;
    match dtype {
        DType::U8 => decode!(bytes, u8, big_endian, f),
        DType::I8 => decode!(bytes, i8, big_endian, f),
        DType::I16 => decode!(bytes, i16, big_endian, f),
        DType::U16 => decode!(bytes, u16, big_endian, f),
        DType::I32 => decode!(bytes, i32, big_endian, f),
        DType::U32 => decode!(bytes, u32, big_endian, f),
        DType::I64 => decode!(bytes, i64, big_endian, f),
        DType::U64 => decode!(bytes, u64, big_endian, f),
        DType::F32 => decode!(bytes, f32, big_endian, f),
        DType::F64 => decode!(bytes, f64, big_endian, f),
    }
}

/// How stored integers map back to values: `value = raw * slope + inter`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaling {
    pub slope: f64,
    pub inter: f64,
}

/// Chooses the scaling for writing `data` as `dtype`: none when every value
/// is an integer the type holds (masks, labels, raw scanner values), else the
/// one that spreads the data's range over the type's range.
pub fn choose_scaling(data: &[f32], dtype: DType) -> Scaling {
    let identity = Scaling {
        slope: 1.0,
        inter: 0.0,
    };
    let Some((tmin, tmax)) = dtype.int_range() else {
        return identity;
    };
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut integral = true;
    for &v in data {
        if !v.is_finite() {
            continue;
        }
        let v = v as f64;
        lo = lo.min(v);
        hi = hi.max(v);
        integral &= v.fract() == 0.0;
    }
    if !lo.is_finite() || (integral && lo >= tmin && hi <= tmax) {
        return identity;
    }
    if hi == lo {
        return Scaling {
            slope: 1.0,
            inter: lo,
        };
    }
    let slope = (hi - lo) / (tmax - tmin);
    Scaling {
        slope,
        inter: lo - tmin * slope,
    }
}

macro_rules! encode {
    ($data:expr, $out:expr, $t:ty, $s:expr) => {{
        let s: Scaling = $s;
        let identity = s.slope == 1.0 && s.inter == 0.0;
        for &v in $data {
            let raw = if identity {
                v as f64
            } else {
                ((v as f64) - s.inter) / s.slope
            };
            // Rounding to nearest; NaN becomes 0 and values clamp to the
            // type's range (the `as` conversion saturates).
            let x = raw.round() as $t;
            $out.extend_from_slice(&x.to_le_bytes());
        }
    }};
}

/// Appends `data` to `out` as little-endian `dtype` with `scaling`.
pub fn encode(data: &[f32], dtype: DType, scaling: Scaling, out: &mut Vec<u8>) {
    out.reserve(data.len() * dtype.size());
    match dtype {
        DType::U8 if scaling.slope == 1.0 && scaling.inter == 0.0 => {
            out.extend(data.iter().map(|&v| v.round() as u8));
        }
        DType::U8 => encode!(data, out, u8, scaling),
        DType::I8 => encode!(data, out, i8, scaling),
        DType::I16 => encode!(data, out, i16, scaling),
        DType::U16 => encode!(data, out, u16, scaling),
        DType::I32 => encode!(data, out, i32, scaling),
        DType::U32 => encode!(data, out, u32, scaling),
        DType::I64 => encode!(data, out, i64, scaling),
        DType::U64 => encode!(data, out, u64, scaling),
        DType::F32 if cfg!(target_endian = "little") => {
            out.extend_from_slice(bytemuck::cast_slice::<f32, u8>(data));
        }
        DType::F32 => {
            for &v in data {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        DType::F64 => {
            for &v in data {
                out.extend_from_slice(&(v as f64).to_le_bytes());
            }
        }
    }
}

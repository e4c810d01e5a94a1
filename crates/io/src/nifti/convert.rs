//! Raw voxel bytes to f32 and back.

use deepneuro_volume::DType;

macro_rules! decode {
    ($out:expr, $bytes:expr, $t:ty, $be:expr, $map:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let map = $map;
        for (o, c) in $out.iter_mut().zip($bytes.chunks_exact(N)) {
            let a: [u8; N] = c.try_into().expect("chunks_exact yields N bytes");
            let v = if $be {
                <$t>::from_be_bytes(a)
            } else {
                <$t>::from_le_bytes(a)
            };
            *o = map(v as f64);
        }
    }};
}

/// Voxels converted per task: large enough to amortise scheduling, small
/// enough to spread a volume over the cores.
const BLOCK: usize = 1 << 16;

/// Decodes `bytes` of `dtype` into f32, applying `value * slope + inter` in
/// double precision first, as nibabel's `get_fdata()` does. Blocks convert
/// in parallel, which also spreads the page faults of the fresh buffer.
pub fn to_f32(
    bytes: &[u8],
    dtype: DType,
    big_endian: bool,
    scaling: Option<(f64, f64)>,
) -> Vec<f32> {
    use rayon::prelude::*;
    let size = dtype.size();
    let n = bytes.len() / size;
    let mut out = crate::alloc::huge_vec(n);
    out.par_chunks_mut(BLOCK)
        .zip(bytes.par_chunks(BLOCK * size))
        .for_each(|(o, b)| decode_block(o, b, dtype, big_endian, scaling));
    out
}

fn decode_block(
    out: &mut [f32],
    bytes: &[u8],
    dtype: DType,
    big_endian: bool,
    scaling: Option<(f64, f64)>,
) {
    // The unscaled 8-bit and f32 cases dominate real data; they convert
    // exactly without the detour through f64.
    if scaling.is_none() || scaling == Some((1.0, 0.0)) {
        match dtype {
            DType::U8 => {
                out.iter_mut().zip(bytes).for_each(|(o, &b)| *o = b as f32);
                return;
            }
            DType::I8 => {
                out.iter_mut()
                    .zip(bytes)
                    .for_each(|(o, &b)| *o = b as i8 as f32);
                return;
            }
            DType::F32 if !big_endian => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                return;
            }
            _ => {}
        }
    }
    let (slope, inter) = scaling.unwrap_or((1.0, 0.0));
    let f = move |v: f64| (v * slope + inter) as f32;
    match dtype {
        DType::U8 => decode!(out, bytes, u8, big_endian, f),
        DType::I8 => decode!(out, bytes, i8, big_endian, f),
        DType::I16 => decode!(out, bytes, i16, big_endian, f),
        DType::U16 => decode!(out, bytes, u16, big_endian, f),
        DType::I32 => decode!(out, bytes, i32, big_endian, f),
        DType::U32 => decode!(out, bytes, u32, big_endian, f),
        DType::I64 => decode!(out, bytes, i64, big_endian, f),
        DType::U64 => decode!(out, bytes, u64, big_endian, f),
        DType::F32 => decode!(out, bytes, f32, big_endian, f),
        DType::F64 => decode!(out, bytes, f64, big_endian, f),
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
pub fn choose_scaling(data: &[f32], dtype: DType, previous: Option<(f64, f64)>) -> Scaling {
    let identity = Scaling {
        slope: 1.0,
        inter: 0.0,
    };
    let Some((tmin, tmax)) = dtype.int_range() else {
        return identity;
    };
    if let Some((slope, inter)) = previous {
        if represents_exactly(data, slope, inter, tmin, tmax) {
            return Scaling { slope, inter };
        }
    }
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
        // The cast round trip is exact for integers and much cheaper than
        // `fract()`, which is a library call on baseline x86-64.
        integral &= (v as i64) as f64 == v;
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

/// Whether every finite value is `stored * slope + inter` for an integer
/// `stored` in range, as it is for a volume read from a scaled file and not
/// changed since: then the file's own scaling writes it back unchanged.
fn represents_exactly(data: &[f32], slope: f64, inter: f64, tmin: f64, tmax: f64) -> bool {
    slope != 0.0
        && slope.is_finite()
        && data.iter().filter(|v| v.is_finite()).all(|&v| {
            let stored = ((v as f64 - inter) / slope).round();
            stored >= tmin && stored <= tmax && (stored * slope + inter) as f32 == v
        })
}

macro_rules! encode {
    ($data:expr, $out:expr, $t:ty, $s:expr) => {{
        let s: Scaling = $s;
        if s.slope == 1.0 && s.inter == 0.0 {
            // Identity scaling is only chosen for integral values within the
            // type's range, so truncation is exact (NaN becomes 0).
            for &v in $data {
                $out.extend_from_slice(&(v as $t).to_le_bytes());
            }
        } else {
            for &v in $data {
                // Round to nearest; `as` saturates at the type's range.
                let raw = ((v as f64) - s.inter) / s.slope;
                $out.extend_from_slice(&(raw.round() as $t).to_le_bytes());
            }
        }
    }};
}

/// Appends `data` to `out` as little-endian `dtype` with `scaling`.
pub fn encode(data: &[f32], dtype: DType, scaling: Scaling, out: &mut Vec<u8>) {
    out.reserve(data.len() * dtype.size());
    match dtype {
        DType::U8 if scaling.slope == 1.0 && scaling.inter == 0.0 => {
            out.extend(data.iter().map(|&v| v as u8));
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

//! NIfTI-1 and NIfTI-2 headers: parsing, nibabel's affine choice, writing.

use deepneuro_volume::{Affine, DType};

pub const NIFTI1_SIZE: usize = 348;
pub const NIFTI2_SIZE: usize = 540;

/// The header fields this crate uses, widened to the NIfTI-2 types.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub version: u8,
    pub big_endian: bool,
    pub dim: [i64; 8],
    pub datatype: i16,
    pub pixdim: [f64; 8],
    pub vox_offset: f64,
    pub scl_slope: f64,
    pub scl_inter: f64,
    pub qform_code: i32,
    pub sform_code: i32,
    pub quatern: [f64; 3],
    pub qoffset: [f64; 3],
    pub srow: [[f64; 4]; 3],
    pub xyzt_units: i32,
    pub descrip: String,
}

/// Why a header was rejected; the caller adds the file name.
#[derive(Debug)]
pub enum HeaderError {
    Bad(String),
    Datatype(String),
    Dims(Vec<i64>, String),
}

struct Reader<'a> {
    b: &'a [u8],
    be: bool,
}

impl Reader<'_> {
    fn arr<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[off..off + N]);
        if self.be {
            a.reverse();
        }
        a
    }
    fn i16(&self, off: usize) -> i16 {
        i16::from_le_bytes(self.arr(off))
    }
    fn i32(&self, off: usize) -> i32 {
        i32::from_le_bytes(self.arr(off))
    }
    fn i64(&self, off: usize) -> i64 {
        i64::from_le_bytes(self.arr(off))
    }
    fn f32(&self, off: usize) -> f64 {
        f32::from_le_bytes(self.arr(off)) as f64
    }
    fn f64(&self, off: usize) -> f64 {
        f64::from_le_bytes(self.arr(off))
    }
    fn text(&self, off: usize, len: usize) -> String {
        let s = &self.b[off..off + len];
        let end = s.iter().position(|&c| c == 0).unwrap_or(len);
        String::from_utf8_lossy(&s[..end]).into_owned()
    }
}

/// Maps a NIfTI datatype code to the element type, or says which
/// unsupported type it is.
pub fn dtype_from_code(code: i16) -> Result<DType, HeaderError> {
    Ok(match code {
        2 => DType::U8,
        4 => DType::I16,
        8 => DType::I32,
        16 => DType::F32,
        64 => DType::F64,
        256 => DType::I8,
        512 => DType::U16,
        768 => DType::U32,
        1024 => DType::I64,
        1280 => DType::U64,
        other => {
            let name = match other {
                0 => "none (0)",
                1 => "binary (1)",
                32 => "complex64 (32)",
                128 => "RGB24 (128)",
                1536 => "float128 (1536)",
                1792 => "complex128 (1792)",
                2048 => "complex256 (2048)",
                2304 => "RGBA32 (2304)",
                _ => return Err(HeaderError::Datatype(format!("code {other}"))),
            };
            return Err(HeaderError::Datatype(name.to_string()));
        }
    })
}

pub fn code_from_dtype(d: DType) -> i16 {
    match d {
        DType::U8 => 2,
        DType::I16 => 4,
        DType::I32 => 8,
        DType::F32 => 16,
        DType::F64 => 64,
        DType::I8 => 256,
        DType::U16 => 512,
        DType::U32 => 768,
        DType::I64 => 1024,
        DType::U64 => 1280,
    }
}

impl Header {
    /// Parses the first bytes of a `.nii` file (NIfTI-1 or NIfTI-2, either
    /// byte order).
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        if b.len() < 4 {
            return Err(HeaderError::Bad(format!(
                "file is {} bytes, too short for a header",
                b.len()
            )));
        }
        let raw = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let (version, be) = match (raw, raw.swap_bytes()) {
            (348, _) => (1, false),
            (_, 348) => (1, true),
            (540, _) => (2, false),
            (_, 540) => (2, true),
            _ => {
                return Err(HeaderError::Bad(format!(
                    "sizeof_hdr is {raw}, not 348 (NIfTI-1) or 540 (NIfTI-2)"
                )))
            }
        };
        let need = if version == 1 {
            NIFTI1_SIZE
        } else {
            NIFTI2_SIZE
        };
        if b.len() < need {
            return Err(HeaderError::Bad(format!(
                "file is {} bytes, shorter than the {need}-byte NIfTI-{version} header",
                b.len()
            )));
        }
        let r = Reader { b, be };
        let h = if version == 1 {
            let magic = &b[344..348];
            if magic != b"n+1\0" {
                let why = if magic == b"ni1\0" {
                    "this is the header of a .hdr/.img pair, not a single .nii file".to_string()
                } else {
                    format!("bad magic {:?}", String::from_utf8_lossy(magic))
                };
                return Err(HeaderError::Bad(why));
            }
            Header {
                version,
                big_endian: be,
                dim: std::array::from_fn(|i| r.i16(40 + 2 * i) as i64),
                datatype: r.i16(70),
                pixdim: std::array::from_fn(|i| r.f32(76 + 4 * i)),
                vox_offset: r.f32(108),
                scl_slope: r.f32(112),
                scl_inter: r.f32(116),
                xyzt_units: b[123] as i32,
                descrip: r.text(148, 80),
                qform_code: r.i16(252) as i32,
                sform_code: r.i16(254) as i32,
                quatern: std::array::from_fn(|i| r.f32(256 + 4 * i)),
                qoffset: std::array::from_fn(|i| r.f32(268 + 4 * i)),
                srow: std::array::from_fn(|row| {
                    std::array::from_fn(|c| r.f32(280 + 16 * row + 4 * c))
                }),
            }
        } else {
            if &b[4..12] != b"n+2\0\r\n\x1a\n" {
                return Err(HeaderError::Bad(format!(
                    "bad NIfTI-2 magic {:?}",
                    String::from_utf8_lossy(&b[4..12])
                )));
            }
            Header {
                version,
                big_endian: be,
                dim: std::array::from_fn(|i| r.i64(16 + 8 * i)),
                datatype: r.i16(12),
                pixdim: std::array::from_fn(|i| r.f64(104 + 8 * i)),
                vox_offset: r.i64(168) as f64,
                scl_slope: r.f64(176),
                scl_inter: r.f64(184),
                descrip: r.text(240, 80),
                qform_code: r.i32(344),
                sform_code: r.i32(348),
                quatern: std::array::from_fn(|i| r.f64(352 + 8 * i)),
                qoffset: std::array::from_fn(|i| r.f64(376 + 8 * i)),
                srow: std::array::from_fn(|row| {
                    std::array::from_fn(|c| r.f64(400 + 32 * row + 8 * c))
                }),
                xyzt_units: r.i32(500),
            }
        };
        Ok(h.fixed())
    }

    /// Applies the fixes nibabel's `check_fix` makes on load, so that the
    /// affine we compute is the one nibabel reports.
    fn fixed(mut self) -> Header {
        for p in &mut self.pixdim[1..4] {
            if *p == 0.0 {
                *p = 1.0;
            }
            *p = p.abs();
        }
        if self.pixdim[0] != 1.0 && self.pixdim[0] != -1.0 {
            self.pixdim[0] = 1.0;
        }
        for code in [&mut self.qform_code, &mut self.sform_code] {
            if !(0..=5).contains(code) {
                *code = 0;
            }
        }
        self
    }

    /// Spatial shape and channel count, `[c, x, y, z]`, with every
    /// dimension past the fourth folded into the channel axis.
    pub fn shape(&self) -> Result<[usize; 4], HeaderError> {
        let ndim = self.dim[0];
        let dims_err = |why: &str| HeaderError::Dims(self.dim.to_vec(), why.to_string());
        if !(1..=7).contains(&ndim) {
            return Err(dims_err("dim[0] must be between 1 and 7"));
        }
        let used = &self.dim[1..=ndim as usize];
        if used.iter().any(|&d| d < 1) {
            return Err(dims_err("every used dimension must be at least 1"));
        }
        let get = |i: usize| if i <= ndim as usize { self.dim[i] } else { 1 };
        let channels = (4..=7).map(get).try_fold(1i64, |a, d| a.checked_mul(d));
        let total = used.iter().try_fold(1i64, |a, &d| a.checked_mul(d));
        match (channels, total) {
            (Some(c), Some(t)) if t <= (1i64 << 40) => Ok([
                c as usize,
                get(1) as usize,
                get(2) as usize,
                get(3) as usize,
            ]),
            _ => Err(dims_err("more than 2^40 voxels")),
        }
    }

    /// nibabel's `get_slope_inter`: `None` when no scaling applies.
    pub fn slope_inter(&self) -> Result<Option<(f64, f64)>, HeaderError> {
        let (slope, inter) = (self.scl_slope, self.scl_inter);
        if slope == 0.0 || !slope.is_finite() {
            return Ok(None);
        }
        if !inter.is_finite() {
            return Err(HeaderError::Bad(format!(
                "valid scl_slope but invalid scl_inter {inter}"
            )));
        }
        Ok(Some((slope, inter)))
    }

    /// nibabel's `get_best_affine`: sform when its code is set, else qform
    /// when its code is set, else the base affine from pixdim.
    pub fn best_affine(&self) -> Affine {
        if self.sform_code != 0 {
            let s = &self.srow;
            Affine::new(
                s[0][0], s[0][1], s[0][2], s[0][3], s[1][0], s[1][1], s[1][2], s[1][3], s[2][0],
                s[2][1], s[2][2], s[2][3], 0.0, 0.0, 0.0, 1.0,
            )
        } else if self.qform_code != 0 {
            self.qform()
        } else {
            self.base_affine()
        }
    }

    /// The qform, computed as nibabel computes it: in single precision for
    /// NIfTI-1 (its fields are float32), in double for NIfTI-2.
    pub fn qform(&self) -> Affine {
        let m: [[f64; 3]; 3] = if self.version == 1 {
            let q = self.quatern.map(|v| v as f32);
            let vox = [1, 2, 3].map(|i| self.pixdim[i] as f32);
            qform_rzs::<f32>(q, vox, self.pixdim[0] as f32).map(|r| r.map(|v| v as f64))
        } else {
            let vox = [1, 2, 3].map(|i| self.pixdim[i]);
            qform_rzs::<f64>(self.quatern, vox, self.pixdim[0])
        };
        let o = self.qoffset;
        Affine::new(
            m[0][0], m[0][1], m[0][2], o[0], m[1][0], m[1][1], m[1][2], o[1], m[2][0], m[2][1],
            m[2][2], o[2], 0.0, 0.0, 0.0, 1.0,
        )
    }

    /// nibabel's `get_base_affine` (`shape_zoom_affine` with x flipped).
    pub fn base_affine(&self) -> Affine {
        let ndim = self.dim[0].clamp(0, 3) as usize;
        let mut shape = [1.0; 3];
        let mut zooms = [1.0; 3];
        for i in 0..ndim {
            shape[i] = self.dim[i + 1] as f64;
            zooms[i] = self.pixdim[i + 1];
        }
        zooms[0] = -zooms[0];
        let mut a = Affine::identity();
        for i in 0..3 {
            a[(i, i)] = zooms[i];
            a[(i, 3)] = -((shape[i] - 1.0) / 2.0) * zooms[i];
        }
        a
    }
}

/// Float arithmetic shared by the f32 and f64 qform paths.
trait Real:
    Copy
    + std::ops::Mul<Output = Self>
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Div<Output = Self>
    + PartialOrd
{
    const ZERO: Self;
    const ONE: Self;
    const TWO: Self;
    /// `np.finfo(np.float64).eps`, nibabel's `_FLOAT_EPS`, in this type.
    const F64_EPS: Self;
    fn sqrt(self) -> Self;
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const TWO: f32 = 2.0;
    const F64_EPS: f32 = f64::EPSILON as f32;
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const TWO: f64 = 2.0;
    const F64_EPS: f64 = f64::EPSILON;
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
}

/// nibabel's `fillpositive`, `quat2mat` and `R @ diag(vox)`, step by step in
/// the precision of the header fields.
fn qform_rzs<T: Real>(bcd: [T; 3], vox: [T; 3], qfac: T) -> [[T; 3]; 3] {
    let [x, y, z] = bcd;
    let w2 = T::ONE - (x * x + y * y + z * z);
    // nibabel raises below -3 eps; tiny negatives are rounding noise.
    let w = if w2 < T::ZERO { T::ZERO } else { w2.sqrt() };
    let nq = w * w + x * x + y * y + z * z;
    let r = if nq < T::F64_EPS {
        [
            [T::ONE, T::ZERO, T::ZERO],
            [T::ZERO, T::ONE, T::ZERO],
            [T::ZERO, T::ZERO, T::ONE],
        ]
    } else {
        let s = T::TWO / nq;
        let (xs, ys, zs) = (x * s, y * s, z * s);
        let (wx, wy, wz) = (w * xs, w * ys, w * zs);
        let (xx, xy, xz) = (x * xs, x * ys, x * zs);
        let (yy, yz, zz) = (y * ys, y * zs, z * zs);
        [
            [T::ONE - (yy + zz), xy - wz, xz + wy],
            [xy + wz, T::ONE - (xx + zz), yz - wx],
            [xz - wy, yz + wx, T::ONE - (xx + yy)],
        ]
    };
    let v = [vox[0], vox[1], vox[2] * qfac];
    std::array::from_fn(|i| std::array::from_fn(|j| r[i][j] * v[j]))
}

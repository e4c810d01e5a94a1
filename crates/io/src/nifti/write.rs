//! NIfTI-1 writing with consistent sform and qform.

use super::convert::{choose_scaling, encode};
use super::header::code_from_dtype;
use crate::{gz, write_atomic, IoError};
use deepneuro_volume::{Affine, DType, Volume};
use nalgebra::Matrix3;
use std::path::Path;

/// Choices for [`write_with`]; the default writes the volume's own dtype,
/// gzip-compressed when the name ends in `.gz`, at nibabel's level 1.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// On-disk type; `None` keeps [`Volume::dtype`].
    pub dtype: Option<DType>,
    /// zlib compression level, 0 to 9.
    pub compression_level: u32,
    /// Text for the `descrip` field (at most 79 bytes are kept).
    pub description: String,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dtype: None,
            compression_level: 1,
            description: format!("deepneuro {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Writes `volume` to `path` (`.nii` or `.nii.gz`) with default options.
pub fn write(volume: &Volume, path: &Path) -> Result<(), IoError> {
    write_with(volume, path, &WriteOptions::default())
}

/// Writes `volume` as NIfTI-1 through a temporary file renamed into place.
pub fn write_with(volume: &Volume, path: &Path, opts: &WriteOptions) -> Result<(), IoError> {
    let gzip = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".gz"))
        .unwrap_or(false);
    let bytes = to_bytes(volume, opts);
    let bytes = if gzip {
        gz::compress(&bytes, opts.compression_level)
    } else {
        bytes
    };
    write_atomic(path, |w| w.write_all(&bytes))
}

/// The quaternion form of an affine, as nibabel's `set_qform` computes it.
struct QForm {
    quatern: [f64; 3],
    qfac: f64,
    zooms: [f64; 3],
    /// False when the affine has shears the qform cannot represent.
    exact: bool,
}

fn qform_of(affine: &Affine) -> QForm {
    let rzs: Matrix3<f64> = affine.fixed_view::<3, 3>(0, 0).into_owned();
    let zooms = [0, 1, 2].map(|j| rzs.column(j).norm());
    let mut r = rzs;
    for (j, zoom) in zooms.iter().enumerate() {
        r.column_mut(j).scale_mut(1.0 / zoom);
    }
    let qfac = if r.determinant() > 0.0 { 1.0 } else { -1.0 };
    if qfac < 0.0 {
        r.column_mut(2).scale_mut(-1.0);
    }
    // Closest orthogonal matrix by polar decomposition.
    let svd = r.svd(true, true);
    let pr = svd.u.expect("u") * svd.v_t.expect("v_t");
    let exact = (pr - r).abs().max() < 1e-6;
    QForm {
        quatern: rotation_to_quaternion(&pr),
        qfac,
        zooms,
        exact,
    }
}

/// Unit quaternion (b, c, d) with non-negative real part a, of a rotation.
fn rotation_to_quaternion(m: &Matrix3<f64>) -> [f64; 3] {
    let trace = m[(0, 0)] + m[(1, 1)] + m[(2, 2)];
    let (a, b, c, d) = if trace > 0.0 {
        let s = 0.5 / (trace + 1.0).sqrt();
        (
            0.25 / s,
            (m[(2, 1)] - m[(1, 2)]) * s,
            (m[(0, 2)] - m[(2, 0)]) * s,
            (m[(1, 0)] - m[(0, 1)]) * s,
        )
    } else if m[(0, 0)] > m[(1, 1)] && m[(0, 0)] > m[(2, 2)] {
        let s = 2.0 * (1.0 + m[(0, 0)] - m[(1, 1)] - m[(2, 2)]).sqrt();
        (
            (m[(2, 1)] - m[(1, 2)]) / s,
            0.25 * s,
            (m[(0, 1)] + m[(1, 0)]) / s,
            (m[(0, 2)] + m[(2, 0)]) / s,
        )
    } else if m[(1, 1)] > m[(2, 2)] {
        let s = 2.0 * (1.0 + m[(1, 1)] - m[(0, 0)] - m[(2, 2)]).sqrt();
        (
            (m[(0, 2)] - m[(2, 0)]) / s,
            (m[(0, 1)] + m[(1, 0)]) / s,
            0.25 * s,
            (m[(1, 2)] + m[(2, 1)]) / s,
        )
    } else {
        let s = 2.0 * (1.0 + m[(2, 2)] - m[(0, 0)] - m[(1, 1)]).sqrt();
        (
            (m[(1, 0)] - m[(0, 1)]) / s,
            (m[(0, 2)] + m[(2, 0)]) / s,
            (m[(1, 2)] + m[(2, 1)]) / s,
            0.25 * s,
        )
    };
    let norm = (a * a + b * b + c * c + d * d).sqrt();
    let sign = if a < 0.0 { -1.0 } else { 1.0 };
    [b, c, d].map(|v| sign * v / norm)
}

fn put<const N: usize>(buf: &mut [u8], off: usize, bytes: [u8; N]) {
    buf[off..off + N].copy_from_slice(&bytes);
}

/// The 352 bytes before the voxels: header plus an empty extension flag.
fn header_bytes(volume: &Volume, dtype: DType, slope: f64, inter: f64, descrip: &str) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    let [c, x, y, z] = volume.shape();
    let ndim: i16 = if c > 1 { 4 } else { 3 };
    put(&mut h, 0, 348i32.to_le_bytes());
    let dims = [ndim, x as i16, y as i16, z as i16, c as i16, 1, 1, 1];
    for (i, d) in dims.iter().enumerate() {
        put(&mut h, 40 + 2 * i, d.to_le_bytes());
    }
    put(&mut h, 70, code_from_dtype(dtype).to_le_bytes());
    put(&mut h, 72, ((dtype.size() * 8) as i16).to_le_bytes());
    let affine = volume.affine();
    let q = qform_of(affine);
    let pixdim = [
        q.qfac, q.zooms[0], q.zooms[1], q.zooms[2], 1.0, 1.0, 1.0, 1.0,
    ];
    for (i, p) in pixdim.iter().enumerate() {
        put(&mut h, 76 + 4 * i, (*p as f32).to_le_bytes());
    }
    put(&mut h, 108, 352f32.to_le_bytes());
    put(&mut h, 112, (slope as f32).to_le_bytes());
    put(&mut h, 116, (inter as f32).to_le_bytes());
    // Millimetres, and seconds when there is a fourth axis.
    h[123] = if c > 1 { 2 | 8 } else { 2 };
    let d = descrip.as_bytes();
    let n = d.len().min(79);
    h[148..148 + n].copy_from_slice(&d[..n]);
    // Both transforms describe the same affine, so readers that prefer the
    // qform (some ITK versions) and those that prefer the sform agree. An
    // affine with shears has no exact qform: the qform code is then 0 so
    // that no reader uses the approximation.
    let qcode: i16 = if q.exact { 2 } else { 0 };
    put(&mut h, 252, qcode.to_le_bytes());
    put(&mut h, 254, 2i16.to_le_bytes());
    for (i, v) in q.quatern.iter().enumerate() {
        put(&mut h, 256 + 4 * i, (*v as f32).to_le_bytes());
    }
    for i in 0..3 {
        put(&mut h, 268 + 4 * i, (affine[(i, 3)] as f32).to_le_bytes());
    }
    for row in 0..3 {
        for col in 0..4 {
            let v = affine[(row, col)] as f32;
            put(&mut h, 280 + 16 * row + 4 * col, v.to_le_bytes());
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    h
}

/// The uncompressed file: header, extension flag, voxels.
pub(crate) fn to_bytes(volume: &Volume, opts: &WriteOptions) -> Vec<u8> {
    let dtype = opts.dtype.unwrap_or(volume.dtype());
    let data = volume.nifti_slice();
    let scaling = choose_scaling(&data, dtype, volume.disk_scaling());
    let mut out = header_bytes(
        volume,
        dtype,
        scaling.slope,
        scaling.inter,
        &opts.description,
    );
    encode(&data, dtype, scaling, &mut out);
    out
}

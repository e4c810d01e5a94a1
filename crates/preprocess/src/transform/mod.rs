//! World-space affine transforms and ITK transform files.
//!
//! A transform maps a point of the FIXED image's world to the MOVING image's
//! world (ITK's convention: output points to input points), in RAS mm like
//! the rest of the crate. ITK files are in LPS, so reading and writing flips
//! the signs of x and y: an ITK point `(x, y, z)` is the RAS point
//! `(-x, -y, z)`.

use crate::PreprocessError;
use deepneuro_io::IoError;
use nalgebra::{Matrix3, Matrix4, Vector3, Vector4};
use std::path::Path;

mod mat;

/// A world-space affine transform in RAS mm mapping a point of the FIXED
/// image's world to the MOVING image's world (ITK's convention: output/fixed
/// points to input/moving points).
#[derive(Clone, Debug, PartialEq)]
pub struct AffineTransform {
    /// The homogeneous RAS matrix: `moving = matrix * (fixed, 1)`.
    pub matrix: Matrix4<f64>,
    /// Whether the transform is a rotation plus translation; rigid transforms
    /// are written as `Euler3DTransform` when the matrix is orthonormal.
    pub rigid: bool,
}

/// Flips x and y: the same matrix converts RAS to LPS and back.
fn flip() -> Matrix4<f64> {
    Matrix4::from_diagonal(&Vector4::new(-1.0, -1.0, 1.0, 1.0))
}

/// Whether `r` is a proper rotation to within `tol`.
pub(crate) fn is_rotation(r: &Matrix3<f64>, tol: f64) -> bool {
    (r.transpose() * r - Matrix3::identity()).abs().max() < tol && r.determinant() > 0.0
}

impl AffineTransform {
    /// The identity transform.
    pub fn identity() -> Self {
        AffineTransform {
            matrix: Matrix4::identity(),
            rigid: true,
        }
    }

    /// The 4x4 RAS matrix mapping fixed world points to moving world points.
    pub fn ras_matrix(&self) -> Matrix4<f64> {
        self.matrix
    }

    /// The same mapping expressed in LPS coordinates, as ITK stores it.
    pub fn lps_matrix(&self) -> Matrix4<f64> {
        flip() * self.matrix * flip()
    }

    /// A transform from a matrix in LPS coordinates.
    pub fn from_lps_matrix(lps: Matrix4<f64>, rigid: bool) -> Self {
        AffineTransform {
            matrix: flip() * lps * flip(),
            rigid,
        }
    }

    /// Maps a RAS point of the fixed world to the moving world.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let q = self.matrix * Vector4::new(p[0], p[1], p[2], 1.0);
        [q[0], q[1], q[2]]
    }

    /// The inverse mapping (moving to fixed); `None` when singular.
    pub fn inverse(&self) -> Option<AffineTransform> {
        Some(AffineTransform {
            matrix: self.matrix.try_inverse()?,
            rigid: self.rigid,
        })
    }

    /// Writes an ITK text transform file (`#Insight Transform File V1.0`,
    /// `.txt` or `.tfm`) in LPS: `Euler3DTransform_double_3_3` for a rigid
    /// transform with an orthonormal matrix, `AffineTransform_double_3_3`
    /// otherwise, both with the centre at the origin. Numbers are written in
    /// the shortest form that reads back to the same double.
    pub fn write_itk(&self, path: &Path) -> Result<(), PreprocessError> {
        let lps = self.lps_matrix();
        let a: Matrix3<f64> = lps.fixed_view::<3, 3>(0, 0).into_owned();
        let t = Vector3::new(lps[(0, 3)], lps[(1, 3)], lps[(2, 3)]);
        let (name, params, fixed): (&str, Vec<f64>, Vec<f64>) =
            // Near gimbal lock (|cos(angle x)| small) the Euler angles lose
            // precision, so such rotations are written as affine matrices.
            if self.rigid && is_rotation(&a, 1e-9) && a[(2, 1)].abs() < 0.999_999 {
                let [ax, ay, az] = euler_zxy_angles(&a);
                let params = vec![ax, ay, az, t[0], t[1], t[2]];
                ("Euler3DTransform_double_3_3", params, vec![0.0; 4])
            } else {
                let mut params: Vec<f64> = (0..3)
                    .flat_map(|i| (0..3).map(move |j| (i, j)))
                    .map(|(i, j)| a[(i, j)])
                    .collect();
                params.extend([t[0], t[1], t[2]]);
                ("AffineTransform_double_3_3", params, vec![0.0; 3])
            };
        let join = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        deepneuro_io::write_atomic(path, |w| {
            writeln!(w, "#Insight Transform File V1.0")?;
            writeln!(w, "#Transform 0")?;
            writeln!(w, "Transform: {name}")?;
            writeln!(w, "Parameters: {}", join(&params))?;
            writeln!(w, "FixedParameters: {}", join(&fixed))
        })?;
        Ok(())
    }

    /// Reads an ITK transform file: text (`#Insight Transform File V1.0`) or
    /// the MATLAB v4 binary `.mat` that ITK and ANTs write. Supported types:
    /// `AffineTransform`, `MatrixOffsetTransformBase`, `Euler3DTransform`,
    /// `VersorRigid3DTransform`, `Similarity3DTransform`,
    /// `TranslationTransform` and `IdentityTransform` (double or float, 3-D);
    /// a file holding several of them (a composite) is read as their
    /// composition in ITK's order. Anything else is [`PreprocessError::BadTransform`].
    pub fn read_itk(path: &Path) -> Result<AffineTransform, PreprocessError> {
        let bytes = std::fs::read(path).map_err(|source| IoError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_itk_bytes(path, &bytes)
    }

    /// [`AffineTransform::read_itk`] on bytes already in memory; `path` only
    /// names the source in errors. The fuzz target `itk_transform` drives it.
    pub fn from_itk_bytes(path: &Path, bytes: &[u8]) -> Result<AffineTransform, PreprocessError> {
        let bad = |reason: String| PreprocessError::BadTransform {
            path: path.to_path_buf(),
            reason,
        };
        let entries = if bytes.starts_with(b"#Insight Transform File") {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
            itk_text_entries(text).map_err(bad)?
        } else {
            mat::mat_entries(bytes).map_err(bad)?
        };
        let mut entries: Vec<_> = entries
            .into_iter()
            .filter(|e| !e.name.starts_with("CompositeTransform"))
            .collect();
        if entries.is_empty() {
            return Err(bad("the file holds no transform".into()));
        }
        // ITK applies the transforms of a composite from the last listed to
        // the first, so the matrices multiply in the listed order.
        let mut lps = Matrix4::identity();
        let mut rigid = true;
        for e in entries.drain(..) {
            let (m, r) = entry_matrix(&e).map_err(bad)?;
            lps *= m;
            rigid &= r;
        }
        Ok(AffineTransform::from_lps_matrix(lps, rigid))
    }

    /// Writes the 4x4 RAS matrix as plain text, one row a line.
    pub fn write_matrix(&self, path: &Path) -> Result<(), PreprocessError> {
        deepneuro_io::write_atomic(path, |w| {
            for i in 0..4 {
                let row: Vec<String> = (0..4).map(|j| format!("{}", self.matrix[(i, j)])).collect();
                writeln!(w, "{}", row.join(" "))?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// One transform of a file: its ITK class name and parameter vectors.
pub(crate) struct Entry {
    pub name: String,
    pub params: Vec<f64>,
    pub fixed: Vec<f64>,
}

/// Splits an ITK text transform file into its transforms.
fn itk_text_entries(text: &str) -> Result<Vec<Entry>, String> {
    let mut out: Vec<Entry> = Vec::new();
    let numbers = |s: &str| -> Result<Vec<f64>, String> {
        s.split_whitespace()
            .map(|x| {
                x.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("bad number {x:?}"))
            })
            .collect()
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("Transform:") {
            out.push(Entry {
                name: name.trim().to_string(),
                params: Vec::new(),
                fixed: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("FixedParameters:") {
            let e = out.last_mut().ok_or("FixedParameters before Transform")?;
            e.fixed = numbers(rest)?;
        } else if let Some(rest) = line.strip_prefix("Parameters:") {
            let e = out.last_mut().ok_or("Parameters before Transform")?;
            e.params = numbers(rest)?;
        }
    }
    Ok(out)
}

/// The LPS matrix of one transform and whether it is rigid.
fn entry_matrix(e: &Entry) -> Result<(Matrix4<f64>, bool), String> {
    let (base, suffix) = match e.name.split_once('_') {
        Some((b, s)) => (b, s),
        None => (e.name.as_str(), ""),
    };
    if !matches!(suffix, "double_3_3" | "float_3_3" | "double_3" | "float_3") {
        return Err(format!("unsupported transform {} (3-D only)", e.name));
    }
    let p = &e.params;
    let need = |n: usize, what: &str, v: &[f64]| {
        if v.len() < n {
            Err(format!(
                "{}: {what} has {} values, needs {n}",
                e.name,
                v.len()
            ))
        } else {
            Ok(())
        }
    };
    let centre = |n: usize| -> Result<Vector3<f64>, String> {
        if e.fixed.is_empty() {
            return Ok(Vector3::zeros());
        }
        need(n, "FixedParameters", &e.fixed)?;
        Ok(Vector3::new(e.fixed[0], e.fixed[1], e.fixed[2]))
    };
    let (a, t, c, rigid) = match base {
        "AffineTransform" | "MatrixOffsetTransformBase" => {
            need(12, "Parameters", p)?;
            let a = Matrix3::from_row_slice(&p[..9]);
            (a, Vector3::new(p[9], p[10], p[11]), centre(3)?, false)
        }
        "Euler3DTransform" => {
            need(6, "Parameters", p)?;
            let zyx = e.fixed.len() >= 4 && e.fixed[3] != 0.0;
            let r = if zyx {
                rot_z(p[2]) * rot_y(p[1]) * rot_x(p[0])
            } else {
                euler_zxy_matrix(p[0], p[1], p[2])
            };
            (r, Vector3::new(p[3], p[4], p[5]), centre(3)?, true)
        }
        "VersorRigid3DTransform" | "Similarity3DTransform" => {
            let scaled = base == "Similarity3DTransform";
            need(if scaled { 7 } else { 6 }, "Parameters", p)?;
            let r = versor_matrix(p[0], p[1], p[2])?;
            let s = if scaled { p[6] } else { 1.0 };
            (r * s, Vector3::new(p[3], p[4], p[5]), centre(3)?, !scaled)
        }
        "TranslationTransform" => {
            need(3, "Parameters", p)?;
            (
                Matrix3::identity(),
                Vector3::new(p[0], p[1], p[2]),
                Vector3::zeros(),
                true,
            )
        }
        "IdentityTransform" => (
            Matrix3::identity(),
            Vector3::zeros(),
            Vector3::zeros(),
            true,
        ),
        _ => return Err(format!("unsupported transform type {}", e.name)),
    };
    // ITK's MatrixOffsetTransformBase: y = A (x - c) + c + t.
    let offset = t + c - a * c;
    let mut m = Matrix4::identity();
    m.fixed_view_mut::<3, 3>(0, 0).copy_from(&a);
    m.fixed_view_mut::<3, 1>(0, 3).copy_from(&offset);
    if m.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{}: the parameters give a non-finite matrix",
            e.name
        ));
    }
    Ok((m, rigid))
}

fn rot_x(a: f64) -> Matrix3<f64> {
    let (s, c) = a.sin_cos();
    Matrix3::new(1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c)
}

fn rot_y(a: f64) -> Matrix3<f64> {
    let (s, c) = a.sin_cos();
    Matrix3::new(c, 0.0, s, 0.0, 1.0, 0.0, -s, 0.0, c)
}

fn rot_z(a: f64) -> Matrix3<f64> {
    let (s, c) = a.sin_cos();
    Matrix3::new(c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)
}

/// ITK's Euler3DTransform matrix in its default order (`Rz * Rx * Ry`).
fn euler_zxy_matrix(ax: f64, ay: f64, az: f64) -> Matrix3<f64> {
    rot_z(az) * rot_x(ax) * rot_y(ay)
}

/// The angles `(x, y, z)` of a rotation in ITK's default Euler order
/// (`R = Rz Rx Ry`, so row 2 of `R` is `(-cx sy, sx, cx cy)`); the caller
/// keeps away from gimbal lock (`|sx|` near 1).
fn euler_zxy_angles(r: &Matrix3<f64>) -> [f64; 3] {
    let ax = r[(2, 1)].clamp(-1.0, 1.0).asin();
    let ay = (-r[(2, 0)]).atan2(r[(2, 2)]);
    let az = (-r[(0, 1)]).atan2(r[(1, 1)]);
    [ax, ay, az]
}

/// The rotation of a unit quaternion given by its vector part (ITK's versor).
fn versor_matrix(x: f64, y: f64, z: f64) -> Result<Matrix3<f64>, String> {
    let n2 = x * x + y * y + z * z;
    if n2 > 1.0 + 1e-9 {
        return Err(format!("versor ({x}, {y}, {z}) has a norm above 1"));
    }
    let w = (1.0 - n2).max(0.0).sqrt();
    Ok(Matrix3::new(
        1.0 - 2.0 * (y * y + z * z),
        2.0 * (x * y - z * w),
        2.0 * (x * z + y * w),
        2.0 * (x * y + z * w),
        1.0 - 2.0 * (x * x + z * z),
        2.0 * (y * z - x * w),
        2.0 * (x * z - y * w),
        2.0 * (y * z + x * w),
        1.0 - 2.0 * (x * x + y * y),
    ))
}

//! Slice geometry: ordering along the slice normal, spacing checks (gaps,
//! duplicates), gantry tilt, and the voxel-to-world affine.
//!
//! DICOM positions are in LPS millimetres; the affine returned here is RAS,
//! as [`deepneuro_volume::Volume`] expects. Voxel axis x runs along a row
//! (the first ImageOrientationPatient vector, column index), y down the
//! columns (the second vector, row index) and z through the slices in
//! increasing position along the slice normal.

use crate::header::Frame;
use crate::DicomError;
use deepneuro_volume::Affine;
use nalgebra::Vector3;
use std::path::Path;

/// Relative tolerance on slice spacing before it counts as non-uniform.
const SPACING_REL_TOL: f64 = 0.01;
/// Absolute tolerance in millimetres, for rounding in the stored positions.
const POSITION_TOL_MM: f64 = 1e-3;
/// Angles below this many degrees between the slice step and the normal
/// are rounding, not gantry tilt.
const TILT_TOL_DEG: f64 = 0.01;

/// A non-uniform step between two neighbouring slices.
#[derive(Clone, Debug)]
pub(crate) struct Gap {
    /// Index (in sorted order) of the slice before the step.
    pub before: usize,
    pub step: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct Geometry {
    pub row_dir: Vector3<f64>,
    pub col_dir: Vector3<f64>,
    pub normal: Vector3<f64>,
    /// Spacing along x (between columns) and y (between rows), in mm.
    pub dx: f64,
    pub dy: f64,
    /// Positions of the sorted slices along the normal, in mm.
    pub positions: Vec<f64>,
    /// The median step between neighbouring slices, in mm.
    pub step: f64,
    /// LPS displacement per millimetre of travel along the normal: the
    /// normal itself unless the gantry was tilted.
    pub travel: Vector3<f64>,
    pub origin: Vector3<f64>,
    pub gaps: Vec<Gap>,
    pub tilt_deg: Option<f64>,
}

/// Row direction, column direction and slice normal, unit LPS vectors.
pub(crate) type Directions = (Vector3<f64>, Vector3<f64>, Vector3<f64>);

fn vec3(a: &[f64]) -> Vector3<f64> {
    Vector3::new(a[0], a[1], a[2])
}

/// Unit row and column direction cosines and the slice normal, checked for
/// being finite, non-zero and orthogonal.
pub(crate) fn directions(iop: &[f64; 6], path: &Path) -> Result<Directions, DicomError> {
    let (r, c) = (vec3(&iop[..3]), vec3(&iop[3..]));
    if r.norm() < 1e-6 || c.norm() < 1e-6 {
        return Err(DicomError::geometry(
            path,
            "ImageOrientationPatient has a zero direction vector",
        ));
    }
    let (r, c) = (r.normalize(), c.normalize());
    if r.dot(&c).abs() > 1e-3 {
        return Err(DicomError::geometry(
            path,
            format!(
                "ImageOrientationPatient vectors are not orthogonal (cosine {:.4})",
                r.dot(&c)
            ),
        ));
    }
    Ok((r, c, r.cross(&c).normalize()))
}

/// Sorts `frames` in place by position along the slice normal. Frames
/// without a position keep their relative order at the end, so that
/// [`analyse`] can name them.
pub(crate) fn sort_frames(frames: &mut [Frame]) {
    let Some(n) = frames
        .iter()
        .find_map(|f| f.iop.as_ref())
        .map(|iop| vec3(&iop[..3]).cross(&vec3(&iop[3..])))
    else {
        return;
    };
    let key = |f: &Frame| f.ipp.map(|p| vec3(&p).dot(&n)).unwrap_or(f64::INFINITY);
    frames.sort_by(|a, b| key(a).total_cmp(&key(b)));
}

/// Whether two images of frames sorted by [`sort_frames`] share a position
/// along the slice normal.
pub(crate) fn has_repeated_positions(frames: &[Frame]) -> bool {
    let Some(n) = frames
        .iter()
        .find_map(|f| f.iop.as_ref())
        .map(|iop| vec3(&iop[..3]).cross(&vec3(&iop[3..])))
    else {
        return false;
    };
    let pos: Vec<f64> = frames
        .iter()
        .filter_map(|f| f.ipp.map(|p| vec3(&p).dot(&n)))
        .collect();
    pos.windows(2)
        .any(|w| (w[1] - w[0]).abs() < POSITION_TOL_MM)
}

/// The orientation label of a slice normal: the axis it is along, or
/// "oblique" when it is more than half a degree off every axis.
pub(crate) fn orientation_label(normal: &Vector3<f64>) -> &'static str {
    let a = normal.map(f64::abs);
    let (axis, max) = (0..3).fold(
        (0, 0.0),
        |acc, i| if a[i] > acc.1 { (i, a[i]) } else { acc },
    );
    if max < (0.5f64).to_radians().cos() {
        return "oblique";
    }
    ["sagittal", "coronal", "axial"][axis]
}

/// Checks and measures the geometry of frames already sorted by
/// [`sort_frames`].
pub(crate) fn analyse(frames: &[Frame]) -> Result<Geometry, DicomError> {
    let first = frames
        .first()
        .ok_or_else(|| DicomError::geometry(Path::new("."), "empty series"))?;
    let missing = |f: &Frame, attribute| DicomError::MissingAttribute {
        path: f.path.clone(),
        attribute,
    };
    let iop = first
        .iop
        .ok_or_else(|| missing(first, "ImageOrientationPatient (0020,0037)"))?;
    let (row_dir, col_dir, normal) = directions(&iop, &first.path)?;
    let ps = first
        .pixel_spacing
        .ok_or_else(|| missing(first, "PixelSpacing (0028,0030)"))?;
    if !(ps[0] > 0.0 && ps[1] > 0.0) {
        return Err(DicomError::geometry(
            &first.path,
            format!("PixelSpacing {:?} is not positive", ps),
        ));
    }
    let mut ipps = Vec::with_capacity(frames.len());
    for f in frames {
        let p = f
            .ipp
            .ok_or_else(|| missing(f, "ImagePositionPatient (0020,0032)"))?;
        ipps.push(vec3(&p));
    }
    let positions: Vec<f64> = ipps.iter().map(|p| p.dot(&normal)).collect();
    let origin = ipps[0];
    let n = frames.len();
    let mut geo = Geometry {
        row_dir,
        col_dir,
        normal,
        dx: ps[1],
        dy: ps[0],
        positions,
        step: 0.0,
        travel: normal,
        origin,
        gaps: Vec::new(),
        tilt_deg: None,
    };
    if n == 1 {
        geo.step = first.slice_thickness.filter(|t| *t > 0.0).unwrap_or(1.0);
        return Ok(geo);
    }
    let steps: Vec<f64> = geo.positions.windows(2).map(|w| w[1] - w[0]).collect();
    for (k, d) in steps.iter().enumerate() {
        if *d < POSITION_TOL_MM {
            return Err(DicomError::geometry(
                &frames[k + 1].path,
                format!(
                    "two images at the same position ({:.3} mm along the slice normal), also {}{}; \
                     the series mixes volumes that could not be told apart",
                    geo.positions[k],
                    frames[k].path.display(),
                    frame_suffix(&frames[k]),
                ),
            ));
        }
    }
    let mut sorted = steps.clone();
    sorted.sort_by(f64::total_cmp);
    geo.step = sorted[sorted.len() / 2];
    let tol = SPACING_REL_TOL * geo.step + POSITION_TOL_MM;
    geo.gaps = steps
        .iter()
        .enumerate()
        .filter(|(_, d)| (**d - geo.step).abs() > tol)
        .map(|(k, d)| Gap {
            before: k,
            step: *d,
        })
        .collect();
    let extent = geo.positions[n - 1] - geo.positions[0];
    geo.travel = (ipps[n - 1] - ipps[0]) / extent;
    // Every position must lie on the line from the first to the last one,
    // or the images are not one stack.
    for (k, p) in ipps.iter().enumerate() {
        let expected = origin + geo.travel * (geo.positions[k] - geo.positions[0]);
        if (p - expected).norm() > tol.max(0.01 * geo.step) + POSITION_TOL_MM {
            return Err(DicomError::geometry(
                &frames[k].path,
                format!(
                    "image position {:?} is {:.3} mm off the line through the other slices",
                    [p.x, p.y, p.z],
                    (p - expected).norm()
                ),
            ));
        }
    }
    let shear = (geo.travel - normal).norm();
    let tilt = shear.atan().to_degrees();
    if tilt > TILT_TOL_DEG {
        geo.tilt_deg = Some(tilt);
    }
    Ok(geo)
}

fn frame_suffix(f: &Frame) -> String {
    if f.frames_in_file > 1 {
        format!(" frame {}", f.frame + 1)
    } else {
        String::new()
    }
}

impl Geometry {
    /// Whether slices are evenly spaced.
    pub fn is_regular(&self) -> bool {
        self.gaps.is_empty()
    }

    /// The RAS affine for `nz` slices spaced `step` mm apart along the
    /// normal, starting at the first slice.
    pub fn affine(&self, step: f64) -> Affine {
        let x = self.row_dir * self.dx;
        let y = self.col_dir * self.dy;
        let z = self.travel * step;
        let o = self.origin;
        // LPS to RAS: negate the first two world rows.
        let s = [-1.0, -1.0, 1.0];
        let mut a = Affine::identity();
        for i in 0..3 {
            a[(i, 0)] = s[i] * x[i];
            a[(i, 1)] = s[i] * y[i];
            a[(i, 2)] = s[i] * z[i];
            a[(i, 3)] = s[i] * o[i];
        }
        a
    }

    /// The step of the regular grid that a gap-free load uses: the mean
    /// over the whole stack, so that the last slice lands exactly.
    pub fn mean_step(&self) -> f64 {
        let n = self.positions.len();
        if n < 2 {
            return self.step;
        }
        (self.positions[n - 1] - self.positions[0]) / (n - 1) as f64
    }

    /// Human-readable notes: gaps and tilt.
    pub fn warnings(&self, frames: &[Frame]) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(g) = self.gaps.first() {
            w.push(self.gap_message(g, frames));
            if self.gaps.len() > 1 {
                w.push(format!(
                    "{} more irregular step(s) in the same series",
                    self.gaps.len() - 1
                ));
            }
        }
        let tag = frames
            .first()
            .and_then(|f| f.gantry_tilt)
            .filter(|t| t.abs() > TILT_TOL_DEG);
        match (self.tilt_deg, tag) {
            (Some(t), _) => w.push(format!(
                "gantry tilt of {t:.2} degrees{}: slices are sheared; the affine keeps the shear",
                tag.map(|g| format!(" (GantryDetectorTilt {g})"))
                    .unwrap_or_default()
            )),
            (None, Some(g)) => w.push(format!(
                "GantryDetectorTilt is {g} degrees but the slice positions show no shear"
            )),
            (None, None) => {}
        }
        w
    }

    pub fn gap_message(&self, g: &Gap, frames: &[Frame]) -> String {
        let k = g.before;
        let missing = (g.step / self.step).round() as i64 - 1;
        let what = if missing >= 1 {
            format!("about {missing} missing slice(s)")
        } else {
            "non-uniform spacing".to_string()
        };
        format!(
            "{what}: {:.3} mm between slices {} and {} (at {:.3} and {:.3} mm along the slice normal; {} and {}) where the spacing is {:.3} mm",
            g.step,
            k,
            k + 1,
            self.positions[k],
            self.positions[k + 1],
            frames[k].path.display(),
            frames[k + 1].path.display(),
            self.step
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_labels() {
        assert_eq!(orientation_label(&Vector3::new(0.0, 0.0, 1.0)), "axial");
        assert_eq!(orientation_label(&Vector3::new(0.0, -1.0, 0.0)), "coronal");
        assert_eq!(orientation_label(&Vector3::new(1.0, 0.0, 0.0)), "sagittal");
        let tilted = Vector3::new(0.0, 0.2, 1.0).normalize();
        assert_eq!(orientation_label(&tilted), "oblique");
    }

    #[test]
    fn bad_orientation_is_an_error() {
        let p = Path::new("x.dcm");
        assert!(directions(&[0.0; 6], p).is_err());
        assert!(directions(&[1.0, 0.0, 0.0, 1.0, 0.0, 0.0], p).is_err());
        let (r, c, n) = directions(&[2.0, 0.0, 0.0, 0.0, 3.0, 0.0], p).unwrap();
        assert_eq!((r, c, n), (Vector3::x(), Vector3::y(), Vector3::z()));
    }
}

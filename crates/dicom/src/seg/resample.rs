//! Bringing a label mask onto the source series' image planes by nearest
//! neighbour, in world coordinates.

use crate::header::Frame;
use crate::DicomError;
use deepneuro_volume::Volume;
use nalgebra::Vector4;
use std::path::Path;

/// Labels at every pixel of every source image: `[slice][row * cols + col]`,
/// slices in the series' sorted order. Pixels outside the mask grid get 0.
/// Also returns how many source pixels fell inside the mask grid.
pub(crate) fn labels_on_source(
    frames: &[Frame],
    dirs: (nalgebra::Vector3<f64>, nalgebra::Vector3<f64>),
    mask: &Volume,
    mask_path: &Path,
) -> Result<(Vec<Vec<u32>>, usize), DicomError> {
    let bad = |reason: String| DicomError::Mask {
        path: mask_path.to_path_buf(),
        reason,
    };
    if mask.channels() != 1 {
        return Err(bad(format!(
            "the mask has {} channels; a label map has one",
            mask.channels()
        )));
    }
    let inv = mask
        .affine()
        .try_inverse()
        .ok_or_else(|| bad("the mask affine is singular".into()))?;
    let [nx, ny, nz] = mask.spatial_shape();
    let m = mask.channel(0);
    let (r, c) = dirs;
    let mut inside = 0usize;
    let mut out = Vec::with_capacity(frames.len());
    for f in frames {
        let (Some(ipp), Some(ps)) = (f.ipp, f.pixel_spacing) else {
            return Err(DicomError::MissingAttribute {
                path: f.path.clone(),
                attribute: "ImagePositionPatient or PixelSpacing",
            });
        };
        let (rows, cols) = (f.rows as usize, f.cols as usize);
        let mut labels = vec![0u32; rows * cols];
        for j in 0..rows {
            for i in 0..cols {
                let lps =
                    nalgebra::Vector3::from(ipp) + r * (i as f64 * ps[1]) + c * (j as f64 * ps[0]);
                let v = inv * Vector4::new(-lps.x, -lps.y, lps.z, 1.0);
                let idx = [v.x.round(), v.y.round(), v.z.round()];
                if idx[0] < 0.0
                    || idx[1] < 0.0
                    || idx[2] < 0.0
                    || idx[0] >= nx as f64
                    || idx[1] >= ny as f64
                    || idx[2] >= nz as f64
                {
                    continue;
                }
                inside += 1;
                let val = m[[idx[0] as usize, idx[1] as usize, idx[2] as usize]];
                if !val.is_finite() || val < 0.0 || val.fract() != 0.0 {
                    return Err(bad(format!(
                        "voxel value {val} is not a label (labels are non-negative integers)"
                    )));
                }
                labels[j * cols + i] = val as u32;
            }
        }
        out.push(labels);
    }
    Ok((out, inside))
}

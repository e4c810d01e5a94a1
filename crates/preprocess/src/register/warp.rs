//! The moving image resampled with a found transform.

use super::checks::bad;
use super::sampler::trilinear_itk;
use crate::transform::AffineTransform;
use crate::PreprocessError;
use deepneuro_volume::{DType, Volume};
use nalgebra::Vector4;
use rayon::prelude::*;

/// The moving image resampled onto the fixed grid with the found transform
/// (trilinear; fill 0). Like ITK's linear interpolator, points up to half a
/// voxel beyond the outer voxel centres take the edge value. Every channel
/// of `moving` is resampled.
pub fn resample_moving(
    moving: &Volume,
    fixed: &Volume,
    t: &AffineTransform,
) -> Result<Volume, PreprocessError> {
    let w2v = moving
        .affine()
        .try_inverse()
        .ok_or_else(|| PreprocessError::MismatchedFrames {
            what: "moving".into(),
            detail: "the affine is singular".into(),
        })?;
    // Fixed voxel index -> moving voxel index in one matrix.
    let map = w2v * t.matrix * fixed.affine();
    if map.iter().any(|v| !v.is_finite()) {
        return Err(bad("transform", "the transform is not finite"));
    }
    let [nx, ny, nz] = fixed.spatial_shape();
    let mdims = moving.spatial_shape();
    let src = moving.nifti_slice();
    let per = mdims.iter().product::<usize>();
    let channels = moving.channels();
    let mut out = vec![0.0f32; channels * nx * ny * nz];
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(cz, slice)| {
            let (c, k) = (cz / nz, cz % nz);
            let data = &src[c * per..(c + 1) * per];
            for j in 0..ny {
                for i in 0..nx {
                    let p = map * Vector4::new(i as f64, j as f64, k as f64, 1.0);
                    if let Some(v) = trilinear_itk(data, mdims, [p[0], p[1], p[2]]) {
                        slice[j * nx + i] = v;
                    }
                }
            }
        });
    Ok(Volume::from_nifti_vec(
        [channels, nx, ny, nz],
        out,
        *fixed.affine(),
        DType::F32,
    )?)
}

//! Label-safe resampling.

use super::aligned::{inside, linear_axis};
use super::general::{for_each_row, point};
use super::map::VoxelMap;
use super::Grid;
use crate::PreprocessError;
use deepneuro_volume::{Affine, Volume};

/// Resamples a label map so that every output voxel holds a label of the
/// input.
///
/// Each distinct value of a channel is treated as a one-hot map, the maps
/// are interpolated linearly (ITK's rule, as [`super::Interpolation::Linear`])
/// and the label with the largest interpolated weight wins; on an exact tie
/// the smaller label value wins, as `numpy.argmax` over labels sorted in
/// increasing order. For a binary mask this is linear interpolation followed
/// by the threshold `> 0.5`. Points outside the source have weight 0 for
/// every label and so get the smallest label (0 for the usual maps with
/// background 0). Channels are resampled independently; the output keeps
/// the input's dtype.
///
/// Errors: `NonFinite` when a voxel is NaN or infinite, `BadParameter` for
/// an empty grid, more than 65536 labels in a channel or a singular source
/// affine, `NonFinite`/`BadParameter` for a bad grid affine or world map.
pub fn resample_labels(
    v: &Volume,
    grid: &Grid,
    world_map: Option<&Affine>,
) -> Result<Volume, PreprocessError> {
    grid.validate()?;
    let map = VoxelMap::new(v.affine(), &grid.affine, world_map)?;
    let data = v.nifti_slice();
    let bad = data.iter().filter(|x| !x.is_finite()).count();
    if bad > 0 {
        return Err(PreprocessError::NonFinite {
            what: "label map".to_string(),
            count: bad,
        });
    }
    let src_shape = v.spatial_shape();
    let per = src_shape.iter().product::<usize>();
    let n_out = grid.shape.iter().product::<usize>();
    let mut out = Vec::with_capacity(n_out * v.channels());
    for ch in data.chunks(per) {
        out.extend(labels_channel(ch, src_shape, &map, grid.shape)?);
    }
    Ok(Volume::from_nifti_vec(
        [v.channels(), grid.shape[0], grid.shape[1], grid.shape[2]],
        out,
        grid.affine,
        v.dtype(),
    )?)
}

fn labels_channel(
    src: &[f32],
    src_shape: [usize; 3],
    map: &VoxelMap,
    out_shape: [usize; 3],
) -> Result<Vec<f32>, PreprocessError> {
    let mut labels: Vec<f32> = src.to_vec();
    labels.sort_unstable_by(f32::total_cmp);
    // -0.0 and 0.0 are one label.
    labels.dedup_by(|a, b| a == b);
    if labels.len() > u16::MAX as usize + 1 {
        return Err(PreprocessError::BadParameter {
            name: "label map",
            reason: format!(
                "{} distinct values; at most 65536 labels are supported",
                labels.len()
            ),
        });
    }
    let index: Vec<u16> = src
        .iter()
        .map(|v| labels.partition_point(|l| l < v) as u16)
        .collect();
    let [nx, ny, nz] = src_shape;
    let mut out = vec![labels[0]; out_shape.iter().product()];
    for_each_row(&mut out, out_shape, map, |row, start, step| {
        for (i, o) in row.iter_mut().enumerate() {
            let c = point(start, step, i);
            if !(inside(c[0], nx) && inside(c[1], ny) && inside(c[2], nz)) {
                continue;
            }
            let (x0, x1, dx) = linear_axis(c[0], nx);
            let (y0, y1, dy) = linear_axis(c[1], ny);
            let (z0, z1, dz) = linear_axis(c[2], nz);
            // Up to eight (label, weight) pairs; duplicates are merged.
            let mut acc: [(u16, f64); 8] = [(0, 0.0); 8];
            let mut n = 0;
            for (z, wz) in [(z0, 1.0 - dz), (z1, dz)] {
                for (y, wy) in [(y0, 1.0 - dy), (y1, dy)] {
                    for (x, wx) in [(x0, 1.0 - dx), (x1, dx)] {
                        let w = wx * wy * wz;
                        if w <= 0.0 {
                            continue;
                        }
                        let l = index[x + nx * (y + ny * z)];
                        match acc[..n].iter_mut().find(|(m, _)| *m == l) {
                            Some(e) => e.1 += w,
                            None => {
                                acc[n] = (l, w);
                                n += 1;
                            }
                        }
                    }
                }
            }
            let best = acc[..n].iter().copied().reduce(|a, b| {
                if b.1 > a.1 || (b.1 == a.1 && b.0 < a.0) {
                    b
                } else {
                    a
                }
            });
            if let Some((l, _)) = best {
                *o = labels[l as usize];
            }
        }
    });
    Ok(out)
}

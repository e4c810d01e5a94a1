//! Reading one case's channel files and stacking them into groups.

use crate::layout::nifti_to_c;
use crate::spec::{CollectionOptions, GridPolicy, GroupSpec};
use crate::DataError;
use deepneuro_preprocess::resample::{resample, resample_labels, Grid, ResampleOptions};
use deepneuro_volume::{Affine, Volume};
use ndarray::Array4;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Two grids are the same when the shapes are equal and no affine entry
/// differs by more than this (mm, or mm per voxel). NIfTI stores the sform
/// in single precision, so files of one scan written by different tools
/// differ in the last float bits.
const GRID_TOLERANCE: f64 = 1e-4;

/// The groups `which` of one case, stacked channel-wise, in C order (see
/// [`crate::layout`]), and the affine of the case's reference grid: the grid
/// of the first channel file of the first group loaded.
pub(crate) fn load_files(
    case: &str,
    groups: &[GroupSpec],
    files: &[Vec<PathBuf>],
    which: &[usize],
    opts: &CollectionOptions,
) -> Result<(BTreeMap<String, Array4<f32>>, Affine), DataError> {
    let mut reference: Option<(Grid, PathBuf)> = None;
    let mut out = BTreeMap::new();
    for &g in which {
        let spec = &groups[g];
        let label = opts.label_groups.contains(&spec.name);
        let mut volumes = Vec::with_capacity(files[g].len());
        for path in &files[g] {
            let vol = deepneuro_io::read(path).map_err(|source| DataError::Read {
                case: case.to_string(),
                source: Box::new(source),
            })?;
            let vol = match &reference {
                None => {
                    reference = Some((Grid::of(&vol), path.clone()));
                    vol
                }
                Some((grid, first)) if !same_grid(&vol, grid) => match opts.grid {
                    GridPolicy::Error => {
                        return Err(DataError::GridMismatch {
                            case: case.to_string(),
                            detail: grid_detail(&vol, path, grid, first),
                        })
                    }
                    GridPolicy::Resample => {
                        let resampled = if label {
                            resample_labels(&vol, grid, None)
                        } else {
                            resample(&vol, grid, None, &ResampleOptions::default())
                        };
                        resampled.map_err(|source| DataError::Resample {
                            case: case.to_string(),
                            group: spec.name.clone(),
                            source: Box::new(source),
                        })?
                    }
                },
                Some(_) => vol,
            };
            volumes.push(vol);
        }
        let [x, y, z] = volumes.first().map_or([0; 3], |v| v.spatial_shape());
        let per = x * y * z;
        let slices: Vec<_> = volumes.iter().map(|v| v.nifti_slice()).collect();
        // A multi-channel file contributes each of its channels in order.
        let channels: Vec<&[f32]> = slices.iter().flat_map(|s| s.chunks(per.max(1))).collect();
        out.insert(spec.name.clone(), nifti_to_c(&channels, [x, y, z]));
    }
    let affine = reference.map_or_else(Affine::identity, |(g, _)| g.affine);
    Ok((out, affine))
}

fn same_grid(v: &Volume, grid: &Grid) -> bool {
    v.spatial_shape() == grid.shape
        && max_affine_difference(v.affine(), &grid.affine) <= GRID_TOLERANCE
}

fn max_affine_difference(a: &Affine, b: &Affine) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn grid_detail(v: &Volume, path: &std::path::Path, grid: &Grid, first: &std::path::Path) -> String {
    format!(
        "{} (shape {:?}) is not on the grid of {} (shape {:?}; largest affine difference {:.3e}); \
         resample on request or fix the data",
        path.display(),
        v.spatial_shape(),
        first.display(),
        grid.shape,
        max_affine_difference(v.affine(), &grid.affine)
    )
}

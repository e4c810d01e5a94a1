//! Resampling volumes onto new voxel grids.
//!
//! The behaviour follows SimpleITK's `sitk.Resample` (ITK's
//! `ResampleImageFilter`) with the matching interpolator, so that results
//! agree with ITK-based pipelines:
//!
//! * a point is inside the source when its continuous voxel index lies in
//!   `[-0.5, n - 0.5)` along every axis (ITK's `IsInsideBuffer`); points
//!   outside get [`ResampleOptions::fill`];
//! * [`Interpolation::Nearest`] rounds half up; [`Interpolation::Linear`]
//!   clamps the neighbours to the buffer as ITK's
//!   `LinearInterpolateImageFunction`; [`Interpolation::BSpline`] is ITK's
//!   cubic `BSplineInterpolateImageFunction` with its recursive prefilter
//!   and mirror boundaries.
//!
//! Axis-aligned maps (any combination of scaling, flips, shifts and axis
//! permutations) run as separable 1D passes with precomputed index/weight
//! tables; other maps step through output rows in parallel.

mod aligned;
mod bspline;
mod general;
mod labels;
mod map;
mod rows;
mod smooth;
mod taps;

pub use labels::resample_labels;

use crate::PreprocessError;
use deepneuro_volume::{Affine, DType, Volume};
use map::{check_affine, VoxelMap};

/// How values between voxel centres are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interpolation {
    /// The nearest voxel (ITK's `NearestNeighborInterpolateImageFunction`).
    Nearest,
    /// Trilinear (ITK's `LinearInterpolateImageFunction`).
    #[default]
    Linear,
    /// Cubic B-spline (ITK's `BSplineInterpolateImageFunction`, order 3).
    BSpline,
}

/// An output voxel grid: its shape and voxel-to-world (RAS mm) affine.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Voxels along x, y, z.
    pub shape: [usize; 3],
    /// Voxel index (i, j, k, 1) to world RAS mm, as a volume's affine.
    pub affine: Affine,
}

impl Grid {
    /// The grid of a volume.
    pub fn of(v: &Volume) -> Grid {
        Grid {
            shape: v.spatial_shape(),
            affine: *v.affine(),
        }
    }

    /// The grid covering the same field of view as `v` with the same axis
    /// directions and voxel size `spacing` (mm, per voxel axis).
    ///
    /// Along each axis the new shape is `max(1, round(n * s / s'))` and the
    /// outer corner of the first voxel (index -0.5) stays where it is, as in
    /// scikit-image's `resize` or PyTorch's `align_corners=False`: the field
    /// of view is kept exactly when `n * s / s'` is an integer, and
    /// otherwise its far side moves by less than half a new voxel.
    ///
    /// Errors: `BadParameter` for a non-positive or non-finite spacing or a
    /// degenerate affine (a zero-length voxel axis).
    pub fn with_spacing(v: &Volume, spacing: [f64; 3]) -> Result<Grid, PreprocessError> {
        if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(PreprocessError::BadParameter {
                name: "spacing",
                reason: format!("{spacing:?}: every voxel size must be positive and finite"),
            });
        }
        let old = v.spacing();
        if old.iter().any(|s| *s <= 0.0) {
            return Err(PreprocessError::BadParameter {
                name: "affine",
                reason: "a voxel axis of the source has zero length".to_string(),
            });
        }
        let src_shape = v.spatial_shape();
        let mut affine = *v.affine();
        let mut shape = [0usize; 3];
        for j in 0..3 {
            let ratio = spacing[j] / old[j];
            shape[j] = ((src_shape[j] as f64 / ratio).round() as usize).max(1);
            let col = v.affine().fixed_view::<3, 1>(0, j).into_owned();
            // The corner at index -0.5 is fixed: origin' = origin + (s' - s) / 2 * dir.
            let shift = col * ((ratio - 1.0) * 0.5);
            for r in 0..3 {
                affine[(r, j)] = col[r] * ratio;
                affine[(r, 3)] += shift[r];
            }
        }
        Ok(Grid { shape, affine })
    }

    pub(crate) fn validate(&self) -> Result<(), PreprocessError> {
        if self.shape.contains(&0) {
            return Err(PreprocessError::BadParameter {
                name: "grid",
                reason: format!("shape {:?} has a zero-length axis", self.shape),
            });
        }
        if self
            .shape
            .iter()
            .try_fold(1usize, |a, &n| a.checked_mul(n))
            .is_none()
        {
            return Err(PreprocessError::BadParameter {
                name: "grid",
                reason: format!("shape {:?} is too large", self.shape),
            });
        }
        check_affine(&self.affine, "grid affine")
    }
}

/// Options of [`resample`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResampleOptions {
    /// How values between voxel centres are computed.
    pub interpolation: Interpolation,
    /// Smooth the source before downsampling (see below).
    pub antialias: bool,
    /// The value of output voxels whose centre falls outside the source.
    pub fill: f32,
}

impl Default for ResampleOptions {
    fn default() -> Self {
        ResampleOptions {
            interpolation: Interpolation::Linear,
            antialias: false,
            fill: 0.0,
        }
    }
}

/// Samples every channel of `v` at the voxel centres of `grid`.
///
/// `world_map`, when given, maps a point of the target world frame to the
/// source world frame (RAS mm, 4x4), as a registration transform does;
/// `None` is the identity (both grids in one world frame).
///
/// With `antialias`, the source is first smoothed along each source axis
/// that the output samples more coarsely: one output voxel spans
/// `f` source voxels along source axis `i`, where `f` is the norm of row `i`
/// of the output-to-source voxel Jacobian (the spacing ratio for
/// axis-aligned grids), and the Gaussian has `sigma = max(0, (f - 1) / 2)`
/// source voxels — scikit-image's `resize(anti_aliasing=True)` rule, with
/// `scipy.ndimage.gaussian_filter`'s kernel (truncated at 4 sigma, mirror
/// boundaries).
///
/// The output keeps the source dtype for nearest-neighbour sampling without
/// smoothing and is `F32` otherwise, unless the source was already floating
/// point. NaN voxels spread to the neighbouring samples with nearest and
/// linear interpolation.
///
/// Errors: `BadParameter` for an empty grid or a singular source affine;
/// `NonFinite`/`BadParameter` for a grid affine or world map that is not a
/// finite affine matrix; `NonFinite` for NaN or infinite voxels with
/// B-spline interpolation, whose prefilter would spread them over whole
/// lines.
pub fn resample(
    v: &Volume,
    grid: &Grid,
    world_map: Option<&Affine>,
    opts: &ResampleOptions,
) -> Result<Volume, PreprocessError> {
    grid.validate()?;
    let map = VoxelMap::new(v.affine(), &grid.affine, world_map)?;
    let data = v.nifti_slice();
    if opts.interpolation == Interpolation::BSpline {
        let bad = data.iter().filter(|x| !x.is_finite()).count();
        if bad > 0 {
            return Err(PreprocessError::NonFinite {
                what: "image".to_string(),
                count: bad,
            });
        }
    }
    let src_shape = v.spatial_shape();
    let per = src_shape.iter().product::<usize>();
    let sigmas = if opts.antialias {
        smooth::sigmas(map.footprint())
    } else {
        [0.0; 3]
    };
    let aligned = map.axis_aligned(grid.shape);
    let mut channels = Vec::with_capacity(v.channels());
    let mut smoothed_any = false;
    for ch in data.chunks(per) {
        let smoothed = smooth::smooth(ch, src_shape, sigmas);
        smoothed_any |= smoothed.is_some();
        let ch = smoothed.as_deref().unwrap_or(ch);
        let res = match &aligned {
            Some(lines) => aligned::resample_aligned(
                ch,
                src_shape,
                lines,
                grid.shape,
                opts.interpolation,
                opts.fill,
            ),
            None => general::resample_general(
                ch,
                src_shape,
                &map,
                grid.shape,
                opts.interpolation,
                opts.fill,
            ),
        };
        channels.push(res);
    }
    // A single channel is moved, not copied, into the volume.
    let out = if channels.len() == 1 {
        channels.pop().unwrap_or_default()
    } else {
        channels.concat()
    };
    let dtype = if v.dtype().is_float()
        || (opts.interpolation == Interpolation::Nearest && !smoothed_any)
    {
        v.dtype()
    } else {
        DType::F32
    };
    Ok(Volume::from_nifti_vec(
        [v.channels(), grid.shape[0], grid.shape[1], grid.shape[2]],
        out,
        grid.affine,
        dtype,
    )?)
}

/// Resamples `v` to voxel size `spacing` (mm) on [`Grid::with_spacing`].
pub fn resample_to_spacing(
    v: &Volume,
    spacing: [f64; 3],
    opts: &ResampleOptions,
) -> Result<Volume, PreprocessError> {
    resample(v, &Grid::with_spacing(v, spacing)?, None, opts)
}

/// Resamples `v` onto the grid of `reference` (same world frame).
pub fn resample_like(
    v: &Volume,
    reference: &Volume,
    opts: &ResampleOptions,
) -> Result<Volume, PreprocessError> {
    resample(v, &Grid::of(reference), None, opts)
}

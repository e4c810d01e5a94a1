//! Rigid (6 degrees of freedom) and affine (12) registration of a moving
//! volume onto a fixed one, both in RAS world frames.
//!
//! The method follows ITK's ImageRegistrationMethodv4 with its usual
//! settings: a multi-resolution pyramid (each level block-averages both
//! images by a shrink factor and blurs them to a Gaussian sigma in mm), a
//! fixed random subset of fixed voxels per level (seeded: results do not
//! depend on the thread count), Mattes mutual information (or normalised
//! cross-correlation) with its analytic gradient through a trilinear
//! interpolation of the moving image and its precomputed gradient, and a
//! regular-step gradient descent in physical-shift units. The transform maps
//! fixed world points to moving world points, as ITK's do.

mod checks;
mod init;
mod mattes;
mod metric;
mod ncc;
mod optimizer;
mod pyramid;
mod sampler;
mod warp;

pub use warp::resample_moving;

use crate::transform::AffineTransform;
use crate::PreprocessError;
use deepneuro_volume::Volume;
use metric::LevelMetric;
use nalgebra::Matrix4;
use optimizer::{LevelError, Steps};
use pyramid::shrink_mask;
use std::borrow::Cow;

/// The degrees of freedom of the transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransformKind {
    /// Rotation about a centre plus translation (6 parameters), like ITK's
    /// Euler3DTransform / VersorRigid3DTransform.
    Rigid,
    /// A general linear map plus translation (12 parameters).
    Affine,
}

/// The similarity measure to optimise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Mattes mutual information with this many histogram bins (ITK's
    /// default 50; at least 5, of which 2 at each end are padding). Suits
    /// images of different contrasts.
    MattesMutualInformation { bins: usize },
    /// Squared normalised cross-correlation; for images of the same contrast.
    NormalizedCrossCorrelation,
}

/// How the transform starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initialization {
    /// Align the centres of the two fields of view.
    Geometry,
    /// Align the intensity centres of mass (intensities minus the minimum).
    CenterOfMass,
    /// Align the centres of mass and the principal axes of inertia (the
    /// matching rotation closest to the identity).
    Moments,
    /// Start from the identity (rotation about the fixed field-of-view centre).
    Identity,
}

/// Settings of [`register`]. The per-level lists must have the same length.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistrationOptions {
    pub transform: TransformKind,
    pub metric: Metric,
    pub initialization: Initialization,
    /// Per level, coarse to fine: both images are block-averaged by this
    /// factor (in voxels; reduced along an axis that would keep fewer than
    /// two voxels).
    pub shrink_factors: Vec<usize>,
    /// Per level: standard deviation in mm of the total Gaussian blur. The
    /// block averaging of the shrink factor counts towards it (a block of `f`
    /// voxels of spacing `s` blurs with variance `(f^2 - 1) s^2 / 12`); only
    /// the rest is applied as a Gaussian.
    pub smoothing_sigmas_mm: Vec<f64>,
    /// Per level: the maximum number of optimiser iterations.
    pub iterations: Vec<usize>,
    /// Fraction of the fixed voxels (inside the mask) used as sample points
    /// at each level, in (0, 1].
    pub sampling_fraction: f64,
    /// At least this many sample points per level (or all voxels when there
    /// are fewer), so that coarse levels still fill the histogram.
    pub min_samples: usize,
    /// Seed of the sample choice.
    pub seed: u64,
    /// Initial step length of each level, in voxels of that level's fixed
    /// image (the root-mean-square displacement of the sample points).
    pub learning_rate: f64,
    /// A level ends when the step length falls below this, in voxels of that
    /// level's fixed image (convergence criterion).
    pub min_step: f64,
    /// Factor applied to the step length whenever the gradient turns back or
    /// the metric gets worse, in (0, 1).
    pub relaxation: f64,
}

impl Default for RegistrationOptions {
    /// Rigid, Mattes 50 bins, centre-of-mass start, three levels shrunk by
    /// [4, 2, 1] and blurred by [2, 1, 0] mm.
    fn default() -> Self {
        RegistrationOptions {
            transform: TransformKind::Rigid,
            metric: Metric::MattesMutualInformation { bins: 50 },
            initialization: Initialization::CenterOfMass,
            shrink_factors: vec![4, 2, 1],
            smoothing_sigmas_mm: vec![2.0, 1.0, 0.0],
            iterations: vec![200, 100, 50],
            sampling_fraction: 0.02,
            min_samples: 20_000,
            seed: 42,
            learning_rate: 1.0,
            min_step: 0.01,
            relaxation: 0.5,
        }
    }
}

/// The outcome of [`register`].
#[derive(Clone, Debug, PartialEq)]
pub struct Registration {
    /// Fixed world to moving world (RAS mm).
    pub transform: AffineTransform,
    /// The final metric value (lower is better: `-MI` or `-NCC^2`).
    pub metric_value: f64,
    /// Iterations done at each level.
    pub iterations: Vec<usize>,
}
/// Registers `moving` onto `fixed`: finds the transform `T` (fixed world to
/// moving world) that best aligns `moving(T(x))` with `fixed(x)`, sampling
/// only inside `fixed_mask` (voxels > 0, on the fixed grid) when given.
pub fn register(
    fixed: &Volume,
    moving: &Volume,
    fixed_mask: Option<&Volume>,
    opts: &RegistrationOptions,
) -> Result<Registration, PreprocessError> {
    checks::validate(opts)?;
    let fixed_img = checks::image(fixed, "fixed")?;
    let moving_img = checks::image(moving, "moving")?;
    let fmask = fixed_mask.map(|m| checks::mask(m, fixed)).transpose()?;
    let rigid = opts.transform == TransformKind::Rigid;
    let mut state = init::initial_state(
        rigid,
        opts.initialization,
        &fixed_img,
        fmask.as_deref(),
        &moving_img,
    );
    let mut iterations = Vec::with_capacity(opts.shrink_factors.len());
    let mut value = f64::NAN;
    for (level, &shrink) in opts.shrink_factors.iter().enumerate() {
        let sigma = opts.smoothing_sigmas_mm[level];
        let f_level = fixed_img.level(shrink, sigma);
        let m_level = moving_img.level(shrink, sigma);
        let factors = fixed_img.factors(shrink);
        let level_mask: Option<Cow<'_, [bool]>> = fmask.as_deref().map(|m| {
            if factors == [1, 1, 1] {
                Cow::Borrowed(m)
            } else {
                Cow::Owned(shrink_mask(m, fixed_img.dims, factors))
            }
        });
        let seed = opts.seed ^ (level as u64).wrapping_mul(0xA076_1D64_78BD_642F);
        let samples = sampler::select(
            &f_level,
            level_mask.as_deref(),
            state.centre,
            opts.sampling_fraction,
            opts.min_samples,
            seed,
        );
        if samples.f.len() < 2 {
            return Err(checks::bad(
                "sampling_fraction",
                format!(
                    "{} sample points at level {level}: raise sampling_fraction or min_samples",
                    samples.f.len()
                ),
            ));
        }
        // The whole image was checked, but the samples (inside a mask) may
        // still all be equal: then there is nothing to align.
        let first = samples.f.first().copied().unwrap_or(0.0);
        if samples.f.iter().all(|v| *v == first) {
            return Err(PreprocessError::Constant {
                what: if fmask.is_some() {
                    "fixed (inside the mask)"
                } else {
                    "fixed"
                }
                .into(),
                value: first,
            });
        }
        let spacing = f_level.spacing().iter().sum::<f64>() / 3.0;
        let w2v = m_level
            .affine
            .try_inverse()
            .unwrap_or_else(Matrix4::identity);
        let ctx = LevelContext {
            opts,
            level,
            samples: &samples,
            spacing,
            w2v,
        };
        let (n, v) = optimise_level(&mut state, &ctx, &sampler::Moving::new(&m_level))?;
        tracing::debug!(
            level,
            shrink,
            samples = samples.r.len(),
            iterations = n,
            value = v,
            "registration level done"
        );
        iterations.push(n);
        value = v;
    }
    Ok(Registration {
        transform: AffineTransform {
            matrix: state.matrix(),
            rigid,
        },
        metric_value: value,
        iterations,
    })
}

/// What one level's optimisation needs besides the moving image.
struct LevelContext<'a> {
    opts: &'a RegistrationOptions,
    level: usize,
    samples: &'a sampler::Samples,
    /// Mean voxel size (mm) of the level's fixed image.
    spacing: f64,
    /// World to voxel of the level's moving image.
    w2v: Matrix4<f64>,
}

/// Sets the metric up and runs the optimiser on one level.
fn optimise_level<M: sampler::MovingSampler>(
    state: &mut optimizer::State,
    ctx: &LevelContext<'_>,
    moving: &M,
) -> Result<(usize, f64), PreprocessError> {
    let (opts, level, samples) = (ctx.opts, ctx.level, ctx.samples);
    let mut metric = match opts.metric {
        Metric::MattesMutualInformation { bins } => {
            LevelMetric::Mattes(mattes::Mattes::new(bins, samples, moving))
        }
        Metric::NormalizedCrossCorrelation => LevelMetric::Ncc(ncc::Ncc),
    };
    let steps = Steps {
        initial: opts.learning_rate * ctx.spacing,
        min: opts.min_step * ctx.spacing,
        relaxation: opts.relaxation,
        max_iterations: opts.iterations[level],
    };
    optimizer::run_level(state, &mut metric, moving, &ctx.w2v, samples, &steps).map_err(
        |LevelError::NoOverlap { valid, samples }| PreprocessError::MismatchedFrames {
            what: "moving".into(),
            detail: format!(
                "only {valid} of {samples} fixed sample points map inside the moving image at level {level}: the images do not overlap (try another initialization)"
            ),
        },
    )
}

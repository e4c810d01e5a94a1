//! Composable, seeded 2D/3D augmentations for multi-group training samples.
//!
//! A [`Sample`] holds every data group of one case (for example `input` with
//! four MRI channels and `ground_truth` with one label channel), each as an
//! `ndarray::Array4<f32>` indexed `[channel, x, y, z]` (2D data have
//! `z = 1`), and one voxel-to-world affine shared by all groups. An
//! [`Augmentation`] turns one sample into one or several samples; a
//! [`Compose`] chains augmentations in the given order.
//!
//! # Randomness
//!
//! All randomness comes from the [`Rng`] passed to [`Augmentation::apply`]
//! (ChaCha8, seeded by [`rng`]), drawn on the calling thread before any
//! parallel work, so a seed gives the same output on any machine and with any
//! number of threads. Random parameters are drawn once per sample and the
//! same transform is applied to every chosen group, so a ground truth stays
//! aligned with its input.
//!
//! # Grid and affine
//!
//! Flips and rotations change the content, not the grid: the sample keeps its
//! affine (it is a new image on the same voxel grid). Patch extraction and
//! downsampling change the grid, and the affine follows so that every voxel
//! keeps its world position: a patch's affine is `affine * T(start)` where
//! `T(start)` translates by the patch start in voxels, and downsampling by
//! `f` along an axis scales that column of the affine by `f`.
//!
//! # Memory layout
//!
//! Inputs may have any memory layout. Arrays that an augmentation allocates
//! anew take the layout of the group they come from: NIfTI order (`x`
//! fastest, as `deepneuro_volume::Volume` stores voxels) stays NIfTI order,
//! anything else becomes standard (C) order, and copies walk memory in the
//! destination's order, so both layouts run at the same speed. Flips,
//! intensity changes and channel dropout work in place.
//!
//! # Speed
//!
//! Put `patches` first: later steps then touch only the patches. Flips and
//! quarter turns are strided copies (flips in place), scale and shift one
//! pass each (plus two for the standard deviation), rotations run in
//! parallel over planes with one sampling table per plane geometry. The
//! `augment_speed` example times a BraTS-sized case.
//!
//! # Command-line form ([`parse`])
//!
//! ```text
//! spec  := op (';' op)*          empty ops (e.g. a trailing ';') are ignored
//! op    := name [ '(' [arg (',' arg)*] ')' ]
//! arg   := key '=' value
//! list  := item ('+' item)*      lists of group names, e.g. groups=input+ground_truth
//! axes  := n ('-' n)*            spatial axes 0 (x), 1 (y), 2 (z), e.g. axes=0-1
//! ```
//!
//! Whitespace around names, keys and values is ignored. Every op accepts
//! `groups=<list>` (default: all groups), every op but `patches` a
//! probability `p=<0..1>` of applying at all (per axis for `flip`, per group
//! for `channel_dropout`). Booleans are `true`/`false` (or `1`/`0`,
//! `yes`/`no`). An unknown op or key, a repeated key or a bad value is a
//! one-line [`AugmentError::BadSpec`].
//!
//! | op | keys (defaults) | meaning |
//! | --- | --- | --- |
//! | `flip` | `axes=0`, `p=0.5` | flips each listed axis with probability `p`, drawn per axis |
//! | `rotate90` | `axes=0-1`, `k` (random), `p=1` | rotates by `k` quarter turns as `np.rot90(a, k, axes)`; `k` uniform in {0,1,2,3} unless given |
//! | `rotate` | `degrees=15`, `angle` (random), `axes=0-1`, `order=1`, `cval=0`, `nearest=<list>`, `p=1` | `scipy.ndimage.rotate(a, angle, axes, reshape=False, order, mode='constant', cval)` with `angle` uniform in `[-degrees, degrees]` unless given; groups in `nearest` use order 0 |
//! | `scale` | `min=0.9`, `max=1.1`, `per_channel=false`, `p=1` | multiplies by a factor uniform in `[min, max]` |
//! | `shift` | `min=-0.1`, `max=0.1`, `units=std`, `per_channel=false`, `p=1` | adds an offset uniform in `[min, max]`, times the channel's standard deviation (`units=std`) or as is (`units=absolute`) |
//! | `patches` | `size=64x64x64`, `count=1`, `label`, `label_fraction=0`, `mask`, `mask_fraction=0`, `pad=false`, `cval=0`, `fallback=false`, `shuffle=false` | extracts `count` patches; see [`Patches`] |
//! | `channel_dropout` | `p=0.5`, `value=0`, `channel` (random) | replaces one channel of each chosen group by `value` |
//! | `downsample` | `factor=2`, `axes=2`, `upsample=false`, `p=1` | keeps every `factor`-th voxel (`a[::f]`), optionally repeated back to the original shape |
//!
//! `size` is `XxYxZ`, `XxY` (z = 1, for 2D data) or one number `N` (a cube).
//! `mask` is a group name (its non-zero voxels, in any channel), `nonzero`
//! (the non-zero voxels of the group `input`) or `nonzero:<group>`. Patch
//! counts per criterion are deterministic: `round(count * label_fraction)`
//! label-centred patches first, then `round(count * mask_fraction)` (at most
//! the rest) mask-centred ones, then the rest anywhere (see [`Patches`]).
//!
//! Two or more adjacent `rotate` ops that differ only in their (disjoint,
//! explicit) `groups`, `order` and `nearest` are merged into one [`Rotate`]
//! with per-group orders, so
//! `rotate(degrees=15,order=1,groups=input); rotate(degrees=15,order=0,groups=ground_truth)`
//! rotates input and ground truth by the SAME random angle. Ops that are not
//! merged draw their own parameters.

mod dropout;
mod error;
mod flip;
mod intensity;
mod parse;
mod parse_ops;
mod patches;
mod resample;
mod rotate;
mod rotate_table;
mod spline;
mod util;

use std::collections::BTreeMap;

use ndarray::Array4;
use rand::SeedableRng;

pub use dropout::ChannelDropout;
pub use error::AugmentError;
pub use flip::{Flip, Rotate90};
pub use intensity::{Scale, Shift, ShiftUnits};
pub use parse::parse;
pub use patches::Patches;
pub use resample::Downsample;
pub use rotate::Rotate;

/// One training sample: every data group of one case, each `[channel, x, y, z]` (2D data: z = 1).
#[derive(Clone, Debug)]
pub struct Sample {
    /// The case name; patch extraction appends `#p<i>`.
    pub case: String,
    /// The data groups by name (e.g. `input`, `ground_truth`).
    pub groups: BTreeMap<String, Array4<f32>>,
    /// Voxel index to RAS+ millimetres, shared by every group.
    pub affine: deepneuro_volume::Affine,
}

impl Sample {
    /// The spatial shape `[x, y, z]` of a group, or `None` when absent.
    pub fn spatial_shape(&self, group: &str) -> Option<[usize; 3]> {
        self.groups.get(group).map(util::spatial)
    }
}

/// The random number generator every augmentation draws from.
pub type Rng = rand_chacha::ChaCha8Rng;

/// A ChaCha8 generator seeded with `seed`.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// One augmentation step.
pub trait Augmentation: Send + Sync + std::fmt::Debug {
    /// Applies the augmentation; may return several samples (patch extraction) or one.
    fn apply(&self, sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError>;
    /// A short name, as in the command-line form (`flip`, `rotate`, ...).
    fn name(&self) -> &'static str;
}

/// Which groups an augmentation touches: all, or the named ones (e.g. intensity changes only on "input").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Groups {
    /// Every group of the sample.
    #[default]
    All,
    /// Only these groups; each must be present in the sample.
    Only(Vec<String>),
}

impl Groups {
    /// The chosen group names present in `sample`, in a stable order (the
    /// sample's sorted order for `All`, the given order for `Only`);
    /// a named group that is absent is an error.
    pub fn resolve(&self, sample: &Sample) -> Result<Vec<String>, AugmentError> {
        match self {
            Groups::All => Ok(sample.groups.keys().cloned().collect()),
            Groups::Only(names) => {
                let mut out: Vec<String> = Vec::with_capacity(names.len());
                for n in names {
                    if !sample.groups.contains_key(n) {
                        return Err(AugmentError::GroupMissing {
                            case: sample.case.clone(),
                            group: n.clone(),
                        });
                    }
                    if !out.contains(n) {
                        out.push(n.clone());
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Applies its augmentations in order; an augmentation that returns several
/// samples (patch extraction) feeds each of them to the next one.
#[derive(Debug, Default)]
pub struct Compose(pub Vec<Box<dyn Augmentation>>);

impl Augmentation for Compose {
    fn apply(&self, sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        let mut samples = vec![sample];
        for aug in &self.0 {
            let mut next = Vec::with_capacity(samples.len());
            for s in samples {
                next.extend(aug.apply(s, rng)?);
            }
            samples = next;
        }
        Ok(samples)
    }

    fn name(&self) -> &'static str {
        "compose"
    }
}

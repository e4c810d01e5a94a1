//! Nearest-neighbour downsampling by an integer factor, optionally repeated
//! back to the original shape (DeepNeuro's down/upsampling augmentation for
//! super-resolution training).

use ndarray::{Array4, Axis, Slice};

use crate::util::{
    chance, check_axis, check_probability, chosen_with_shape, copy_into, zeros_like_layout,
};
use crate::{AugmentError, Augmentation, Groups, Rng, Sample};

/// Keeps every `factor`-th voxel along the chosen axes, starting at voxel 0
/// (numpy `a[::f]`, length `ceil(n / f)`).
///
/// Without `upsample` the grid changes: column `a` of the affine is
/// multiplied by `factor` for every downsampled axis `a` (the kept voxels
/// keep their world positions), and every group of the sample must be
/// chosen, since one affine cannot describe two grids. With `upsample` each
/// kept voxel is repeated `factor` times and cut to the original length
/// (`np.repeat(a[::f], f, axis)[:n]`), so shape and affine are unchanged:
/// a blocky, low-resolution version of the image on its original grid.
#[derive(Clone, Debug)]
pub struct Downsample {
    /// The integer factor (1 leaves the data unchanged).
    pub factor: usize,
    /// The spatial axes downsampled.
    pub axes: Vec<usize>,
    /// Repeat back to the original shape.
    pub upsample: bool,
    /// The probability of downsampling at all.
    pub p: f64,
    /// The groups downsampled.
    pub groups: Groups,
}

impl Default for Downsample {
    fn default() -> Self {
        Downsample {
            factor: 2,
            axes: vec![2],
            upsample: false,
            p: 1.0,
            groups: Groups::All,
        }
    }
}

impl Augmentation for Downsample {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        check_probability("downsample", self.p)?;
        if self.factor == 0 {
            return Err(AugmentError::spec(
                "downsample",
                "factor=0 must be at least 1",
            ));
        }
        for &a in &self.axes {
            check_axis("downsample", a)?;
        }
        let (names, _) = chosen_with_shape(&self.groups, &sample)?;
        if !chance(rng, self.p) || self.factor == 1 {
            return Ok(vec![sample]);
        }
        if !self.upsample && names.len() != sample.groups.len() {
            return Err(AugmentError::Unsupported {
                case: sample.case.clone(),
                reason: "downsample without upsample must include every group: one affine cannot describe two grids".into(),
            });
        }
        let mut axes = self.axes.clone();
        axes.sort_unstable();
        axes.dedup();
        let f = self.factor;
        for n in &names {
            if let Some(arr) = sample.groups.get_mut(n) {
                *arr = if self.upsample {
                    down_up(arr, f, &axes)
                } else {
                    down(arr, f, &axes)
                };
            }
        }
        if !self.upsample {
            for &a in &axes {
                for r in 0..3 {
                    sample.affine[(r, a)] *= f as f64;
                }
            }
        }
        Ok(vec![sample])
    }

    fn name(&self) -> &'static str {
        "downsample"
    }
}

/// `a[::f]` along each of `axes` (spatial), copied into a new array.
fn down(a: &Array4<f32>, f: usize, axes: &[usize]) -> Array4<f32> {
    let v = a.slice_each_axis(|d| {
        if d.axis.index() > 0 && axes.contains(&(d.axis.index() - 1)) {
            Slice::new(0, None, f as isize)
        } else {
            Slice::from(..)
        }
    });
    let s = v.shape();
    let mut out = zeros_like_layout([s[0], s[1], s[2], s[3]], a);
    copy_into(out.view_mut(), v);
    out
}

/// `np.repeat(a[::f], f, axis)[:n]` along each of `axes`: every output voxel
/// takes the kept voxel at `i - i % f`.
fn down_up(a: &Array4<f32>, f: usize, axes: &[usize]) -> Array4<f32> {
    let s = a.shape();
    let mut out = zeros_like_layout([s[0], s[1], s[2], s[3]], a);
    // For each residue r (one per downsampled axis), the output voxels
    // r, r + f, r + 2f, ... copy the kept voxels 0, f, 2f, ...; residues
    // past the axis length have no voxel, so only min(f, n) are visited.
    let radices: Vec<usize> = axes
        .iter()
        .map(|&ax| f.min(a.len_of(Axis(ax + 1))))
        .collect();
    let combos: usize = radices.iter().product();
    for combo in 0..combos {
        let mut target = out.view_mut();
        let mut source = a.view();
        let mut c = combo;
        for (&ax, &radix) in axes.iter().zip(&radices) {
            let r = c % radix;
            c /= radix;
            target.slice_axis_inplace(Axis(ax + 1), Slice::new(r as isize, None, f as isize));
            // As many kept voxels as targets: 0, f, ..., (len - 1) f.
            let len = target.len_of(Axis(ax + 1));
            let end = (len - 1) * f + 1;
            source.slice_axis_inplace(Axis(ax + 1), Slice::new(0, Some(end as isize), f as isize));
        }
        copy_into(target, source);
    }
    out
}

//! Intensity scale and shift, in place. Each is its own step, so a scale
//! followed by a shift gives `x * a + b` (both applied, composing in the
//! order given) rather than one overwriting the other.

use ndarray::{ArrayViewMut3, Axis};

use crate::util::{chance, check_probability, check_range, uniform};
use crate::{AugmentError, Augmentation, Groups, Rng, Sample};

/// Multiplies intensities by a factor uniform in `[min, max]`.
#[derive(Clone, Debug)]
pub struct Scale {
    /// The smallest factor.
    pub min: f64,
    /// The largest factor.
    pub max: f64,
    /// One factor per channel of each chosen group (drawn in group, then
    /// channel order) instead of one factor for the whole sample.
    pub per_channel: bool,
    /// The groups scaled (usually the input, never a label map).
    pub groups: Groups,
    /// The probability of scaling at all.
    pub p: f64,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            min: 0.9,
            max: 1.1,
            per_channel: false,
            groups: Groups::All,
            p: 1.0,
        }
    }
}

/// How a [`Shift`] offset is measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShiftUnits {
    /// The drawn value times the channel's standard deviation (population,
    /// `ddof = 0`, computed in f64 over the channel as it is when the shift
    /// runs, i.e. after any earlier scale), so the same spec suits any
    /// intensity range.
    #[default]
    Std,
    /// The drawn value itself.
    Absolute,
}

/// Adds an offset drawn uniform in `[min, max]` (see [`ShiftUnits`]).
#[derive(Clone, Debug)]
pub struct Shift {
    /// The smallest offset.
    pub min: f64,
    /// The largest offset.
    pub max: f64,
    /// Whether the offset is relative to the channel's standard deviation.
    pub units: ShiftUnits,
    /// One draw per channel of each chosen group instead of one per sample.
    pub per_channel: bool,
    /// The groups shifted.
    pub groups: Groups,
    /// The probability of shifting at all.
    pub p: f64,
}

impl Default for Shift {
    fn default() -> Self {
        Shift {
            min: -0.1,
            max: 0.1,
            units: ShiftUnits::Std,
            per_channel: false,
            groups: Groups::All,
            p: 1.0,
        }
    }
}

/// Draws one value per (group, channel), or one shared by all, then calls
/// `f` on each channel with its value.
fn per_channel_apply(
    sample: &mut Sample,
    groups: &Groups,
    per_channel: bool,
    mut draw: impl FnMut() -> f64,
    f: impl Fn(ArrayViewMut3<'_, f32>, f64),
) -> Result<(), AugmentError> {
    let names = groups.resolve(sample)?;
    // All draws happen before any data is touched, in a fixed order.
    let shared = if per_channel { 0.0 } else { draw() };
    let mut values: Vec<Vec<f64>> = Vec::with_capacity(names.len());
    for n in &names {
        let channels = sample.groups[n].len_of(Axis(0));
        values.push(if per_channel {
            (0..channels).map(|_| draw()).collect()
        } else {
            vec![shared; channels]
        });
    }
    for (n, vals) in names.iter().zip(values) {
        if let Some(arr) = sample.groups.get_mut(n) {
            for (ch, v) in arr.axis_iter_mut(Axis(0)).zip(vals) {
                f(ch, v);
            }
        }
    }
    Ok(())
}

impl Augmentation for Scale {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        check_probability("scale", self.p)?;
        check_range("scale", self.min, self.max)?;
        if chance(rng, self.p) {
            let (lo, hi) = (self.min, self.max);
            per_channel_apply(
                &mut sample,
                &self.groups,
                self.per_channel,
                || uniform(rng, lo, hi),
                |mut ch, a| {
                    // f32 arithmetic, as numpy's `x * a` on a float32 array.
                    let a = a as f32;
                    ch.mapv_inplace(|v| v * a);
                },
            )?;
        }
        Ok(vec![sample])
    }

    fn name(&self) -> &'static str {
        "scale"
    }
}

impl Augmentation for Shift {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        check_probability("shift", self.p)?;
        check_range("shift", self.min, self.max)?;
        if chance(rng, self.p) {
            let (lo, hi, units) = (self.min, self.max, self.units);
            per_channel_apply(
                &mut sample,
                &self.groups,
                self.per_channel,
                || uniform(rng, lo, hi),
                |mut ch, b| {
                    let offset = match units {
                        ShiftUnits::Absolute => b,
                        ShiftUnits::Std => b * channel_std(&ch),
                    } as f32;
                    ch.mapv_inplace(|v| v + offset);
                },
            )?;
        }
        Ok(vec![sample])
    }

    fn name(&self) -> &'static str {
        "shift"
    }
}

/// The population standard deviation of a channel, two-pass in f64.
fn channel_std(ch: &ArrayViewMut3<'_, f32>) -> f64 {
    let n = ch.len();
    if n == 0 {
        return 0.0;
    }
    let mean = sum_f64(ch, |v| v) / n as f64;
    let var = sum_f64(ch, |v| (v - mean) * (v - mean)) / n as f64;
    var.sqrt()
}

/// `sum(f(x))` in f64 over a channel, with eight independent accumulators
/// over contiguous memory so the additions pipeline and vectorise (one
/// running sum would wait on every addition).
fn sum_f64(ch: &ArrayViewMut3<'_, f32>, f: impl Fn(f64) -> f64) -> f64 {
    match ch.as_slice_memory_order() {
        Some(data) => {
            let mut acc = [0.0f64; 8];
            let chunks = data.chunks_exact(8);
            let tail: f64 = chunks.remainder().iter().map(|&v| f(v as f64)).sum();
            for c in chunks {
                for (a, &v) in acc.iter_mut().zip(c) {
                    *a += f(v as f64);
                }
            }
            acc.iter().sum::<f64>() + tail
        }
        None => ch.fold(0.0, |s, &v| s + f(v as f64)),
    }
}

//! Channel dropout: one channel of a group replaced by a constant.

use ndarray::Axis;

use crate::util::{chance, check_probability, index};
use crate::{AugmentError, Augmentation, Groups, Rng, Sample};

/// With probability `p`, replaces one channel of each chosen group by
/// `value` (numpy: `a[k] = value`); the decision and the channel are drawn
/// separately for each chosen group, in group order.
#[derive(Clone, Debug)]
pub struct ChannelDropout {
    /// The probability of dropping a channel of a group.
    pub p: f64,
    /// The value written over the dropped channel.
    pub value: f32,
    /// A fixed channel to drop, or `None` for a uniform draw.
    pub channel: Option<usize>,
    /// The groups concerned (usually the multi-channel input).
    pub groups: Groups,
}

impl Default for ChannelDropout {
    fn default() -> Self {
        ChannelDropout {
            p: 0.5,
            value: 0.0,
            channel: None,
            groups: Groups::All,
        }
    }
}

impl Augmentation for ChannelDropout {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        check_probability("channel_dropout", self.p)?;
        if !self.value.is_finite() {
            return Err(AugmentError::spec(
                "channel_dropout",
                format!("value={} is not finite", self.value),
            ));
        }
        let names = self.groups.resolve(&sample)?;
        let mut drops = Vec::new();
        for n in &names {
            let channels = sample.groups[n].len_of(Axis(0));
            if !chance(rng, self.p) {
                continue;
            }
            let k = match self.channel {
                Some(k) if k < channels => k,
                Some(k) => {
                    return Err(AugmentError::Unsupported {
                        case: sample.case.clone(),
                        reason: format!(
                            "channel_dropout: channel {k} is out of range for group {n:?} with {channels} channels"
                        ),
                    })
                }
                None if channels == 0 => continue,
                None => index(rng, channels),
            };
            drops.push((n.clone(), k));
        }
        for (n, k) in drops {
            if let Some(arr) = sample.groups.get_mut(&n) {
                arr.index_axis_mut(Axis(0), k).fill(self.value);
            }
        }
        Ok(vec![sample])
    }

    fn name(&self) -> &'static str {
        "channel_dropout"
    }
}

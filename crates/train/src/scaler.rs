//! Loss scaling for mixed-precision training, as PyTorch's
//! `torch.amp.GradScaler` does it.
//!
//! Under autocast the backward pass runs largely in float16, whose smallest
//! normal value is about 6e-5: small gradients underflow to zero and the
//! network silently stops learning. Multiplying the loss by a large scale
//! before the backward pass keeps them representable; the gradients are
//! divided by it again before the optimiser sees them. A step whose
//! gradients overflowed (inf or NaN) is skipped and the scale halved; after
//! `growth_interval` good steps in a row it doubles again.

use tch::Tensor;

use crate::optim::Optimizer;
use crate::TrainError;

/// A dynamic loss scale (PyTorch's defaults: start at 2^16, double after
/// 2000 steps without overflow, halve on an overflow). A disabled scaler
/// leaves the loss and the step alone.
#[derive(Clone, Debug, PartialEq)]
pub struct GradScaler {
    enabled: bool,
    scale: f64,
    growth_factor: f64,
    backoff_factor: f64,
    growth_interval: u32,
    good_steps: u32,
}

impl GradScaler {
    /// A scaler with PyTorch's defaults, on when `enabled`.
    pub fn new(enabled: bool) -> Self {
        GradScaler {
            enabled,
            scale: 65536.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
            good_steps: 0,
        }
    }

    /// The same with another initial scale and growth interval.
    pub fn with_schedule(mut self, init_scale: f64, growth_interval: u32) -> Self {
        self.scale = init_scale;
        self.growth_interval = growth_interval.max(1);
        self
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The current scale (1 when disabled).
    pub fn scale(&self) -> f64 {
        if self.enabled {
            self.scale
        } else {
            1.0
        }
    }

    /// Backward of `loss` (scaled) into the optimiser, then, when the
    /// unscaled gradients are all finite, one optimiser step; then the
    /// scale's update. Returns whether the step was taken.
    pub fn backward_step(
        &mut self,
        loss: &Tensor,
        opt: &mut Optimizer,
    ) -> Result<bool, TrainError> {
        if !self.enabled {
            opt.backward(loss)?;
            opt.step()?;
            return Ok(true);
        }
        opt.backward(&loss.f_mul_scalar(self.scale)?)?;
        let finite = opt.unscale(self.scale)?;
        if finite {
            opt.step()?;
        }
        self.update(finite);
        Ok(finite)
    }

    /// PyTorch's `_amp_update_scale_`: back off on an overflow, grow after
    /// `growth_interval` good steps in a row.
    fn update(&mut self, finite: bool) {
        if finite {
            self.good_steps += 1;
            if self.good_steps == self.growth_interval {
                let grown = self.scale * self.growth_factor;
                if grown.is_finite() {
                    self.scale = grown;
                }
                self.good_steps = 0;
            }
        } else {
            self.scale *= self.backoff_factor;
            self.good_steps = 0;
        }
    }
}

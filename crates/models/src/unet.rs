//! The U-Net: encoder blocks with max pooling, decoder blocks after nearest
//! upsampling and skip concatenation, a final 1x1 convolution.
//!
//! The decoder upsamples with nearest-neighbour repetition by `pool_size`
//! (DeepNeuro's `UpSampling`, no learned weights); the decoder block's first
//! convolution then mixes the upsampled features with the skip, which is
//! concatenated after them on the channel axis, as in DeepNeuro.
//!
//! Variable names (deterministic, `.`-joined like PyTorch's `state_dict`):
//! `enc{l}.<block>` for the encoder block at level `l` (0 = full
//! resolution), `dec{l}.<block>` for the decoder block whose skip comes from
//! encoder level `l` (`0..depth - 1`), and `out.weight` / `out.bias` for the
//! final 1x1 convolution; block names are in [`crate::blocks`] docs.

use tch::nn::VarStore;
use tch::{Device, TchError, Tensor};

use crate::blocks::{max_pool, Block, BlockSpec, Conv, UnitSpec};
use crate::config::{OutputActivation, UNetConfig};
use crate::ModelError;

/// A U-Net built from a [`UNetConfig`], its weights in a `VarStore`.
pub struct UNet {
    config: UNetConfig,
    vs: VarStore,
    encoder: Vec<Block>,
    /// Decoder blocks in execution order: skip level `depth - 2` down to 0.
    decoder: Vec<Block>,
    out: Conv,
    pool: Vec<i64>,
}

impl std::fmt::Debug for UNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UNet")
            .field("config", &self.config)
            .field("device", &self.vs.device())
            .finish_non_exhaustive()
    }
}

impl UNet {
    /// Builds the network with PyTorch's default initialisation on `device`.
    pub fn new(config: UNetConfig, device: Device) -> Result<Self, ModelError> {
        config.validate()?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let spec = BlockSpec {
            kind: config.block,
            se_base: config.se_base,
            se_reduction: config.se_reduction,
            unit: UnitSpec {
                kernel: config.kernel()?,
                norm: config.norm_kind(),
                act: config.activation,
                order: config.order()?,
                dropout: config.dropout,
            },
        };
        let depth = config.depth;
        let mut encoder = Vec::with_capacity(depth);
        let mut skip_channels = Vec::with_capacity(depth);
        let mut c = config.in_channels();
        for level in 0..depth {
            let widths = config.encoder_widths(level);
            encoder.push(Block::new(
                &(&root / format!("enc{level}")),
                &spec,
                c,
                &widths,
            )?);
            c = *widths.last().expect("validated: num_blocks >= 1");
            skip_channels.push(c);
        }
        let mut decoder = Vec::with_capacity(depth.saturating_sub(1));
        for level in (0..depth - 1).rev() {
            let widths = config.decoder_widths(level);
            let cin = c + skip_channels[level];
            decoder.push(Block::new(
                &(&root / format!("dec{level}")),
                &spec,
                cin,
                &widths,
            )?);
            c = *widths.last().expect("validated: num_blocks >= 1");
        }
        let one = vec![1i64; config.dims()];
        let out = Conv::new(&(&root / "out"), c, config.num_outputs, &one)?;
        let pool = config.pool()?;
        Ok(UNet {
            config,
            vs,
            encoder,
            decoder,
            out,
            pool,
        })
    }

    /// The config the network was built from.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// The weights (names as documented in this module).
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// The weights, mutable (to load or train them).
    pub fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Checks that `x` is `[n, c, ...spatial]` with the config's channels and
    /// spatial sizes that every pooling divides.
    pub fn check_input(&self, x: &Tensor) -> Result<(), ModelError> {
        let shape = x.size();
        let dims = self.config.dims();
        let bad = |reason: String| ModelError::BadInput {
            shape: shape.clone(),
            reason,
        };
        if shape.len() != dims + 2 {
            return Err(bad(format!(
                "expected [n, c, {}] for a {dims}D U-Net",
                if dims == 2 { "x, y" } else { "x, y, z" }
            )));
        }
        if shape[1] != self.config.in_channels() {
            return Err(bad(format!(
                "expected {} channels on axis 1",
                self.config.in_channels()
            )));
        }
        for (axis, (&s, &p)) in shape[2..].iter().zip(&self.pool).enumerate() {
            let factor = p.pow(self.config.depth as u32 - 1);
            if s < 1 || s % factor != 0 {
                return Err(bad(format!(
                    "spatial axis {axis} of size {s} is not divisible by {factor} (pool {p}, depth {})",
                    self.config.depth
                )));
            }
        }
        Ok(())
    }

    /// The forward pass; `train` switches batch statistics and dropout on.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        self.check_input(x)?;
        Ok(self.forward_unchecked(x, train)?)
    }

    fn forward_unchecked(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let mut skips = Vec::with_capacity(self.encoder.len());
        let mut h = x.shallow_clone();
        let no_pad = vec![0i64; self.pool.len()];
        for (level, block) in self.encoder.iter().enumerate() {
            if level > 0 {
                h = max_pool(&h, &self.pool, &self.pool, &no_pad)?;
            }
            h = block.forward(&h, train)?;
            skips.push(h.shallow_clone());
        }
        for (block, skip) in self.decoder.iter().zip(skips.iter().rev().skip(1)) {
            for (axis, &p) in self.pool.iter().enumerate() {
                if p > 1 {
                    h = h.f_repeat_interleave_self_int(p, Some(axis as i64 + 2), None::<i64>)?;
                }
            }
            h = block.forward(&Tensor::f_cat(&[&h, skip], 1)?, train)?;
        }
        let logits = self.out.forward(&h)?;
        match self.config.output_activation {
            OutputActivation::Sigmoid => logits.f_sigmoid(),
            OutputActivation::Softmax => logits.f_softmax(1, logits.kind()),
            OutputActivation::None => Ok(logits),
        }
    }
}

impl deepneuro_infer::Forward for UNet {
    /// Inference forward (running statistics, no dropout); shape errors come
    /// back as `TchError::Shape` with the reason.
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        self.forward_t(x, false).map_err(|e| match e {
            ModelError::Torch(t) => t,
            other => TchError::Shape(other.to_string()),
        })
    }
}

impl crate::Model for UNet {
    fn predict(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let x = x.f_to_device(self.device())?;
        tch::no_grad(|| self.forward_t(&x, false))
    }

    fn device(&self) -> Device {
        self.vs.device()
    }
}

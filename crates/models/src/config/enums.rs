//! The named choices of a U-Net config.

use serde::{Deserialize, Serialize};

/// Normalisation after (or before) each convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// No normalisation.
    None,
    /// Batch normalisation (eps 1e-5, momentum 0.1, affine, running statistics).
    Batch,
    /// Instance normalisation (eps 1e-5, affine, no running statistics).
    Instance,
}

/// The non-linearity of each convolution unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x` if `x > 0`, else `slope * x`.
    LeakyRelu {
        /// The negative slope.
        slope: f64,
    },
    /// `x` if `x > 0`, else `alpha * (exp(x) - 1)`.
    Elu {
        /// The saturation value for negative inputs.
        alpha: f64,
    },
    /// Leaky ReLU with one learned slope per unit (`act.weight`, shape `[1]`, 0.25 at start).
    Prelu,
}

/// The activation applied to the final 1x1 convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputActivation {
    /// Independent probabilities per channel.
    Sigmoid,
    /// Probabilities over the channel axis.
    Softmax,
    /// Raw logits.
    None,
}

/// Convolution padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Output size equals input size (odd kernels only).
    Same,
    /// No padding; not supported by this U-Net (the skip connections need equal sizes).
    Valid,
}

/// The block used at every level of the encoder and decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockType {
    /// Consecutive convolution units.
    Plain,
    /// Plain units plus a shortcut (a 1x1 convolution when the width changes).
    Residual,
    /// One inception module per unit: 1x1, kxk, double kxk and pooled branches.
    Inception,
    /// Each unit sees the block input and all earlier unit outputs; a 1x1 transition closes the block.
    Dense,
    /// A plain or residual block (`se_base`) followed by squeeze-and-excitation.
    SqueezeExcitation,
}

/// The block that squeeze-and-excitation recalibrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeBase {
    /// A plain block.
    Plain,
    /// A residual block.
    Residual,
}

/// One step of a convolution unit, in the order `layer_order` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The convolution.
    Conv,
    /// The normalisation (skipped when the config has none).
    Norm,
    /// The activation.
    Act,
}

/// The names of the losses `cost_function` may name (see [`crate::losses`]).
pub const LOSS_NAMES: &[&str] = &[
    "dice",
    "dice_ce",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "focal",
    "wasserstein",
];

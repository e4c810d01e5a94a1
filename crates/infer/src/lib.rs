//! Patch-based (sliding-window) inference on libtorch.
//!
//! [`sliding_window`] follows MONAI 1.6.1's `sliding_window_inference`
//! exactly: the image is padded up to the window size where it is smaller,
//! windows are laid out `roi * (1 - overlap)` apart with the last one aligned
//! to the end of each axis, every prediction is weighted by an importance map
//! (ones or a Gaussian), the weighted predictions and the weights are summed
//! in place, divided, and the padding is cropped off. Two DeepNeuro options
//! extend it: keeping only the centre of each predicted patch
//! ([`SlidingWindowOptions::center_crop`]) and skipping empty patches
//! ([`SlidingWindowOptions::skip_empty`]). [`predict_volume`] runs a model
//! over a [`deepneuro_volume::Volume`].

mod grid;
mod options;
mod sliding;
mod volume;

pub use grid::{importance_map, window_count};
pub use options::{Blend, PaddingMode, SlidingWindowOptions};
pub use sliding::sliding_window;
pub use volume::predict_volume;

use std::path::Path;

use tch::{CModule, Device, TchError, Tensor};
use thiserror::Error;

/// Anything that maps a batch `[n, c, ...spatial]` to `[n, k, ...spatial]`:
/// a TorchScript module, a native U-Net. Patch inference only needs this.
pub trait Forward {
    fn forward(&self, x: &tch::Tensor) -> Result<tch::Tensor, tch::TchError>;
}

/// Why patch inference could not run.
#[derive(Debug, Error)]
pub enum InferError {
    #[error("input of shape {0:?} is not [n, c, ...spatial] with at least one spatial axis")]
    InputRank(Vec<i64>),
    #[error("input of shape {0:?} is empty")]
    EmptyInput(Vec<i64>),
    #[error("input of kind {0:?} is not a floating-point tensor")]
    InputKind(tch::Kind),
    #[error("roi_size {roi:?} has {} axes but the input {shape:?} has {} spatial axes", roi.len(), shape.len().saturating_sub(2))]
    RoiRank { roi: Vec<i64>, shape: Vec<i64> },
    #[error("overlap {0:?} must hold one value, or one per spatial axis, each in [0, 1)")]
    Overlap(Vec<f64>),
    #[error(
        "center_crop {crop:?} needs one size per axis of the window {roi:?}, each in 1..=window"
    )]
    CenterCrop { crop: Vec<i64>, roi: Vec<i64> },
    #[error("sw_batch_size must be at least 1, got 0")]
    BatchSize,
    #[error("Gaussian sigma_scale {0} must be positive and finite")]
    SigmaScale(f64),
    #[error("the model returned shape {output:?} for patches of shape {input:?}; patch inference needs [{}, k, ...{:?}]", input.first().copied().unwrap_or(0), input.get(2..).unwrap_or(&[]))]
    OutputShape { input: Vec<i64>, output: Vec<i64> },
    /// Only the first line: libtorch appends a C++ backtrace to its messages.
    #[error("libtorch: {}", deepneuro_core::first_line(.0))]
    Torch(#[from] TchError),
    #[error(transparent)]
    Tensor(#[from] deepneuro_core::TensorError),
}

/// A TorchScript module (`torch.jit.save`) in evaluation mode, run without
/// gradient tracking.
#[derive(Debug)]
pub struct TorchScript(pub CModule);

impl TorchScript {
    /// Loads the module with its parameters on `device`, in evaluation mode.
    pub fn load(path: impl AsRef<Path>, device: Device) -> Result<Self, InferError> {
        let mut module = CModule::load_on_device(path, device)?;
        module.f_set_eval()?;
        Ok(TorchScript(module))
    }
}

impl Forward for TorchScript {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        tch::no_grad(|| self.0.forward_ts(&[x]))
    }
}

impl Forward for CModule {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        tch::no_grad(|| self.forward_ts(&[x]))
    }
}

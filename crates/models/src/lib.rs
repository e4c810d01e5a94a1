//! The U-Net family on libtorch (DeepNeuro's `UNet`, Beers et al. 2021):
//! 2D and 3D, plain, residual, inception, dense and squeeze-excitation
//! blocks; losses; model files (`model.safetensors` + `model.json`) and
//! TorchScript modules behind one [`Model`] trait.
//!
//! Variable names are documented in [`unet`] and [`blocks`] so that other
//! tools (the PyTorch parity script `scripts/fixtures/unet_parity.py`) can
//! write weights this crate reads.

pub mod blocks;
pub mod config;
pub mod files;
pub mod losses;
pub mod torchscript;
pub mod unet;

use std::path::PathBuf;

pub use config::{
    Activation, BlockType, NormKind, OutputActivation, Padding, SeBase, UNetConfig, LOSS_NAMES,
};
pub use deepneuro_infer::Forward;
pub use files::{config_path, load_model};
pub use torchscript::TorchScriptModel;
pub use unet::UNet;

/// Why a model could not be built, loaded or run. Messages are one line and
/// name the file or shape and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A setting is invalid or unsupported.
    #[error("invalid U-Net config: {0}")]
    InvalidConfig(String),
    /// A config file could not be parsed or is invalid.
    #[error("{path}: {reason}", path = .path.display())]
    ConfigFile {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A weights file does not hold the variables the config builds.
    #[error("{path}: weights do not match the config: {reason}", path = .path.display())]
    WeightsMismatch {
        /// The weights file.
        path: PathBuf,
        /// The first difference.
        reason: String,
    },
    /// A tensor given to the model or a loss has the wrong shape.
    #[error("input of shape {shape:?} does not fit: {reason}")]
    BadInput {
        /// The shape received.
        shape: Vec<i64>,
        /// What was expected.
        reason: String,
    },
    /// The file extension names no model kind.
    #[error("{path}: unsupported model file (expected .safetensors with a .json beside it, or .pt / .ts / .torchscript)", path = .path.display())]
    UnsupportedFile {
        /// The file.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {reason}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
    /// libtorch refused an operation.
    #[error("libtorch: {}", first_line(.0))]
    Torch(#[from] tch::TchError),
}

pub(crate) use deepneuro_core::first_line;

/// A model that maps a batch `[n, c, ...spatial]` to `[n, k, ...spatial]`.
/// Pipelines hold a `Box<dyn Model>` from [`load_model`] and do not care
/// whether it is a native [`UNet`] or a [`TorchScriptModel`].
pub trait Model: Forward + std::fmt::Debug {
    /// Inference: moves `x` to the model's device, no gradients, evaluation mode.
    fn predict(&self, x: &tch::Tensor) -> Result<tch::Tensor, ModelError>;

    /// The device the model runs on.
    fn device(&self) -> tch::Device;
}

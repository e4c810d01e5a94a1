//! A TorchScript module (`torch.jit.save`) behind the [`Model`] trait.

use std::path::Path;

use deepneuro_infer::{Forward, TorchScript};
use tch::{Device, TchError, Tensor};

use crate::{Model, ModelError};

/// A TorchScript module in evaluation mode, taking one tensor and returning
/// one: deepneuro-infer's one TorchScript wrapper behind the [`Model`] trait.
#[derive(Debug)]
pub struct TorchScriptModel {
    module: TorchScript,
    device: Device,
}

impl TorchScriptModel {
    /// Loads the module onto `device` and switches it to evaluation mode.
    pub fn load(path: &Path, device: Device) -> Result<Self, ModelError> {
        if !path.exists() {
            return Err(ModelError::Io {
                path: path.to_path_buf(),
                reason: "no such file".into(),
            });
        }
        let module = TorchScript::load(path, device).map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            reason: format!("not a TorchScript module: {}", crate::first_line(&e)),
        })?;
        Ok(TorchScriptModel { module, device })
    }
}

impl Forward for TorchScriptModel {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        self.module.forward(x)
    }
}

impl Model for TorchScriptModel {
    fn predict(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let x = x.f_to_device(self.device)?;
        Ok(self.module.forward(&x)?)
    }

    fn device(&self) -> Device {
        self.device
    }
}

//! A TorchScript module (`torch.jit.save`) behind the [`Model`] trait.

use std::path::Path;

use tch::{CModule, Device, TchError, Tensor};

use crate::{Model, ModelError};

/// A TorchScript module in evaluation mode, taking one tensor and returning one.
#[derive(Debug)]
pub struct TorchScriptModel {
    module: CModule,
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
        let mut module = CModule::load_on_device(path, device).map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            reason: format!("not a TorchScript module: {}", crate::first_line(&e)),
        })?;
        module.f_set_eval()?;
        Ok(TorchScriptModel { module, device })
    }
}

impl deepneuro_infer::Forward for TorchScriptModel {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        self.module.forward_ts(&[x])
    }
}

impl Model for TorchScriptModel {
    fn predict(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let x = x.f_to_device(self.device)?;
        Ok(tch::no_grad(|| self.module.forward_ts(&[x]))?)
    }

    fn device(&self) -> Device {
        self.device
    }
}

//! A model of `models.toml` loaded for a run: TorchScript or a deepneuro
//! U-Net (safetensors with the config in the registry entry or beside the
//! file), through deepneuro-models' one loader.

use crate::PipelineError;
use deepneuro_infer::{Blend, Forward, SlidingWindowOptions};
use deepneuro_models::{Model, UNet, UNetConfig};
use deepneuro_registry::{ModelEntry, ModelFormat};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

pub struct LoadedModel {
    pub entry: ModelEntry,
    pub path: PathBuf,
    net: Box<dyn Model>,
    device: Device,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("name", &self.entry.name)
            .field("path", &self.path)
            .finish()
    }
}

impl LoadedModel {
    pub fn load(
        entry: &ModelEntry,
        path: &Path,
        device: Device,
    ) -> Result<LoadedModel, PipelineError> {
        let err = |reason: String| PipelineError::Model {
            name: entry.name.clone(),
            path: path.to_path_buf(),
            reason,
        };
        if entry.input.shape.len() != 5 {
            return Err(err(format!(
                "input shape {:?} is not [1, c, x, y, z]",
                entry.input.shape
            )));
        }
        let net: Box<dyn Model> = match (entry.format, &entry.config) {
            (ModelFormat::Safetensors, Some(config)) => {
                let config =
                    UNetConfig::from_json(&config.to_string()).map_err(|e| err(e.to_string()))?;
                let mut net = UNet::new(config, device).map_err(|e| err(e.to_string()))?;
                net.load_weights(path).map_err(|e| err(e.to_string()))?;
                Box::new(net)
            }
            (ModelFormat::Safetensors, None) => {
                deepneuro_models::load_model(path, device).map_err(|e| err(e.to_string()))?
            }
            (ModelFormat::Torchscript, _) => Box::new(
                deepneuro_models::TorchScriptModel::load(path, device)
                    .map_err(|e| err(e.to_string()))?,
            ),
        };
        Ok(LoadedModel {
            entry: entry.clone(),
            path: path.to_path_buf(),
            net,
            device,
        })
    }

    /// The spatial input shape `[x, y, z]` from models.toml.
    pub fn spatial_shape(&self) -> [i64; 3] {
        let s = &self.entry.input.shape;
        [s[2] as i64, s[3] as i64, s[4] as i64]
    }

    /// The input channels models.toml declares.
    pub fn in_channels(&self) -> i64 {
        self.entry.input.shape[1] as i64
    }

    fn fail(&self, e: impl std::fmt::Display) -> PipelineError {
        PipelineError::Model {
            name: self.entry.name.clone(),
            path: self.path.clone(),
            reason: deepneuro_core::first_line(&e),
        }
    }

    /// Runs the network on a normalised `[c, x, y, z]` tensor, whole or by
    /// sliding window, and returns `[k, x, y, z]`.
    pub fn run(
        &self,
        x: &Tensor,
        window: Option<&SlidingWindowOptions>,
    ) -> Result<Tensor, PipelineError> {
        let c = x.size()[0];
        if c != self.in_channels() {
            return Err(PipelineError::step(
                "predict",
                format!(
                    "model {} takes {} input channel(s), the image has {c}",
                    self.entry.name,
                    self.in_channels()
                ),
            ));
        }
        let input = x.f_to_device(self.device)?.f_unsqueeze(0)?;
        let forward: &dyn Forward = &*self.net;
        let out = tch::no_grad(|| match window {
            None => forward.forward(&input).map_err(|e| self.fail(e)),
            Some(opts) => {
                deepneuro_infer::sliding_window(forward, &input, opts).map_err(|e| self.fail(e))
            }
        })?;
        let s = out.size();
        if s.len() != 5 || s[0] != 1 || s[2..] != input.size()[2..] {
            return Err(self.fail(format!(
                "returned shape {s:?} for input {:?}; expected [1, k, ...spatial]",
                input.size()
            )));
        }
        Ok(out.f_select(0, 0)?)
    }
}

/// Sliding-window settings from a step's keys.
pub fn window_options(
    patch: &[i64],
    overlap: Option<f64>,
    blend: Option<&str>,
    batch: Option<f64>,
) -> SlidingWindowOptions {
    SlidingWindowOptions {
        roi_size: patch.to_vec(),
        overlap: vec![overlap.unwrap_or(0.5)],
        blend: match blend {
            Some("constant") => Blend::Constant,
            _ => Blend::gaussian(),
        },
        sw_batch_size: batch.unwrap_or(1.0).max(1.0) as usize,
        ..SlidingWindowOptions::default()
    }
}

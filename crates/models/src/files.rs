//! Model files: the weights as `model.safetensors` with the config as
//! `model.json` beside it, and [`load_model`], which picks the model kind by
//! extension.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Device, Tensor};

use crate::config::UNetConfig;
use crate::torchscript::TorchScriptModel;
use crate::unet::UNet;
use crate::{Model, ModelError};

/// The config file that goes with a weights file: same stem, `.json`.
pub fn config_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Io {
        path: path.to_path_buf(),
        reason: crate::first_line(&e),
    }
}

fn mismatch(path: &Path, reason: String) -> ModelError {
    ModelError::WeightsMismatch {
        path: path.to_path_buf(),
        reason,
    }
}

impl UNet {
    /// Writes the weights to `path` (which must end in `.safetensors`) and
    /// the config as JSON next to it.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        if path.extension().is_none_or(|e| e != "safetensors") {
            return Err(ModelError::UnsupportedFile {
                path: path.to_path_buf(),
            });
        }
        self.var_store().save(path).map_err(|e| io_err(path, e))?;
        let cfg = config_path(path);
        std::fs::write(&cfg, self.config().to_json()).map_err(|e| io_err(&cfg, e))
    }

    /// Loads a `.safetensors` file and the `.json` config beside it.
    pub fn load(path: &Path, device: Device) -> Result<Self, ModelError> {
        let config = UNetConfig::from_file(&config_path(path))?;
        let mut net = UNet::new(config, device)?;
        net.load_weights(path)?;
        Ok(net)
    }

    /// Replaces the weights with those of a `.safetensors` file, which must
    /// hold exactly this network's variables with the same shapes. Tensors
    /// of another floating-point kind (f16 weights written to halve the
    /// file) are converted to the variable's kind.
    pub fn load_weights(&mut self, path: &Path) -> Result<(), ModelError> {
        if !path.exists() {
            return Err(io_err(path, "no such file"));
        }
        let named: HashMap<String, Tensor> = Tensor::read_safetensors(path)
            .map_err(|e| io_err(path, e))?
            .into_iter()
            .collect();
        let vars = self.var_store().variables();
        let mut missing: Vec<&String> = vars.keys().filter(|k| !named.contains_key(*k)).collect();
        missing.sort();
        if let Some(first) = missing.first() {
            return Err(mismatch(
                path,
                format!(
                    "{} variable(s) of the config are missing, e.g. `{first}`",
                    missing.len()
                ),
            ));
        }
        let mut extra: Vec<&String> = named.keys().filter(|k| !vars.contains_key(*k)).collect();
        extra.sort();
        if let Some(first) = extra.first() {
            return Err(mismatch(
                path,
                format!(
                    "{} tensor(s) the config does not use, e.g. `{first}`",
                    extra.len()
                ),
            ));
        }
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in &names {
            let (src, dst) = (&named[*name], &vars[*name]);
            if src.size() != dst.size() {
                return Err(mismatch(
                    path,
                    format!(
                        "`{name}` has shape {:?} in the file but {:?} in the config",
                        src.size(),
                        dst.size()
                    ),
                ));
            }
        }
        tch::no_grad(|| -> Result<(), ModelError> {
            for name in names {
                let mut dst = vars[name].shallow_clone();
                let src = named[name].f_to_kind(dst.kind())?;
                dst.f_copy_(&src)?;
            }
            Ok(())
        })
    }
}

/// Loads a model file of either kind: `.pt`, `.ts` or `.torchscript` as
/// TorchScript; `.safetensors` (with the `.json` config beside it) as a
/// [`UNet`]. Pipelines then call [`Model::predict`] without caring which.
pub fn load_model(path: &Path, device: Device) -> Result<Box<dyn Model>, ModelError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("pt" | "ts" | "torchscript") => Ok(Box::new(TorchScriptModel::load(path, device)?)),
        Some("safetensors") => Ok(Box::new(UNet::load(path, device)?)),
        _ => Err(ModelError::UnsupportedFile {
            path: path.to_path_buf(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn small() -> UNetConfig {
        UNetConfig {
            input_shape: vec![8, 8, 8, 2],
            depth: 2,
            max_filter: 8,
            ..UNetConfig::default()
        }
    }

    #[test]
    fn f16_weights_load_as_f32() {
        let dir = tempfile::tempdir().unwrap();
        let (full, half) = (
            dir.path().join("a.safetensors"),
            dir.path().join("h.safetensors"),
        );
        let net = UNet::new(small(), Device::Cpu).unwrap();
        net.save(&full).unwrap();
        let tensors: Vec<(String, Tensor)> = Tensor::read_safetensors(&full)
            .unwrap()
            .into_iter()
            .map(|(n, t)| match t.kind() {
                Kind::Float => (n, t.to_kind(Kind::Half)),
                _ => (n, t),
            })
            .collect();
        assert!(tensors.iter().any(|(_, t)| t.kind() == Kind::Half));
        Tensor::write_safetensors(&tensors, &half).unwrap();

        let mut other = UNet::new(small(), Device::Cpu).unwrap();
        other.load_weights(&half).unwrap();
        let (want, got) = (net.var_store().variables(), other.var_store().variables());
        for (name, w) in &want {
            let g = &got[name];
            assert_eq!(g.kind(), w.kind(), "{name}");
            let err = (g - w).abs().max().double_value(&[]);
            let scale = w.abs().max().double_value(&[]).max(1e-6);
            assert!(err <= scale * 1e-3, "{name}: {err} of {scale}");
        }
    }
}

//! Per-epoch callbacks: the CSV log, checkpoints and early stopping.

use std::io::Write;
use std::path::{Path, PathBuf};

use deepneuro_models::{UNet, UNetConfig};

use crate::{EpochMetrics, TrainError};

/// Columns of the CSV log, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "epoch",
    "train_loss",
    "val_loss",
    "val_dice",
    "learning_rate",
    "seconds",
];

/// Appends one row per epoch to a CSV file (created with its header).
pub(crate) struct CsvLog {
    path: PathBuf,
    file: std::fs::File,
}

impl CsvLog {
    pub(crate) fn create(path: &Path) -> Result<Self, TrainError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        }
        let mut file = std::fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
        writeln!(file, "{}", CSV_COLUMNS.join(",")).map_err(|e| TrainError::io(path, e))?;
        Ok(CsvLog {
            path: path.to_path_buf(),
            file,
        })
    }

    pub(crate) fn row(&mut self, m: &EpochMetrics) -> Result<(), TrainError> {
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        writeln!(
            self.file,
            "{},{:.6},{},{},{:e},{:.3}",
            m.epoch,
            m.train_loss,
            opt(m.val_loss),
            opt(m.val_dice),
            m.learning_rate,
            m.seconds
        )
        .and_then(|_| self.file.flush())
        .map_err(|e| TrainError::io(&self.path, e))
    }
}

/// Writes the trained weights with the config the model is used with (its
/// real output activation, not the logits the loop trains on).
pub(crate) fn save_checkpoint(
    net: &UNet,
    config: &UNetConfig,
    path: &Path,
) -> Result<(), TrainError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    net.var_store()
        .save(path)
        .map_err(|e| TrainError::io(path, e))?;
    let cfg = deepneuro_models::config_path(path);
    std::fs::write(&cfg, config.to_json()).map_err(|e| TrainError::io(&cfg, e))
}

/// Tracks the best monitored loss and the epochs since it improved.
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    pub best: Option<(usize, f64)>,
    pub stale: usize,
}

impl Monitor {
    /// Records `loss` at `epoch`; true when it is a new best by `min_delta`.
    pub(crate) fn update(&mut self, epoch: usize, loss: f64, min_delta: f64) -> bool {
        let better = self.best.is_none_or(|(_, b)| loss < b - min_delta);
        if better {
            self.best = Some((epoch, loss));
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        better
    }
}

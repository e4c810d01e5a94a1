//! Training recipes: several [`TrainConfig`]s run in order on one data
//! folder, written as files ready for the model registry. The glioblastoma
//! recipe ([`glioblastoma`]) trains DeepNeuro's two cascaded U-Nets, the
//! whole tumour and then the enhancing tumour, from a BraTS folder.

mod discover;
mod manifest;

use std::path::{Path, PathBuf};
use std::time::Instant;

use deepneuro_models::UNetConfig;
use serde::Serialize;

use crate::config::{LabelScheme, RunOverrides, TrainConfig};
use crate::{detect_label_scheme, split_cases, train, TrainError, TrainReport};

pub use discover::Naming;

/// Net 1 of the glioblastoma recipe (whole tumour), as committed.
pub const GLIOBLASTOMA_WHOLE: &str = include_str!("../../recipes/glioblastoma/whole.toml");
/// Net 2 of the glioblastoma recipe (enhancing tumour), as committed.
pub const GLIOBLASTOMA_ENHANCING: &str = include_str!("../../recipes/glioblastoma/enhancing.toml");

/// What the caller chooses of a recipe run; `None` keeps the recipe's value.
#[derive(Debug, Clone, Default)]
pub struct RecipeOptions {
    /// The BraTS folder: one folder per case.
    pub data: PathBuf,
    /// Where the nets' folders and `models.toml` go.
    pub output: PathBuf,
    /// The label numbering of the label maps.
    pub label_scheme: LabelScheme,
    /// A U-Net config replacing each net's `[model]` (its input channels
    /// are set to each net's).
    pub model_config: Option<PathBuf>,
    /// Epochs, steps, batch size, device and seed replacing each net's.
    pub overrides: RunOverrides,
    /// Also writes the best weights as f16 (`best_f16.safetensors`) and
    /// points `models.toml` at them.
    pub half: bool,
    /// Hides the progress bars (e.g. under `--json`).
    pub quiet: bool,
}

/// One trained net of a recipe.
#[derive(Debug, Clone, Serialize)]
pub struct NetReport {
    /// The registry name (`glioblastoma-whole`).
    pub name: String,
    /// The epoch (from 1) of the best weights.
    pub best_epoch: usize,
    /// The validation loss of the best epoch (`None` without validation cases).
    pub val_loss: Option<f64>,
    /// The validation Dice of the best epoch.
    pub val_dice: Option<f64>,
    /// Wall-clock seconds of this net's training.
    pub seconds: f64,
    /// The weights `models.toml` points at.
    pub weights: PathBuf,
    /// The trainer's full report.
    pub training: TrainReport,
}

/// What a glioblastoma recipe run did.
#[derive(Debug, Clone, Serialize)]
pub struct RecipeReport {
    /// `glioblastoma`.
    pub recipe: String,
    /// The data folder.
    pub data: PathBuf,
    /// The file naming found in it.
    pub naming: Naming,
    /// The label scheme used.
    pub label_scheme: LabelScheme,
    /// Net 1.
    pub whole: NetReport,
    /// Net 2.
    pub enhancing: NetReport,
    /// The registry entries of both nets.
    pub models_toml: PathBuf,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// The two nets of the glioblastoma recipe as committed: (whole tumour,
/// enhancing tumour).
pub fn glioblastoma_configs() -> Result<(TrainConfig, TrainConfig), TrainError> {
    let parse = |text: &str, name: &str| {
        TrainConfig::from_toml(text).map_err(|e| match e {
            TrainError::ConfigFile { reason, .. } => TrainError::ConfigFile {
                path: PathBuf::from(format!("crates/train/recipes/glioblastoma/{name}")),
                reason,
            },
            other => other,
        })
    };
    Ok((
        parse(GLIOBLASTOMA_WHOLE, "whole.toml")?,
        parse(GLIOBLASTOMA_ENHANCING, "enhancing.toml")?,
    ))
}

/// Trains the whole-tumour net and then the enhancing-tumour net on the
/// BraTS folder `opts.data`, writing `whole/` and `enhancing/` (checkpoints
/// and CSV logs) and `models.toml` (two registry entries) under
/// `opts.output`.
pub fn glioblastoma(opts: &RecipeOptions) -> Result<RecipeReport, TrainError> {
    let start = Instant::now();
    let data = std::path::absolute(&opts.data).map_err(|e| TrainError::io(&opts.data, e))?;
    let (naming, collection) = discover::open(&data)?;
    let (mut whole, mut enhancing) = glioblastoma_configs()?;
    for (cfg, channels) in [(&mut whole, 3), (&mut enhancing, 4)] {
        apply(cfg, opts, &data, naming, channels)?;
    }
    let scheme = match opts.label_scheme {
        LabelScheme::Auto => {
            let (train_idx, _) = split_cases(
                collection.len(),
                enhancing.data.validation_split,
                enhancing.seed,
            );
            detect_label_scheme(&collection, &enhancing.data.target_group, &train_idx)?
        }
        s => s,
    };
    whole.data.label_scheme = scheme;
    enhancing.data.label_scheme = scheme;
    std::fs::create_dir_all(&opts.output).map_err(|e| TrainError::io(&opts.output, e))?;
    tracing::info!(net = "glioblastoma-whole", "training");
    let whole_report = train_net("glioblastoma-whole", &whole, opts)?;
    tracing::info!(net = "glioblastoma-enhancing", "training");
    let enhancing_report = train_net("glioblastoma-enhancing", &enhancing, opts)?;
    let info = manifest::DataInfo::of(&collection, &data, naming, scheme)?;
    let models_toml = opts.output.join("models.toml");
    manifest::write(
        &models_toml,
        &info,
        &[(&whole, &whole_report), (&enhancing, &enhancing_report)],
    )?;
    Ok(RecipeReport {
        recipe: "glioblastoma".into(),
        data,
        naming,
        label_scheme: scheme,
        whole: whole_report,
        enhancing: enhancing_report,
        models_toml,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Sets the caller's choices on one net's config: the data, its naming,
/// the model and the overrides.
fn apply(
    cfg: &mut TrainConfig,
    opts: &RecipeOptions,
    data: &Path,
    naming: Naming,
    channels: i64,
) -> Result<(), TrainError> {
    cfg.data.source = Some(data.to_path_buf());
    cfg.data.groups = naming.groups();
    if let Some(path) = &opts.model_config {
        cfg.model = UNetConfig::from_file(path)?;
        cfg.model_config = None;
    }
    if let Some(last) = cfg.model.input_shape.last_mut() {
        *last = channels;
    }
    cfg.model.validate()?;
    opts.overrides.apply(cfg);
    cfg.callbacks.progress &= !opts.quiet;
    Ok(())
}

/// Trains one net (its folders relative to `opts.output`) and picks the
/// weights its registry entry points at.
fn train_net(name: &str, cfg: &TrainConfig, opts: &RecipeOptions) -> Result<NetReport, TrainError> {
    let report = train(cfg, &opts.output)?;
    let best = report.best_checkpoint.clone().ok_or_else(|| {
        TrainError::config("callbacks.checkpoint_dir", "the recipe needs checkpoints")
    })?;
    let weights = if opts.half {
        let half = best.with_file_name("best_f16.safetensors");
        manifest::write_half(&best, &half)?;
        half
    } else {
        best
    };
    let best_metrics = report.epochs.get(report.best_epoch.saturating_sub(1));
    Ok(NetReport {
        name: name.to_string(),
        best_epoch: report.best_epoch,
        val_loss: best_metrics.and_then(|m| m.val_loss),
        val_dice: best_metrics.and_then(|m| m.val_dice),
        seconds: report.seconds,
        weights,
        training: report,
    })
}

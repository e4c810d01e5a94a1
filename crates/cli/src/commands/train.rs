//! `deepneuro train --config X.toml`: trains a U-Net from a DataCollection
//! as the config says (deepneuro-train), writing checkpoints and a CSV log.
//! `deepneuro train --recipe glioblastoma --data DIR --output OUT` trains
//! the recipe's nets in order and writes their registry entries.

use crate::exit::{Code, Failure};
use deepneuro_train::recipe::{RecipeOptions, RecipeReport};
use deepneuro_train::{LabelScheme, RunOverrides, TrainConfig, TrainError};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["config", "recipe"])))]
pub struct Args {
    /// The training config (TOML; see crates/train/configs/ for an example).
    /// Relative paths inside it are relative to its folder.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A built-in recipe instead of a config: `glioblastoma` trains the
    /// whole-tumour and enhancing-tumour U-Nets (crates/train/recipes/).
    #[arg(long, value_enum, requires_all = ["data", "output"])]
    pub recipe: Option<Recipe>,
    /// The recipe's data folder (BraTS layout: one folder per case); no
    /// default: required with --recipe.
    #[arg(long, requires = "recipe")]
    pub data: Option<PathBuf>,
    /// The recipe's output folder (checkpoints, logs, models.toml); no
    /// default: required with --recipe.
    #[arg(long, requires = "recipe")]
    pub output: Option<PathBuf>,
    /// BraTS label numbering: auto (detected from the label maps),
    /// brats2017 (enhancing = 4) or brats2023 (enhancing = 3).
    #[arg(long, default_value = "auto", value_parser = parse_scheme, requires = "recipe")]
    pub label_scheme: LabelScheme,
    /// A U-Net config (TOML or JSON) replacing the recipe's paper network in
    /// both nets (their input channels are kept), e.g. a small one for a CPU
    /// [default: the recipe's own network].
    #[arg(long, requires = "recipe")]
    pub model_config: Option<PathBuf>,
    /// Write the best weights also as f16 (best_f16.safetensors) and point
    /// models.toml at them.
    #[arg(long, requires = "recipe")]
    pub half: bool,
    /// Passes over the training cases [default: the config's or recipe's].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// At most this many optimisation steps per epoch [default: the
    /// config's or recipe's].
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Patches (or volumes) per optimisation step [default: the config's or
    /// recipe's].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// auto, cpu or cuda:N [default: the config's or recipe's].
    #[arg(long)]
    pub device: Option<String>,
    /// Seed of the weights, the split, the batch order and the augmentation
    /// [default: the config's or recipe's].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the training report (per-epoch metrics, checkpoints) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The built-in training recipes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipe {
    /// DeepNeuro's two cascaded glioblastoma U-Nets (whole, then enhancing tumour).
    Glioblastoma,
}

fn parse_scheme(s: &str) -> Result<LabelScheme, String> {
    s.parse()
}

fn fail(e: TrainError) -> Failure {
    // A bad config file is a bad input file (exit 3), like a bad volume.
    let code = match &e {
        TrainError::Device(_) => Code::Device,
        TrainError::Io { .. } => Code::Output,
        _ => Code::Input,
    };
    Failure::new(code, e)
}

pub fn run(a: &Args) -> Result<(), Failure> {
    tch_threads();
    deepneuro_core::tune_allocator();
    match (&a.config, a.recipe) {
        (Some(config), _) => run_config(a, config),
        (None, Some(Recipe::Glioblastoma)) => run_recipe(a),
        (None, None) => Err(Failure::new(Code::Usage, "give --config or --recipe")),
    }
}

fn run_config(a: &Args, path: &std::path::Path) -> Result<(), Failure> {
    let mut cfg = TrainConfig::from_file(path).map_err(|e| Failure::new(Code::Input, e))?;
    overrides(a).apply(&mut cfg);
    let base = path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."));
    let report = deepneuro_train::train(&cfg, &base).map_err(fail)?;
    if a.json {
        super::print_json(&report);
    } else {
        eprintln!(
            "trained {} epochs in {:.1} s; best epoch {}",
            report.epochs.len(),
            report.seconds,
            report.best_epoch
        );
    }
    Ok(())
}

fn overrides(a: &Args) -> RunOverrides {
    RunOverrides {
        epochs: a.epochs,
        steps_per_epoch: a.steps_per_epoch,
        batch_size: a.batch_size,
        device: a.device.clone(),
        seed: a.seed,
    }
}

fn run_recipe(a: &Args) -> Result<(), Failure> {
    let opts = RecipeOptions {
        data: a.data.clone().unwrap_or_default(),
        output: a.output.clone().unwrap_or_default(),
        label_scheme: a.label_scheme,
        model_config: a.model_config.clone(),
        overrides: overrides(a),
        half: a.half,
        quiet: a.json,
    };
    let report = deepneuro_train::recipe::glioblastoma(&opts).map_err(fail)?;
    if a.json {
        super::print_json(&json_report(&report));
    } else {
        for n in [&report.whole, &report.enhancing] {
            eprintln!(
                "{}: {} epochs in {:.1} s; best epoch {} (validation loss {}); {}",
                n.name,
                n.training.epochs.len(),
                n.seconds,
                n.best_epoch,
                n.val_loss.map_or("-".into(), |l| format!("{l:.4}")),
                n.weights.display()
            );
        }
        eprintln!("registry entries: {}", report.models_toml.display());
    }
    Ok(())
}

/// The recipe report without the per-epoch detail (that is in each net's
/// CSV log).
fn json_report(r: &RecipeReport) -> serde_json::Value {
    let net = |n: &deepneuro_train::recipe::NetReport| {
        serde_json::json!({
            "name": n.name,
            "best_epoch": n.best_epoch,
            "val_loss": n.val_loss,
            "val_dice": n.val_dice,
            "seconds": n.seconds,
            "epochs": n.training.epochs.len(),
            "stopped_early": n.training.stopped_early,
            "train_cases": n.training.train_cases.len(),
            "validation_cases": n.training.validation_cases.len(),
            "weights": n.weights,
        })
    };
    serde_json::json!({
        "recipe": r.recipe,
        "data": r.data,
        "naming": r.naming,
        "label_scheme": r.label_scheme,
        "whole": net(&r.whole),
        "enhancing": net(&r.enhancing),
        "models_toml": r.models_toml,
        "seconds": r.seconds,
    })
}

fn tch_threads() {
    deepneuro_core::tch::set_num_threads(deepneuro_core::cpu_threads() as i32);
}

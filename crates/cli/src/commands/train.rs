//! `deepneuro train --config X.toml`: trains a U-Net from a DataCollection
//! as the config says (deepneuro-train), writing checkpoints and a CSV log.

use crate::exit::{Code, Failure};
use deepneuro_train::{TrainConfig, TrainError};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The training config (TOML; see crates/train/configs/ for an example).
    /// Relative paths inside it are relative to its folder.
    #[arg(long)]
    pub config: PathBuf,
    /// Print the training report (per-epoch metrics, checkpoints) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
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
    let cfg = TrainConfig::from_file(&a.config).map_err(|e| Failure::new(Code::Input, e))?;
    tch_threads();
    deepneuro_core::tune_allocator();
    let base = a
        .config
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

fn tch_threads() {
    deepneuro_core::tch::set_num_threads(deepneuro_core::cpu_threads() as i32);
}

//! Training loops for deepneuro U-Nets from a `DataCollection`: a TOML
//! [`TrainConfig`] (model, data, optimiser, learning-rate schedule,
//! callbacks), [`train`] returning a [`TrainReport`], and
//! [`evaluate_dice`] to score a saved model on cases; [`recipe`] runs the
//! built-in recipes (several configs on one data folder, with registry
//! entries for the trained nets).
//!
//! The network trains on logits (its output activation removed) so that
//! cross-entropy losses are stable; checkpoints (`best.safetensors`,
//! `last.safetensors`, each with its `.json`) carry the configured
//! activation and load with `deepneuro_models::load_model`.

mod callbacks;
pub mod config;
mod data;
mod error;
mod labels;
mod loss;
mod optim;
pub mod recipe;
mod scaler;
pub mod schedule;
mod train;

pub use callbacks::CSV_COLUMNS;
pub use config::{
    CallbackConfig, DataConfig, EarlyStopping, LabelScheme, OptimizerConfig, OptimizerKind,
    RunOverrides, ScheduleConfig, ScheduleKind, TargetKind, TrainConfig,
};
pub use data::{evaluate_dice, predict_case, split_cases};
pub use error::TrainError;
pub use labels::detect_label_scheme;
pub use optim::Optimizer;
pub use scaler::GradScaler;
pub use train::{build_optimizer, pad_factor, train, train_step, EpochMetrics, TrainReport};

//! [`TrainConfig`]: a training run as a TOML file. Unknown keys are errors,
//! so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use deepneuro_models::UNetConfig;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// A training run: the model, the data, the optimiser and its schedule, and
/// the callbacks. Relative paths are relative to the config file's folder
/// (the `base_dir` given to [`crate::train`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The U-Net, inline (`[model]`); used when `model_config` is absent.
    pub model: UNetConfig,
    /// A U-Net config file (TOML or JSON) replacing `[model]`.
    pub model_config: Option<PathBuf>,
    /// Where the cases come from and how they become inputs and targets.
    pub data: DataConfig,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Passes over the training cases.
    pub epochs: usize,
    /// Rows (patches or volumes) per optimisation step.
    pub batch_size: usize,
    /// At most this many steps per epoch (all batches when absent).
    pub steps_per_epoch: Option<usize>,
    /// Seed of the weights, the split, the batch order and the augmentation.
    pub seed: u64,
    /// Background threads loading and augmenting cases.
    pub workers: usize,
    /// Logs, checkpoints, early stopping, progress bar.
    pub callbacks: CallbackConfig,
    /// Automatic mixed precision (CUDA only; ignored on the CPU): the forward
    /// pass under autocast, the loss scaled dynamically (`GradScaler`).
    pub mixed_precision: bool,
    /// `auto`, `cpu` or `cuda:N`.
    pub device: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: UNetConfig::default(),
            model_config: None,
            data: DataConfig::default(),
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            epochs: 10,
            batch_size: 4,
            steps_per_epoch: None,
            seed: 0,
            workers: 2,
            callbacks: CallbackConfig::default(),
            mixed_precision: false,
            device: "auto".into(),
        }
    }
}

/// What the network learns to predict from the target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// One channel: label > 0 (for BraTS, the whole tumour).
    #[default]
    Binary,
    /// One channel per entry of `data.labels` (plus a background channel
    /// first when the model has one more output).
    Labels,
    /// One channel: the BraTS whole tumour, label > 0 (as `binary`; named
    /// for recipes and configs that say what they learn).
    WholeTumour,
    /// One channel: the BraTS enhancing tumour, label 4 (BraTS 2017-2021)
    /// or 3 (BraTS 2023 and later) as `data.label_scheme` says.
    EnhancingTumour,
}

/// How a BraTS label map numbers the tumour sub-regions. Both schemes give
/// 1 to the necrotic (and non-enhancing) core and 2 to the oedema; they
/// differ in the enhancing tumour's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelScheme {
    /// Detected from the labels of the training cases' label maps: any 4
    /// is BraTS 2017, a 3 and no 4 is BraTS 2023 (see
    /// [`crate::detect_label_scheme`]).
    #[default]
    Auto,
    /// BraTS 2017-2021: 1 necrosis and non-enhancing core, 2 oedema, 4
    /// enhancing tumour.
    Brats2017,
    /// BraTS 2023 and later: 1 necrotic core, 2 oedema, 3 enhancing tumour.
    Brats2023,
}

impl LabelScheme {
    /// The enhancing tumour's label; `None` while the scheme is `auto`.
    pub fn enhancing_label(self) -> Option<i32> {
        match self {
            LabelScheme::Auto => None,
            LabelScheme::Brats2017 => Some(4),
            LabelScheme::Brats2023 => Some(3),
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LabelScheme::Auto => "auto",
            LabelScheme::Brats2017 => "brats2017",
            LabelScheme::Brats2023 => "brats2023",
        }
    }
}

impl std::str::FromStr for LabelScheme {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(LabelScheme::Auto),
            "brats2017" => Ok(LabelScheme::Brats2017),
            "brats2023" => Ok(LabelScheme::Brats2023),
            _ => Err(format!(
                "unknown label scheme {s:?} (expected auto, brats2017 or brats2023)"
            )),
        }
    }
}

/// The data section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A folder of case folders, a `.csv` case list or an HDF5 dataset.
    pub source: Option<PathBuf>,
    /// Group name → filename patterns, one per channel (folder sources).
    pub groups: BTreeMap<String, Vec<String>>,
    /// The group fed to the network.
    pub input_group: String,
    /// The group holding the label map.
    pub target_group: String,
    /// How the label map becomes the target.
    pub target: TargetKind,
    /// Labels of `target = "labels"`, one output channel each.
    pub labels: Vec<i32>,
    /// The BraTS label numbering, read by `target = "enhancing_tumour"`.
    pub label_scheme: LabelScheme,
    /// Appends the binarised label map (label > 0, the whole tumour) to the
    /// input group as its last channel: after normalisation, so it stays
    /// exactly 0 or 1, and before augmentation, so patches and flips move
    /// it with the image. Intensity augmentations of the input group would
    /// change it too; restrict them with `groups=` when this is set.
    pub append_whole_tumour_channel: bool,
    /// Z-score each input channel over its non-zero voxels (the brain), on
    /// the whole case before augmentation; background stays 0.
    pub normalize: bool,
    /// Training augmentation (`deepneuro_augment::parse` syntax), e.g. patches.
    pub augment: String,
    /// Fraction of the cases held out for validation (seeded draw).
    pub validation_split: f64,
    /// Augmentation of validation cases (e.g. a fixed patch draw); empty
    /// validates on whole volumes.
    pub validation_augment: String,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: None,
            groups: deepneuro_data::brats_groups().into_iter().collect(),
            input_group: "input".into(),
            target_group: "ground_truth".into(),
            target: TargetKind::Binary,
            labels: vec![1, 2, 4],
            label_scheme: LabelScheme::Auto,
            append_whole_tumour_channel: false,
            normalize: true,
            augment: String::new(),
            validation_split: 0.2,
            validation_augment: String::new(),
        }
    }
}

/// The optimisers, each as its `torch.optim` counterpart computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam (weight decay added to the gradient, as PyTorch's `Adam`).
    #[default]
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
    /// Stochastic gradient descent with optional (Nesterov) momentum.
    Sgd,
    /// NAdam (Adam with Nesterov momentum), as PyTorch's `NAdam` (momentum
    /// decay 0.004, weight decay added to the gradient).
    Nadam,
}

/// The optimiser section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Which optimiser.
    pub kind: OptimizerKind,
    /// Initial learning rate; the model's `initial_learning_rate` when absent.
    pub learning_rate: Option<f64>,
    /// Weight decay (L2 for adam, nadam and sgd, decoupled for adamw).
    pub weight_decay: f64,
    /// Adam's (and NAdam's) first-moment decay.
    pub beta1: f64,
    /// Adam's (and NAdam's) second-moment decay.
    pub beta2: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD Nesterov momentum.
    pub nesterov: bool,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            learning_rate: None,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            momentum: 0.0,
            nesterov: false,
        }
    }
}

/// Learning-rate schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// The initial rate throughout.
    #[default]
    Constant,
    /// Multiplied by `gamma` every `step_size` epochs (PyTorch's `StepLR`).
    Step,
    /// Cosine from the initial rate to `eta_min` over `t_max` epochs
    /// (PyTorch's `CosineAnnealingLR`).
    Cosine,
    /// Triangular between `base_lr` and `max_lr`, half a cycle being
    /// `step_size` optimisation steps (PyTorch's `CyclicLR`, `triangular`).
    Cyclic,
}

/// The schedule section; each kind reads its own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Which schedule.
    pub kind: ScheduleKind,
    /// `step`: epochs between decays; `cyclic`: steps per half cycle.
    pub step_size: usize,
    /// `step`: the decay factor.
    pub gamma: f64,
    /// `cosine`: epochs of the half period.
    pub t_max: usize,
    /// `cosine`: the final rate.
    pub eta_min: f64,
    /// `cyclic`: the lower rate (the initial rate when absent).
    pub base_lr: Option<f64>,
    /// `cyclic`: the upper rate.
    pub max_lr: Option<f64>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            kind: ScheduleKind::Constant,
            step_size: 10,
            gamma: 0.1,
            t_max: 10,
            eta_min: 0.0,
            base_lr: None,
            max_lr: None,
        }
    }
}

/// Early stopping on the validation loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The smallest decrease that counts as an improvement.
    pub min_delta: f64,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            patience: 10,
            min_delta: 0.0,
        }
    }
}

/// The callbacks section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackConfig {
    /// CSV log, one row per epoch (columns: [`crate::CSV_COLUMNS`]).
    pub csv_log: Option<PathBuf>,
    /// Folder of `best.safetensors` (lowest validation loss) and
    /// `last.safetensors`, each with its `.json` config.
    pub checkpoint_dir: Option<PathBuf>,
    /// Stop when the validation loss stops improving.
    pub early_stopping: Option<EarlyStopping>,
    /// A progress bar with loss and ETA when stderr is a terminal.
    pub progress: bool,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig {
            csv_log: None,
            checkpoint_dir: None,
            early_stopping: None,
            progress: true,
        }
    }
}

/// One line for a TOML error: the message and the line it points at.
fn toml_reason(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().lines().next().unwrap_or("").trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

impl TrainConfig {
    /// Parses a TOML config (`model_config` is resolved by [`crate::train`]).
    pub fn from_toml(text: &str) -> Result<Self, TrainError> {
        toml::from_str(text).map_err(|e| TrainError::ConfigFile {
            path: PathBuf::from("<inline>"),
            reason: toml_reason(text, &e),
        })
    }

    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::ConfigFile {
            path: path.to_path_buf(),
            reason: toml_reason(&text, &e),
        })
    }

    /// The U-Net config in effect: `model_config` (relative to `base_dir`)
    /// or the inline `[model]`, validated.
    pub fn unet_config(&self, base_dir: &Path) -> Result<UNetConfig, TrainError> {
        let cfg = match &self.model_config {
            Some(p) => UNetConfig::from_file(&base_dir.join(p))?,
            None => self.model.clone(),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the values serde cannot: ranges and combinations.
    pub fn validate(&self, model: &UNetConfig) -> Result<(), TrainError> {
        let bad = |f: &str, r: String| Err(TrainError::config(f, r));
        if self.data.source.is_none() {
            return bad("data.source", "missing (a folder, .csv or .h5)".into());
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.data.validation_split) {
            return bad("data.validation_split", "must be in [0, 1)".into());
        }
        for g in [&self.data.input_group, &self.data.target_group] {
            if !self.data.groups.is_empty() && !self.data.groups.contains_key(g) {
                return bad(
                    "data.groups",
                    format!(
                        "group {g:?} is not defined (have: {:?})",
                        self.data.groups.keys().collect::<Vec<_>>()
                    ),
                );
            }
        }
        let want = match self.data.target {
            TargetKind::Binary | TargetKind::WholeTumour | TargetKind::EnhancingTumour => vec![1],
            TargetKind::Labels => vec![
                self.data.labels.len() as i64,
                self.data.labels.len() as i64 + 1,
            ],
        };
        if !want.contains(&model.num_outputs) {
            return bad(
                "model.num_outputs",
                format!(
                    "{} does not fit target {:?} (expected {:?})",
                    model.num_outputs, self.data.target, want
                ),
            );
        }
        self.check_channels(model)?;
        if self.lr(model) <= 0.0 || !self.lr(model).is_finite() {
            return bad("optimizer.learning_rate", "must be positive".into());
        }
        if self.optimizer.nesterov && self.optimizer.kind != OptimizerKind::Sgd {
            return bad(
                "optimizer.nesterov",
                "only applies to kind = \"sgd\"".into(),
            );
        }
        let s = &self.schedule;
        match s.kind {
            ScheduleKind::Step if s.step_size == 0 => {
                bad("schedule.step_size", "must be at least 1".into())
            }
            ScheduleKind::Cosine if s.t_max == 0 => {
                bad("schedule.t_max", "must be at least 1".into())
            }
            ScheduleKind::Cyclic if s.step_size == 0 => {
                bad("schedule.step_size", "must be at least 1".into())
            }
            ScheduleKind::Cyclic if s.max_lr.is_none() => {
                bad("schedule.max_lr", "required by kind = \"cyclic\"".into())
            }
            _ => Ok(()),
        }?;
        if let Err(e) = crate::loss::check(&model.cost_function) {
            return bad("model.cost_function", e);
        }
        Ok(())
    }

    /// The model's input channels against the input group's patterns (plus
    /// the appended whole-tumour channel) of a folder source; other sources
    /// are checked when the first batch meets the network.
    fn check_channels(&self, model: &UNetConfig) -> Result<(), TrainError> {
        let ext = self
            .data
            .source
            .as_ref()
            .and_then(|s| s.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        // CSV and HDF5 sources select groups by name; the patterns (the
        // BraTS default unless set) do not count their channels.
        if matches!(ext.as_deref(), Some("csv" | "h5" | "hdf5" | "hdf")) {
            return Ok(());
        }
        let Some(patterns) = self.data.groups.get(&self.data.input_group) else {
            return Ok(());
        };
        let extra = usize::from(self.data.append_whole_tumour_channel);
        let want = (patterns.len() + extra) as i64;
        if model.in_channels() == want {
            return Ok(());
        }
        Err(TrainError::config(
            "model.input_shape",
            format!(
                "the last entry is {} but the data give {want} channel(s) ({} in group {:?}{})",
                model.in_channels(),
                patterns.len(),
                self.data.input_group,
                if extra == 1 {
                    " plus the whole tumour"
                } else {
                    ""
                }
            ),
        ))
    }

    /// The initial learning rate.
    pub fn lr(&self, model: &UNetConfig) -> f64 {
        self.optimizer
            .learning_rate
            .unwrap_or(model.initial_learning_rate)
    }
}

/// Command-line values that replace a config's (`deepneuro train --epochs`
/// and friends), for a config file and for each net of a recipe alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOverrides {
    /// Passes over the training cases.
    pub epochs: Option<usize>,
    /// At most this many optimisation steps per epoch.
    pub steps_per_epoch: Option<usize>,
    /// Patches per optimisation step.
    pub batch_size: Option<usize>,
    /// `auto`, `cpu` or `cuda:N`.
    pub device: Option<String>,
    /// Seed of the weights, the split, the batch order and the augmentation.
    pub seed: Option<u64>,
}

impl RunOverrides {
    /// Replaces the values of `cfg` that are given here.
    pub fn apply(&self, cfg: &mut TrainConfig) {
        cfg.epochs = self.epochs.unwrap_or(cfg.epochs);
        cfg.steps_per_epoch = self.steps_per_epoch.or(cfg.steps_per_epoch);
        cfg.batch_size = self.batch_size.unwrap_or(cfg.batch_size);
        cfg.seed = self.seed.unwrap_or(cfg.seed);
        if let Some(d) = &self.device {
            cfg.device = d.clone();
        }
    }
}

//! The training loop.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use deepneuro_augment::Augmentation;
use deepneuro_data::{BatchOptions, Batches, CollectionOptions, DataCollection};
use deepneuro_models::{OutputActivation, UNet, UNetConfig};
use serde::Serialize;
use tch::Tensor;

use crate::callbacks::{save_checkpoint, CsvLog, Monitor};
use crate::config::{LabelScheme, OptimizerConfig, TargetKind, TrainConfig};
use crate::data::{add_counts, case_samples, dice_counts, dice_from_counts, padded_forward};
use crate::data::{split_cases, to_tensor, Prepare};
use crate::loss::{activate, loss};
use crate::optim::Optimizer;
use crate::scaler::GradScaler;
use crate::schedule::learning_rate;
use crate::TrainError;

/// The optimiser a config asks for, over every trainable variable of `net`.
pub fn build_optimizer(o: &OptimizerConfig, net: &UNet, lr0: f64) -> Result<Optimizer, TrainError> {
    Ok(Optimizer::new(
        o,
        net.var_store().trainable_variables(),
        lr0,
    )?)
}

/// One optimisation step of the training loop: forward in training mode,
/// the loss `cost` of the logits against `t`, backward, update. With an
/// enabled `scaler` this is mixed precision as PyTorch's recipe has it: the
/// forward pass under autocast, the loss scaled for the backward pass, and
/// a step whose gradients overflowed skipped. Returns the loss, whose
/// read-back also waits for the device, so timing a call times the whole
/// step.
pub fn train_step(
    net: &UNet,
    opt: &mut Optimizer,
    x: &Tensor,
    t: &Tensor,
    cost: &str,
    act: OutputActivation,
    scaler: &mut GradScaler,
) -> Result<f64, TrainError> {
    let l = deepneuro_core::autocast(scaler.is_enabled(), || -> Result<Tensor, TrainError> {
        let logits = net.forward_t(x, true)?;
        loss(cost, &logits, t, act)
    })?;
    scaler.backward_step(&l, opt)?;
    Ok(l.f_double_value(&[])?)
}

/// The metrics of one epoch (one CSV row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Mean validation loss (`None` without validation cases).
    pub val_loss: Option<f64>,
    /// Mean per-case validation Dice (`None` without validation cases).
    pub val_dice: Option<f64>,
    /// The learning rate at the epoch's start.
    pub learning_rate: f64,
    /// Seconds since training started.
    pub seconds: f64,
}

/// What a training run did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// One entry per epoch run.
    pub epochs: Vec<EpochMetrics>,
    /// The epoch (from 1) with the lowest validation loss (training loss
    /// without validation cases).
    pub best_epoch: usize,
    /// `checkpoint_dir/best.safetensors`, when checkpoints are written.
    pub best_checkpoint: Option<PathBuf>,
    /// `checkpoint_dir/last.safetensors`, when checkpoints are written.
    pub last_checkpoint: Option<PathBuf>,
    /// The BraTS label scheme in effect (`auto` when the target needs
    /// none and none was set).
    pub label_scheme: LabelScheme,
    /// Case ids trained on.
    pub train_cases: Vec<String>,
    /// Case ids validated on.
    pub validation_cases: Vec<String>,
    /// True when early stopping ended the run.
    pub stopped_early: bool,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// The size every spatial axis must be a multiple of (`pool^(depth - 1)`).
pub fn pad_factor(cfg: &UNetConfig) -> Result<Vec<i64>, TrainError> {
    Ok(cfg
        .pool()?
        .iter()
        .map(|p| p.pow(cfg.depth.saturating_sub(1) as u32))
        .collect())
}

/// Trains the U-Net of `cfg` on its data; relative paths in `cfg` are
/// relative to `base_dir`. Deterministic for a seed on the CPU.
pub fn train(cfg: &TrainConfig, base_dir: &Path) -> Result<TrainReport, TrainError> {
    let start = Instant::now();
    let model_cfg = cfg.unet_config(base_dir)?;
    cfg.validate(&model_cfg)?;
    let device =
        deepneuro_core::parse_device(&cfg.device).map_err(|e| TrainError::Device(e.to_string()))?;
    let source = base_dir.join(cfg.data.source.as_ref().expect("validated"));
    let groups: Vec<(String, Vec<String>)> = cfg.data.groups.clone().into_iter().collect();
    let options = CollectionOptions {
        label_groups: vec![cfg.data.target_group.clone()],
        ..Default::default()
    };
    let collection = Arc::new(DataCollection::open(&source, &groups, &options)?);
    for g in [&cfg.data.input_group, &cfg.data.target_group] {
        if !collection.groups().iter().any(|s| &s.name == g) {
            return Err(TrainError::config(
                "data.groups",
                format!("group {g:?} is not in {}", source.display()),
            ));
        }
    }
    let (train_idx, val_idx) = split_cases(collection.len(), cfg.data.validation_split, cfg.seed);
    let ids = |v: &[usize]| -> Vec<String> {
        v.iter()
            .map(|&i| collection.cases()[i].id().to_string())
            .collect()
    };
    let (train_ids, val_ids) = (ids(&train_idx), ids(&val_idx));
    if train_ids.is_empty() {
        return Err(TrainError::config("data.source", "no training cases"));
    }
    let background = cfg.data.target == TargetKind::Labels
        && model_cfg.num_outputs as usize == cfg.data.labels.len() + 1;
    let data = crate::labels::resolve(&cfg.data, &collection, &train_idx)?;
    let keep = train_ids.iter().cloned().collect::<HashSet<_>>();
    let train_prep = Arc::new(Prepare::new(&data, Some(keep), background, &data.augment)?);
    let val_prep = Prepare::new(&data, None, background, &data.validation_augment)?;

    tch::manual_seed(cfg.seed as i64);
    // The loop trains on logits (stable cross-entropy); checkpoints carry the
    // configured activation.
    let act = model_cfg.output_activation;
    let mut logits_cfg = model_cfg.clone();
    logits_cfg.output_activation = OutputActivation::None;
    let net = UNet::new(logits_cfg, device)?;
    let lr0 = cfg.lr(&model_cfg);
    let mut opt = build_optimizer(&cfg.optimizer, &net, lr0)?;
    let factor = pad_factor(&model_cfg)?;
    let mut scaler = GradScaler::new(cfg.mixed_precision && device.is_cuda());

    let batches = Batches::new(
        collection.clone(),
        Some(train_prep as Arc<dyn Augmentation>),
        &BatchOptions {
            batch_size: cfg.batch_size,
            shuffle: true,
            seed: cfg.seed,
            epochs: cfg.epochs,
            workers: cfg.workers,
            prefetch: cfg.workers.max(2),
            ..Default::default()
        },
    )?;
    let mut csv = match &cfg.callbacks.csv_log {
        Some(p) => Some(CsvLog::create(&base_dir.join(p))?),
        None => None,
    };
    let ckpt_dir = cfg
        .callbacks
        .checkpoint_dir
        .as_ref()
        .map(|d| base_dir.join(d));
    let min_delta = cfg
        .callbacks
        .early_stopping
        .as_ref()
        .map_or(0.0, |e| e.min_delta);
    let bar = progress_bar(cfg);

    let mut monitor = Monitor::default();
    let mut report = TrainReport {
        epochs: Vec::new(),
        best_epoch: 0,
        best_checkpoint: None,
        last_checkpoint: None,
        label_scheme: data.label_scheme,
        train_cases: train_ids,
        validation_cases: val_ids,
        stopped_early: false,
        seconds: 0.0,
    };
    let (mut step, mut epoch_steps, mut loss_sum) = (0usize, 0usize, 0f64);
    let mut current = 0usize;
    let mut batches = batches;
    while current < cfg.epochs {
        let next = batches.next().transpose()?;
        let epoch_done = match &next {
            None => true,
            Some(b) => b.epoch != current,
        };
        if epoch_done {
            let lr = learning_rate(&cfg.schedule, lr0, current, 0);
            let (val_loss, val_dice) = validate(
                &net,
                &collection,
                &val_idx,
                &val_prep,
                cfg,
                &model_cfg.cost_function,
                act,
                &factor,
            )?;
            let train_loss = loss_sum / epoch_steps.max(1) as f64;
            let m = EpochMetrics {
                epoch: current + 1,
                train_loss,
                val_loss,
                val_dice,
                learning_rate: lr,
                seconds: start.elapsed().as_secs_f64(),
            };
            tracing::info!(
                epoch = m.epoch,
                train_loss,
                ?val_loss,
                ?val_dice,
                "epoch done"
            );
            if let Some(c) = csv.as_mut() {
                c.row(&m)?;
            }
            let monitored = val_loss.unwrap_or(train_loss);
            if monitor.update(current + 1, monitored, min_delta) {
                report.best_epoch = current + 1;
                if let Some(d) = &ckpt_dir {
                    let p = d.join("best.safetensors");
                    save_checkpoint(&net, &model_cfg, &p)?;
                    report.best_checkpoint = Some(p);
                }
            }
            if let Some(d) = &ckpt_dir {
                let p = d.join("last.safetensors");
                save_checkpoint(&net, &model_cfg, &p)?;
                report.last_checkpoint = Some(p);
            }
            report.epochs.push(m);
            current += 1;
            (epoch_steps, loss_sum) = (0, 0.0);
            if let Some(es) = &cfg.callbacks.early_stopping {
                if monitor.stale >= es.patience && current < cfg.epochs {
                    report.stopped_early = true;
                    break;
                }
            }
            if next.is_none() {
                // The stream ended (e.g. every case failed): later epochs have no data.
                break;
            }
        }
        let Some(batch) = next else { continue };
        if cfg.steps_per_epoch.is_some_and(|cap| epoch_steps >= cap) {
            continue;
        }
        let lr = learning_rate(&cfg.schedule, lr0, batch.epoch, step);
        opt.set_lr(lr);
        let x = to_tensor(&batch.groups[&cfg.data.input_group], device)?;
        let t = to_tensor(&batch.groups[&cfg.data.target_group], device)?;
        let lv = train_step(
            &net,
            &mut opt,
            &x,
            &t,
            &model_cfg.cost_function,
            act,
            &mut scaler,
        )?;
        if !lv.is_finite() {
            return Err(TrainError::config(
                "optimizer.learning_rate",
                format!(
                    "the loss became {lv} at epoch {} (lower the learning rate)",
                    batch.epoch + 1
                ),
            ));
        }
        loss_sum += lv;
        epoch_steps += 1;
        step += 1;
        if let Some(b) = &bar {
            b.set_message(format!("epoch {} loss {lv:.4}", batch.epoch + 1));
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Mean loss and mean per-case Dice on the validation cases (whole volumes
/// or the validation augmentation's draw), in evaluation mode.
#[allow(clippy::too_many_arguments)]
fn validate(
    net: &UNet,
    collection: &DataCollection,
    cases: &[usize],
    prep: &Prepare,
    cfg: &TrainConfig,
    cost: &str,
    act: OutputActivation,
    factor: &[i64],
) -> Result<(Option<f64>, Option<f64>), TrainError> {
    if cases.is_empty() {
        return Ok((None, None));
    }
    let (mut loss_sum, mut n, mut dice_sum) = (0f64, 0usize, 0f64);
    tch::no_grad(|| -> Result<(), TrainError> {
        for &i in cases {
            let mut counts = Vec::new();
            for s in case_samples(collection, i, prep, 0)? {
                let x =
                    to_tensor(&s.groups[&cfg.data.input_group], net.device())?.f_unsqueeze(0)?;
                let t =
                    to_tensor(&s.groups[&cfg.data.target_group], net.device())?.f_unsqueeze(0)?;
                let logits = padded_forward(&x, factor, &|x| Ok(net.forward_t(x, false)?))?;
                loss_sum += loss(cost, &logits, &t, act)?.f_double_value(&[])?;
                n += 1;
                add_counts(&mut counts, &dice_counts(&activate(&logits, act)?, &t)?);
            }
            dice_sum += dice_from_counts(&counts);
        }
        Ok(())
    })?;
    Ok((
        Some(loss_sum / n.max(1) as f64),
        Some(dice_sum / cases.len() as f64),
    ))
}

fn progress_bar(cfg: &TrainConfig) -> Option<indicatif::ProgressBar> {
    if !cfg.callbacks.progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::no_length();
    if let Some(cap) = cfg.steps_per_epoch {
        bar.set_length((cap * cfg.epochs) as u64);
    }
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

//! The training loss named by the model's `cost_function`, on logits.
//!
//! The network is trained without its output activation so that the
//! cross-entropy losses get logits (numerically stable); the activation is
//! applied here for the losses that need probabilities.

use deepneuro_models::losses::{
    binary_cross_entropy, categorical_cross_entropy, dice_ce_loss, focal_loss, soft_dice_loss,
    DiceCeOptions, DiceOptions,
};
use deepneuro_models::OutputActivation;
use tch::Tensor;

use crate::TrainError;

/// The losses a segmentation run can train with.
const TRAINABLE: &[&str] = &[
    "dice",
    "dice_ce",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "focal",
];

/// Checks that `name` is a loss this crate trains with.
pub(crate) fn check(name: &str) -> Result<(), String> {
    if TRAINABLE.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot train a segmentation U-Net (use one of {})",
            TRAINABLE.join(", ")
        ))
    }
}

/// Probabilities from logits: the config's activation, or sigmoid (one
/// channel) / softmax (several) when the config has none.
pub(crate) fn activate(logits: &Tensor, act: OutputActivation) -> Result<Tensor, TrainError> {
    let channels = logits.size().get(1).copied().unwrap_or(1);
    Ok(match act {
        OutputActivation::Sigmoid => logits.f_sigmoid()?,
        OutputActivation::Softmax => logits.f_softmax(1, tch::Kind::Float)?,
        OutputActivation::None if channels == 1 => logits.f_sigmoid()?,
        OutputActivation::None => logits.f_softmax(1, tch::Kind::Float)?,
    })
}

/// The loss `name` of `logits` against `target` (both `[n, c, x, y, z]`).
pub(crate) fn loss(
    name: &str,
    logits: &Tensor,
    target: &Tensor,
    act: OutputActivation,
) -> Result<Tensor, TrainError> {
    // Under autocast the logits may be half precision; losses sum in f32.
    let logits = logits.f_to_kind(tch::Kind::Float)?;
    Ok(match name {
        "dice" => soft_dice_loss(&activate(&logits, act)?, target, &DiceOptions::default())?,
        "dice_ce" => dice_ce_loss(&logits, target, &DiceCeOptions::default())?,
        "binary_cross_entropy" => binary_cross_entropy(&logits, target)?,
        "categorical_cross_entropy" => categorical_cross_entropy(&logits, target)?,
        "focal" => focal_loss(&logits, target, 2.0, None)?,
        other => {
            return Err(TrainError::config(
                "model.cost_function",
                check(other).err().unwrap_or_default(),
            ))
        }
    })
}

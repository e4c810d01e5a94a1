//! Losses on tensors, differentiable through libtorch's autograd.
//!
//! Shapes are `[n, c, ...spatial]` for predictions and targets alike
//! (targets one-hot or binary, as floats). Definitions follow MONAI 1.6
//! (`DiceLoss`, `DiceCELoss`, `FocalLoss`) and PyTorch
//! (`binary_cross_entropy_with_logits`, `cross_entropy` with probability
//! targets); the tests compare values and gradients against them.

use tch::{Kind, Reduction, TchError, Tensor};

use crate::ModelError;

/// Options of the soft Dice loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiceOptions {
    /// Added to the numerator `2 * sum(p * t)` (MONAI's `smooth_nr`).
    pub smooth_nr: f64,
    /// Added to the denominator `sum(p) + sum(t)` (MONAI's `smooth_dr`).
    pub smooth_dr: f64,
    /// Sum over the batch too, giving one Dice per channel instead of per (sample, channel).
    pub batch: bool,
    /// Keep channel 0 (set false to ignore the background of a one-hot target).
    pub include_background: bool,
}

impl Default for DiceOptions {
    /// MONAI's defaults: `smooth_nr = smooth_dr = 1e-5`, per sample, with background.
    fn default() -> Self {
        DiceOptions {
            smooth_nr: 1e-5,
            smooth_dr: 1e-5,
            batch: false,
            include_background: true,
        }
    }
}

fn same_shape(what: &str, a: &Tensor, b: &Tensor) -> Result<(), ModelError> {
    if a.size() != b.size() || a.dim() < 3 {
        return Err(ModelError::BadInput {
            shape: a.size(),
            reason: format!(
                "{what}: prediction and target must both be [n, c, ...spatial]; the target is {:?}",
                b.size()
            ),
        });
    }
    Ok(())
}

/// Soft Dice loss on probabilities `pred`: for each (sample, channel) (or
/// each channel with `batch`), `1 - (2 sum(p t) + smooth_nr) / (sum(p) +
/// sum(t) + smooth_dr)` over the spatial axes, averaged.
pub fn soft_dice_loss(
    pred: &Tensor,
    target: &Tensor,
    opts: &DiceOptions,
) -> Result<Tensor, ModelError> {
    same_shape("soft Dice", pred, target)?;
    let c = pred.size()[1];
    let (p, t) = if !opts.include_background && c > 1 {
        (pred.f_narrow(1, 1, c - 1)?, target.f_narrow(1, 1, c - 1)?)
    } else {
        (pred.shallow_clone(), target.shallow_clone())
    };
    let mut axes: Vec<i64> = (2..p.dim() as i64).collect();
    if opts.batch {
        axes.insert(0, 0);
    }
    let sum = |x: &Tensor| x.f_sum_dim_intlist(axes.as_slice(), false, Kind::Float);
    let inter = sum(&p.f_mul(&t)?)?;
    let denom = sum(&p)?.f_add(&sum(&t)?)?;
    let ratio = inter
        .f_mul_scalar(2.0)?
        .f_add_scalar(opts.smooth_nr)?
        .f_div(&denom.f_add_scalar(opts.smooth_dr)?)?;
    Ok(ratio.f_neg()?.f_add_scalar(1.0)?.f_mean(Kind::Float)?)
}

/// Binary cross-entropy on logits, averaged over every element
/// (PyTorch's `binary_cross_entropy_with_logits`).
pub fn binary_cross_entropy(logits: &Tensor, target: &Tensor) -> Result<Tensor, ModelError> {
    same_shape("binary cross-entropy", logits, target)?;
    Ok(logits.f_binary_cross_entropy_with_logits(
        target,
        None::<Tensor>,
        None::<Tensor>,
        Reduction::Mean,
    )?)
}

/// Categorical cross-entropy on logits with probability (one-hot) targets on
/// axis 1: `-sum_c t_c log softmax(logits)_c`, averaged over samples and
/// voxels (PyTorch's `cross_entropy` with probability targets).
pub fn categorical_cross_entropy(logits: &Tensor, target: &Tensor) -> Result<Tensor, ModelError> {
    same_shape("categorical cross-entropy", logits, target)?;
    let logp = logits.f_log_softmax(1, Kind::Float)?;
    Ok(logp
        .f_mul(target)?
        .f_sum_dim_intlist(&[1i64][..], false, Kind::Float)?
        .f_mean(Kind::Float)?
        .f_neg()?)
}

/// Options of [`dice_ce_loss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiceCeOptions {
    /// The Dice part.
    pub dice: DiceOptions,
    /// Weight of the Dice part.
    pub lambda_dice: f64,
    /// Weight of the cross-entropy part.
    pub lambda_ce: f64,
}

impl Default for DiceCeOptions {
    fn default() -> Self {
        DiceCeOptions {
            dice: DiceOptions::default(),
            lambda_dice: 1.0,
            lambda_ce: 1.0,
        }
    }
}

/// Dice + cross-entropy on logits, as MONAI's `DiceCELoss`: with several
/// channels, Dice of `softmax(logits)` plus categorical cross-entropy; with
/// one channel, Dice of `sigmoid(logits)` plus binary cross-entropy.
pub fn dice_ce_loss(
    logits: &Tensor,
    target: &Tensor,
    opts: &DiceCeOptions,
) -> Result<Tensor, ModelError> {
    same_shape("Dice + cross-entropy", logits, target)?;
    let (probs, ce) = if logits.size()[1] == 1 {
        (logits.f_sigmoid()?, binary_cross_entropy(logits, target)?)
    } else {
        (
            logits.f_softmax(1, Kind::Float)?,
            categorical_cross_entropy(logits, target)?,
        )
    };
    let dice = soft_dice_loss(&probs, target, &opts.dice)?;
    Ok(dice
        .f_mul_scalar(opts.lambda_dice)?
        .f_add(&ce.f_mul_scalar(opts.lambda_ce)?)?)
}

/// Sigmoid focal loss on logits with binary targets (Lin et al. 2017, MONAI's
/// `FocalLoss(use_softmax=False)`): `alpha_t (1 - p_t)^gamma BCE`, where
/// `alpha_t` is `alpha` for positives and `1 - alpha` for negatives (1 when
/// `alpha` is `None`), averaged over every element.
pub fn focal_loss(
    logits: &Tensor,
    target: &Tensor,
    gamma: f64,
    alpha: Option<f64>,
) -> Result<Tensor, ModelError> {
    same_shape("focal", logits, target)?;
    let x = logits;
    // x - x t - log(sigmoid(x)) is the binary cross-entropy written so that it never overflows.
    let bce = x.f_sub(&x.f_mul(target)?)?.f_sub(&x.f_log_sigmoid()?)?;
    // log(1 - p_t) = logsigmoid(-x (2t - 1)), again without overflow.
    let sign = target.f_mul_scalar(2.0)?.f_sub_scalar(1.0)?;
    let log_inv = x.f_neg()?.f_mul(&sign)?.f_log_sigmoid()?;
    let mut loss = log_inv.f_mul_scalar(gamma)?.f_exp()?.f_mul(&bce)?;
    if let Some(a) = alpha {
        let neg = target.f_neg()?.f_add_scalar(1.0)?.f_mul_scalar(1.0 - a)?;
        loss = loss.f_mul(&target.f_mul_scalar(a)?.f_add(&neg)?)?;
    }
    Ok(loss.f_mean(Kind::Float)?)
}

/// The gradient penalty of WGAN-GP (Gulrajani et al. 2017):
/// `mean((||grad critic(x_hat)||_2 - 1)^2)` per sample, at
/// `x_hat = eps real + (1 - eps) fake` (`eps` broadcasts, e.g. `[n, 1, ...]`).
/// The gradient is taken with `create_graph`, so the penalty is itself
/// differentiable with respect to the critic's weights.
pub fn gradient_penalty<F>(
    critic: F,
    real: &Tensor,
    fake: &Tensor,
    eps: &Tensor,
) -> Result<Tensor, ModelError>
where
    F: Fn(&Tensor) -> Result<Tensor, TchError>,
{
    same_shape("gradient penalty", real, fake)?;
    let one_minus = eps.f_neg()?.f_add_scalar(1.0)?;
    let x_hat = real
        .detach()
        .f_mul(eps)?
        .f_add(&fake.detach().f_mul(&one_minus)?)?
        .set_requires_grad(true);
    let score = critic(&x_hat)?.f_sum(Kind::Float)?;
    let grads = Tensor::f_run_backward(&[&score], &[&x_hat], true, true)?;
    let grad = grads.into_iter().next().ok_or_else(|| {
        ModelError::Torch(TchError::Torch("autograd returned no gradient".into()))
    })?;
    let norms = grad
        .f_flatten(1, -1)?
        .f_norm_scalaropt_dim(2, &[1i64][..], false)?;
    Ok(norms.f_sub_scalar(1.0)?.f_square()?.f_mean(Kind::Float)?)
}

/// The WGAN-GP critic loss: `mean(critic(fake)) - mean(critic(real)) +
/// lambda * gradient_penalty`.
pub fn wasserstein_critic_loss<F>(
    critic: F,
    real: &Tensor,
    fake: &Tensor,
    eps: &Tensor,
    lambda: f64,
) -> Result<Tensor, ModelError>
where
    F: Fn(&Tensor) -> Result<Tensor, TchError>,
{
    let gp = gradient_penalty(&critic, real, fake, eps)?;
    let d_fake = critic(fake)?.f_mean(Kind::Float)?;
    let d_real = critic(real)?.f_mean(Kind::Float)?;
    Ok(d_fake.f_sub(&d_real)?.f_add(&gp.f_mul_scalar(lambda)?)?)
}

/// The WGAN generator loss: `-mean(critic(fake))`.
pub fn wasserstein_generator_loss(critic_fake: &Tensor) -> Result<Tensor, ModelError> {
    Ok(critic_fake.f_mean(Kind::Float)?.f_neg()?)
}

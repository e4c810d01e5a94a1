//! The optimisers (Adam, AdamW, SGD, NAdam), written as PyTorch's
//! `torch.optim` computes them, with a step that costs a dozen kernels on a
//! GPU whatever the number of parameter tensors.
//!
//! A U-Net has about a hundred parameter tensors. libtorch's C++ optimisers
//! (what `tch::nn` offers) update them one by one, about ten kernel
//! launches each, so on a GPU a step costs a thousand launches; PyTorch
//! avoids that with its multi-tensor (`foreach`) kernels, which `tch` does
//! not expose. Here every parameter is a view into one flat tensor, as are
//! the optimiser's moments; on CUDA the gradients are gathered into one
//! flat tensor too (one concatenation), so the update and the loss scaler's
//! unscale-and-check run once over the whole model. On the CPU, where a
//! launch costs nothing and the gather would be an extra pass over memory,
//! the same update runs variable by variable on views of those buffers.
//!
//! [`Optimizer::backward`] computes the gradients for the optimiser (not
//! into the variables' `.grad`); each call replaces the previous ones, and
//! [`Optimizer::step`] consumes them. A variable the loss does not reach
//! gets a zero gradient, so weight decay and momentum still move it, as in
//! PyTorch with `zero_grad(set_to_none=False)`.

use tch::{Device, Kind, TchError, Tensor};

use crate::config::{OptimizerConfig, OptimizerKind};

/// Each parameter starts at a multiple of this many elements in the flat
/// buffers (512 bytes of float32, the CUDA allocator's alignment), so that
/// convolution kernels see the alignment they would with separate tensors.
const ALIGN: i64 = 128;

/// The gradients of a backward pass.
enum Grads {
    /// One flat tensor laid out as the parameters (CUDA).
    Flat(Tensor),
    /// One tensor per variable (CPU).
    PerVariable(Vec<Tensor>),
}

/// An optimiser over a fixed set of variables; see the module notes.
pub struct Optimizer {
    config: OptimizerConfig,
    lr: f64,
    /// The variables (shallow clones), now views into `params`.
    vars: Vec<Tensor>,
    /// Where each variable starts in the flat buffers.
    offsets: Vec<i64>,
    params: Tensor,
    /// The gradients of the last backward pass, until a step consumes them.
    grads: Option<Grads>,
    /// Zeros, narrowed to fill the alignment gaps of the gathered gradients.
    gap: Tensor,
    flat: bool,
    /// Adam's and NAdam's first moment, or SGD's momentum buffer.
    first: Tensor,
    /// Adam's and NAdam's second moment (empty for SGD).
    second: Tensor,
    /// Steps taken so far, and NAdam's running product of its momentum
    /// coefficients mu_1 ... mu_t.
    step: u64,
    mu_product: f64,
}

/// The scalars of one step, shared by every variable.
struct Coefs {
    /// Adam: the step size lr / (1 - beta1^t); NAdam: the gradient's step.
    a: f64,
    /// Adam: sqrt(1 - beta2^t); NAdam: the momentum's step.
    b: f64,
    /// NAdam: 1 - beta2^t.
    c: f64,
}

/// A variable's length in the flat buffers: its elements and the gap that
/// aligns the next one.
fn aligned(numel: i64) -> i64 {
    (numel + ALIGN - 1) / ALIGN * ALIGN
}

impl Optimizer {
    /// The optimiser `config` asks for over `vars` (trainable variables of
    /// one kind on one device), starting at learning rate `lr`. The
    /// variables keep their values and identity; their storage moves into
    /// the optimiser's flat buffer.
    pub fn new(config: &OptimizerConfig, vars: Vec<Tensor>, lr: f64) -> Result<Self, TchError> {
        let (kind, device) = match vars.first() {
            Some(v) => (v.kind(), v.device()),
            None => (Kind::Float, Device::Cpu),
        };
        if let Some(v) = vars.iter().find(|v| !v.requires_grad()) {
            return Err(TchError::Kind(format!(
                "the optimiser's variables must require gradients (one of shape {:?} does not)",
                v.size()
            )));
        }
        if let Some(v) = vars
            .iter()
            .find(|v| v.kind() != kind || v.device() != device)
        {
            return Err(TchError::Kind(format!(
                "the optimiser needs variables of one kind on one device: {kind:?} on {device:?} and {:?} on {:?}",
                v.kind(),
                v.device()
            )));
        }
        let mut offsets = Vec::with_capacity(vars.len());
        let mut total = 0i64;
        for v in &vars {
            offsets.push(total);
            total += aligned(v.numel() as i64);
        }
        let params = Tensor::f_zeros([total], (kind, device))?;
        let _guard = tch::no_grad_guard();
        for (v, &off) in vars.iter().zip(&offsets) {
            let mut slot = params
                .f_narrow(0, off, v.numel() as i64)?
                .f_view(v.size().as_slice())?;
            slot.f_copy_(v)?;
            v.shallow_clone().f_set_data(&slot)?;
        }
        // SGD keeps no second moment, nor a first one without momentum.
        let sgd = config.kind == OptimizerKind::Sgd;
        let state = |needed: bool| {
            if needed {
                params.f_zeros_like()
            } else {
                Tensor::f_zeros([0], (kind, device))
            }
        };
        let first = state(!sgd || config.momentum != 0.0)?;
        let second = state(!sgd)?;
        Ok(Optimizer {
            config: config.clone(),
            lr,
            offsets,
            first,
            second,
            gap: Tensor::f_zeros([ALIGN], (kind, device))?,
            flat: device.is_cuda(),
            params,
            grads: None,
            vars,
            step: 0,
            mu_product: 1.0,
        })
    }

    /// Gathers the gradients into one flat tensor (`true`, the default on
    /// CUDA) or keeps one per variable (the default on the CPU). Both give
    /// the same steps; the choice is only about speed.
    pub fn with_flat_gradients(mut self, flat: bool) -> Self {
        self.flat = flat;
        self
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The gradients of `loss` with respect to the variables, kept for the
    /// next [`step`](Self::step) (replacing any earlier ones).
    pub fn backward(&mut self, loss: &Tensor) -> Result<(), TchError> {
        self.grads = None;
        let grads = Tensor::f_run_backward(&[loss], &self.vars, false, false)?;
        let _guard = tch::no_grad_guard();
        let grads = grads
            .into_iter()
            .zip(&self.vars)
            .map(|(g, v)| if g.defined() { Ok(g) } else { v.f_zeros_like() })
            .collect::<Result<Vec<_>, _>>()?;
        self.grads = Some(if self.flat {
            let mut pieces = Vec::with_capacity(2 * grads.len());
            for (g, v) in grads.iter().zip(&self.vars) {
                let n = v.numel() as i64;
                pieces.push(g.f_reshape([-1])?);
                let pad = aligned(n) - n;
                if pad > 0 {
                    pieces.push(self.gap.f_narrow(0, 0, pad)?);
                }
            }
            Grads::Flat(Tensor::f_cat(&pieces, 0)?)
        } else {
            Grads::PerVariable(grads)
        });
        Ok(())
    }

    /// Divides the gradients by `scale` and tells whether all are finite
    /// (the loss scaler's check). On CUDA three kernels over the flat
    /// gradients; either way the host waits once, as PyTorch's scaler does
    /// before a non-fused optimiser's step.
    pub fn unscale(&mut self, scale: f64) -> Result<bool, TchError> {
        let _guard = tch::no_grad_guard();
        let inv = 1.0 / scale;
        let finite = match &mut self.grads {
            None => return Ok(true),
            Some(Grads::Flat(g)) => g.f_mul_scalar_(inv)?.f_isfinite()?.f_all()?,
            Some(Grads::PerVariable(gs)) => {
                let mut flags = Vec::with_capacity(gs.len());
                for g in gs.iter_mut() {
                    flags.push(g.f_mul_scalar_(inv)?.f_isfinite()?.f_all()?);
                }
                Tensor::f_stack(&flags, 0)?.f_all()?
            }
        };
        bool::try_from(finite)
    }

    /// One update from the gradients of the last [`backward`](Self::backward),
    /// which it consumes; an error without them.
    pub fn step(&mut self) -> Result<(), TchError> {
        let Some(grads) = self.grads.take() else {
            return Err(TchError::Kind(
                "optimiser step without gradients: call backward first".into(),
            ));
        };
        let _guard = tch::no_grad_guard();
        self.step += 1;
        let c = self.coefs();
        match grads {
            Grads::Flat(g) => {
                let (p, m, v) = (&self.params, &self.first, &self.second);
                self.update(p, &g, m, v, &c)?;
            }
            Grads::PerVariable(gs) => {
                for (i, g) in gs.iter().enumerate() {
                    let (off, n) = (self.offsets[i], g.numel() as i64);
                    let slot = |t: &Tensor| -> Result<Tensor, TchError> {
                        if t.numel() == 0 {
                            return Ok(t.shallow_clone());
                        }
                        t.f_narrow(0, off, n)?.f_view(g.size().as_slice())
                    };
                    let (p, m, v) = (slot(&self.params)?, slot(&self.first)?, slot(&self.second)?);
                    self.update(&p, g, &m, &v, &c)?;
                }
            }
        }
        Ok(())
    }

    /// The scalars of the step just counted.
    fn coefs(&mut self) -> Coefs {
        let o = &self.config;
        let t = self.step as f64;
        let mut c = Coefs {
            a: 0.0,
            b: 0.0,
            c: 0.0,
        };
        match o.kind {
            OptimizerKind::Adam | OptimizerKind::Adamw => {
                c.a = self.lr / (1.0 - o.beta1.powf(t));
                c.b = (1.0 - o.beta2.powf(t)).sqrt();
            }
            OptimizerKind::Nadam => {
                // torch.optim.NAdam's momentum schedule (momentum decay 0.004).
                let mu = o.beta1 * (1.0 - 0.5 * 0.96f64.powf(t * 0.004));
                let mu_next = o.beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * 0.004));
                // PyTorch keeps the product in a float32 tensor.
                self.mu_product = (self.mu_product * mu) as f32 as f64;
                c.a = -self.lr * (1.0 - mu) / (1.0 - self.mu_product);
                c.b = -self.lr * mu_next / (1.0 - self.mu_product * mu_next);
                c.c = 1.0 - o.beta2.powf(t);
            }
            OptimizerKind::Sgd => {}
        }
        c
    }

    /// The update of parameters `p` (with state `m`, `v`) from gradient
    /// `g`, in place; the tensors are the flat buffers or one variable's
    /// views of them.
    fn update(
        &self,
        p: &Tensor,
        g: &Tensor,
        m: &Tensor,
        v: &Tensor,
        c: &Coefs,
    ) -> Result<(), TchError> {
        let o = &self.config;
        let (mut p, mut m, mut v) = (p.shallow_clone(), m.shallow_clone(), v.shallow_clone());
        let wd = o.weight_decay;
        // Adam, NAdam and SGD add the decay to the gradient; AdamW shrinks
        // the parameters instead.
        let g = if wd != 0.0 && o.kind != OptimizerKind::Adamw {
            g.f_add(&p.f_mul_scalar(wd)?)?
        } else {
            g.shallow_clone()
        };
        if o.kind == OptimizerKind::Sgd {
            let mut g = g;
            if o.momentum != 0.0 {
                // PyTorch's buffer starts as a copy of the first gradient.
                if self.step == 1 {
                    m.f_copy_(&g)?;
                } else {
                    let _ = m.f_mul_scalar_(o.momentum)?.f_add_(&g)?;
                }
                g = if o.nesterov {
                    g.f_add(&m.f_mul_scalar(o.momentum)?)?
                } else {
                    m.shallow_clone()
                };
            }
            let _ = p.f_add_(&g.f_mul_scalar(-self.lr)?)?;
            return Ok(());
        }
        if o.kind == OptimizerKind::Adamw && wd != 0.0 {
            let _ = p.f_mul_scalar_(1.0 - self.lr * wd)?;
        }
        // PyTorch's m = b1 m + (1 - b1) g and v = b2 v + (1 - b2) g^2 as
        // in-place interpolations: the same values to rounding, with fewer
        // passes over memory than a multiply and a scaled add.
        let _ = m.f_lerp_(&g, 1.0 - o.beta1)?;
        let _ = v.f_lerp_(&g.f_square()?, 1.0 - o.beta2)?;
        if o.kind == OptimizerKind::Nadam {
            let denom = v.f_div_scalar(c.c)?.f_sqrt_()?.f_add_scalar_(1e-8)?;
            let _ = p.f_addcdiv_(&g.f_mul_scalar(c.a)?, &denom)?;
            let _ = p.f_addcdiv_(&m.f_mul_scalar(c.b)?, &denom)?;
        } else if c.a != 0.0 {
            // p -= a m / (sqrt(v) / b + eps), with the step size folded into
            // the denominator since libtorch's `addcdiv_` as `tch` binds it
            // has no scale: one temporary instead of two.
            let denom = v
                .f_sqrt()?
                .f_mul_scalar_(-1.0 / (c.a * c.b))?
                .f_add_scalar_(-1e-8 / c.a)?;
            let _ = p.f_addcdiv_(&m, &denom)?;
        }
        Ok(())
    }
}

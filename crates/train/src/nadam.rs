//! NAdam (Adam with Nesterov momentum, Dozat 2016), which `tch::nn` does
//! not offer, written as PyTorch's `torch.optim.NAdam` computes it (its
//! defaults: `momentum_decay` 0.004, eps 1e-8, weight decay added to the
//! gradient), so that a run here and one in PyTorch take the same steps.

use tch::{TchError, Tensor};

/// NAdam's settings and state over a set of variables.
pub struct Nadam {
    vars: Vec<Tensor>,
    /// First and second moments, one pair per variable.
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    /// Steps taken so far, and the running product of the momentum
    /// coefficients mu_1 ... mu_t.
    step: u64,
    mu_product: f64,
}

impl Nadam {
    /// NAdam over `vars` (the trainable variables) with PyTorch's defaults
    /// for what is not given.
    pub fn new(
        vars: Vec<Tensor>,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
    ) -> Result<Self, TchError> {
        let zeros = |v: &Tensor| v.f_zeros_like();
        let m = vars.iter().map(zeros).collect::<Result<_, _>>()?;
        let v = vars.iter().map(zeros).collect::<Result<_, _>>()?;
        Ok(Nadam {
            vars,
            m,
            v,
            lr,
            beta1,
            beta2,
            eps: 1e-8,
            weight_decay,
            momentum_decay: 0.004,
            step: 0,
            mu_product: 1.0,
        })
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The variables it updates (shallow clones).
    pub fn variables(&self) -> Vec<Tensor> {
        self.vars.iter().map(Tensor::shallow_clone).collect()
    }

    pub fn zero_grad(&mut self) {
        for v in &mut self.vars {
            v.zero_grad();
        }
    }

    /// One update from the variables' gradients (variables without a
    /// gradient are left alone, as in PyTorch).
    pub fn step(&mut self) -> Result<(), TchError> {
        let _guard = tch::no_grad_guard();
        self.step += 1;
        let t = self.step as f64;
        let (b1, b2) = (self.beta1, self.beta2);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        // PyTorch keeps the product in a float32 tensor.
        self.mu_product = (self.mu_product * mu) as f32 as f64;
        let mu_product_next = self.mu_product * mu_next;
        let bias_correction2 = 1.0 - b2.powf(t);
        let grad_step = -self.lr * (1.0 - mu) / (1.0 - self.mu_product);
        let momentum_step = -self.lr * mu_next / (1.0 - mu_product_next);
        for ((var, m), v) in self.vars.iter_mut().zip(&mut self.m).zip(&mut self.v) {
            let grad = var.grad();
            if !grad.defined() {
                continue;
            }
            let grad = if self.weight_decay != 0.0 {
                grad.f_add(&var.f_mul_scalar(self.weight_decay)?)?
            } else {
                grad
            };
            let _ = m.f_lerp_(&grad, 1.0 - b1)?;
            let _ = v.f_mul_scalar_(b2)?;
            let _ = v.f_addcmul_(&grad.f_mul_scalar(1.0 - b2)?, &grad)?;
            let denom = v
                .f_div_scalar(bias_correction2)?
                .f_sqrt()?
                .f_add_scalar(self.eps)?;
            let _ = var.f_add_(&grad.f_mul_scalar(grad_step)?.f_div(&denom)?)?;
            let _ = var.f_add_(&m.f_mul_scalar(momentum_step)?.f_div(&denom)?)?;
        }
        Ok(())
    }
}

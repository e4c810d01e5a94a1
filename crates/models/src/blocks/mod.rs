//! Layers on raw tensors held in a `VarStore`: convolution, normalisation,
//! activation, and the convolution unit that orders them.
//!
//! Variable names (the `VarStore` joins path parts with `.`, as PyTorch's
//! `state_dict` does): a convolution holds `weight` `[out, in, k...]` and
//! `bias` `[out]`; batch normalisation `weight`, `bias`, `running_mean`,
//! `running_var`; instance normalisation `weight`, `bias`; PReLU `weight`
//! `[1]`. A unit is `conv`, `norm`, `act` under its own name.
//!
//! Blocks map `cin` channels to the last of their unit widths.
//!
//! Variable names under the block's path:
//! - plain: `unit{i}`;
//! - residual: `unit{i}`, and `shortcut` (1x1 convolution) when the width changes;
//! - dense: `unit{i}` (unit `i` sees the block input and units `0..i`
//!   concatenated), `transition` (1x1 convolution of all of them to the last width);
//! - inception: `mod{i}.b0.unit0` (1x1), `mod{i}.b1.unit0` (1x1) + `.unit1`
//!   (kxk), `mod{i}.b2.unit0` (1x1) + `.unit1` + `.unit2` (kxk), `mod{i}.b3.unit0`
//!   (1x1 after a 3x3 max pool of stride 1); branches 1-3 get `w / 4` channels,
//!   branch 0 the rest, concatenated in branch order;
//! - squeeze-excitation: the base block's names, then `se.fc1` (`c -> max(1, c / r)`)
//!   and `se.fc2` (`-> c`): `x * sigmoid(fc2(relu(fc1(mean(x)))))`.

mod kinds;

pub(crate) use kinds::{Block, BlockSpec};

use tch::nn::{Init, Path};
use tch::{Kind, TchError, Tensor};

use crate::config::{Activation, NormKind, Op};

/// Uniform in `±1/sqrt(fan_in)`: PyTorch's default for convolutions and
/// linear layers (Kaiming uniform with `a = sqrt(5)` gives the same bound).
fn fan_in_uniform(fan_in: i64) -> Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// A convolution with `same` padding and stride 1.
pub(crate) struct Conv {
    w: Tensor,
    b: Tensor,
    padding: Vec<i64>,
}

impl Conv {
    pub(crate) fn new(p: &Path, cin: i64, cout: i64, kernel: &[i64]) -> Result<Self, TchError> {
        let fan_in = cin * kernel.iter().product::<i64>();
        let mut dims = vec![cout, cin];
        dims.extend_from_slice(kernel);
        Ok(Conv {
            w: p.f_var("weight", &dims, fan_in_uniform(fan_in))?,
            b: p.f_var("bias", &[cout], fan_in_uniform(fan_in))?,
            padding: kernel.iter().map(|k| k / 2).collect(),
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        let ones = vec![1i64; self.padding.len()];
        let zeros = vec![0i64; self.padding.len()];
        x.f_convolution(
            &self.w,
            Some(&self.b),
            ones.as_slice(),
            self.padding.as_slice(),
            ones.as_slice(),
            false,
            zeros.as_slice(),
            1,
        )
    }
}

/// A fully connected layer on `[n, features]` (squeeze-and-excitation).
pub(crate) struct Linear {
    w: Tensor,
    b: Tensor,
}

impl Linear {
    pub(crate) fn new(p: &Path, cin: i64, cout: i64) -> Result<Self, TchError> {
        Ok(Linear {
            w: p.f_var("weight", &[cout, cin], fan_in_uniform(cin))?,
            b: p.f_var("bias", &[cout], fan_in_uniform(cin))?,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_linear(&self.w, Some(&self.b))
    }
}

/// Batch or instance normalisation with PyTorch's eps (1e-5) and momentum (0.1).
pub(crate) enum Norm {
    Batch {
        w: Tensor,
        b: Tensor,
        mean: Tensor,
        var: Tensor,
    },
    Instance {
        w: Tensor,
        b: Tensor,
    },
}

const EPS: f64 = 1e-5;
const MOMENTUM: f64 = 0.1;

impl Norm {
    pub(crate) fn new(p: &Path, kind: NormKind, c: i64) -> Result<Option<Self>, TchError> {
        Ok(match kind {
            NormKind::None => None,
            NormKind::Batch => Some(Norm::Batch {
                w: p.f_var("weight", &[c], Init::Const(1.0))?,
                b: p.f_var("bias", &[c], Init::Const(0.0))?,
                mean: p.f_zeros_no_train("running_mean", &[c])?,
                var: p.f_ones_no_train("running_var", &[c])?,
            }),
            NormKind::Instance => Some(Norm::Instance {
                w: p.f_var("weight", &[c], Init::Const(1.0))?,
                b: p.f_var("bias", &[c], Init::Const(0.0))?,
            }),
        })
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        match self {
            Norm::Batch { w, b, mean, var } => x.f_batch_norm(
                Some(w),
                Some(b),
                Some(mean),
                Some(var),
                train,
                MOMENTUM,
                EPS,
                false,
            ),
            Norm::Instance { w, b } => {
                x.f_instance_norm(Some(w), Some(b), None, None, true, MOMENTUM, EPS, false)
            }
        }
    }
}

/// An activation; PReLU holds its learned slope.
pub(crate) enum Act {
    Relu,
    Leaky(f64),
    Elu(f64),
    Prelu(Tensor),
}

impl Act {
    pub(crate) fn new(p: &Path, a: Activation) -> Result<Self, TchError> {
        Ok(match a {
            Activation::Relu => Act::Relu,
            Activation::LeakyRelu { slope } => Act::Leaky(slope),
            Activation::Elu { alpha } => Act::Elu(alpha),
            Activation::Prelu => Act::Prelu(p.f_var("weight", &[1], Init::Const(0.25))?),
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        match self {
            Act::Relu => x.f_relu(),
            Act::Leaky(s) => {
                let neg = x.f_mul_scalar(*s)?;
                x.f_where_self(&x.f_gt(0.0)?, &neg)
            }
            Act::Elu(alpha) => {
                // Clamping first keeps the unused branch finite, so its gradient is 0, not NaN.
                let neg = x.f_clamp_max(0.0)?.f_expm1()?.f_mul_scalar(*alpha)?;
                x.f_where_self(&x.f_gt(0.0)?, &neg)
            }
            Act::Prelu(w) => x.f_prelu(w),
        }
    }
}

/// Convolution, normalisation and activation in the configured order,
/// then dropout (training only).
pub(crate) struct ConvUnit {
    conv: Conv,
    norm: Option<Norm>,
    act: Act,
    order: [Op; 3],
    dropout: f64,
}

/// What every unit of a model shares.
#[derive(Clone)]
pub(crate) struct UnitSpec {
    pub kernel: Vec<i64>,
    pub norm: NormKind,
    pub act: Activation,
    pub order: [Op; 3],
    pub dropout: f64,
}

impl ConvUnit {
    /// A unit named `p` mapping `cin` to `cout` channels with `kernel`.
    pub(crate) fn new(
        p: &Path,
        spec: &UnitSpec,
        cin: i64,
        cout: i64,
        kernel: &[i64],
    ) -> Result<Self, TchError> {
        // The normalisation sees the channels present where it sits in the order.
        let conv_pos = spec.order.iter().position(|o| *o == Op::Conv);
        let norm_pos = spec.order.iter().position(|o| *o == Op::Norm);
        let norm_c = if norm_pos < conv_pos { cin } else { cout };
        Ok(ConvUnit {
            conv: Conv::new(&(p / "conv"), cin, cout, kernel)?,
            norm: Norm::new(&(p / "norm"), spec.norm, norm_c)?,
            act: Act::new(&(p / "act"), spec.act)?,
            order: spec.order,
            dropout: spec.dropout,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let mut h = x.shallow_clone();
        for op in self.order {
            h = match op {
                Op::Conv => self.conv.forward(&h)?,
                Op::Norm => match &self.norm {
                    Some(n) => n.forward(&h, train)?,
                    None => h,
                },
                Op::Act => self.act.forward(&h)?,
            };
        }
        if train && self.dropout > 0.0 {
            h = h.f_dropout(self.dropout, true)?;
        }
        Ok(h)
    }
}

/// Mean over the spatial axes: `[n, c, ...] -> [n, c]`.
pub(crate) fn spatial_mean(x: &Tensor) -> Result<Tensor, TchError> {
    let axes: Vec<i64> = (2..x.dim() as i64).collect();
    x.f_mean_dim(axes.as_slice(), false, Kind::Float)
}

/// Max pooling over 2 or 3 spatial axes.
pub(crate) fn max_pool(
    x: &Tensor,
    kernel: &[i64],
    stride: &[i64],
    pad: &[i64],
) -> Result<Tensor, TchError> {
    let dil = vec![1i64; kernel.len()];
    if kernel.len() == 2 {
        x.f_max_pool2d(kernel, stride, pad, dil.as_slice(), false)
    } else {
        x.f_max_pool3d(kernel, stride, pad, dil.as_slice(), false)
    }
}

//! The block types of the U-Net. Each maps `cin` channels to the last of its
//! unit widths.
//!
//! (Variable names: see the parent module.)

use tch::nn::Path;
use tch::{TchError, Tensor};

use super::{max_pool, spatial_mean, Conv, ConvUnit, Linear, UnitSpec};
use crate::config::{BlockType, SeBase};

pub(crate) struct Inception {
    b0: ConvUnit,
    b1: Vec<ConvUnit>,
    b2: Vec<ConvUnit>,
    b3: ConvUnit,
    dims: usize,
}

impl Inception {
    fn new(p: &Path, spec: &UnitSpec, cin: i64, w: i64) -> Result<Self, TchError> {
        let one = vec![1i64; spec.kernel.len()];
        let k = &spec.kernel;
        let b = w / 4;
        let chain = |name: &str, convs: usize| -> Result<Vec<ConvUnit>, TchError> {
            let q = p / name;
            let mut units = vec![ConvUnit::new(&(&q / "unit0"), spec, cin, b, &one)?];
            for i in 1..convs {
                units.push(ConvUnit::new(&(&q / format!("unit{i}")), spec, b, b, k)?);
            }
            Ok(units)
        };
        Ok(Inception {
            b0: ConvUnit::new(&(p / "b0" / "unit0"), spec, cin, w - 3 * b, &one)?,
            b1: chain("b1", 2)?,
            b2: chain("b2", 3)?,
            b3: ConvUnit::new(&(p / "b3" / "unit0"), spec, cin, b, &one)?,
            dims: spec.kernel.len(),
        })
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let run = |units: &[ConvUnit]| -> Result<Tensor, TchError> {
            let mut h = x.shallow_clone();
            for u in units {
                h = u.forward(&h, train)?;
            }
            Ok(h)
        };
        let three = vec![3i64; self.dims];
        let one = vec![1i64; self.dims];
        let pooled = max_pool(x, &three, &one, &one)?;
        let parts = [
            self.b0.forward(x, train)?,
            run(&self.b1)?,
            run(&self.b2)?,
            self.b3.forward(&pooled, train)?,
        ];
        Tensor::f_cat(&parts, 1)
    }
}

/// One block of the encoder or decoder.
pub(crate) enum Block {
    Plain(Vec<ConvUnit>),
    Residual {
        units: Vec<ConvUnit>,
        shortcut: Option<Conv>,
    },
    Dense {
        units: Vec<ConvUnit>,
        transition: Conv,
    },
    Inception(Vec<Inception>),
    Se {
        base: Box<Block>,
        fc1: Linear,
        fc2: Linear,
    },
}

/// The settings a block needs beyond its widths.
pub(crate) struct BlockSpec {
    pub kind: BlockType,
    pub se_base: SeBase,
    pub se_reduction: i64,
    pub unit: UnitSpec,
}

fn chain(p: &Path, spec: &UnitSpec, cin: i64, widths: &[i64]) -> Result<Vec<ConvUnit>, TchError> {
    let mut c = cin;
    let mut units = Vec::with_capacity(widths.len());
    for (i, &w) in widths.iter().enumerate() {
        units.push(ConvUnit::new(
            &(p / format!("unit{i}")),
            spec,
            c,
            w,
            &spec.kernel,
        )?);
        c = w;
    }
    Ok(units)
}

fn run_chain(units: &[ConvUnit], x: &Tensor, train: bool) -> Result<Tensor, TchError> {
    let mut h = x.shallow_clone();
    for u in units {
        h = u.forward(&h, train)?;
    }
    Ok(h)
}

impl Block {
    /// A block named `p` from `cin` channels through `widths` (non-empty).
    pub(crate) fn new(
        p: &Path,
        spec: &BlockSpec,
        cin: i64,
        widths: &[i64],
    ) -> Result<Self, TchError> {
        let last = *widths.last().expect("validated: num_blocks >= 1");
        let one = vec![1i64; spec.unit.kernel.len()];
        let u = &spec.unit;
        Ok(match spec.kind {
            BlockType::Plain => Block::Plain(chain(p, u, cin, widths)?),
            BlockType::Residual => Block::Residual {
                units: chain(p, u, cin, widths)?,
                shortcut: if cin == last {
                    None
                } else {
                    Some(Conv::new(&(p / "shortcut"), cin, last, &one)?)
                },
            },
            BlockType::Dense => {
                let mut c = cin;
                let mut units = Vec::with_capacity(widths.len());
                for (i, &w) in widths.iter().enumerate() {
                    units.push(ConvUnit::new(
                        &(p / format!("unit{i}")),
                        u,
                        c,
                        w,
                        &u.kernel,
                    )?);
                    c += w;
                }
                Block::Dense {
                    units,
                    transition: Conv::new(&(p / "transition"), c, last, &one)?,
                }
            }
            BlockType::Inception => {
                let mut c = cin;
                let mut mods = Vec::with_capacity(widths.len());
                for (i, &w) in widths.iter().enumerate() {
                    mods.push(Inception::new(&(p / format!("mod{i}")), u, c, w)?);
                    c = w;
                }
                Block::Inception(mods)
            }
            BlockType::SqueezeExcitation => {
                let base_spec = BlockSpec {
                    kind: match spec.se_base {
                        SeBase::Plain => BlockType::Plain,
                        SeBase::Residual => BlockType::Residual,
                    },
                    se_base: spec.se_base,
                    se_reduction: spec.se_reduction,
                    unit: u.clone(),
                };
                let hidden = (last / spec.se_reduction).max(1);
                Block::Se {
                    base: Box::new(Block::new(p, &base_spec, cin, widths)?),
                    fc1: Linear::new(&(p / "se" / "fc1"), last, hidden)?,
                    fc2: Linear::new(&(p / "se" / "fc2"), hidden, last)?,
                }
            }
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        match self {
            Block::Plain(units) => run_chain(units, x, train),
            Block::Residual { units, shortcut } => {
                let h = run_chain(units, x, train)?;
                match shortcut {
                    Some(s) => h.f_add(&s.forward(x)?),
                    None => h.f_add(x),
                }
            }
            Block::Dense { units, transition } => {
                let mut feats = vec![x.shallow_clone()];
                for u in units {
                    let input = Tensor::f_cat(&feats, 1)?;
                    feats.push(u.forward(&input, train)?);
                }
                transition.forward(&Tensor::f_cat(&feats, 1)?)
            }
            Block::Inception(mods) => {
                let mut h = x.shallow_clone();
                for m in mods {
                    h = m.forward(&h, train)?;
                }
                Ok(h)
            }
            Block::Se { base, fc1, fc2 } => {
                let h = base.forward(x, train)?;
                let s = fc1.forward(&spatial_mean(&h)?)?.f_relu()?;
                let s = fc2.forward(&s)?.f_sigmoid()?;
                let mut shape = s.size();
                shape.resize(h.dim(), 1);
                h.f_mul(&s.f_reshape(shape.as_slice())?)
            }
        }
    }
}

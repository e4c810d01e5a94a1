//! The U-Net configuration, read from TOML or JSON, with the filter rule of
//! DeepNeuro's `unet.py` and the checks that turn bad settings into errors.

use std::path::Path;

mod enums;

use serde::{Deserialize, Serialize};

pub use enums::{
    Activation, BlockType, NormKind, Op, OutputActivation, Padding, SeBase, LOSS_NAMES,
};

use crate::ModelError;

/// A U-Net as DeepNeuro's `UNet` model (Beers et al. 2021) describes it.
///
/// `input_shape` is spatial dimensions then channels, as in DeepNeuro: its
/// rank decides 2D (`[x, y, c]`) or 3D (`[x, y, z, c]`). `kernel_size`,
/// `pool_size` and `stride` take one value for every axis or one per axis.
/// Unknown keys are errors, so a typo never silently falls back to a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UNetConfig {
    /// Spatial sizes then channels (channels last, as DeepNeuro).
    pub input_shape: Vec<i64>,
    /// Max-pooling window and stride between levels.
    pub pool_size: Vec<i64>,
    /// Convolution kernel (odd sizes).
    pub kernel_size: Vec<i64>,
    /// Convolution stride; only 1 fits the skip connections.
    pub stride: Vec<i64>,
    /// Dropout probability after each unit (training only).
    pub dropout: f64,
    /// DeepNeuro's switch for batch normalisation; `norm` overrides it when set.
    pub batch_norm: bool,
    /// Normalisation kind; when absent, `batch_norm` decides between batch and none.
    pub norm: Option<NormKind>,
    /// Learning rate to start training with (kept for training tools).
    pub initial_learning_rate: f64,
    /// Name of the loss to train with, one of [`LOSS_NAMES`].
    pub cost_function: String,
    /// Channels of the output.
    pub num_outputs: i64,
    /// Non-linearity of each unit.
    pub activation: Activation,
    /// Activation of the output.
    pub output_activation: OutputActivation,
    /// Convolution padding.
    pub padding: Padding,
    /// Number of resolution levels (`depth - 1` poolings).
    pub depth: usize,
    /// Widest convolution of DeepNeuro's filter rule.
    pub max_filter: i64,
    /// Divides every width of DeepNeuro's filter rule.
    pub downsize_filters_factor: i64,
    /// Convolution units per block (DeepNeuro's `num_blocks`).
    pub num_blocks: usize,
    /// Width growth between units of a block (DeepNeuro's `block_filter_growth_ratio`).
    pub block_filter_growth_ratio: i64,
    /// Explicit width per level (length `depth`); overrides the rule, every unit of level `l` gets `filters[l]`.
    pub filters: Option<Vec<i64>>,
    /// Block type.
    pub block: BlockType,
    /// Base block of `squeeze_excitation`.
    pub se_base: SeBase,
    /// Channel reduction of the squeeze-and-excitation bottleneck.
    pub se_reduction: i64,
    /// Order of convolution, normalisation and activation, e.g. `conv-act-norm` (DeepNeuro) or `norm-act-conv`.
    pub layer_order: String,
}

impl Default for UNetConfig {
    fn default() -> Self {
        UNetConfig {
            input_shape: vec![32, 32, 32, 1],
            pool_size: vec![2],
            kernel_size: vec![3],
            stride: vec![1],
            dropout: 0.0,
            batch_norm: true,
            norm: None,
            initial_learning_rate: 1e-4,
            cost_function: "dice".into(),
            num_outputs: 1,
            activation: Activation::Relu,
            output_activation: OutputActivation::Sigmoid,
            padding: Padding::Same,
            depth: 4,
            max_filter: 512,
            downsize_filters_factor: 1,
            num_blocks: 2,
            block_filter_growth_ratio: 2,
            filters: None,
            block: BlockType::Plain,
            se_base: SeBase::Plain,
            se_reduction: 2,
            layer_order: "conv-act-norm".into(),
        }
    }
}

fn invalid(reason: impl Into<String>) -> ModelError {
    ModelError::InvalidConfig(reason.into())
}

impl UNetConfig {
    /// Reads a config from a `.toml` file, or JSON otherwise, and validates it.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let parsed = if path.extension().is_some_and(|e| e == "toml") {
            Self::from_toml(&text)
        } else {
            Self::from_json(&text)
        };
        parsed.map_err(|e| ModelError::ConfigFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Parses and validates a TOML config.
    pub fn from_toml(text: &str) -> Result<Self, ModelError> {
        let c: Self = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Parses and validates a JSON config.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let c: Self = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// The JSON form written next to the weights.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config always serialises")
    }

    /// Number of spatial dimensions (2 or 3).
    pub fn dims(&self) -> usize {
        self.input_shape.len().saturating_sub(1)
    }

    /// Input channels (the last entry of `input_shape`).
    pub fn in_channels(&self) -> i64 {
        self.input_shape.last().copied().unwrap_or(0)
    }

    /// The normalisation in effect (`norm`, else `batch_norm`).
    pub fn norm_kind(&self) -> NormKind {
        self.norm.unwrap_or(if self.batch_norm {
            NormKind::Batch
        } else {
            NormKind::None
        })
    }

    fn per_axis(&self, name: &str, v: &[i64]) -> Result<Vec<i64>, ModelError> {
        match v.len() {
            1 => Ok(vec![v[0]; self.dims()]),
            n if n == self.dims() => Ok(v.to_vec()),
            n => Err(invalid(format!(
                "{name} has {n} entries but the input is {}D (give 1 or {})",
                self.dims(),
                self.dims()
            ))),
        }
    }

    /// The kernel size per spatial axis.
    pub fn kernel(&self) -> Result<Vec<i64>, ModelError> {
        self.per_axis("kernel_size", &self.kernel_size)
    }

    /// The pooling window per spatial axis.
    pub fn pool(&self) -> Result<Vec<i64>, ModelError> {
        self.per_axis("pool_size", &self.pool_size)
    }

    /// The parsed `layer_order`.
    pub fn order(&self) -> Result<[Op; 3], ModelError> {
        let ops: Vec<Op> = self
            .layer_order
            .split('-')
            .map(|s| match s.trim() {
                "conv" => Ok(Op::Conv),
                "norm" => Ok(Op::Norm),
                "act" => Ok(Op::Act),
                other => Err(invalid(format!(
                    "layer_order `{}`: unknown step `{other}` (use conv, norm, act)",
                    self.layer_order
                ))),
            })
            .collect::<Result<_, _>>()?;
        let has = |op| ops.iter().filter(|o| **o == op).count() == 1;
        if ops.len() != 3 || !has(Op::Conv) || !has(Op::Norm) || !has(Op::Act) {
            return Err(invalid(format!(
                "layer_order `{}` must name conv, norm and act once each",
                self.layer_order
            )));
        }
        Ok([ops[0], ops[1], ops[2]])
    }

    /// Unit widths of the encoder block at `level` (0 = full resolution).
    ///
    /// DeepNeuro: `base = int(max_filter / 2^(depth - level) / downsize_filters_factor)`
    /// and unit `b` has `base * growth^b` filters.
    pub fn encoder_widths(&self, level: usize) -> Vec<i64> {
        if let Some(f) = &self.filters {
            return vec![f.get(level).copied().unwrap_or(0); self.num_blocks];
        }
        let base = (self.max_filter as f64
            / 2f64.powi((self.depth - level) as i32)
            / self.downsize_filters_factor as f64)
            .floor() as i64;
        (0..self.num_blocks)
            .map(|b| base * self.block_filter_growth_ratio.pow(b as u32))
            .collect()
    }

    /// Unit widths of the decoder block whose skip comes from encoder `level`
    /// (`0..depth - 1`).
    ///
    /// DeepNeuro counts decoder levels from the bottom, `l = depth - 1 - level`:
    /// `base = int(max_filter / 2^l / downsize_filters_factor)` and unit `b`
    /// has `base // growth^b` filters.
    pub fn decoder_widths(&self, level: usize) -> Vec<i64> {
        if let Some(f) = &self.filters {
            return vec![f.get(level).copied().unwrap_or(0); self.num_blocks];
        }
        let l = self.depth - 1 - level;
        let base =
            (self.max_filter as f64 / 2f64.powi(l as i32) / self.downsize_filters_factor as f64)
                .floor() as i64;
        (0..self.num_blocks)
            .map(|b| base / self.block_filter_growth_ratio.pow(b as u32))
            .collect()
    }

    /// Checks every setting; the message names the setting and the reason.
    pub fn validate(&self) -> Result<(), ModelError> {
        let dims = self.dims();
        if !(2..=3).contains(&dims) {
            return Err(invalid(format!(
                "input_shape {:?} must be [x, y, channels] (2D) or [x, y, z, channels] (3D)",
                self.input_shape
            )));
        }
        if self.input_shape.iter().any(|&s| s < 1) {
            return Err(invalid(format!(
                "input_shape {:?} has a size below 1",
                self.input_shape
            )));
        }
        let kernel = self.kernel()?;
        if kernel.iter().any(|&k| k < 1 || k % 2 == 0) {
            return Err(invalid(format!(
                "kernel_size {kernel:?}: only odd sizes keep `same` padding symmetric"
            )));
        }
        let pool = self.pool()?;
        if pool.iter().any(|&p| p < 1) {
            return Err(invalid(format!("pool_size {pool:?} has a size below 1")));
        }
        if self
            .per_axis("stride", &self.stride)?
            .iter()
            .any(|&s| s != 1)
        {
            return Err(invalid(format!(
                "stride {:?}: only 1 is supported (pooling downsamples; strided convolutions would break the skip connections)",
                self.stride
            )));
        }
        if self.padding == Padding::Valid {
            return Err(invalid(
                "padding `valid` is not supported (the skip connections need `same`)",
            ));
        }
        if self.depth < 1 {
            return Err(invalid("depth must be at least 1"));
        }
        if self.depth > 16 {
            return Err(invalid(format!("depth {} is above 16", self.depth)));
        }
        for (axis, (&size, &p)) in self.input_shape.iter().zip(&pool).enumerate() {
            let factor = p.checked_pow(self.depth as u32 - 1).unwrap_or(i64::MAX);
            if size % factor != 0 {
                return Err(invalid(format!(
                    "depth {} is too large for input_shape {:?}: axis {axis} of size {size} is not divisible by pool {p}^{} = {factor}",
                    self.depth,
                    self.input_shape,
                    self.depth - 1
                )));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(invalid(format!(
                "dropout {} is not in [0, 1)",
                self.dropout
            )));
        }
        if self.num_outputs < 1 || self.num_blocks < 1 || self.se_reduction < 1 {
            return Err(invalid(
                "num_outputs, num_blocks and se_reduction must be at least 1",
            ));
        }
        if self.block_filter_growth_ratio < 1 || self.downsize_filters_factor < 1 {
            return Err(invalid(
                "block_filter_growth_ratio and downsize_filters_factor must be at least 1",
            ));
        }
        if let Some(f) = &self.filters {
            if f.len() != self.depth {
                return Err(invalid(format!(
                    "filters has {} entries but depth is {}",
                    f.len(),
                    self.depth
                )));
            }
        }
        let min_width = if self.block == BlockType::Inception {
            4
        } else {
            1
        };
        for level in 0..self.depth {
            let mut widths = self.encoder_widths(level);
            if level + 1 < self.depth {
                widths.extend(self.decoder_widths(level));
            }
            if widths.iter().any(|&w| w < min_width) {
                return Err(invalid(format!(
                    "level {level} gets widths {widths:?} (below {min_width}): raise max_filter or lower depth / downsize_filters_factor"
                )));
            }
        }
        self.order()?;
        if !LOSS_NAMES.contains(&self.cost_function.as_str()) {
            return Err(invalid(format!(
                "unknown cost_function `{}` (known: {})",
                self.cost_function,
                LOSS_NAMES.join(", ")
            )));
        }
        Ok(())
    }
}

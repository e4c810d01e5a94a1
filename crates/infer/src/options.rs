//! The settings of patch inference, with MONAI's defaults.

use tch::Device;

/// How overlapping window predictions are blended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Blend {
    /// Every prediction weighs the same (MONAI's `mode="constant"`).
    Constant,
    /// Predictions weigh less towards the window's border: a Gaussian with
    /// sigma `sigma_scale * size` per axis (MONAI's `mode="gaussian"`).
    Gaussian { sigma_scale: f64 },
}

impl Blend {
    /// The Gaussian blend with MONAI's default `sigma_scale` of 0.125.
    pub fn gaussian() -> Self {
        Blend::Gaussian { sigma_scale: 0.125 }
    }
}

/// How the image is padded where it is smaller than the window (MONAI's
/// `padding_mode`, torch's `F.pad` modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaddingMode {
    /// Fill with [`SlidingWindowOptions::cval`].
    Constant,
    Reflect,
    Replicate,
    Circular,
}

impl PaddingMode {
    pub(crate) fn torch_name(self) -> &'static str {
        match self {
            PaddingMode::Constant => "constant",
            PaddingMode::Reflect => "reflect",
            PaddingMode::Replicate => "replicate",
            PaddingMode::Circular => "circular",
        }
    }
}

/// Settings of [`crate::sliding_window`]; `Default` gives MONAI's defaults
/// with the whole image as one window.
#[derive(Clone, Debug, PartialEq)]
pub struct SlidingWindowOptions {
    /// Window size per spatial axis. A non-positive entry takes the image's
    /// size on that axis (as MONAI's `fall_back_tuple`); an empty vector
    /// means the whole image in one window.
    pub roi_size: Vec<i64>,
    /// Overlap of neighbouring windows as a fraction in `[0, 1)`: one value
    /// for every axis, or one per spatial axis.
    pub overlap: Vec<f64>,
    /// Weighting of overlapping predictions.
    pub blend: Blend,
    /// Padding of an image smaller than the window.
    pub padding_mode: PaddingMode,
    /// Fill value of [`PaddingMode::Constant`].
    pub cval: f64,
    /// How many windows go to the model in one batch.
    pub sw_batch_size: usize,
    /// Keep only this central part of each predicted window (DeepNeuro's
    /// output patch shape). The centres then tile the image: windows are
    /// laid out as if the window were this size, each fed with its full
    /// `roi_size` context (padded at the image border), and the importance
    /// map and overlap apply to the central part.
    pub center_crop: Option<Vec<i64>>,
    /// Skip windows whose input is everywhere `<=` this value (e.g. 0 for
    /// background): they are not run, and count as a prediction of zeros.
    pub skip_empty: Option<f32>,
    /// Device the windows are sent to, the model's; `None`: the input's.
    pub sw_device: Option<Device>,
    /// Device of the stitched output; `None`: the input's. `Some(Cpu)` keeps
    /// accelerator memory independent of the image size.
    pub output_device: Option<Device>,
    /// Run the model under automatic mixed precision (PyTorch's autocast)
    /// when the windows are on a CUDA device; ignored on the CPU, where
    /// autocast would pick bfloat16 and change the results for no gain.
    /// Predictions are still blended and stitched in the input's kind.
    pub mixed_precision: bool,
}

impl Default for SlidingWindowOptions {
    fn default() -> Self {
        SlidingWindowOptions {
            roi_size: Vec::new(),
            overlap: vec![0.25],
            blend: Blend::Constant,
            padding_mode: PaddingMode::Constant,
            cval: 0.0,
            sw_batch_size: 1,
            center_crop: None,
            skip_empty: None,
            sw_device: None,
            output_device: None,
            mixed_precision: false,
        }
    }
}

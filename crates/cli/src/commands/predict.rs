//! `deepneuro predict`: runs a model file (TorchScript, or a deepneuro U-Net
//! saved as safetensors + JSON) over a volume, whole or patch by patch, and
//! writes its output with the input's geometry (channels as the fourth
//! NIfTI dimension).

use crate::exit::{Code, Failure};
use crate::input::{read_input, InputOptions};
use deepneuro_core::tch::{self, TchError, Tensor};
use deepneuro_infer::{Blend, Forward, SlidingWindowOptions};
use deepneuro_models::Model;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlendArg {
    Constant,
    Gaussian,
}

#[derive(clap::Args)]
pub struct Args {
    /// The model: TorchScript (.pt, .ts) or a deepneuro U-Net (.safetensors with its .json beside it).
    #[arg(long)]
    pub model: PathBuf,
    /// Input volume (NIfTI, NRRD or a DICOM folder); its channels are the model's input channels.
    #[arg(long)]
    pub input: PathBuf,
    /// Output file (.nii.gz, .nii, .nrrd): the model's output, one channel per output.
    #[arg(long)]
    pub output: PathBuf,
    /// Patch size X,Y,Z for patch-based inference (default: the whole volume at once).
    #[arg(long, value_delimiter = ',')]
    pub patch_size: Vec<i64>,
    /// Overlap of neighbouring patches, a fraction in [0, 1).
    #[arg(long, default_value_t = 0.25)]
    pub overlap: f64,
    /// How overlapping predictions are blended.
    #[arg(long, value_enum, default_value = "constant")]
    pub blend: BlendArg,
    /// Patches per forward pass.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Keep only this central part X,Y,Z of each predicted patch (default: the whole patch).
    #[arg(long, value_delimiter = ',')]
    pub center_crop: Vec<i64>,
    /// Skip patches whose input is everywhere <= this value, e.g. 0 for background
    /// (default: run every patch).
    #[arg(long, allow_hyphen_values = true)]
    pub skip_empty: Option<f32>,
    /// The compute device: auto (CUDA when usable, else the CPU), cpu, cuda or cuda:N.
    /// On the CPU every available core is used (the cgroup quota counted).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Run the model in mixed precision (autocast) on a CUDA device; ignored on the CPU.
    #[arg(long)]
    pub mixed_precision: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: InputOptions,
}

/// A loaded model as the patch runner sees it.
struct AsForward<'a>(&'a dyn Model);

impl Forward for AsForward<'_> {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        self.0.forward(x)
    }
}

pub fn run(a: &Args) -> Result<(), Failure> {
    crate::overwrite::refuse(
        &[Some(a.model.as_path()), Some(a.input.as_path())],
        &[Some(a.output.as_path())],
    )?;
    deepneuro_io::Format::from_path(&a.output).map_err(|e| Failure::new(Code::Output, e))?;
    if !(0.0..1.0).contains(&a.overlap) {
        return Err(Failure::new(
            Code::Usage,
            format!("--overlap {} is not in [0, 1)", a.overlap),
        ));
    }
    let device = deepneuro_core::parse_device(&a.device)?;
    tch::set_num_threads(deepneuro_core::cpu_threads() as i32);
    deepneuro_core::tune_allocator();
    let volume = read_input(&a.input, &a.source)?;
    let model =
        deepneuro_models::load_model(&a.model, device).map_err(|e| Failure::new(Code::Input, e))?;
    let opts = SlidingWindowOptions {
        roi_size: a.patch_size.clone(),
        overlap: vec![a.overlap],
        blend: match a.blend {
            BlendArg::Constant => Blend::Constant,
            BlendArg::Gaussian => Blend::gaussian(),
        },
        sw_batch_size: a.batch.max(1),
        center_crop: (!a.center_crop.is_empty()).then(|| a.center_crop.clone()),
        skip_empty: a.skip_empty,
        mixed_precision: a.mixed_precision,
        ..SlidingWindowOptions::default()
    };
    let t0 = Instant::now();
    let out = deepneuro_infer::predict_volume(&AsForward(model.as_ref()), &volume, &opts, device)
        .map_err(|e| Failure::new(Code::Input, format!("{}: {e}", a.input.display())))?;
    let seconds = t0.elapsed().as_secs_f64();
    deepneuro_io::write(&out, &a.output)?;
    let summary = serde_json::json!({
        "model": a.model.display().to_string(),
        "input": a.input.display().to_string(),
        "output": a.output.display().to_string(),
        "device": format!("{device:?}"),
        "mixed_precision": a.mixed_precision && device.is_cuda(),
        "channels": out.channels(),
        "shape": out.spatial_shape(),
        "seconds": seconds,
    });
    if a.json {
        super::print_json(&summary);
    } else {
        tracing::info!("{summary}");
    }
    Ok(())
}

use crate::exit::{Code, Failure};
use deepneuro_volume::DType;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Input volume (.nii, .nii.gz, .nrrd, .nhdr, or a DICOM folder).
    pub input: PathBuf,
    /// Output file; the format follows its extension.
    pub output: PathBuf,
    /// On-disk type of the output (uint8, int16, float32, ...); default: the input's.
    #[arg(long)]
    pub dtype: Option<String>,
    #[command(flatten)]
    pub source: crate::input::InputOptions,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    crate::overwrite::refuse(
        &[Some(args.input.as_path())],
        &[Some(args.output.as_path())],
    )?;
    // Check the output name before reading a large input.
    deepneuro_io::Format::from_path(&args.output).map_err(|e| Failure::new(Code::Output, e))?;
    let mut vol = crate::input::read_input(&args.input, &args.source)?;
    if let Some(name) = &args.dtype {
        let dtype = DType::from_name(name).ok_or_else(|| {
            Failure::new(
                Code::Usage,
                format!("unknown --dtype '{name}' (use uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32 or float64)"),
            )
        })?;
        vol.set_dtype(dtype);
    }
    deepneuro_io::write(&vol, &args.output)?;
    tracing::info!(input = %args.input.display(), output = %args.output.display(), "converted");
    Ok(())
}

use crate::exit::Failure;
use deepneuro_io::Format;
use deepneuro_volume::Volume;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The volume to describe (.nii, .nii.gz, .nrrd, .nhdr, or a DICOM folder).
    pub file: PathBuf,
    #[command(flatten)]
    pub input: crate::input::InputOptions,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Info {
    file: String,
    format: String,
    shape: [usize; 3],
    channels: usize,
    spacing: [f64; 3],
    axcodes: String,
    dtype: String,
    affine: [[f64; 4]; 4],
    range: Option<[f32; 2]>,
}

fn format_name(path: &Path) -> String {
    if crate::input::is_dicom(path) {
        return "DICOM".into();
    }
    match Format::from_path(path) {
        Ok(Format::Nifti { gzip: true }) => "NIfTI (gzip)".into(),
        Ok(Format::Nifti { gzip: false }) => "NIfTI".into(),
        Ok(Format::Nrrd { detached: true }) => "NRRD (detached header)".into(),
        Ok(Format::Nrrd { detached: false }) => "NRRD".into(),
        Err(_) => "unknown".into(),
    }
}

fn describe(path: &Path, v: &Volume) -> Info {
    let a = v.affine();
    Info {
        file: path.display().to_string(),
        format: format_name(path),
        shape: v.spatial_shape(),
        channels: v.channels(),
        spacing: v.spacing(),
        axcodes: v.axcodes().iter().collect(),
        dtype: v.dtype().to_string(),
        affine: std::array::from_fn(|i| std::array::from_fn(|j| a[(i, j)])),
        range: v.finite_range().map(|(lo, hi)| [lo, hi]),
    }
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let vol = crate::input::read_input(&args.file, &args.input)?;
    let info = describe(&args.file, &vol);
    if args.json {
        super::print_json(&info);
        return Ok(());
    }
    let [x, y, z] = info.shape;
    let [sx, sy, sz] = info.spacing;
    println!("file:     {}", info.file);
    println!("format:   {}", info.format);
    println!("shape:    {x} x {y} x {z}, {} channel(s)", info.channels);
    println!("spacing:  {sx:.4} x {sy:.4} x {sz:.4} mm");
    println!("axcodes:  {}", info.axcodes);
    println!("dtype:    {}", info.dtype);
    for (i, row) in info.affine.iter().enumerate() {
        let label = if i == 0 { "affine:" } else { "" };
        println!(
            "{label:<9} [{:>10.4} {:>10.4} {:>10.4} {:>10.4}]",
            row[0], row[1], row[2], row[3]
        );
    }
    match info.range {
        Some([lo, hi]) => println!("range:    {lo} .. {hi}"),
        None => println!("range:    no finite voxel"),
    }
    Ok(())
}

//! `deepneuro dicom ls` and `deepneuro dicom seg`.

use crate::exit::Failure;
use deepneuro_dicom::{seg, SeriesSelector};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum DicomCommand {
    /// List the series of a DICOM folder (one row each) and the skipped files.
    #[command(after_help = "Example:\n  deepneuro dicom ls /data/patient01 --json")]
    Ls {
        /// A folder (searched recursively) or a single DICOM file.
        folder: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a mask as a DICOM Segmentation object referencing its source series.
    #[command(
        after_help = "Example:\n  deepneuro dicom seg --source /data/patient01 --mask mask.nii.gz --label brain --out seg.dcm"
    )]
    Seg {
        /// The DICOM folder of the series the mask was computed from.
        #[arg(long)]
        source: PathBuf,
        /// The mask (NIfTI or NRRD) in the same frame of reference; another grid
        /// is resampled by nearest neighbour. Non-zero values become segments.
        #[arg(long)]
        mask: PathBuf,
        /// Segment name (SNOMED CT codes are chosen for brain, tumour, ...).
        #[arg(long, default_value = "segment")]
        label: String,
        /// The source series, when the folder holds several (default: the folder's only series).
        #[arg(long, value_name = "NUMBER|UID|REGEX")]
        series: Option<SeriesSelector>,
        /// The DICOM SEG file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: &DicomCommand) -> Result<(), Failure> {
    match cmd {
        DicomCommand::Ls { folder, json } => {
            let scan = deepneuro_dicom::scan(folder)?;
            if *json {
                println!("{}", deepneuro_dicom::format_json(&scan));
            } else {
                print!("{}", deepneuro_dicom::format_table(&scan));
            }
            Ok(())
        }
        DicomCommand::Seg {
            source,
            mask,
            label,
            series,
            out,
        } => {
            crate::overwrite::refuse(
                &[Some(source.as_path()), Some(mask.as_path())],
                &[Some(out.as_path())],
            )?;
            let scan = deepneuro_dicom::scan(source)?;
            let info = deepneuro_dicom::select(&scan, series.as_ref())?;
            let mask_volume = deepneuro_io::read(mask)?;
            let opts = seg::SegOptions {
                label: label.clone(),
                mask_path: mask.clone(),
                ..seg::SegOptions::default()
            };
            let summary = seg::write_seg(info, &mask_volume, out, &opts)?;
            tracing::info!(
                frames = summary.frames,
                segments = summary.segments.len(),
                resampled = summary.resampled,
                "wrote {}",
                out.display()
            );
            Ok(())
        }
    }
}

//! DICOM input and DICOM SEG output, without libtorch.
//!
//! # Reading
//!
//! [`scan`] walks a folder (any file names, with or without the `DICM`
//! preamble, even without a file meta group), skips what is not a DICOM
//! image and groups the rest into series, splitting a series that mixes
//! orientations, image sizes, echoes, temporal positions, enhanced-object
//! stacks or Segmentation segments, and one that repeats slice positions
//! by AcquisitionNumber, TriggerTime or b-value when that tells the repeats
//! apart. [`select`] picks one with a [`SeriesSelector`], and [`load`]
//! assembles it into a [`Volume`]: slices ordered by position along the
//! slice normal (never by InstanceNumber or file name), per-image rescale,
//! MONOCHROME1 inverted, and the affine from ImageOrientationPatient,
//! ImagePositionPatient and PixelSpacing converted from LPS to RAS. Gaps
//! are an error unless [`LoadOptions::allow_gaps`]; gantry tilt is
//! reported and kept as a sheared affine. Enhanced multi-frame objects use
//! their per-frame functional groups.
//!
//! Pixel data: implicit and explicit little endian, explicit big endian,
//! deflate, RLE lossless, JPEG baseline, extended (8-bit) and lossless,
//! JPEG 2000 (pure-Rust openjp2), and JPEG-LS lossless and near-lossless
//! (decoded by this crate). Anything else is
//! [`DicomError::UnsupportedTransferSyntax`], naming the syntax.
//!
//! # Writing
//!
//! [`seg::write_seg`] writes a binary DICOM Segmentation referencing the
//! source series.
//!
//! # Exit codes
//!
//! [`DicomError::exit_code`]: 3 invalid input, 4 unwritable output, 10 a
//! series choice is needed (several series and no `--series`) or does not
//! match, 11 an unsupported DICOM feature such as a transfer syntax.

mod codec;
mod error;
mod geometry;
mod header;
mod jpegls;
mod load;
mod native;
mod pixel;
mod scan;
pub mod seg;
mod select;
mod table;
mod ts;

pub use error::DicomError;
pub use load::{load, LoadOptions};
pub use scan::{is_dicom_input, scan, Acquisition, Scan, SeriesInfo, Skipped};
pub use select::{select, series_list, SeriesSelector};
pub use table::{format_json, format_table};
pub use ts::ts_name;

use deepneuro_volume::Volume;
use std::path::Path;

/// Scans `path`, picks a series and loads it: what every command that reads
/// a volume does with a DICOM folder. Skipped files and geometry notes are
/// logged as warnings.
pub fn read_volume(
    path: &Path,
    selector: Option<&SeriesSelector>,
    opts: &LoadOptions,
) -> Result<Volume, DicomError> {
    let scan = scan(path)?;
    warn_skipped(path, &scan);
    let series = select(&scan, selector)?;
    load(series, opts)
}

/// Logs, as one warning, the files a scan of `path` skipped (not DICOM
/// images), so no input is dropped silently.
pub fn warn_skipped(path: &Path, scan: &Scan) {
    if scan.skipped.is_empty() {
        return;
    }
    let names: Vec<String> = scan
        .skipped
        .iter()
        .map(|s| format!("{} ({})", s.path.display(), s.reason))
        .collect();
    tracing::warn!(
        "{}: skipped {} file(s) that are not DICOM images: {}",
        path.display(),
        names.len(),
        names.join("; ")
    );
}

/// Decodes the stored values of every frame of one file, without rescale or
/// inversion: `(frames, rows, columns)` and the values in C order. Used to
/// check decoders against other readers.
pub fn decode_raw(path: &Path) -> Result<([usize; 3], Vec<f32>), DicomError> {
    header::guarded(path, || {
        let obj = header::open(path, false)?;
        let layout = pixel::Layout::of(&obj, path)?;
        let frames = header::int_of(&obj, dicom_dictionary_std::tags::NUMBER_OF_FRAMES)
            .unwrap_or(1)
            .clamp(1, u32::MAX as i64) as u32;
        let plane = layout.rows * layout.cols;
        if plane as u64 * frames as u64 > load::MAX_VOXELS || plane == 0 {
            return Err(DicomError::PixelData {
                path: path.to_path_buf(),
                reason: format!("{frames} frames of {plane} pixels is not a plausible image"),
            });
        }
        let mut out = vec![0f32; plane * frames as usize];
        let t = pixel::Transform {
            slope: 1.0,
            intercept: 0.0,
            invert_monochrome1: false,
        };
        for (f, buf) in out.chunks_exact_mut(plane).enumerate() {
            pixel::decode_frame(&obj, path, &layout, f as u32, t, buf)?;
        }
        Ok(([frames as usize, layout.rows, layout.cols], out))
    })
}

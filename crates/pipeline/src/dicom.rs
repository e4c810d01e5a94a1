//! DICOM folders in (deepneuro-dicom: scan, select with `--series`, load)
//! and DICOM SEG out, as [`InputLoader`] and [`SegWriter`] plugins.

use crate::input::{InputKind, InputLoader, LoadOptions, Loaded, SegWriter};
use crate::PipelineError;
use deepneuro_dicom::seg::{SegOptions, SegmentSpec};
use deepneuro_dicom::{DicomError, SeriesSelector};
use deepneuro_volume::Volume;
use std::path::Path;

fn convert(path: &Path, e: DicomError) -> PipelineError {
    PipelineError::Loader {
        path: path.to_path_buf(),
        reason: e.to_string(),
        code: e.exit_code() as i32,
    }
}

fn pick<'a>(
    scan: &'a deepneuro_dicom::Scan,
    folder: &Path,
    series: Option<&str>,
) -> Result<&'a deepneuro_dicom::SeriesInfo, PipelineError> {
    let selector = series
        .map(str::parse::<SeriesSelector>)
        .transpose()
        .map_err(|e| convert(folder, e))?;
    deepneuro_dicom::select(scan, selector.as_ref()).map_err(|e| convert(folder, e))
}

/// A folder of DICOM files (or one DICOM file).
pub struct DicomLoader;

impl InputLoader for DicomLoader {
    fn accepts(&self, path: &Path) -> bool {
        deepneuro_dicom::is_dicom_input(path)
    }

    fn load(&self, path: &Path, opts: &LoadOptions) -> Result<Loaded, PipelineError> {
        let scan = deepneuro_dicom::scan(path).map_err(|e| convert(path, e))?;
        let series = pick(&scan, path, opts.series.as_deref())?;
        let volume = deepneuro_dicom::load(series, &deepneuro_dicom::LoadOptions::default())
            .map_err(|e| convert(path, e))?;
        Ok(Loaded {
            volume,
            kind: InputKind::Dicom {
                folder: path.to_path_buf(),
                series: series.uid.clone(),
            },
        })
    }
}

/// Writes the brain mask as a one-segment DICOM SEG.
pub struct DicomSegWriter;

impl SegWriter for DicomSegWriter {
    fn write_seg(
        &self,
        source: &Path,
        series: Option<&str>,
        mask: &Volume,
        dest: &Path,
    ) -> Result<(), PipelineError> {
        let scan = deepneuro_dicom::scan(source).map_err(|e| convert(source, e))?;
        let info = pick(&scan, source, series)?;
        let opts = SegOptions {
            segments: vec![SegmentSpec::named(1, "Brain")],
            label: "Brain".into(),
            algorithm_name: "deepneuro skull-strip (deepbet 1.0.2)".into(),
            series_description: "Brain mask".into(),
            content_label: "BRAIN".into(),
            mask_frame_of_reference: info.frame_of_reference_uid.clone(),
            mask_path: dest.to_path_buf(),
            ..SegOptions::default()
        };
        deepneuro_dicom::seg::write_seg(info, mask, dest, &opts).map_err(|e| convert(dest, e))?;
        Ok(())
    }
}

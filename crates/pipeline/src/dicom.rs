//! DICOM SEG output: one segment per label of the spec's `[seg]` value,
//! described as its `[[seg.segment]]` entries say.

use crate::input::{dicom_error, pick};
use crate::spec::SegDecl;
use crate::PipelineError;
use deepneuro_dicom::seg::{Code, SegOptions, SegmentSpec};
use deepneuro_volume::Volume;
use std::path::Path;

/// The segment descriptions of `decl`: the spec's codes where given, else
/// codes chosen from the segment's name.
pub fn segments(decl: &SegDecl) -> Vec<SegmentSpec> {
    decl.segments
        .iter()
        .map(|s| {
            let mut spec = SegmentSpec::named(s.label, &s.name);
            if let Some([code, meaning]) = &s.category {
                spec.category = Code::sct(code, meaning);
            }
            if let Some([code, meaning]) = &s.property {
                spec.property = Code::sct(code, meaning);
            }
            spec.colour = s.colour;
            spec
        })
        .collect()
}

/// Writes `labels` (a mask or label map on the source series' grid, or one
/// in its frame of reference) as a DICOM SEG referring to the series
/// `series` of the DICOM folder `source`.
pub fn write_seg(
    source: &Path,
    series: Option<&str>,
    labels: &Volume,
    dest: &Path,
    decl: &SegDecl,
    module: &str,
) -> Result<(), PipelineError> {
    let scan = deepneuro_dicom::scan(source).map_err(|e| dicom_error(source, e))?;
    let info = pick(&scan, source, series)?;
    let content_label: String = decl
        .content_label
        .to_ascii_uppercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ' ')
        .take(16)
        .collect();
    let opts = SegOptions {
        segments: segments(decl),
        label: decl
            .segments
            .first()
            .map_or_else(|| "segment".to_string(), |s| s.name.clone()),
        algorithm_name: decl
            .algorithm
            .clone()
            .unwrap_or_else(|| format!("deepneuro {module}")),
        series_description: decl.series_description.clone(),
        content_label,
        mask_frame_of_reference: info.frame_of_reference_uid.clone(),
        mask_path: dest.to_path_buf(),
        ..SegOptions::default()
    };
    deepneuro_dicom::seg::write_seg(info, labels, dest, &opts).map_err(|e| dicom_error(dest, e))?;
    Ok(())
}

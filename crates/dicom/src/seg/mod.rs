//! DICOM Segmentation output: a binary (1-bit) Segmentation IOD with one
//! segment per label of a mask, referencing the source series image by
//! image, readable by highdicom and dcmqi.

mod build;
mod codes;
mod elements;
mod items;
mod resample;

pub use codes::{codes_for_label, Code};

use crate::geometry::directions;
use crate::header::{open, Frame};
use crate::{DicomError, SeriesInfo};
use deepneuro_volume::Volume;
use std::path::{Path, PathBuf};

/// One segment: which mask value it covers and how it is described.
#[derive(Clone, Debug)]
pub struct SegmentSpec {
    /// The mask voxel value of this segment.
    pub value: u32,
    pub label: String,
    /// Segmented property category (e.g. SCT 49755003 Morphologically
    /// Abnormal Structure).
    pub category: Code,
    /// Segmented property type (e.g. SCT 108369006 Neoplasm).
    pub property: Code,
    /// sRGB display colour, written as RecommendedDisplayCIELabValue.
    pub colour: Option<[u8; 3]>,
}

impl SegmentSpec {
    /// A segment described by its label, with codes chosen by
    /// [`codes_for_label`].
    pub fn named(value: u32, label: &str) -> SegmentSpec {
        let (category, property) = codes_for_label(label);
        SegmentSpec {
            value,
            label: label.into(),
            category,
            property,
            colour: None,
        }
    }
}

/// How to describe the segmentation.
#[derive(Clone, Debug)]
pub struct SegOptions {
    /// Segment descriptions by mask value; values of the mask not listed
    /// here get a segment named after [`SegOptions::label`].
    pub segments: Vec<SegmentSpec>,
    /// Name for segments not described in `segments` (`--label`): used as
    /// is for a binary mask, suffixed with the value when there are several.
    pub label: String,
    pub algorithm_name: String,
    pub algorithm_version: String,
    pub series_description: String,
    pub series_number: i64,
    /// ContentLabel (upper case, at most 16 characters).
    pub content_label: String,
    pub manufacturer: String,
    /// The mask's frame of reference when known (a mask derived from DICOM);
    /// it must equal the source's. A NIfTI mask carries none: it is then
    /// checked to overlap the source series.
    pub mask_frame_of_reference: Option<String>,
    /// The mask's file, for error messages.
    pub mask_path: PathBuf,
}

impl Default for SegOptions {
    fn default() -> Self {
        SegOptions {
            segments: Vec::new(),
            label: "segment".into(),
            algorithm_name: "deepneuro".into(),
            algorithm_version: env!("CARGO_PKG_VERSION").into(),
            series_description: "Segmentation".into(),
            series_number: 300,
            content_label: "SEGMENTATION".into(),
            manufacturer: "deepneuro".into(),
            mask_frame_of_reference: None,
            mask_path: PathBuf::from("mask"),
        }
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct SegSummary {
    pub segments: Vec<SegmentSpec>,
    pub frames: usize,
    pub sop_instance_uid: String,
    /// Whether the mask had to be resampled onto the source images.
    pub resampled: bool,
}

/// Writes `mask` (a label map on the source grid or on any grid in the same
/// frame of reference, resampled by nearest neighbour) as a DICOM SEG at
/// `out`, through a temporary file renamed into place.
pub fn write_seg(
    source: &SeriesInfo,
    mask: &Volume,
    out: &Path,
    opts: &SegOptions,
) -> Result<SegSummary, DicomError> {
    let frames: &[Frame] = &source.frames;
    let first = frames.first().ok_or_else(|| DicomError::NoSeries {
        path: source.root.clone(),
        skipped: 0,
    })?;
    if let (Some(m), Some(s)) = (&opts.mask_frame_of_reference, &first.frame_of_reference_uid) {
        if m != s {
            return Err(DicomError::Mask {
                path: opts.mask_path.clone(),
                reason: format!("the mask's frame of reference {m} is not the source series' {s}"),
            });
        }
    }
    let iop = first.iop.ok_or_else(|| DicomError::MissingAttribute {
        path: first.path.clone(),
        attribute: "ImageOrientationPatient (0020,0037)",
    })?;
    let (r, c, _) = directions(&iop, &first.path)?;
    let geo = crate::geometry::analyse(frames)?;
    let (labels, inside) = resample::labels_on_source(frames, (r, c), mask, &opts.mask_path)?;
    if inside == 0 {
        return Err(DicomError::Mask {
            path: opts.mask_path.clone(),
            reason: format!(
                "the mask does not overlap series {} in world space: it belongs to another frame of reference",
                source.key
            ),
        });
    }
    let resampled = !same_grid(mask, source, &geo);
    let mut values: Vec<u32> = labels
        .iter()
        .flatten()
        .copied()
        .filter(|v| *v != 0)
        .collect();
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        return Err(DicomError::Mask {
            path: opts.mask_path.clone(),
            reason: format!("the mask has no labelled voxel on series {}", source.key),
        });
    }
    let segments: Vec<SegmentSpec> = values
        .iter()
        .map(|v| {
            opts.segments
                .iter()
                .find(|s| s.value == *v)
                .cloned()
                .unwrap_or_else(|| {
                    let name = if values.len() == 1 {
                        opts.label.clone()
                    } else {
                        format!("{} {v}", opts.label)
                    };
                    SegmentSpec::named(*v, &name)
                })
        })
        .collect();
    let src = open(&first.path, true)?;
    let built = build::build(&build::Input {
        source,
        source_obj: &src,
        frames,
        geo: &geo,
        labels: &labels,
        segments: &segments,
        opts,
    })?;
    let n_frames = built.frames;
    let uid = built.sop_instance_uid.clone();
    write_file(&built.object, out)?;
    Ok(SegSummary {
        segments,
        frames: n_frames,
        sop_instance_uid: uid,
        resampled,
    })
}

fn same_grid(mask: &Volume, source: &SeriesInfo, geo: &crate::geometry::Geometry) -> bool {
    let want = [
        source.dimensions[0],
        source.dimensions[1],
        source.frames.len(),
    ];
    mask.spatial_shape() == want
        && geo.is_regular()
        && (mask.affine() - geo.affine(geo.mean_step())).abs().max() < 1e-4
}

fn write_file(obj: &crate::header::Obj, out: &Path) -> Result<(), DicomError> {
    deepneuro_io::write_atomic(out, |w| {
        obj.write_all(w)
            .map_err(|e| std::io::Error::other(crate::header::error_chain(&e)))
    })
    .map_err(|e| match e {
        deepneuro_io::IoError::Unwritable { reason, .. } => DicomError::Unwritable {
            path: out.to_path_buf(),
            reason,
        },
        other => DicomError::Unwritable {
            path: out.to_path_buf(),
            reason: other.to_string(),
        },
    })
}

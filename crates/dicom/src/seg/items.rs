//! The repeated parts of a Segmentation: segment descriptions, per-frame
//! functional groups and the references to the source images.

use super::codes::{artificial_intelligence, segmentation_derivation, source_image_purpose};
use super::elements::{code_item, ds_multi, item, put, put_seq};
use super::{SegOptions, SegmentSpec};
use crate::header::Frame;
use crate::SeriesInfo;
use dicom_core::value::PrimitiveValue;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

pub(crate) fn segment_items(segments: &[SegmentSpec], opts: &SegOptions) -> Vec<InMemDicomObject> {
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            item(|it| {
                put(it, tags::SEGMENT_NUMBER, VR::US, (i + 1) as u16);
                put(it, tags::SEGMENT_LABEL, VR::LO, s.label.as_str());
                put(it, tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "AUTOMATIC");
                put(
                    it,
                    tags::SEGMENT_ALGORITHM_NAME,
                    VR::LO,
                    opts.algorithm_name.as_str(),
                );
                put_seq(
                    it,
                    tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                    vec![code_item(&s.category)],
                );
                put_seq(
                    it,
                    tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                    vec![code_item(&s.property)],
                );
                put_seq(
                    it,
                    tags::SEGMENTATION_ALGORITHM_IDENTIFICATION_SEQUENCE,
                    vec![item(|a| {
                        put_seq(
                            a,
                            tags::ALGORITHM_FAMILY_CODE_SEQUENCE,
                            vec![code_item(&artificial_intelligence())],
                        );
                        put(
                            a,
                            tags::ALGORITHM_NAME,
                            VR::LO,
                            opts.algorithm_name.as_str(),
                        );
                        put(
                            a,
                            tags::ALGORITHM_VERSION,
                            VR::LO,
                            opts.algorithm_version.as_str(),
                        );
                    })],
                );
            })
        })
        .collect()
}

pub(crate) fn frame_item(src: &Frame, seg_no: u16, k: usize, ipp: &[f64; 3]) -> InMemDicomObject {
    item(|f| {
        put_seq(
            f,
            tags::DERIVATION_IMAGE_SEQUENCE,
            vec![item(|d| {
                put_seq(
                    d,
                    tags::SOURCE_IMAGE_SEQUENCE,
                    vec![item(|s| {
                        put(
                            s,
                            tags::REFERENCED_SOP_CLASS_UID,
                            VR::UI,
                            src.sop_class_uid.as_str(),
                        );
                        put(
                            s,
                            tags::REFERENCED_SOP_INSTANCE_UID,
                            VR::UI,
                            src.sop_instance_uid.as_str(),
                        );
                        if src.frames_in_file > 1 {
                            put(
                                s,
                                tags::REFERENCED_FRAME_NUMBER,
                                VR::IS,
                                (src.frame + 1).to_string(),
                            );
                        }
                        put_seq(
                            s,
                            tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                            vec![code_item(&source_image_purpose())],
                        );
                    })],
                );
                put_seq(
                    d,
                    tags::DERIVATION_CODE_SEQUENCE,
                    vec![code_item(&segmentation_derivation())],
                );
            })],
        );
        put_seq(
            f,
            tags::FRAME_CONTENT_SEQUENCE,
            vec![item(|c| {
                put(
                    c,
                    tags::DIMENSION_INDEX_VALUES,
                    VR::UL,
                    PrimitiveValue::U32([seg_no as u32, k as u32 + 1].into_iter().collect()),
                );
            })],
        );
        put_seq(
            f,
            tags::PLANE_POSITION_SEQUENCE,
            vec![item(|p| {
                put(p, tags::IMAGE_POSITION_PATIENT, VR::DS, ds_multi(ipp))
            })],
        );
        put_seq(
            f,
            tags::SEGMENT_IDENTIFICATION_SEQUENCE,
            vec![item(|s| {
                put(s, tags::REFERENCED_SEGMENT_NUMBER, VR::US, seg_no)
            })],
        );
    })
}

/// The Common Instance Reference module: every source image of the series.
pub(crate) fn referenced_series(source: &SeriesInfo, frames: &[Frame]) -> InMemDicomObject {
    let mut seen = std::collections::BTreeSet::new();
    let instances: Vec<InMemDicomObject> = frames
        .iter()
        .filter(|f| seen.insert(f.sop_instance_uid.clone()))
        .map(|f| {
            item(|i| {
                put(
                    i,
                    tags::REFERENCED_SOP_CLASS_UID,
                    VR::UI,
                    f.sop_class_uid.as_str(),
                );
                put(
                    i,
                    tags::REFERENCED_SOP_INSTANCE_UID,
                    VR::UI,
                    f.sop_instance_uid.as_str(),
                );
            })
        })
        .collect();
    item(|s| {
        put(s, tags::SERIES_INSTANCE_UID, VR::UI, source.uid.as_str());
        put_seq(s, tags::REFERENCED_INSTANCE_SEQUENCE, instances);
    })
}

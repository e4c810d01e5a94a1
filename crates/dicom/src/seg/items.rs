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
                if let Some(rgb) = s.colour {
                    put(
                        it,
                        tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
                        VR::US,
                        PrimitiveValue::from(dicom_lab(rgb)),
                    );
                }
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

/// An sRGB colour as DICOM's scaled CIELab (PS3.3 C.10.7.1.1): L* in
/// 0..100 and a*, b* in -128..127 mapped onto 0..65535, D65 white.
pub(crate) fn dicom_lab(rgb: [u8; 3]) -> [u16; 3] {
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = rgb.map(lin);
    // sRGB (D65) to XYZ, normalised by the D65 white point.
    let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
    let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
    let f = |t: f64| {
        if t > 216.0 / 24389.0 {
            t.cbrt()
        } else {
            (24389.0 / 27.0 * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    let (l, a, bb) = (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz));
    let scale = |v: f64, lo: f64, hi: f64| {
        (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 65535.0).round() as u16
    };
    [
        scale(l, 0.0, 100.0),
        scale(a, -128.0, 127.0),
        scale(bb, -128.0, 127.0),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn lab_of_white_black_and_red() {
        // Values from colormath/skimage for D65 (L*, a*, b*): white (100, 0, 0),
        // black (0, 0, 0), pure red (53.24, 80.09, 67.20).
        assert_eq!(super::dicom_lab([255, 255, 255]), [65535, 32896, 32896]);
        assert_eq!(super::dicom_lab([0, 0, 0]), [0, 32896, 32896]);
        let [l, a, b] = super::dicom_lab([255, 0, 0]);
        let back = |v: u16, lo: f64, hi: f64| lo + v as f64 / 65535.0 * (hi - lo);
        assert!((back(l, 0.0, 100.0) - 53.24).abs() < 0.05);
        assert!((back(a, -128.0, 127.0) - 80.09).abs() < 0.1);
        assert!((back(b, -128.0, 127.0) - 67.20).abs() < 0.1);
    }
}

//! The Segmentation data set, attribute by attribute (PS3.3 A.51).

use super::elements::{ds, ds_multi, item, new_uid, now, put, put_seq};
use super::items::{frame_item, referenced_series, segment_items};
use super::{SegOptions, SegmentSpec};
use crate::geometry::Geometry;
use crate::header::{Frame, Obj};
use crate::{DicomError, SeriesInfo};
use dicom_core::value::PrimitiveValue;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

pub(crate) struct Input<'a> {
    pub source: &'a SeriesInfo,
    pub source_obj: &'a Obj,
    pub frames: &'a [Frame],
    pub geo: &'a Geometry,
    pub labels: &'a [Vec<u32>],
    pub segments: &'a [SegmentSpec],
    pub opts: &'a SegOptions,
}

pub(crate) struct Built {
    pub object: Obj,
    pub frames: usize,
    pub sop_instance_uid: String,
}

/// Patient and study attributes copied verbatim from the source.
const COPIED: [Tag; 14] = [
    tags::SPECIFIC_CHARACTER_SET,
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_SEX,
    tags::PATIENT_AGE,
    tags::STUDY_INSTANCE_UID,
    tags::STUDY_DATE,
    tags::STUDY_TIME,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::STUDY_ID,
    tags::ACCESSION_NUMBER,
    tags::STUDY_DESCRIPTION,
    tags::FRAME_OF_REFERENCE_UID,
];

/// Attributes of type 2 that must be present even when the source lacks them.
const TYPE2: [(Tag, VR); 7] = [
    (tags::PATIENT_NAME, VR::PN),
    (tags::PATIENT_ID, VR::LO),
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::STUDY_ID, VR::SH),
    (tags::ACCESSION_NUMBER, VR::SH),
];

pub(crate) fn build(inp: &Input<'_>) -> Result<Built, DicomError> {
    let first = &inp.frames[0];
    let opts = inp.opts;
    let mut o = InMemDicomObject::new_empty();
    for tag in COPIED {
        if let Some(e) = inp.source_obj.get(tag) {
            o.put(e.clone());
        }
    }
    for (tag, vr) in TYPE2 {
        if o.get(tag).is_none() {
            put(&mut o, tag, vr, "");
        }
    }
    if o.get(tags::STUDY_INSTANCE_UID).is_none() {
        put(
            &mut o,
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            first.study_uid.as_str(),
        );
    }
    let frame_of_ref =
        first
            .frame_of_reference_uid
            .clone()
            .ok_or_else(|| DicomError::MissingAttribute {
                path: first.path.clone(),
                attribute: "FrameOfReferenceUID (0020,0052)",
            })?;
    put(
        &mut o,
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        frame_of_ref.as_str(),
    );
    put(&mut o, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");

    let (date, time) = now();
    let sop_uid = new_uid();
    put(
        &mut o,
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::SEGMENTATION_STORAGE,
    );
    put(&mut o, tags::SOP_INSTANCE_UID, VR::UI, sop_uid.as_str());
    put(&mut o, tags::MODALITY, VR::CS, "SEG");
    put(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, new_uid());
    put(
        &mut o,
        tags::SERIES_NUMBER,
        VR::IS,
        opts.series_number.to_string(),
    );
    put(
        &mut o,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        opts.series_description.as_str(),
    );
    put(&mut o, tags::SERIES_DATE, VR::DA, date.as_str());
    put(&mut o, tags::SERIES_TIME, VR::TM, time.as_str());
    put(&mut o, tags::INSTANCE_NUMBER, VR::IS, "1");
    put(&mut o, tags::CONTENT_DATE, VR::DA, date.as_str());
    put(&mut o, tags::CONTENT_TIME, VR::TM, time.as_str());
    put(&mut o, tags::INSTANCE_CREATION_DATE, VR::DA, date.as_str());
    put(&mut o, tags::INSTANCE_CREATION_TIME, VR::TM, time.as_str());
    put(
        &mut o,
        tags::MANUFACTURER,
        VR::LO,
        opts.manufacturer.as_str(),
    );
    put(
        &mut o,
        tags::MANUFACTURER_MODEL_NAME,
        VR::LO,
        opts.algorithm_name.as_str(),
    );
    put(&mut o, tags::DEVICE_SERIAL_NUMBER, VR::LO, "0");
    put(
        &mut o,
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        opts.algorithm_version.as_str(),
    );
    put(
        &mut o,
        tags::IMAGE_TYPE,
        VR::CS,
        PrimitiveValue::Strs(
            ["DERIVED", "PRIMARY"]
                .map(String::from)
                .into_iter()
                .collect(),
        ),
    );
    let label: String = opts
        .content_label
        .to_ascii_uppercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(16)
        .collect();
    put(&mut o, tags::CONTENT_LABEL, VR::CS, label);
    put(
        &mut o,
        tags::CONTENT_DESCRIPTION,
        VR::LO,
        opts.series_description.as_str(),
    );
    put(&mut o, tags::CONTENT_CREATOR_NAME, VR::PN, "");
    put(&mut o, tags::SEGMENTATION_TYPE, VR::CS, "BINARY");
    put(&mut o, tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00");

    // Image pixel module: 1-bit monochrome.
    let (rows, cols) = (first.rows, first.cols);
    put(&mut o, tags::SAMPLES_PER_PIXEL, VR::US, 1u16);
    put(
        &mut o,
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    );
    put(&mut o, tags::ROWS, VR::US, rows);
    put(&mut o, tags::COLUMNS, VR::US, cols);
    put(&mut o, tags::BITS_ALLOCATED, VR::US, 1u16);
    put(&mut o, tags::BITS_STORED, VR::US, 1u16);
    put(&mut o, tags::HIGH_BIT, VR::US, 0u16);
    put(&mut o, tags::PIXEL_REPRESENTATION, VR::US, 0u16);

    put_seq(
        &mut o,
        tags::SEGMENT_SEQUENCE,
        segment_items(inp.segments, opts),
    );

    // Dimensions: segment, then position along the normal.
    let dim_org = new_uid();
    put_seq(
        &mut o,
        tags::DIMENSION_ORGANIZATION_SEQUENCE,
        vec![item(|i| {
            put(
                i,
                tags::DIMENSION_ORGANIZATION_UID,
                VR::UI,
                dim_org.as_str(),
            )
        })],
    );
    put(&mut o, tags::DIMENSION_ORGANIZATION_TYPE, VR::CS, "3D");
    let dim = |pointer: Tag, group: Tag, what: &str| {
        item(|i| {
            put(
                i,
                tags::DIMENSION_ORGANIZATION_UID,
                VR::UI,
                dim_org.as_str(),
            );
            put(i, tags::DIMENSION_INDEX_POINTER, VR::AT, pointer);
            put(i, tags::FUNCTIONAL_GROUP_POINTER, VR::AT, group);
            put(i, tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, what);
        })
    };
    put_seq(
        &mut o,
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            dim(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "ReferencedSegmentNumber",
            ),
            dim(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "ImagePositionPatient",
            ),
        ],
    );

    // Shared groups: pixel measures and orientation, as in the source.
    let geo = inp.geo;
    let iop = first.iop.unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let thickness = first
        .slice_thickness
        .filter(|t| *t > 0.0)
        .unwrap_or(geo.step);
    let shared = item(|s| {
        put_seq(
            s,
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![item(|m| {
                put(m, tags::PIXEL_SPACING, VR::DS, ds_multi(&[geo.dy, geo.dx]));
                put(m, tags::SLICE_THICKNESS, VR::DS, ds(thickness));
                put(m, tags::SPACING_BETWEEN_SLICES, VR::DS, ds(geo.step));
            })],
        );
        put_seq(
            s,
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![item(|p| {
                put(p, tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds_multi(&iop))
            })],
        );
    });
    put_seq(
        &mut o,
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![shared],
    );

    // Per-frame groups and pixel data, segment after segment; every source
    // image gets a frame so that readers see the full stack.
    let plane = rows as usize * cols as usize;
    let n_frames = inp.segments.len() * inp.frames.len();
    let mut bits = vec![0u8; (n_frames * plane).div_ceil(8)];
    let mut per_frame = Vec::with_capacity(n_frames);
    let mut f_index = 0usize;
    for (s_idx, seg) in inp.segments.iter().enumerate() {
        let seg_no = (s_idx + 1) as u16;
        for (k, src) in inp.frames.iter().enumerate() {
            let ipp = src.ipp.unwrap_or([0.0; 3]);
            per_frame.push(frame_item(src, seg_no, k, &ipp));
            let base = f_index * plane;
            for (p, v) in inp.labels[k].iter().enumerate() {
                if *v == seg.value {
                    let bit = base + p;
                    bits[bit / 8] |= 1 << (bit % 8);
                }
            }
            f_index += 1;
        }
    }
    put(&mut o, tags::NUMBER_OF_FRAMES, VR::IS, n_frames.to_string());
    put_seq(
        &mut o,
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        per_frame,
    );
    put_seq(
        &mut o,
        tags::REFERENCED_SERIES_SEQUENCE,
        vec![referenced_series(inp.source, inp.frames)],
    );
    if bits.len() % 2 == 1 {
        bits.push(0);
    }
    put(&mut o, tags::PIXEL_DATA, VR::OB, bits);

    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
        .media_storage_sop_class_uid(uids::SEGMENTATION_STORAGE)
        .media_storage_sop_instance_uid(sop_uid.as_str())
        .implementation_class_uid("2.25.302180366441409434633535435925330423808")
        .implementation_version_name("DEEPNEURO");
    let object = o.with_meta(meta).map_err(|e| DicomError::Unwritable {
        path: inp.opts.mask_path.clone(),
        reason: crate::header::error_chain(&e),
    })?;
    Ok(Built {
        object,
        frames: n_frames,
        sop_instance_uid: sop_uid,
    })
}

//! Reading one file's header into per-frame records. A classic file gives
//! one record; an enhanced multi-frame file gives one per frame, with its
//! geometry and rescale taken from the per-frame or shared functional groups.

use crate::pixel::Layout;
use crate::DicomError;
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject, OpenFileOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

pub(crate) type Obj = FileDicomObject<InMemDicomObject>;

/// One image plane (a file, or a frame of a multi-frame file) with what is
/// needed to group, order and decode it.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub path: PathBuf,
    /// Zero-based frame index within the file.
    pub frame: u32,
    pub frames_in_file: u32,
    pub series_uid: String,
    pub series_number: Option<i64>,
    pub description: String,
    pub modality: String,
    pub study_uid: String,
    pub patient_id: Option<String>,
    pub frame_of_reference_uid: Option<String>,
    pub sop_instance_uid: String,
    pub sop_class_uid: String,
    pub rows: u16,
    pub cols: u16,
    pub ipp: Option<[f64; 3]>,
    pub iop: Option<[f64; 6]>,
    /// (row spacing, column spacing), as DICOM orders PixelSpacing.
    pub pixel_spacing: Option<[f64; 2]>,
    pub slice_thickness: Option<f64>,
    pub slope: f64,
    pub intercept: f64,
    /// Echo number or echo time, when the object names one.
    pub echo: Option<String>,
    /// Temporal position, when the object names one.
    pub temporal: Option<String>,
    /// Another reason frames form separate volumes: the stack of an
    /// enhanced object, the segment of a Segmentation, or (set by `scan`)
    /// the acquisition that tells repeated positions apart.
    pub part: Option<String>,
    /// Attributes that can tell repeated positions apart (time points,
    /// diffusion weightings) when no temporal position is given:
    /// AcquisitionNumber, TriggerTime, DiffusionBValue.
    pub repeats: [Option<String>; 3],
    pub gantry_tilt: Option<f64>,
    pub transfer_syntax: String,
    /// How pixels are stored, when this build can decode them.
    pub layout: Option<Layout>,
    /// What tells the contrast of an MR series apart.
    pub acquisition: crate::scan::Acquisition,
}

/// Opens a DICOM file with or without the 128-byte preamble, and also a
/// bare data set without a file meta group (assumed implicit VR little
/// endian, as old scanners and some PACS exports write them).
pub(crate) fn open(path: &Path, headers_only: bool) -> Result<Obj, DicomError> {
    let mut head = Vec::with_capacity(132);
    std::fs::File::open(path)
        .and_then(|f| f.take(132).read_to_end(&mut head))
        .map_err(|e| DicomError::io(path, e))?;
    let magic = head.get(128..132) == Some(b"DICM") || head.get(..4) == Some(b"DICM");
    if !magic {
        return open_bare(path).map_err(|_| DicomError::NotDicom {
            path: path.to_path_buf(),
            reason: "no DICM marker and no data set at the start".into(),
        });
    }
    let mut opts = OpenFileOptions::new().read_preamble(ReadPreamble::Auto);
    if headers_only {
        opts = opts.read_until(tags::PIXEL_DATA);
    }
    opts.open_file(path).map_err(|e| DicomError::NotDicom {
        path: path.to_path_buf(),
        reason: error_chain(&e),
    })
}

/// An error and its sources on one line, so that the reason says what
/// failed deep inside the parser (a truncated element, a bad length).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A data set without meta group: accepted only when it starts with a
/// plausible group 0008 element, so that random files are not parsed. The
/// encoding is guessed from that first element: its byte order, and
/// whether a two-letter VR follows the tag.
fn open_bare(path: &Path) -> Result<Obj, ()> {
    use dicom_transfer_syntax_registry::entries as ts;
    let mut f = std::fs::File::open(path).map_err(|_| ())?;
    let mut head = [0u8; 8];
    f.read_exact(&mut head).map_err(|_| ())?;
    let vr_follows = head[4].is_ascii_uppercase() && head[5].is_ascii_uppercase();
    let syntax = match (head[0], head[1]) {
        (0x08, 0x00) if vr_follows => ts::EXPLICIT_VR_LITTLE_ENDIAN,
        (0x08, 0x00) => ts::IMPLICIT_VR_LITTLE_ENDIAN,
        (0x00, 0x08) if vr_follows => ts::EXPLICIT_VR_BIG_ENDIAN,
        _ => return Err(()),
    };
    let bytes = std::fs::read(path).map_err(|_| ())?;
    let uid = syntax.uid();
    let obj =
        InMemDicomObject::read_dataset_with_ts(&bytes[..], &syntax.erased()).map_err(|_| ())?;
    let class = str_of(&obj, tags::SOP_CLASS_UID).ok_or(())?;
    let inst = str_of(&obj, tags::SOP_INSTANCE_UID).ok_or(())?;
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(uid)
        .media_storage_sop_class_uid(class)
        .media_storage_sop_instance_uid(inst);
    obj.with_meta(meta).map_err(|_| ())
}

pub(crate) fn str_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let elem = obj.element_opt(tag).ok()??;
    // A text attribute read with an unknown VR (UN, or implicit VR with a
    // private dictionary) arrives as bytes; read those as text too.
    let s = match elem.value() {
        dicom_core::value::Value::Primitive(dicom_core::value::PrimitiveValue::U8(b)) => {
            String::from_utf8_lossy(b).into_owned().into()
        }
        _ => elem.to_str().ok()?,
    };
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    Some(s.to_string())
}

pub(crate) fn f64s_of(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let v = obj.element_opt(tag).ok()??.to_multi_float64().ok()?;
    if v.iter().all(|x| x.is_finite()) {
        Some(v)
    } else {
        None
    }
}

pub(crate) fn f64_of(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    f64s_of(obj, tag).and_then(|v| v.first().copied())
}

pub(crate) fn int_of(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.element_opt(tag).ok()??.to_int::<i64>().ok()
}

fn arr<const N: usize>(v: Option<Vec<f64>>) -> Option<[f64; N]> {
    v.and_then(|v| v.get(..N).and_then(|s| s.try_into().ok()))
}

/// The first item of a sequence.
pub(crate) fn item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.element_opt(tag).ok()??.items()?.first()
}

/// Looks up `inner` in the first item of sequence `seq` within the
/// per-frame group, falling back to the shared group.
fn fg<'a>(
    per_frame: Option<&'a InMemDicomObject>,
    shared: Option<&'a InMemDicomObject>,
    seq: Tag,
) -> impl Iterator<Item = &'a InMemDicomObject> {
    [per_frame, shared]
        .into_iter()
        .flatten()
        .filter_map(move |g| item(g, seq))
}

/// Reads the header records of every frame in `path`.
pub(crate) fn read_frames(path: &Path) -> Result<Vec<Frame>, DicomError> {
    guarded(path, || {
        let obj = open(path, true)?;
        frames_of(&obj, path)
    })
}

/// Runs `f`, turning a panic inside the DICOM parser or a codec (which a
/// malformed file could trigger) into an error naming the file, so that
/// one bad file never takes the process down.
pub(crate) fn guarded<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, DicomError>,
) -> Result<T, DicomError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(DicomError::NotDicom {
            path: path.to_path_buf(),
            reason: "malformed data made the decoder fail".into(),
        })
    })
}

pub(crate) fn frames_of(obj: &Obj, path: &Path) -> Result<Vec<Frame>, DicomError> {
    let missing = |attribute| DicomError::MissingAttribute {
        path: path.to_path_buf(),
        attribute,
    };
    let rows = int_of(obj, tags::ROWS).ok_or_else(|| missing("Rows (0028,0010): not an image"))?;
    let cols = int_of(obj, tags::COLUMNS).ok_or_else(|| missing("Columns (0028,0011)"))?;
    if !(1..=65535).contains(&rows) || !(1..=65535).contains(&cols) {
        return Err(missing("Rows/Columns (0028,0010/0011)"));
    }
    let series_uid =
        str_of(obj, tags::SERIES_INSTANCE_UID).ok_or_else(|| missing("SeriesInstanceUID"))?;
    let n_frames = int_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1);
    if n_frames > u32::MAX as i64 {
        return Err(missing("NumberOfFrames (0028,0008)"));
    }
    let n_frames = n_frames as u32;
    // Every frame takes at least a byte of the file, so a larger count is a
    // corrupt header, refused before it can ask for huge allocations.
    let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if n_frames as u64 > file_len {
        return Err(missing(
            "NumberOfFrames (0028,0008): more frames than bytes",
        ));
    }
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let bits_allocated = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(16).clamp(0, 64) as u16;
    let samples_per_pixel = int_of(obj, tags::SAMPLES_PER_PIXEL)
        .unwrap_or(1)
        .clamp(0, 16) as u16;
    check_native_length(
        obj,
        path,
        &ts,
        rows,
        cols,
        n_frames,
        bits_allocated,
        samples_per_pixel,
    )?;

    let base = Frame {
        path: path.to_path_buf(),
        frame: 0,
        frames_in_file: n_frames,
        series_uid,
        series_number: int_of(obj, tags::SERIES_NUMBER),
        description: str_of(obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
        modality: str_of(obj, tags::MODALITY).unwrap_or_default(),
        study_uid: str_of(obj, tags::STUDY_INSTANCE_UID).unwrap_or_default(),
        patient_id: str_of(obj, tags::PATIENT_ID),
        frame_of_reference_uid: str_of(obj, tags::FRAME_OF_REFERENCE_UID),
        sop_instance_uid: str_of(obj, tags::SOP_INSTANCE_UID).unwrap_or_default(),
        sop_class_uid: str_of(obj, tags::SOP_CLASS_UID).unwrap_or_default(),
        rows: rows as u16,
        cols: cols as u16,
        ipp: arr(f64s_of(obj, tags::IMAGE_POSITION_PATIENT)),
        iop: arr(f64s_of(obj, tags::IMAGE_ORIENTATION_PATIENT)),
        pixel_spacing: arr(f64s_of(obj, tags::PIXEL_SPACING)),
        slice_thickness: f64_of(obj, tags::SLICE_THICKNESS),
        slope: f64_of(obj, tags::RESCALE_SLOPE).unwrap_or(1.0),
        intercept: f64_of(obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0),
        echo: str_of(obj, tags::ECHO_NUMBERS).filter(|s| !s.is_empty()),
        temporal: str_of(obj, tags::TEMPORAL_POSITION_IDENTIFIER).filter(|s| !s.is_empty()),
        part: None,
        acquisition: crate::scan::Acquisition {
            repetition_time_ms: f64_of(obj, tags::REPETITION_TIME),
            echo_time_ms: f64_of(obj, tags::ECHO_TIME),
            inversion_time_ms: f64_of(obj, tags::INVERSION_TIME),
            contrast_agent: str_of(obj, tags::CONTRAST_BOLUS_AGENT)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        },
        repeats: [
            str_of(obj, tags::ACQUISITION_NUMBER),
            str_of(obj, tags::TRIGGER_TIME),
            str_of(obj, tags::DIFFUSION_B_VALUE),
        ]
        .map(|v| v.filter(|s| !s.is_empty())),
        gantry_tilt: f64_of(obj, tags::GANTRY_DETECTOR_TILT),
        transfer_syntax: ts,
        layout: Layout::of(obj, path).ok(),
    };
    let shared = item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = obj
        .element_opt(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .ok()
        .flatten()
        .and_then(|e| e.items());
    if shared.is_none() && per_frame.is_none() {
        // A classic object: every frame (usually one) shares the geometry.
        return Ok((0..n_frames)
            .map(|f| Frame {
                frame: f,
                ..base.clone()
            })
            .collect());
    }
    if per_frame.is_some_and(|items| items.len() < n_frames as usize) {
        return Err(missing(
            "PerFrameFunctionalGroupsSequence (5200,9230): fewer items than frames",
        ));
    }
    let mut out = Vec::with_capacity(n_frames as usize);
    for f in 0..n_frames {
        let pf = per_frame.and_then(|items| items.get(f as usize));
        let mut fr = Frame {
            frame: f,
            ..base.clone()
        };
        if let Some(p) = fg(pf, shared, tags::PLANE_POSITION_SEQUENCE).next() {
            fr.ipp = arr(f64s_of(p, tags::IMAGE_POSITION_PATIENT)).or(fr.ipp);
        }
        if let Some(o) = fg(pf, shared, tags::PLANE_ORIENTATION_SEQUENCE).next() {
            fr.iop = arr(f64s_of(o, tags::IMAGE_ORIENTATION_PATIENT)).or(fr.iop);
        }
        if let Some(m) = fg(pf, shared, tags::PIXEL_MEASURES_SEQUENCE).next() {
            fr.pixel_spacing = arr(f64s_of(m, tags::PIXEL_SPACING)).or(fr.pixel_spacing);
            fr.slice_thickness = f64_of(m, tags::SLICE_THICKNESS).or(fr.slice_thickness);
        }
        if let Some(t) = fg(pf, shared, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE).next() {
            fr.slope = f64_of(t, tags::RESCALE_SLOPE).unwrap_or(fr.slope);
            fr.intercept = f64_of(t, tags::RESCALE_INTERCEPT).unwrap_or(fr.intercept);
        }
        if let Some(e) = fg(pf, shared, tags::MR_ECHO_SEQUENCE).next() {
            fr.echo = f64_of(e, tags::EFFECTIVE_ECHO_TIME)
                .map(|t| format!("TE={t}"))
                .or(fr.echo);
        }
        if let Some(c) = fg(pf, None, tags::FRAME_CONTENT_SEQUENCE).next() {
            if let Some(t) = int_of(c, tags::TEMPORAL_POSITION_INDEX) {
                fr.temporal = Some(t.to_string());
            }
            if let Some(s) = str_of(c, tags::STACK_ID).filter(|s| !s.is_empty()) {
                fr.part = Some(format!("stack {s}"));
            }
        }
        // The frames of each segment of a Segmentation form their own volume.
        if let Some(s) = fg(pf, None, tags::SEGMENT_IDENTIFICATION_SEQUENCE).next() {
            if let Some(n) = int_of(s, tags::REFERENCED_SEGMENT_NUMBER) {
                fr.part = Some(format!("segment {n}"));
            }
        }
        out.push(fr);
    }
    Ok(out)
}

/// For native (uncompressed) pixel data the file must be long enough to
/// hold every frame; checking here lets `scan` skip a truncated file instead
/// of failing later in `load`.
#[allow(clippy::too_many_arguments)]
fn check_native_length(
    _obj: &Obj,
    path: &Path,
    ts: &str,
    rows: i64,
    cols: i64,
    frames: u32,
    bits: u16,
    spp: u16,
) -> Result<(), DicomError> {
    const NATIVE: [&str; 3] = [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
    ];
    if !NATIVE.contains(&ts) {
        return Ok(());
    }
    let bits_total = rows as u128 * cols as u128 * frames as u128 * bits as u128 * spp as u128;
    let need = bits_total.div_ceil(8);
    let have = std::fs::metadata(path)
        .map_err(|e| DicomError::io(path, e))?
        .len() as u128;
    if have < need {
        return Err(DicomError::NotDicom {
            path: path.to_path_buf(),
            reason: format!("truncated: the pixel data needs {need} bytes, the file has {have}"),
        });
    }
    Ok(())
}

//! Building data elements: values, sequences, codes, UIDs and dates.

use super::codes::Code;
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// A fresh UID under the UUID-derived root 2.25 (PS3.5 B.2).
pub(crate) fn new_uid() -> String {
    format!("2.25.{}", uuid::Uuid::new_v4().as_u128())
}

/// A decimal string of at most 16 characters, as precise as fits.
pub(crate) fn ds(v: f64) -> String {
    let v = if v == 0.0 { 0.0 } else { v };
    for prec in (0..=12).rev() {
        let s = format!("{v:.prec$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{v:.6e}")
}

pub(crate) fn ds_multi(vs: &[f64]) -> PrimitiveValue {
    PrimitiveValue::Strs(vs.iter().map(|v| ds(*v)).collect())
}

type Elem = DataElement<InMemDicomObject>;

pub(crate) fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, v: impl Into<PrimitiveValue>) {
    obj.put(Elem::new(tag, vr, v.into()));
}

pub(crate) fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(Elem::new(tag, VR::SQ, DataSetSequence::from(items)));
}

pub(crate) fn item(fill: impl FnOnce(&mut InMemDicomObject)) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    fill(&mut o);
    o
}

pub(crate) fn code_item(c: &Code) -> InMemDicomObject {
    item(|o| {
        put(o, tags::CODE_VALUE, VR::SH, c.value.as_str());
        put(o, tags::CODING_SCHEME_DESIGNATOR, VR::SH, c.scheme.as_str());
        put(o, tags::CODE_MEANING, VR::LO, c.meaning.as_str());
    })
}

/// Today's date and time in UTC as DICOM DA and TM strings.
pub(crate) fn now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_16_characters() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -123.456789012345,
            0.939692620785908,
            1e-12,
            123456789.123,
        ] {
            let s = ds(v);
            assert!(s.len() <= 16, "{s}");
            let back: f64 = s.parse().unwrap();
            assert!(
                (back - v).abs() <= 1e-9 * v.abs().max(1.0) + 1e-11,
                "{v} -> {s}"
            );
        }
        assert_eq!(ds(-0.0), "0");
        assert_eq!(ds(2.5), "2.5");
    }

    #[test]
    fn uids_are_fresh_and_valid() {
        let (a, b) = (new_uid(), new_uid());
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.starts_with("2.25."));
        assert!(a.chars().all(|c| c.is_ascii_digit() || c == '.'));
    }

    #[test]
    fn date_is_plausible() {
        let (d, t) = now();
        assert_eq!((d.len(), t.len()), (8, 6));
        assert!(d.as_str() >= "20240101");
    }
}

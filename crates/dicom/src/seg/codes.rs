//! Coded concepts for segment descriptions (SNOMED CT and DICOM codes).

use serde::Serialize;

/// A coded concept: value, coding scheme designator and meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Code {
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

impl Code {
    pub fn new(value: &str, scheme: &str, meaning: &str) -> Code {
        Code {
            value: value.into(),
            scheme: scheme.into(),
            meaning: meaning.into(),
        }
    }

    pub fn sct(value: &str, meaning: &str) -> Code {
        Code::new(value, "SCT", meaning)
    }
}

pub(crate) fn anatomical_structure() -> Code {
    Code::sct("91723000", "Anatomical Structure")
}

pub(crate) fn abnormal_structure() -> Code {
    Code::sct("49755003", "Morphologically Abnormal Structure")
}

pub(crate) fn tissue() -> Code {
    Code::sct("85756007", "Tissue")
}

/// DICOM code for the algorithm family (CID 7162).
pub(crate) fn artificial_intelligence() -> Code {
    Code::new("123110", "DCM", "Artificial Intelligence")
}

/// Purpose of reference for source images (CID 7202).
pub(crate) fn source_image_purpose() -> Code {
    Code::new(
        "121322",
        "DCM",
        "Source image for image processing operation",
    )
}

/// Derivation code for a segmentation (CID 7203).
pub(crate) fn segmentation_derivation() -> Code {
    Code::new("113076", "DCM", "Segmentation")
}

/// Category and type codes for a segment label, matched on common names
/// (case-insensitive); unknown names are described as tissue.
pub fn codes_for_label(label: &str) -> (Code, Code) {
    let l = label.to_ascii_lowercase();
    let tokens: Vec<&str> = l.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    // Phrases match anywhere; two-letter abbreviations only as whole words,
    // so that "segment" is not read as "gm".
    let has = |words: &[&str]| {
        words.iter().any(|w| {
            if w.len() <= 3 {
                tokens.contains(w)
            } else {
                l.contains(w)
            }
        })
    };
    if has(&["tumor", "tumour", "neoplasm", "glioma", "metasta"]) {
        (abnormal_structure(), Code::sct("108369006", "Neoplasm"))
    } else if has(&["edema", "oedema"]) {
        (abnormal_structure(), Code::sct("79654002", "Edema"))
    } else if has(&["necros"]) {
        (abnormal_structure(), Code::sct("6574001", "Necrosis"))
    } else if has(&["lesion"]) {
        (abnormal_structure(), Code::sct("52988006", "Lesion"))
    } else if has(&["white matter", "wm"]) {
        (
            anatomical_structure(),
            Code::sct("389080008", "White Matter"),
        )
    } else if has(&["gray matter", "grey matter", "gm"]) {
        (
            anatomical_structure(),
            Code::sct("389081007", "Gray Matter"),
        )
    } else if has(&["ventricle"]) {
        (
            anatomical_structure(),
            Code::sct("66720007", "Lateral Ventricle"),
        )
    } else if has(&["brain"]) {
        (anatomical_structure(), Code::sct("12738006", "Brain"))
    } else {
        (tissue(), tissue())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_labels_get_snomed_codes() {
        assert_eq!(codes_for_label("Brain").1.value, "12738006");
        let (cat, ty) = codes_for_label("tumour core");
        assert_eq!(
            (cat.value.as_str(), ty.value.as_str()),
            ("49755003", "108369006")
        );
        assert_eq!(codes_for_label("whatever").1.meaning, "Tissue");
        assert_eq!(codes_for_label("segment").1.meaning, "Tissue");
        assert_eq!(codes_for_label("GM").1.meaning, "Gray Matter");
    }
}

//! Which BraTS label scheme a collection's label maps follow: BraTS
//! 2017-2021 label the enhancing tumour 4, BraTS 2023 and later 3.

use std::path::Path;

use deepneuro_data::DataCollection;

use crate::config::{DataConfig, LabelScheme, TargetKind};
use crate::TrainError;

/// Where the enhancing labels were first seen: a description (file or
/// case) of a label map holding a 4 and one holding a 3.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub four: Option<String>,
    pub three: Option<String>,
}

/// The label scheme of the label maps of `cases` in group `group`: any 4
/// means BraTS 2017-2021, a 3 and no 4 BraTS 2023. A collection with
/// neither, or with both (a mix of releases), is an error naming the
/// source (and a label map holding each label).
pub fn detect_label_scheme(
    collection: &DataCollection,
    group: &str,
    cases: &[usize],
) -> Result<LabelScheme, TrainError> {
    let g = collection.group_index(group).ok_or_else(|| {
        TrainError::config(
            "data.target_group",
            format!("no group {group:?} in the data"),
        )
    })?;
    let found = scan(collection, g, cases)?;
    decide(&found, collection.source(), cases.len())
}

/// `data` with its label scheme settled: detected over `cases` when the
/// target needs it and the scheme is `auto`, unchanged otherwise.
pub(crate) fn resolve(
    data: &DataConfig,
    collection: &DataCollection,
    cases: &[usize],
) -> Result<DataConfig, TrainError> {
    let mut data = data.clone();
    if data.target == TargetKind::EnhancingTumour && data.label_scheme == LabelScheme::Auto {
        data.label_scheme = detect_label_scheme(collection, &data.target_group, cases)?;
        tracing::info!(scheme = data.label_scheme.name(), "label scheme detected");
    }
    Ok(data)
}

/// The scheme `found` implies, or why none can be chosen.
pub(crate) fn decide(found: &Found, source: &Path, n: usize) -> Result<LabelScheme, TrainError> {
    let err = |reason: String| TrainError::LabelScheme {
        path: source.to_path_buf(),
        reason,
    };
    const HINT: &str =
        "set the label scheme (--label-scheme or data.label_scheme: brats2017 or brats2023)";
    match (&found.four, &found.three) {
        (Some(four), Some(three)) => Err(err(format!(
            "label 4 (BraTS 2017-2021) in {four} but label 3 (BraTS 2023) in {three}; {HINT}"
        ))),
        (Some(_), None) => Ok(LabelScheme::Brats2017),
        (None, Some(_)) => Ok(LabelScheme::Brats2023),
        (None, None) => Err(err(format!(
            "no enhancing-tumour label (3 or 4) in the label maps of {n} training case(s); {HINT}"
        ))),
    }
}

/// Reads the label maps of `cases` on a few threads, each case once.
fn scan(collection: &DataCollection, group: usize, cases: &[usize]) -> Result<Found, TrainError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(cases.len().max(1));
    let chunk = cases.len().div_ceil(threads).max(1);
    let per_chunk: Vec<Result<Found, TrainError>> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| s.spawn(move || scan_serial(collection, group, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(TrainError::config("data", "a label-map reader panicked"))
                })
            })
            .collect()
    });
    // Chunks are in case order, so the first hit of each label is the
    // first in case order.
    let mut found = Found::default();
    for f in per_chunk {
        let f = f?;
        found.four = found.four.or(f.four);
        found.three = found.three.or(f.three);
    }
    Ok(found)
}

fn scan_serial(
    collection: &DataCollection,
    group: usize,
    cases: &[usize],
) -> Result<Found, TrainError> {
    let mut found = Found::default();
    for &i in cases {
        if found.four.is_some() && found.three.is_some() {
            break;
        }
        let sample = collection.load_groups(i, &[group])?;
        let Some(labels) = sample.groups.values().next() else {
            continue;
        };
        let (mut has3, mut has4) = (false, false);
        for &v in labels.iter() {
            let r = v.round();
            has3 |= r == 3.0;
            has4 |= r == 4.0;
        }
        let name = || label_map_name(collection, i, group);
        if has4 && found.four.is_none() {
            found.four = Some(name());
        }
        if has3 && found.three.is_none() {
            found.three = Some(name());
        }
    }
    Ok(found)
}

/// The label map's file, or `source#case` for an HDF5 row.
fn label_map_name(collection: &DataCollection, index: usize, group: usize) -> String {
    let case = &collection.cases()[index];
    match case.files(group).first() {
        Some(f) => f.display().to_string(),
        None => format!("{}#{}", collection.source().display(), case.id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(four: Option<&str>, three: Option<&str>) -> Found {
        Found {
            four: four.map(String::from),
            three: three.map(String::from),
        }
    }

    #[test]
    fn a_four_means_brats2017_and_a_three_brats2023() {
        let src = Path::new("/data/brats");
        let s = decide(&found(Some("a_seg.nii.gz"), None), src, 3).unwrap();
        assert_eq!(s, LabelScheme::Brats2017);
        let s = decide(&found(None, Some("b-seg.nii.gz")), src, 3).unwrap();
        assert_eq!(s, LabelScheme::Brats2023);
    }

    #[test]
    fn both_labels_name_a_file_with_each() {
        let e = decide(
            &found(Some("/d/a/a_seg.nii.gz"), Some("/d/b/b-seg.nii.gz")),
            Path::new("/d"),
            2,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert_eq!(msg.lines().count(), 1);
        assert!(msg.starts_with("/d: "), "{msg}");
        assert!(msg.contains("/d/a/a_seg.nii.gz") && msg.contains("/d/b/b-seg.nii.gz"));
        assert!(msg.contains("--label-scheme"), "{msg}");
    }

    #[test]
    fn neither_label_asks_for_the_scheme() {
        let e = decide(&Found::default(), Path::new("/d"), 5).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("no enhancing-tumour label"), "{msg}");
        assert!(msg.contains("5 training case(s)") && msg.contains("--label-scheme"));
    }

    #[test]
    fn scheme_names_round_trip() {
        for s in [
            LabelScheme::Auto,
            LabelScheme::Brats2017,
            LabelScheme::Brats2023,
        ] {
            assert_eq!(s.name().parse::<LabelScheme>(), Ok(s));
        }
        assert!("brats2019".parse::<LabelScheme>().is_err());
        assert_eq!(LabelScheme::Brats2017.enhancing_label(), Some(4));
        assert_eq!(LabelScheme::Brats2023.enhancing_label(), Some(3));
        assert_eq!(LabelScheme::Auto.enhancing_label(), None);
    }
}

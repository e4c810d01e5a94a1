//! The file naming of a BraTS folder: BraTS 2017-2021 (`<case>_flair`,
//! `_t1`, `_t1ce`, `_seg`) or BraTS 2023 (`<case>-t2f`, `-t1n`, `-t1c`,
//! `-seg`).

use std::collections::BTreeMap;
use std::path::Path;

use deepneuro_data::{CollectionOptions, DataCollection, DataError};
use serde::Serialize;

use crate::TrainError;

/// How a BraTS release names the files of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// `<case>_flair.nii.gz`, `_t1`, `_t1ce`, `_seg` (BraTS 2017-2021).
    Brats2017,
    /// `<case>-t2f.nii.gz`, `-t1n`, `-t1c`, `-seg` (BraTS 2023; `_` is
    /// accepted for `-`).
    Brats2023,
}

impl Naming {
    /// The release whose naming this is, for messages and descriptions.
    pub fn release(self) -> &'static str {
        match self {
            Naming::Brats2017 => "BraTS 2017-2021",
            Naming::Brats2023 => "BraTS 2023",
        }
    }

    /// The filename patterns of FLAIR, T1, post-contrast T1 and the label map.
    fn patterns(self) -> [&'static str; 4] {
        match self {
            Naming::Brats2017 => [
                "*_flair.nii.gz",
                "*_t1.nii.gz",
                "*_t1ce.nii.gz",
                "*_seg.nii.gz",
            ],
            Naming::Brats2023 => [
                "*[_-]t2f.nii.gz",
                "*[_-]t1n.nii.gz",
                "*[_-]t1c.nii.gz",
                "*[_-]seg.nii.gz",
            ],
        }
    }

    /// The data groups of the recipe: `input` (FLAIR, T1, post-contrast
    /// T1, in the order the glioblastoma module stacks them) and
    /// `ground_truth` (the label map).
    pub fn groups(self) -> BTreeMap<String, Vec<String>> {
        let [flair, t1, t1ce, seg] = self.patterns().map(String::from);
        BTreeMap::from([
            ("input".to_string(), vec![flair, t1, t1ce]),
            ("ground_truth".to_string(), vec![seg]),
        ])
    }
}

/// The cases of the BraTS folder `dir` under the naming that finds the
/// most of them; a folder where neither finds a case is an error naming
/// the folder.
pub(crate) fn open(dir: &Path) -> Result<(Naming, DataCollection), TrainError> {
    let err = |reason: String| TrainError::DataFolder {
        path: dir.to_path_buf(),
        reason,
    };
    if !dir.is_dir() {
        let reason = if dir.exists() {
            "not a folder"
        } else {
            "no such folder"
        };
        return Err(err(reason.into()));
    }
    let mut best: Option<(Naming, DataCollection)> = None;
    let mut skipped = 0;
    for naming in [Naming::Brats2017, Naming::Brats2023] {
        let groups: Vec<(String, Vec<String>)> = naming.groups().into_iter().collect();
        let c = match DataCollection::open(dir, &groups, &CollectionOptions::default()) {
            Ok(c) => c,
            Err(DataError::NoCases { skipped: n, .. }) => {
                skipped = skipped.max(n);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if c.len() > best.as_ref().map_or(0, |(_, b)| b.len()) {
            best = Some((naming, c));
        }
    }
    let Some((naming, collection)) = best else {
        return Err(err(format!(
            "no case folder holds FLAIR, T1, post-contrast T1 and label files named as in \
             BraTS 2017-2021 (<case>_flair/_t1/_t1ce/_seg.nii.gz) or BraTS 2023 \
             (<case>-t2f/-t1n/-t1c/-seg.nii.gz); {skipped} folder(s) skipped"
        )));
    };
    for s in collection.skipped() {
        tracing::warn!(case = %s.case, reason = %s.reason, "case skipped");
    }
    Ok((naming, collection))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(dir: &Path, name: &str, files: &[impl AsRef<str>]) {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in files {
            std::fs::write(d.join(f.as_ref()), b"").unwrap();
        }
    }

    #[test]
    fn finds_either_naming() {
        let dir = tempfile::tempdir().unwrap();
        let old = [
            "a_flair.nii.gz",
            "a_t1.nii.gz",
            "a_t1ce.nii.gz",
            "a_t2.nii.gz",
            "a_seg.nii.gz",
        ];
        case(dir.path(), "a", &old);
        let (naming, c) = open(dir.path()).unwrap();
        assert_eq!((naming, c.len()), (Naming::Brats2017, 1));

        let dir = tempfile::tempdir().unwrap();
        let new = [
            "B-t2f.nii.gz",
            "B-t1n.nii.gz",
            "B-t1c.nii.gz",
            "B-t2w.nii.gz",
            "B-seg.nii.gz",
        ];
        case(dir.path(), "B", &new);
        case(dir.path(), "C", &new.map(|f| f.replace("B-", "C_")));
        let (naming, c) = open(dir.path()).unwrap();
        assert_eq!((naming, c.len()), (Naming::Brats2023, 2));
        assert_eq!(c.groups()[1].channels, ["t2f", "t1n", "t1c"]);
    }

    #[test]
    fn a_folder_without_cases_is_one_line_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        case(dir.path(), "a", &["a_flair.nii.gz"]);
        let msg = open(dir.path()).unwrap_err().to_string();
        assert!(msg.starts_with(&dir.path().display().to_string()), "{msg}");
        assert!(
            msg.contains("no case folder") && msg.contains("1 folder(s) skipped"),
            "{msg}"
        );
        assert_eq!(msg.lines().count(), 1);
        let missing = dir.path().join("nope");
        let msg = open(&missing).unwrap_err().to_string();
        assert!(msg.ends_with("nope: no such folder"), "{msg}");
    }
}

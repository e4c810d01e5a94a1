//! Data groups, options and the report of skipped cases.

use crate::DataError;
use serde::Serialize;

/// Names the HDF5 layout uses for its own datasets; a group cannot take them.
pub(crate) const RESERVED: [&str; 3] = ["case_ids", "affines", "shapes"];

/// A data group: a name (`input`, `ground_truth`, ...) and its channels,
/// stacked along the channel axis in this order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupSpec {
    /// The group name (an HDF5 dataset name and a key of samples and batches).
    pub name: String,
    /// One name per channel source (a pattern's core, a CSV column's channel).
    pub channels: Vec<String>,
}

/// A case that discovery or collection left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The case id (folder name, CSV case column), or `line N` for a CSV row
    /// without one.
    pub case: String,
    /// What is wrong, in one line.
    pub reason: String,
}

/// What to do when the channels of one case lie on different voxel grids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GridPolicy {
    /// Loading the case fails with [`DataError::GridMismatch`].
    #[default]
    Error,
    /// Every channel is resampled onto the grid of the case's first channel:
    /// linearly for intensity groups, label-safe for label groups.
    Resample,
}

/// Options of a [`crate::DataCollection`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionOptions {
    /// Channels on different grids: an error, or resampled.
    pub grid: GridPolicy,
    /// Groups holding label maps, resampled label-safe
    /// (`deepneuro_preprocess::resample::resample_labels`).
    pub label_groups: Vec<String>,
}

impl Default for CollectionOptions {
    fn default() -> Self {
        CollectionOptions {
            grid: GridPolicy::Error,
            label_groups: vec!["ground_truth".to_string()],
        }
    }
}

/// Checks a group name: non-empty, usable as an HDF5 dataset name at the
/// file's root, not one of the layout's own datasets.
pub(crate) fn check_group_name(name: &str) -> Result<(), DataError> {
    let bad = |reason: String| Err(DataError::BadSpec { reason });
    if name.is_empty() {
        return bad("a group name is empty".to_string());
    }
    if name.contains('/') || name == "." || name == ".." {
        return bad(format!(
            "group name {name:?} cannot be an HDF5 dataset name"
        ));
    }
    if name.chars().any(|c| c.is_control()) {
        return bad(format!("group name {name:?} holds a control character"));
    }
    if RESERVED.contains(&name) {
        return bad(format!(
            "group name {name:?} is reserved by the HDF5 layout ({})",
            RESERVED.join(", ")
        ));
    }
    Ok(())
}

/// Checks a list of group names for validity and duplicates.
pub(crate) fn check_group_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), DataError> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        check_group_name(name)?;
        if !seen.insert(name) {
            return Err(DataError::BadSpec {
                reason: format!("group {name:?} is given twice"),
            });
        }
    }
    if seen.is_empty() {
        return Err(DataError::BadSpec {
            reason: "no data group is given".to_string(),
        });
    }
    Ok(())
}

/// The channel name a filename pattern stands for: the pattern without its
/// glob characters, file extension and separators (`*_flair.nii.gz` gives
/// `flair`), or the pattern itself when nothing is left.
pub fn channel_name(pattern: &str) -> String {
    let lower = pattern.to_ascii_lowercase();
    let mut core = pattern;
    for ext in [".nii.gz", ".nii", ".nrrd", ".nhdr"] {
        if lower.ends_with(ext) {
            core = &pattern[..pattern.len() - ext.len()];
            break;
        }
    }
    let cleaned: String = core
        .chars()
        .filter(|c| !matches!(c, '*' | '?' | '[' | ']'))
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| matches!(c, '_' | '-' | '.' | ' '));
    if trimmed.is_empty() {
        pattern.to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_from_brats_patterns() {
        assert_eq!(channel_name("*_flair.nii.gz"), "flair");
        assert_eq!(channel_name("*_t1ce.nii.gz"), "t1ce");
        assert_eq!(channel_name("seg.nrrd"), "seg");
        assert_eq!(channel_name("*.nii.gz"), "*.nii.gz");
    }

    #[test]
    fn group_names_are_checked() {
        assert!(check_group_names(["input", "ground_truth"]).is_ok());
        assert!(check_group_names(["input", "input"]).is_err());
        assert!(check_group_names(["case_ids"]).is_err());
        assert!(check_group_names(["a/b"]).is_err());
        assert!(check_group_names(["", "x"]).is_err());
        assert!(check_group_names(std::iter::empty::<&str>()).is_err());
    }
}

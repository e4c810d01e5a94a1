//! Cases from a folder with one subfolder per case (the BraTS layout).

use super::Discovered;
use crate::spec::{channel_name, check_group_names, GroupSpec, Skipped};
use crate::DataError;
use glob::Pattern;
use std::path::{Path, PathBuf};

/// Lists the cases under `dir`: every subfolder whose name does not start
/// with a dot is a case, in byte order of the names. A case needs exactly
/// one file matching each pattern of each group (patterns are matched
/// against file names inside the case folder, not recursively); a case
/// with a missing or an ambiguous file is reported in `skipped` with every
/// problem it has, and discovery goes on.
pub(crate) fn discover(
    dir: &Path,
    groups: &[(String, Vec<String>)],
) -> Result<Discovered, DataError> {
    check_group_names(groups.iter().map(|(n, _)| n.as_str()))?;
    let mut compiled = Vec::with_capacity(groups.len());
    for (name, patterns) in groups {
        if patterns.is_empty() {
            return Err(DataError::BadSpec {
                reason: format!("group {name:?} has no filename pattern"),
            });
        }
        let mut ps = Vec::with_capacity(patterns.len());
        for p in patterns {
            let pat = Pattern::new(p).map_err(|e| DataError::BadSpec {
                reason: format!("group {name:?}: pattern {p:?}: {e}"),
            })?;
            ps.push((p.clone(), pat));
        }
        compiled.push(ps);
    }
    let specs = groups
        .iter()
        .map(|(name, patterns)| GroupSpec {
            name: name.clone(),
            channels: patterns.iter().map(|p| channel_name(p)).collect(),
        })
        .collect();

    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let listing = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in listing {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        // Follow symbolic links: case folders are often linked in from a store.
        if !path.is_dir() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) if name.starts_with('.') => {}
            Ok(name) => entries.push((name, path)),
            Err(raw) => skipped.push(Skipped {
                case: raw.to_string_lossy().into_owned(),
                reason: "the folder name is not valid UTF-8".to_string(),
            }),
        }
    }
    entries.sort();

    let mut cases = Vec::with_capacity(entries.len());
    for (case, folder) in entries {
        match case_files(&folder, groups, &compiled) {
            Ok(files) => cases.push((case, files)),
            Err(reason) => skipped.push(Skipped { case, reason }),
        }
    }
    skipped.sort_by(|a, b| a.case.cmp(&b.case));
    Ok(Discovered {
        groups: specs,
        cases,
        skipped,
    })
}

/// The file of every channel of every group, or every problem in one line.
fn case_files(
    folder: &Path,
    groups: &[(String, Vec<String>)],
    compiled: &[Vec<(String, Pattern)>],
) -> Result<Vec<Vec<PathBuf>>, String> {
    let mut names = Vec::new();
    let listing = std::fs::read_dir(folder).map_err(|e| format!("cannot list the folder: {e}"))?;
    for entry in listing {
        let entry = entry.map_err(|e| format!("cannot list the folder: {e}"))?;
        if entry.path().is_dir() {
            continue;
        }
        // Names that are not UTF-8 cannot match a (UTF-8) pattern.
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    let mut problems = Vec::new();
    let mut files = Vec::with_capacity(groups.len());
    for ((group, _), patterns) in groups.iter().zip(compiled) {
        let mut channels = Vec::with_capacity(patterns.len());
        for (text, pattern) in patterns {
            let matches: Vec<&String> = names.iter().filter(|n| pattern.matches(n)).collect();
            match matches.as_slice() {
                [one] => channels.push(folder.join(one)),
                [] => problems.push(format!("{group}: no file matches {text:?}")),
                many => problems.push(format!(
                    "{group}: {} files match {text:?} ({})",
                    many.len(),
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        files.push(channels);
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems.join("; "))
    }
}

//! Cases from a CSV file: one row per case, one column per channel file.

use super::Discovered;
use crate::spec::{check_group_names, GroupSpec, Skipped};
use crate::DataError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads a case list. The header names a `case` column and one column per
/// channel file, `group:channel` (`input:flair`) or just `group` (a
/// one-channel group whose channel takes the group's name); columns of one
/// group are stacked in column order. Relative paths are relative to the
/// CSV's folder. With `select` non-empty only the named groups are kept,
/// in that order. Rows with an empty case id, a duplicate case id, an empty
/// cell or a file that does not exist are reported in `skipped`.
pub(crate) fn discover(csv_path: &Path, select: &[String]) -> Result<Discovered, DataError> {
    let base = csv_path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(csv_path)
        .map_err(|e| DataError::io(csv_path, e))?;
    let header = reader
        .headers()
        .map_err(|e| csv_error(csv_path, 1, e))?
        .clone();
    let case_col = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case("case"))
        .ok_or_else(|| DataError::Csv {
            path: csv_path.to_path_buf(),
            line: 1,
            reason: "the header has no `case` column".to_string(),
        })?;

    // Group name -> (channel names, column indices), in header order.
    let mut order: Vec<String> = Vec::new();
    let mut columns: BTreeMap<String, (Vec<String>, Vec<usize>)> = BTreeMap::new();
    for (i, h) in header.iter().enumerate() {
        if i == case_col {
            continue;
        }
        let (group, channel) = match h.split_once(':') {
            Some((g, c)) => (g.trim(), c.trim()),
            None => (h, h),
        };
        if !columns.contains_key(group) {
            order.push(group.to_string());
        }
        let entry = columns.entry(group.to_string()).or_default();
        entry.0.push(channel.to_string());
        entry.1.push(i);
    }
    if !select.is_empty() {
        for name in select {
            if !columns.contains_key(name) {
                return Err(DataError::BadSpec {
                    reason: format!(
                        "group {name:?} is not a column group of {} (it has {})",
                        csv_path.display(),
                        order.join(", ")
                    ),
                });
            }
        }
        order = select.to_vec();
    }
    check_group_names(order.iter().map(|s| s.as_str()))?;
    let groups: Vec<GroupSpec> = order
        .iter()
        .map(|g| GroupSpec {
            name: g.clone(),
            channels: columns[g].0.clone(),
        })
        .collect();

    let mut cases: Vec<(String, Vec<Vec<PathBuf>>)> = Vec::new();
    let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
    let mut skipped = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                skipped.push(Skipped {
                    case: format!("line {line}"),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let case = record.get(case_col).unwrap_or("").to_string();
        if case.is_empty() {
            skipped.push(Skipped {
                case: format!("line {line}"),
                reason: "the case id is empty".to_string(),
            });
            continue;
        }
        if let Some(first) = first_line.get(&case) {
            skipped.push(Skipped {
                case: case.clone(),
                reason: format!("line {line}: the case id is used on line {first} already"),
            });
            continue;
        }
        first_line.insert(case.clone(), line);
        let mut problems = Vec::new();
        let mut files = Vec::with_capacity(groups.len());
        for g in &groups {
            let (names, cols) = &columns[&g.name];
            let mut channels = Vec::with_capacity(cols.len());
            for (name, &col) in names.iter().zip(cols) {
                let cell = record.get(col).unwrap_or("");
                if cell.is_empty() {
                    problems.push(format!("{}:{name}: no file given", g.name));
                    continue;
                }
                let path = base.join(cell);
                if !path.is_file() {
                    problems.push(format!(
                        "{}:{name}: {} does not exist",
                        g.name,
                        path.display()
                    ));
                }
                channels.push(path);
            }
            files.push(channels);
        }
        if problems.is_empty() {
            cases.push((case, files));
        } else {
            skipped.push(Skipped {
                case,
                reason: format!("line {line}: {}", problems.join("; ")),
            });
        }
    }
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    skipped.sort_by(|a, b| a.case.cmp(&b.case));
    Ok(Discovered {
        groups,
        cases,
        skipped,
    })
}

fn csv_error(path: &Path, line: u64, e: csv::Error) -> DataError {
    DataError::Csv {
        path: path.to_path_buf(),
        line: e.position().map_or(line, |p| p.line()),
        reason: e.to_string(),
    }
}

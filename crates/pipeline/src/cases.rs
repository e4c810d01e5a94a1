//! The case list of a run: one `--t1`, every entry of `--input-dir`, or the
//! rows of `--cases cases.csv`; then `--shard i/N` keeps every N-th case.

use crate::input::{case_name, is_image_file};
use crate::PipelineError;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    pub input: PathBuf,
}

/// `i/N` with `0 <= i < N`: case `k` (in sorted order) belongs to shard
/// `k % N`, so N jobs (Slurm array, Kubernetes indexed Job, indices from 0)
/// cover the list exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not i/N"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("'{i}' is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("'{n}' is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= i < N"));
        }
        Ok(Shard { index, count })
    }
}

pub fn apply_shard(cases: Vec<Case>, shard: Option<Shard>) -> Vec<Case> {
    match shard {
        None => cases,
        Some(s) => cases
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % s.count == s.index)
            .map(|(_, c)| c)
            .collect(),
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> PipelineError {
    PipelineError::BadInput {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// One case per image file and per subfolder, sorted by name. A subfolder
/// holding exactly one image file is that file; otherwise the folder itself
/// (a DICOM series).
pub fn from_dir(dir: &Path) -> Result<Vec<Case>, PipelineError> {
    let entries = std::fs::read_dir(dir).map_err(|e| bad(dir, e.to_string()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut cases = Vec::new();
    for p in paths {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if is_image_file(&p) {
            cases.push(Case {
                name: case_name(&p),
                input: p,
            });
        } else if p.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| bad(&p, e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|q| is_image_file(q))
                .collect();
            let name = case_name(&p);
            let input = if inner.len() == 1 { inner.remove(0) } else { p };
            cases.push(Case { name, input });
        }
    }
    if cases.is_empty() {
        return Err(bad(dir, "holds no image files or case folders"));
    }
    Ok(cases)
}

/// A CSV with a header naming the columns `input` (or `t1`, or `path`) and,
/// optionally, `case`; relative paths are relative to the CSV's folder.
pub fn from_csv(csv: &Path) -> Result<Vec<Case>, PipelineError> {
    let text = std::fs::read_to_string(csv).map_err(|e| bad(csv, e.to_string()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| bad(csv, "is empty"))?
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let input_col = col(&["input", "t1", "path"])
        .ok_or_else(|| bad(csv, "the header has no 'input' (or 't1', 'path') column"))?;
    let case_col = col(&["case", "id", "name"]);
    let base = csv.parent().unwrap_or(Path::new("."));
    let mut cases = Vec::new();
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let input = fields
            .get(input_col)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad(csv, format!("row {} has no input", n + 2)))?;
        let input = base.join(input);
        let name = case_col
            .and_then(|c| fields.get(c))
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
            .unwrap_or_else(|| case_name(&input));
        cases.push(Case { name, input });
    }
    if cases.is_empty() {
        return Err(bad(csv, "lists no cases"));
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_list() {
        let cases: Vec<Case> = (0..7)
            .map(|i| Case {
                name: i.to_string(),
                input: PathBuf::from(format!("{i}.nii")),
            })
            .collect();
        let mut seen = Vec::new();
        for i in 0..3 {
            let s: Shard = format!("{i}/3").parse().unwrap();
            seen.extend(
                apply_shard(cases.clone(), Some(s))
                    .into_iter()
                    .map(|c| c.name),
            );
        }
        seen.sort();
        assert_eq!(seen, (0..7).map(|i| i.to_string()).collect::<Vec<_>>());
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
    }

    #[test]
    fn csv_with_relative_paths() {
        let d = tempfile::tempdir().unwrap();
        let csv = d.path().join("c.csv");
        std::fs::write(&csv, "case,t1\na,x/a.nii.gz\n,b.nii\n").unwrap();
        let c = from_csv(&csv).unwrap();
        assert_eq!(
            c[0],
            Case {
                name: "a".into(),
                input: d.path().join("x/a.nii.gz")
            }
        );
        assert_eq!(c[1].name, "b");
    }
}

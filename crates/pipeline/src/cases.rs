//! The case list of a run: one `--t1`, every entry of `--input-dir`, or the
//! rows of `--cases cases.csv`; then `--shard i/N` keeps every N-th case.
//!
//! A module declares named inputs (`flair`, `t1`, `t1post`, ...), each
//! required or optional and each with a file-name glob for batch folders
//! ([`InputDecl`]). A case ([`Case`]) gives a path, and for a DICOM folder
//! optionally a series, to each input it has. A case that cannot be
//! assembled (a required input missing, or ambiguous) does not stop the
//! batch: it comes back as a [`Skipped`] entry with every problem it has.
//!
//! With one declared input the readers behave as they always have: a CSV
//! may call its column `input` or `path` as well as by the input's name,
//! and a folder gives one case per image file and per subfolder.

use crate::input::{case_name, is_image_file};
use crate::PipelineError;
use glob::Pattern;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One input of one case: a NIfTI/NRRD file or a DICOM folder, and the
/// DICOM series to pick (SeriesInstanceUID or series number) when the
/// folder holds several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseInput {
    pub path: PathBuf,
    pub series: Option<String>,
}

/// One case of a batch: its name (the stem of its output files) and its
/// inputs by declared input name. An optional input the case lacks is
/// absent from `inputs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    pub inputs: BTreeMap<String, CaseInput>,
}

impl Case {
    /// The case's input called `name`, if it has one.
    pub fn input(&self, name: &str) -> Option<&CaseInput> {
        self.inputs.get(name)
    }
}

/// What the case-list readers need to know of one declared input.
#[derive(Clone, Debug)]
pub struct InputDecl {
    /// The input's name: the key in [`Case::inputs`] and the CSV column
    /// (matched case-insensitively).
    pub name: String,
    pub required: bool,
    /// File-name pattern (glob syntax, as `deepneuro collect --group`)
    /// matched against the entries of a case folder, not recursively.
    pub glob: String,
}

impl InputDecl {
    pub fn required(name: &str, glob: &str) -> InputDecl {
        InputDecl {
            name: name.to_string(),
            required: true,
            glob: glob.to_string(),
        }
    }

    pub fn optional(name: &str, glob: &str) -> InputDecl {
        InputDecl {
            required: false,
            ..InputDecl::required(name, glob)
        }
    }
}

/// A case that could not be assembled (missing or ambiguous input); the
/// batch goes on and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub case: String,
    pub reason: String,
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

/// Keeps the cases of one shard (all of them without `--shard`). Generic so
/// that it serves any case type.
pub fn apply_shard<C>(cases: Vec<C>, shard: Option<Shard>) -> Vec<C> {
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

/// The CSV column names that give the case name.
const CASE_COLUMNS: [&str; 3] = ["case", "id", "name"];

/// Input names must be unique (case-insensitively: CSV headers are) and
/// must not be taken for the case column.
fn check_decls(path: &Path, inputs: &[InputDecl]) -> Result<(), PipelineError> {
    if inputs.is_empty() {
        return Err(bad(path, "the module declares no inputs"));
    }
    let mut seen = BTreeMap::new();
    for d in inputs {
        let key = d.name.trim().to_lowercase();
        if key.is_empty() {
            return Err(bad(path, "the module declares an input with no name"));
        }
        if CASE_COLUMNS.contains(&key.as_str()) {
            return Err(bad(
                path,
                format!(
                    "input {:?}: the name is taken by the case column (case, id, name)",
                    d.name
                ),
            ));
        }
        if let Some(other) = seen.insert(key, &d.name) {
            return Err(bad(
                path,
                format!("inputs {other:?} and {:?} have the same name", d.name),
            ));
        }
    }
    Ok(())
}

/// What one CSV column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Case,
    /// The path of input `i` (index into the declarations).
    Input(usize),
    /// The DICOM series of input `i`.
    Series(usize),
}

fn column_of(header: &str, inputs: &[InputDecl]) -> Option<Column> {
    let key = header.to_lowercase();
    let single = inputs.len() == 1;
    let input = |name: &str| inputs.iter().position(|d| d.name.to_lowercase() == name);
    if let Some(i) = input(&key) {
        return Some(Column::Input(i));
    }
    if single && (key == "input" || key == "path") {
        return Some(Column::Input(0));
    }
    if let Some(i) = key.strip_suffix("_series").and_then(input) {
        return Some(Column::Series(i));
    }
    if single && key == "series" {
        return Some(Column::Series(0));
    }
    if CASE_COLUMNS.contains(&key.as_str()) {
        return Some(Column::Case);
    }
    None
}

/// The columns a CSV for these inputs may have, for error messages.
fn expected_columns(inputs: &[InputDecl]) -> String {
    let mut cols = vec!["case (or id, name)".to_string()];
    for d in inputs {
        if inputs.len() == 1 {
            cols.push(format!("{} (or input, path)", d.name));
            cols.push(format!("{}_series (or series)", d.name));
        } else {
            cols.push(d.name.clone());
            cols.push(format!("{}_series", d.name));
        }
    }
    cols.join(", ")
}

/// A CSV with a header row: one column per input, named as the input
/// (case-insensitive, surrounding spaces ignored; with one declared input
/// also `input` or `path`), an optional `<input>_series` column per input
/// (with one input also `series`) and an optional `case` column (or `id`,
/// `name`). Fields are CSV-quoted as usual (`"a, b.nii"`, `"say ""hi"""`),
/// surrounding spaces are trimmed, a UTF-8 byte order mark is ignored, and
/// blank lines are skipped. Relative paths are relative to the CSV's folder.
///
/// Errors: an unknown column, a missing column of a required input, a row
/// with a wrong number of fields, two rows with the same case name. A row
/// whose required input is empty is [`Skipped`]; an empty optional input is
/// left out of the case. Without a `case` column (or with an empty cell)
/// the case name is derived from the first input's path
/// ([`crate::input::case_name`]). Row numbers are the line numbers where
/// the rows start, the header being row 1.
pub fn from_csv(
    csv: &Path,
    inputs: &[InputDecl],
) -> Result<(Vec<Case>, Vec<Skipped>), PipelineError> {
    check_decls(csv, inputs)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(csv)
        .map_err(|e| bad(csv, e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| bad(csv, e.to_string()))?
        .clone();
    if header
        .iter()
        .all(|h| h.trim_start_matches('\u{feff}').is_empty())
    {
        return Err(bad(csv, "is empty"));
    }

    let mut columns = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    for (k, h) in header.iter().enumerate() {
        let h = h.trim_start_matches('\u{feff}').trim();
        match column_of(h, inputs) {
            Some(c) => columns.push((c, h)),
            None => unknown.push(format!("{h:?} (column {})", k + 1)),
        }
    }
    if !unknown.is_empty() {
        let what = if unknown.len() == 1 {
            "unknown column"
        } else {
            "unknown columns"
        };
        return Err(bad(
            csv,
            format!(
                "{what} {}; the columns are {}",
                unknown.join(", "),
                expected_columns(inputs)
            ),
        ));
    }
    for (k, (c, h)) in columns.iter().enumerate() {
        if let Some((_, first)) = columns[..k].iter().find(|(d, _)| d == c) {
            return Err(bad(
                csv,
                format!("the columns {first:?} and {h:?} say the same thing"),
            ));
        }
    }
    let position = |want: Column| columns.iter().position(|(c, _)| *c == want);
    let case_col = position(Column::Case);
    let input_cols: Vec<Option<usize>> = (0..inputs.len())
        .map(|i| position(Column::Input(i)))
        .collect();
    let series_cols: Vec<Option<usize>> = (0..inputs.len())
        .map(|i| position(Column::Series(i)))
        .collect();
    let missing: Vec<&str> = inputs
        .iter()
        .zip(&input_cols)
        .filter(|(d, c)| d.required && c.is_none())
        .map(|(d, _)| d.name.as_str())
        .collect();
    match missing.as_slice() {
        [] => {}
        [one] if inputs.len() == 1 => {
            return Err(bad(
                csv,
                format!("the header has no {one:?} (or \"input\", \"path\") column"),
            ))
        }
        _ => {
            return Err(bad(
                csv,
                format!(
                    "the header has no column for the required input{} {}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                ),
            ))
        }
    }

    let base = csv.parent().unwrap_or(Path::new("."));
    let width = header.len();
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    let mut rows_of: BTreeMap<String, u64> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(csv, e.to_string()))?;
        let row = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != width {
            return Err(bad(
                csv,
                format!(
                    "row {row} has {} fields, the header has {width}",
                    record.len()
                ),
            ));
        }
        let cell = |col: Option<usize>| col.map_or("", |c| &record[c]);
        let mut problems = Vec::new();
        let mut case_inputs = BTreeMap::new();
        let mut first_path = None;
        for (i, d) in inputs.iter().enumerate() {
            let path = cell(input_cols[i]);
            let series = cell(series_cols[i]);
            if path.is_empty() {
                if d.required {
                    problems.push(format!("{} is empty", d.name));
                }
                if !series.is_empty() {
                    problems.push(format!("{} has a series but no path", d.name));
                }
                continue;
            }
            let path = base.join(path);
            first_path.get_or_insert_with(|| path.clone());
            let series = (!series.is_empty()).then(|| series.to_string());
            case_inputs.insert(d.name.clone(), CaseInput { path, series });
        }
        let name = Some(cell(case_col))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| first_path.as_deref().map(case_name))
            .unwrap_or_else(|| format!("row {row}"));
        if let Some(first) = rows_of.insert(name.clone(), row) {
            return Err(bad(
                csv,
                format!(
                    "rows {first} and {row} are both case {name:?} (their outputs would overwrite each other)"
                ),
            ));
        }
        if problems.is_empty() {
            cases.push(Case {
                name,
                inputs: case_inputs,
            });
        } else {
            skipped.push(Skipped {
                case: name,
                reason: format!("row {row}: {}", problems.join("; ")),
            });
        }
    }
    if cases.is_empty() && skipped.is_empty() {
        return Err(bad(csv, "lists no cases"));
    }
    Ok((cases, skipped))
}

/// The cases of a batch folder, sorted by name.
///
/// With one declared input: one case per image file and per subfolder; a
/// subfolder holding exactly one image file is that file, otherwise the
/// folder itself (a DICOM series). The glob is not used.
///
/// With several: one case per subfolder (symbolic links followed), named
/// as the folder. Each input is the one entry (file, or folder such as a
/// DICOM series) of the case folder whose name matches the input's glob;
/// no match for a required input, several matches, or one entry taken by
/// two inputs make the case [`Skipped`] with every problem it has; no match
/// for an optional input leaves it out. Loose files next to the case
/// folders are ignored.
///
/// Entries whose names start with a dot are skipped in both modes. Errors:
/// an unreadable folder, an invalid glob, a folder with no cases at all.
pub fn from_dir(
    dir: &Path,
    inputs: &[InputDecl],
) -> Result<(Vec<Case>, Vec<Skipped>), PipelineError> {
    check_decls(dir, inputs)?;
    let mut patterns = Vec::with_capacity(inputs.len());
    for d in inputs {
        let p = Pattern::new(&d.glob).map_err(|e| {
            bad(
                dir,
                format!("input {:?}: invalid glob {:?}: {e}", d.name, d.glob),
            )
        })?;
        patterns.push(p);
    }
    if let [only] = inputs {
        return Ok((flat(dir, only)?, Vec::new()));
    }
    if let Some(d) = inputs.iter().find(|d| d.glob.is_empty()) {
        return Err(bad(dir, format!("input {:?} has no glob", d.name)));
    }

    let listing = std::fs::read_dir(dir).map_err(|e| bad(dir, e.to_string()))?;
    let mut folders = Vec::new();
    let mut skipped = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| bad(dir, e.to_string()))?;
        let path = entry.path();
        // Follow symbolic links: case folders are often linked in from a store.
        if !path.is_dir() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) if name.starts_with('.') => {}
            Ok(name) => folders.push((name, path)),
            Err(raw) => skipped.push(Skipped {
                case: raw.to_string_lossy().into_owned(),
                reason: "the folder name is not valid UTF-8".to_string(),
            }),
        }
    }
    if folders.is_empty() && skipped.is_empty() {
        let names: Vec<&str> = inputs.iter().map(|d| d.name.as_str()).collect();
        return Err(bad(
            dir,
            format!(
                "holds no case folders (one subfolder per case with the inputs {}; \
                 loose files are not cases when a module has several inputs)",
                names.join(", ")
            ),
        ));
    }
    folders.sort();
    let mut cases = Vec::with_capacity(folders.len());
    for (name, folder) in folders {
        match case_inputs(&folder, inputs, &patterns) {
            Ok(inputs) => cases.push(Case { name, inputs }),
            Err(reason) => skipped.push(Skipped { case: name, reason }),
        }
    }
    skipped.sort_by(|a, b| a.case.cmp(&b.case));
    Ok((cases, skipped))
}

/// One input: today's `--input-dir`, one case per image file and per
/// subfolder.
fn flat(dir: &Path, input: &InputDecl) -> Result<Vec<Case>, PipelineError> {
    let entries = std::fs::read_dir(dir).map_err(|e| bad(dir, e.to_string()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut cases = Vec::new();
    let case = |name: String, path: PathBuf| Case {
        name,
        inputs: BTreeMap::from([(input.name.clone(), CaseInput { path, series: None })]),
    };
    for p in paths {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if is_image_file(&p) {
            cases.push(case(case_name(&p), p));
        } else if p.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| bad(&p, e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|q| is_image_file(q))
                .collect();
            let name = case_name(&p);
            let path = if inner.len() == 1 { inner.remove(0) } else { p };
            cases.push(case(name, path));
        }
    }
    if cases.is_empty() {
        return Err(bad(dir, "holds no image files or case folders"));
    }
    Ok(cases)
}

/// The entry of every input found in one case folder, or every problem in
/// one line.
fn case_inputs(
    folder: &Path,
    inputs: &[InputDecl],
    patterns: &[Pattern],
) -> Result<BTreeMap<String, CaseInput>, String> {
    let listing = std::fs::read_dir(folder).map_err(|e| format!("cannot list the folder: {e}"))?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| format!("cannot list the folder: {e}"))?;
        // Names that are not UTF-8 cannot match a (UTF-8) pattern.
        if let Ok(name) = entry.file_name().into_string() {
            if !name.starts_with('.') {
                names.push(name);
            }
        }
    }
    names.sort();
    let mut problems = Vec::new();
    let mut found: BTreeMap<String, CaseInput> = BTreeMap::new();
    let mut taken_by: BTreeMap<&str, &str> = BTreeMap::new();
    for (d, pattern) in inputs.iter().zip(patterns) {
        let matches: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| pattern.matches(n))
            .collect();
        match matches.as_slice() {
            [one] => {
                if let Some(other) = taken_by.insert(one, &d.name) {
                    problems.push(format!("{other} and {}: both match {one}", d.name));
                }
                found.insert(
                    d.name.clone(),
                    CaseInput {
                        path: folder.join(one),
                        series: None,
                    },
                );
            }
            [] if !d.required => {}
            [] => problems.push(format!("{}: no file matches {:?}", d.name, d.glob)),
            many => problems.push(format!(
                "{}: {} files match {:?} ({})",
                d.name,
                many.len(),
                d.glob,
                many.join(", ")
            )),
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-input case (the skull-strip shape), for the tests below.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct SingleCase {
        name: String,
        input: PathBuf,
    }

    /// The one input of the single-input readers below.
    fn single_decl() -> InputDecl {
        InputDecl::required("t1", "*")
    }

    fn single(cases: Vec<Case>) -> Vec<SingleCase> {
        cases
            .into_iter()
            .filter_map(|c| {
                let name = c.name;
                c.inputs.into_values().next().map(|i| SingleCase {
                    name,
                    input: i.path,
                })
            })
            .collect()
    }

    /// [`from_dir`] with the one input `t1`, as `--input-dir` always was.
    fn from_dir_single(dir: &Path) -> Result<Vec<SingleCase>, PipelineError> {
        let (cases, _) = from_dir(dir, &[single_decl()])?;
        Ok(single(cases))
    }

    /// [`from_csv`] with the one input `t1` (columns `t1`, `input` or `path`).
    /// A row that [`from_csv`] would skip is an error here, and so is a series
    /// column: [`SingleCase`] has nowhere to put either.
    fn from_csv_single(csv: &Path) -> Result<Vec<SingleCase>, PipelineError> {
        let (cases, skipped) = from_csv(csv, &[single_decl()])?;
        if let Some(s) = skipped.first() {
            return Err(bad(csv, s.reason.clone()));
        }
        if let Some(c) = cases
            .iter()
            .find(|c| c.inputs.values().any(|i| i.series.is_some()))
        {
            return Err(bad(
                csv,
                format!(
                    "case {:?}: a series column is not supported by this command yet; use --series",
                    c.name
                ),
            ));
        }
        Ok(single(cases))
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    fn write_csv(dir: &Path, text: &str) -> PathBuf {
        let csv = dir.join("cases.csv");
        std::fs::write(&csv, text).unwrap();
        csv
    }

    fn err_text(r: Result<(Vec<Case>, Vec<Skipped>), PipelineError>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => {
                assert!(matches!(e, PipelineError::BadInput { .. }), "{e:?}");
                let text = e.to_string();
                assert!(!text.contains('\n'), "{text}");
                text
            }
        }
    }

    fn input(path: PathBuf) -> CaseInput {
        CaseInput { path, series: None }
    }

    /// flair (required), t1 (required), t1post (required), t2 (optional).
    fn brats() -> Vec<InputDecl> {
        vec![
            InputDecl::required("flair", "*flair*"),
            InputDecl::required("t1", "*_t1.nii*"),
            InputDecl::required("t1post", "*_t1ce*"),
            InputDecl::optional("t2", "*_t2.nii*"),
        ]
    }

    #[test]
    fn shards_partition_the_list() {
        let cases: Vec<SingleCase> = (0..7)
            .map(|i| SingleCase {
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
        let c = from_csv_single(&csv).unwrap();
        assert_eq!(
            c[0],
            SingleCase {
                name: "a".into(),
                input: d.path().join("x/a.nii.gz")
            }
        );
        assert_eq!(c[1].name, "b");
    }

    #[test]
    fn csv_single_input_column_aliases() {
        let d = tempfile::tempdir().unwrap();
        for col in ["input", "t1", "path", " Input ", "PATH"] {
            let csv = write_csv(d.path(), &format!("{col}\nsub-01.nii.gz\n/abs/sub-02\n\n"));
            let c = from_csv_single(&csv).unwrap();
            assert_eq!(
                c,
                vec![
                    SingleCase {
                        name: "sub-01".into(),
                        input: d.path().join("sub-01.nii.gz")
                    },
                    SingleCase {
                        name: "sub-02".into(),
                        input: PathBuf::from("/abs/sub-02")
                    },
                ],
                "column {col:?}"
            );
        }
        // The new reader with a single input of another name takes the
        // aliases too, and a `series` column.
        let csv = write_csv(d.path(), "id,path,series\nx,a.nii,\ny,dcm,7\n");
        let (c, s) = from_csv(&csv, &[InputDecl::required("image", "*")]).unwrap();
        assert!(s.is_empty());
        assert_eq!(c[0].name, "x");
        assert_eq!(c[1].input("image").unwrap().series.as_deref(), Some("7"));
        // The single readers turn a skipped row into an error.
        let csv = write_csv(d.path(), "case,input\na,a.nii\nb,\n");
        let e = from_csv_single(&csv).unwrap_err().to_string();
        assert!(e.contains("row 3: t1 is empty"), "{e}");
        // A series column needs the new reader.
        let csv = write_csv(d.path(), "t1,t1_series\na,1\n");
        let e = from_csv_single(&csv).unwrap_err().to_string();
        assert!(e.contains("series"), "{e}");
    }

    #[test]
    fn csv_quoted_paths_with_commas_spaces_and_quotes() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(
            d.path(),
            "case,flair,t1,t1post\n\
             \"a, the first\",\"scans, 2024/a flair.nii.gz\",\"my \"\"t1\"\".nii\",/data/a b/t1ce\n",
        );
        let (c, s) = from_csv(&csv, &brats()).unwrap();
        assert!(s.is_empty());
        assert_eq!(
            c,
            vec![Case {
                name: "a, the first".into(),
                inputs: BTreeMap::from([
                    (
                        "flair".into(),
                        input(d.path().join("scans, 2024/a flair.nii.gz"))
                    ),
                    ("t1".into(), input(d.path().join("my \"t1\".nii"))),
                    ("t1post".into(), input(PathBuf::from("/data/a b/t1ce"))),
                ]),
            }]
        );
    }

    #[test]
    fn csv_series_columns_and_optional_inputs() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(
            d.path(),
            "T1_Series,case,flair,t1,t1post,t2,t1post_series\n\
             1.2.840.1,a,a/flair.nii,a/dicom,a/dicom,,5\n\
             ,b,b/flair.nii,b/t1.nii,b/t1ce.nii,b/t2.nii,\n",
        );
        let (c, s) = from_csv(&csv, &brats()).unwrap();
        assert!(s.is_empty());
        let a = &c[0];
        assert_eq!(
            a.input("t1"),
            Some(&CaseInput {
                path: d.path().join("a/dicom"),
                series: Some("1.2.840.1".into())
            })
        );
        assert_eq!(a.input("t1post").unwrap().series.as_deref(), Some("5"));
        assert_eq!(a.input("flair").unwrap().series, None);
        assert_eq!(a.input("t2"), None, "an empty optional cell is left out");
        assert_eq!(c[1].input("t1").unwrap().series, None);
        assert_eq!(c[1].input("t2"), Some(&input(d.path().join("b/t2.nii"))));
        // An optional input's column may be missing altogether.
        let csv = write_csv(
            d.path(),
            "flair,t1,t1post\nx_flair.nii,x_t1.nii,x_t1ce.nii\n",
        );
        let (c, _) = from_csv(&csv, &brats()).unwrap();
        assert_eq!(c[0].name, "x_flair", "named from the first input");
        assert_eq!(c[0].inputs.len(), 3);
    }

    #[test]
    fn csv_unknown_column_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(
            d.path(),
            "case,flar,t1,t1post,notes\na,f.nii,t.nii,c.nii,x\n",
        );
        let e = err_text(from_csv(&csv, &brats()));
        assert!(e.contains("cases.csv"), "{e}");
        assert!(e.contains("\"flar\" (column 2)"), "{e}");
        assert!(e.contains("\"notes\" (column 5)"), "{e}");
        // With several inputs, `input` is not an alias.
        let csv = write_csv(d.path(), "input,flair,t1,t1post\na,b,c,d\n");
        assert!(err_text(from_csv(&csv, &brats())).contains("\"input\""));
        // Two columns for the same input.
        let csv = write_csv(d.path(), "t1,input\na,b\n");
        let e = err_text(from_csv(&csv, &[single_decl()]));
        assert!(e.contains("\"t1\" and \"input\""), "{e}");
    }

    #[test]
    fn csv_missing_required_column_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(d.path(), "case,flair,t1,t2\na,f.nii,t.nii,t2.nii\n");
        let e = err_text(from_csv(&csv, &brats()));
        assert!(e.contains("no column for the required input t1post"), "{e}");
        let csv = write_csv(d.path(), "case\na\n");
        let e = err_text(from_csv(&csv, &[single_decl()]));
        assert!(
            e.contains("no \"t1\" (or \"input\", \"path\") column"),
            "{e}"
        );
    }

    #[test]
    fn csv_empty_required_cell_skips_the_row() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(
            d.path(),
            "case,flair,t1,t1post,t2,t2_series\n\
             a,a_f.nii,a_t1.nii,a_c.nii,,\n\
             b,b_f.nii,,b_c.nii,,\n\
             , ,,,,\n\
             ,,,,,3\n\
             e,e_f.nii,e_t1.nii,e_c.nii,,4\n",
        );
        let (c, s) = from_csv(&csv, &brats()).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "a");
        assert_eq!(
            s,
            vec![
                Skipped {
                    case: "b".into(),
                    reason: "row 3: t1 is empty".into()
                },
                Skipped {
                    case: "row 5".into(),
                    reason: "row 5: flair is empty; t1 is empty; t1post is empty; \
                             t2 has a series but no path"
                        .into()
                },
                Skipped {
                    case: "e".into(),
                    reason: "row 6: t2 has a series but no path".into()
                },
            ]
        );
    }

    #[test]
    fn csv_duplicate_case_names_are_an_error() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(d.path(), "case,t1\na,x.nii\nb,y.nii\na,z.nii\n");
        let e = err_text(from_csv(&csv, &[single_decl()]));
        assert!(e.contains("rows 2 and 4 are both case \"a\""), "{e}");
        // Names derived from the paths clash as well.
        let csv = write_csv(d.path(), "t1\nx/s1.nii.gz\ny/s1.nii\n");
        let e = err_text(from_csv(&csv, &[single_decl()]));
        assert!(e.contains("rows 2 and 3 are both case \"s1\""), "{e}");
    }

    #[test]
    fn csv_wrong_field_count_names_the_row() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(d.path(), "case,t1\na,x.nii\nb,y.nii,extra\n");
        let e = err_text(from_csv(&csv, &[single_decl()]));
        assert!(e.contains("row 3 has 3 fields, the header has 2"), "{e}");
        let csv = write_csv(d.path(), "");
        assert!(err_text(from_csv(&csv, &[single_decl()])).contains("is empty"));
        let csv = write_csv(d.path(), "case,t1\n\n");
        assert!(err_text(from_csv(&csv, &[single_decl()])).contains("lists no cases"));
    }

    #[test]
    fn csv_with_a_byte_order_mark() {
        let d = tempfile::tempdir().unwrap();
        let csv = write_csv(
            d.path(),
            "\u{feff}Case , FLAIR,T1,t1post\r\na,f.nii,t.nii,c.nii\r\n",
        );
        let (c, s) = from_csv(&csv, &brats()).unwrap();
        assert!(s.is_empty());
        assert_eq!(c[0].name, "a");
        assert_eq!(c[0].input("flair"), Some(&input(d.path().join("f.nii"))));
        let csv = write_csv(d.path(), "\u{feff}t1\r\nx.nii\r\n");
        assert_eq!(from_csv_single(&csv).unwrap()[0].name, "x");
    }

    #[test]
    fn folder_with_one_input_is_flat() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        touch(&p.join("s1.nii.gz"));
        touch(&p.join("s2/only.nii"));
        touch(&p.join("s3/IM0001"));
        touch(&p.join("s3/IM0002"));
        touch(&p.join(".hidden.nii"));
        touch(&p.join(".trash/x.nii"));
        touch(&p.join("notes.txt"));
        let (c, s) = from_dir(p, &[InputDecl::required("t1", "*")]).unwrap();
        assert!(s.is_empty());
        let got: Vec<(String, PathBuf)> = c
            .into_iter()
            .map(|c| (c.name, c.inputs["t1"].path.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("s1".into(), p.join("s1.nii.gz")),
                ("s2".into(), p.join("s2/only.nii")),
                ("s3".into(), p.join("s3")),
            ]
        );
        assert_eq!(from_dir_single(p).unwrap()[2].input, p.join("s3"));
        let empty = tempfile::tempdir().unwrap();
        assert!(err_text(from_dir(empty.path(), &[single_decl()])).contains("no image files"));
    }

    #[test]
    fn folder_with_three_inputs() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        let three = &brats()[..3];
        // complete, with a DICOM folder as t1post and a sidecar no glob matches
        touch(&p.join("c1/c1_flair.nii.gz"));
        touch(&p.join("c1/c1_t1.nii.gz"));
        touch(&p.join("c1/c1_t1ce_dicom/IM0001"));
        touch(&p.join("c1/c1_t1.json"));
        touch(&p.join("c1/.c1_flair.nii.gz"));
        // missing t1post
        touch(&p.join("c2/c2_flair.nii.gz"));
        touch(&p.join("c2/c2_t1.nii.gz"));
        // ambiguous flair, and missing t1post
        touch(&p.join("c3/a_flair.nii.gz"));
        touch(&p.join("c3/b_flair.nii.gz"));
        touch(&p.join("c3/c3_t1.nii"));
        // loose files and hidden folders are not cases
        touch(&p.join("loose_flair.nii.gz"));
        touch(&p.join(".cache/x_flair.nii"));
        let (c, s) = from_dir(p, three).unwrap();
        assert_eq!(
            c,
            vec![Case {
                name: "c1".into(),
                inputs: BTreeMap::from([
                    ("flair".into(), input(p.join("c1/c1_flair.nii.gz"))),
                    ("t1".into(), input(p.join("c1/c1_t1.nii.gz"))),
                    ("t1post".into(), input(p.join("c1/c1_t1ce_dicom"))),
                ]),
            }]
        );
        assert_eq!(
            s,
            vec![
                Skipped {
                    case: "c2".into(),
                    reason: "t1post: no file matches \"*_t1ce*\"".into()
                },
                Skipped {
                    case: "c3".into(),
                    reason: "flair: 2 files match \"*flair*\" (a_flair.nii.gz, b_flair.nii.gz); \
                             t1post: no file matches \"*_t1ce*\""
                        .into()
                },
            ]
        );
    }

    #[test]
    fn folder_optional_input_absent_or_present() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for case in ["a", "b"] {
            touch(&p.join(format!("{case}/{case}_flair.nii.gz")));
            touch(&p.join(format!("{case}/{case}_t1.nii.gz")));
            touch(&p.join(format!("{case}/{case}_t1ce.nii.gz")));
        }
        touch(&p.join("b/b_t2.nii.gz"));
        let (c, s) = from_dir(p, &brats()).unwrap();
        assert!(s.is_empty(), "{s:?}");
        assert_eq!(c[0].input("t2"), None);
        assert_eq!(c[0].inputs.len(), 3);
        assert_eq!(c[1].input("t2"), Some(&input(p.join("b/b_t2.nii.gz"))));
    }

    #[test]
    fn folder_dicom_series_folders_matched_by_glob() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        touch(&p.join("sub-01/FLAIR_3D/IM0001"));
        touch(&p.join("sub-01/T1_MPRAGE/IM0001"));
        touch(&p.join("sub-01/T1_MPRAGE/IM0002"));
        let decls = [
            InputDecl::required("flair", "FLAIR*"),
            InputDecl::required("t1", "T1_*"),
        ];
        let (c, s) = from_dir(p, &decls).unwrap();
        assert!(s.is_empty());
        assert_eq!(c[0].name, "sub-01");
        assert_eq!(c[0].input("flair"), Some(&input(p.join("sub-01/FLAIR_3D"))));
        assert_eq!(c[0].input("t1"), Some(&input(p.join("sub-01/T1_MPRAGE"))));
        // One entry taken by two inputs is a problem, not a silent reuse.
        let decls = [
            InputDecl::required("t1", "T1*"),
            InputDecl::required("t1post", "T1_MPRAGE"),
        ];
        let (c, s) = from_dir(p, &decls).unwrap();
        assert!(c.is_empty());
        assert_eq!(s[0].reason, "t1 and t1post: both match T1_MPRAGE");
    }

    #[test]
    fn folder_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        touch(&p.join("a/a_flair.nii"));
        let decls = [
            InputDecl::required("flair", "*flair*"),
            InputDecl::required("t1", "*[t1"),
        ];
        let e = err_text(from_dir(p, &decls));
        assert!(e.contains("input \"t1\": invalid glob \"*[t1\""), "{e}");
        // Only loose files: no cases at all.
        let loose = tempfile::tempdir().unwrap();
        touch(&loose.path().join("x_flair.nii"));
        let e = err_text(from_dir(loose.path(), &brats()));
        assert!(e.contains("holds no case folders"), "{e}");
        let e = err_text(from_dir(&p.join("missing"), &brats()));
        assert!(e.contains("missing"), "{e}");
        let dup = [
            InputDecl::required("T1", "*"),
            InputDecl::optional("t1", "*"),
        ];
        assert!(err_text(from_dir(p, &dup)).contains("the same name"));
        assert!(err_text(from_dir(p, &[])).contains("no inputs"));
        let reserved = [InputDecl::required("case", "*")];
        assert!(err_text(from_csv(&p.join("c.csv"), &reserved)).contains("case column"));
    }
}

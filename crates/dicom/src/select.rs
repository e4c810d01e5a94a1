//! Choosing one series: `--series <number|UID|description regex>`.

use crate::{DicomError, Scan, SeriesInfo};
use regex::Regex;
use std::str::FromStr;

/// Which series to read, parsed from the `--series` string: a series key
/// such as `5` or `5.2` (see [`SeriesInfo::key`]), a SeriesInstanceUID
/// (digits and at least two dots), or else a case-insensitive regular
/// expression searched in the series description.
#[derive(Clone, Debug)]
pub enum SeriesSelector {
    Key(String),
    Uid(String),
    Description(Regex),
}

impl FromStr for SeriesSelector {
    type Err = DicomError;

    fn from_str(s: &str) -> Result<Self, DicomError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DicomError::BadSelector {
                selector: s.into(),
                reason: "empty".into(),
            });
        }
        let digits_dots = s.chars().all(|c| c.is_ascii_digit() || c == '.');
        let dots = s.matches('.').count();
        if digits_dots && dots <= 1 && !s.starts_with('.') && !s.ends_with('.') {
            return Ok(SeriesSelector::Key(s.into()));
        }
        if digits_dots && dots >= 2 {
            return Ok(SeriesSelector::Uid(s.into()));
        }
        Regex::new(&format!("(?i){s}"))
            .map(SeriesSelector::Description)
            .map_err(|e| DicomError::BadSelector {
                selector: s.into(),
                reason: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("bad regex")
                    .trim()
                    .into(),
            })
    }
}

impl std::fmt::Display for SeriesSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeriesSelector::Key(k) => f.write_str(k),
            SeriesSelector::Uid(u) => f.write_str(u),
            SeriesSelector::Description(r) => f.write_str(r.as_str().trim_start_matches("(?i)")),
        }
    }
}

impl SeriesSelector {
    /// Whether this selector picks `s`. A plain number also matches every
    /// part of a split series with that number.
    pub fn matches(&self, s: &SeriesInfo) -> bool {
        match self {
            SeriesSelector::Key(k) => {
                s.key == *k || s.number.map(|n| n.to_string()) == Some(k.clone())
            }
            SeriesSelector::Uid(u) => s.uid == *u,
            SeriesSelector::Description(r) => r.is_match(&s.description),
        }
    }
}

/// One line per series for error messages: `key "description" (N slices)`.
pub fn series_list(series: &[&SeriesInfo]) -> String {
    series
        .iter()
        .map(|s| {
            let split = s
                .split
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default();
            format!(
                "{} \"{}\" ({} {}, {} slices{split}, UID {})",
                s.key, s.description, s.modality, s.orientation, s.slices, s.uid
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Picks the series to read: the only one, or the one the selector names.
/// Several series and no selector, or a selector matching none or several,
/// is an error listing the candidates.
pub fn select<'a>(
    scan: &'a Scan,
    selector: Option<&SeriesSelector>,
) -> Result<&'a SeriesInfo, DicomError> {
    let all: Vec<&SeriesInfo> = scan.series.iter().collect();
    let Some(sel) = selector else {
        return match all.len() {
            0 => Err(DicomError::NoSeries {
                path: scan.folder.clone(),
                skipped: scan.skipped.len(),
            }),
            1 => Ok(all[0]),
            n => Err(DicomError::SeveralSeries {
                path: scan.folder.clone(),
                count: n,
                list: series_list(&all),
            }),
        };
    };
    // An exact key wins over the looser number match.
    if let SeriesSelector::Key(k) = sel {
        if let Some(s) = all.iter().find(|s| s.key == *k) {
            return Ok(s);
        }
    }
    let hits: Vec<&SeriesInfo> = all.iter().copied().filter(|s| sel.matches(s)).collect();
    match hits.len() {
        1 => Ok(hits[0]),
        0 => Err(DicomError::NoMatch {
            path: scan.folder.clone(),
            selector: sel.to_string(),
            list: series_list(&all),
        }),
        n => Err(DicomError::AmbiguousMatch {
            path: scan.folder.clone(),
            selector: sel.to_string(),
            count: n,
            list: series_list(&hits),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_uids_and_regexes() {
        assert!(matches!("5".parse(), Ok(SeriesSelector::Key(k)) if k == "5"));
        assert!(matches!("5.2".parse(), Ok(SeriesSelector::Key(k)) if k == "5.2"));
        assert!(matches!("1.2.840.1".parse(), Ok(SeriesSelector::Uid(_))));
        assert!(matches!(
            "t1.*mprage".parse(),
            Ok(SeriesSelector::Description(_))
        ));
        assert!("".parse::<SeriesSelector>().is_err());
        let bad = "t1[".parse::<SeriesSelector>().unwrap_err();
        assert_eq!(bad.code(), deepneuro_exit::Code::Input);
        assert!(!bad.to_string().contains('\n'));
        let s: SeriesSelector = "FLAIR".parse().unwrap();
        assert_eq!(s.to_string(), "FLAIR");
    }
}

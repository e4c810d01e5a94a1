//! `dicom ls` output: an aligned text table or JSON.

use crate::{Scan, SeriesInfo};

const HEADERS: [&str; 8] = [
    "SERIES",
    "DESCRIPTION",
    "MODALITY",
    "SLICES",
    "DIMENSIONS",
    "SPACING",
    "ORIENTATION",
    "UID",
];

fn row(s: &SeriesInfo) -> [String; 8] {
    let [x, y, z] = s.dimensions;
    let [a, b, c] = s.spacing;
    let mut desc = s.description.clone();
    if let Some(split) = &s.split {
        desc = format!("{desc} [{split}]");
    }
    [
        s.key.clone(),
        desc,
        s.modality.clone(),
        s.slices.to_string(),
        format!("{x}x{y}x{z}"),
        if a > 0.0 {
            format!("{}x{}x{}", fmt_mm(a), fmt_mm(b), fmt_mm(c))
        } else {
            // No usable geometry: the warnings say why.
            "-".to_string()
        },
        s.orientation.clone(),
        s.uid.clone(),
    ]
}

/// Millimetres with up to 3 decimals and no trailing zeros.
fn fmt_mm(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// One row per series under a header, columns aligned; then one line per
/// series warning and a summary of skipped files.
pub fn format_table(scan: &Scan) -> String {
    let rows: Vec<[String; 8]> = scan.series.iter().map(row).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                let pad = widths[i] - c.chars().count() + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&HEADERS.map(String::from));
    for r in &rows {
        out.push_str(&line(r));
    }
    for s in &scan.series {
        for w in &s.warnings {
            out.push_str(&format!("warning: series {}: {w}\n", s.key));
        }
    }
    if !scan.skipped.is_empty() {
        out.push_str(&format!("skipped {} file(s):\n", scan.skipped.len()));
        for k in &scan.skipped {
            out.push_str(&format!("  {}: {}\n", k.path.display(), k.reason));
        }
    }
    out
}

/// The scan as pretty JSON: `{"folder", "series": [...], "skipped": [...]}`.
pub fn format_json(scan: &Scan) -> String {
    serde_json::to_string_pretty(scan).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

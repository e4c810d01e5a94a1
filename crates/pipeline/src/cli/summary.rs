//! The summary of a run: one row per case, as a table or one JSON object,
//! and the run's exit code.

use crate::cases::{Case, Skipped};
use crate::output::Written;
use crate::spec::Spec;
use crate::{exit, PipelineError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Serialize)]
pub struct CaseSummary {
    pub case: String,
    pub inputs: BTreeMap<String, PathBuf>,
    pub status: &'static str,
    pub exit_code: i32,
    pub error: Option<String>,
    /// Output name to label to cm^3, for masks and label maps.
    pub volumes_cm3: BTreeMap<String, BTreeMap<String, f64>>,
    pub warnings: Vec<String>,
    /// Output name to file.
    pub outputs: BTreeMap<String, PathBuf>,
    pub seconds: f64,
    /// Seconds per step: "load" (reading the inputs), the spec's steps,
    /// then "write" (every output file).
    pub steps: Vec<(String, f64)>,
}

fn inputs_of(case: &Case) -> BTreeMap<String, PathBuf> {
    case.inputs
        .iter()
        .map(|(k, c)| (k.clone(), c.path.clone()))
        .collect()
}

impl CaseSummary {
    pub fn ok(
        case: &Case,
        written: Written,
        warnings: Vec<String>,
        seconds: f64,
        steps: Vec<(String, f64)>,
    ) -> CaseSummary {
        CaseSummary {
            case: case.name.clone(),
            inputs: inputs_of(case),
            status: "ok",
            exit_code: exit::OK,
            error: None,
            volumes_cm3: written.volumes_cm3,
            warnings,
            outputs: written.files,
            seconds,
            steps,
        }
    }

    pub fn failed(case: &Case, e: &PipelineError, seconds: f64) -> CaseSummary {
        CaseSummary {
            case: case.name.clone(),
            inputs: inputs_of(case),
            status: "failed",
            exit_code: e.exit_code(),
            error: Some(e.to_string()),
            volumes_cm3: BTreeMap::new(),
            warnings: Vec::new(),
            outputs: BTreeMap::new(),
            seconds,
            steps: Vec::new(),
        }
    }

    pub fn skipped(s: &Skipped) -> CaseSummary {
        CaseSummary {
            case: s.case.clone(),
            inputs: BTreeMap::new(),
            status: "failed",
            exit_code: exit::BAD_INPUT,
            error: Some(s.reason.clone()),
            volumes_cm3: BTreeMap::new(),
            warnings: Vec::new(),
            outputs: BTreeMap::new(),
            seconds: 0.0,
            steps: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub tool: crate::record::Tool,
    pub module: String,
    pub module_version: String,
    pub spec: PathBuf,
    pub spec_sha256: String,
    /// The `[[skip]]` groups left out (`--skip`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    pub models: Vec<crate::record::ModelInfo>,
    pub params: BTreeMap<String, f64>,
    pub device: String,
    pub threads: usize,
    pub models_seconds: f64,
    pub succeeded: usize,
    pub failed: usize,
    pub cases: Vec<CaseSummary>,
    /// The output the table shows per case: the spec's first.
    #[serde(skip)]
    first_output: String,
}

impl Summary {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &Spec,
        models: Vec<crate::record::ModelInfo>,
        params: BTreeMap<String, f64>,
        device: &str,
        threads: usize,
        models_seconds: f64,
        cases: Vec<CaseSummary>,
    ) -> Summary {
        let failed = cases.iter().filter(|c| c.exit_code != exit::OK).count();
        Summary {
            tool: crate::record::TOOL,
            module: spec.module.name.clone(),
            module_version: spec.module.version.clone(),
            spec: spec.path.clone(),
            spec_sha256: spec.sha256.clone(),
            skipped: spec.skipped.clone(),
            models,
            params,
            device: device.to_string(),
            threads,
            models_seconds,
            succeeded: cases.len() - failed,
            failed,
            cases,
            first_output: spec
                .outputs
                .first()
                .map(|o| o.name.clone())
                .unwrap_or_default(),
        }
    }

    /// 0 when every case succeeded; a single case's own code; else 13.
    pub fn exit_code(&self, batch: bool) -> i32 {
        match (self.failed, batch) {
            (0, _) => exit::OK,
            (_, false) => self.cases.first().map_or(exit::INTERNAL, |c| c.exit_code),
            _ => exit::SOME_CASES_FAILED,
        }
    }

    /// The JSON object on stdout, or the table (a single failed case: only
    /// its error line, on stderr, said once).
    pub fn print(&self, json: bool, quiet: bool, batch: bool) {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(self).expect("summary serialises")
            );
            return;
        }
        if !batch {
            if let Some(c) = self.cases.first().filter(|c| c.exit_code != exit::OK) {
                eprintln!("error: {}", c.error.as_deref().unwrap_or(""));
                return;
            }
        }
        if !quiet {
            self.print_table();
        }
    }

    fn print_table(&self) {
        println!(
            "{:<24} {:>7} {:>8}  outputs / error",
            "case", "status", "seconds"
        );
        for c in &self.cases {
            let detail = match &c.error {
                Some(e) => e.clone(),
                None => c
                    .outputs
                    .get(&self.first_output)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            };
            println!(
                "{:<24} {:>7} {:>8.2}  {}",
                c.case, c.status, c.seconds, detail
            );
            for (name, labels) in &c.volumes_cm3 {
                let v: Vec<String> = labels
                    .iter()
                    .map(|(l, cm3)| format!("label {l} {cm3:.1} cm^3"))
                    .collect();
                println!("{:<24} {:>7} {:>8}  {name}: {}", "", "", "", v.join(", "));
            }
            for (name, p) in &c.outputs {
                if name == "quicklook" {
                    println!(
                        "{:<24} {:>7} {:>8}  quick-look: {}",
                        "",
                        "",
                        "",
                        p.display()
                    );
                }
            }
            for w in &c.warnings {
                println!("{:<24} warning: {w}", "");
            }
        }
        println!(
            "{} succeeded, {} failed ({}, {} threads, models loaded in {:.2} s)",
            self.succeeded, self.failed, self.device, self.threads, self.models_seconds
        );
    }
}

/// The bar on screen, if any: log lines are printed around it.
static BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Stderr for log lines: with a progress bar on screen, the bar is cleared
/// while the line is printed and drawn again below it, so the two never mix.
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(b) => b.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Puts `bar` on screen for [`LogWriter`] (or takes it off with `None`).
pub fn show_bar(bar: Option<&indicatif::ProgressBar>) {
    if let Ok(mut b) = BAR.lock() {
        *b = bar.cloned();
    }
}

pub fn progress_bar(n: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || n < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(n as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}

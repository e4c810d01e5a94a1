//! The per-case record: a JSON file beside a case's outputs saying what
//! produced them. Schema `deepneuro.case-record`, version 1 (documented
//! in pipelines/README.md); later versions only add fields.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const SCHEMA: &str = "deepneuro.case-record";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
    pub git_revision: &'static str,
}

pub const TOOL: Tool = Tool {
    name: "deepneuro",
    version: env!("CARGO_PKG_VERSION"),
    git_revision: env!("DEEPNEURO_GIT_REVISION"),
};

#[derive(Clone, Debug, Serialize)]
pub struct ModuleInfo {
    pub name: String,
    pub version: String,
    pub spec: PathBuf,
    pub spec_sha256: String,
    /// The `[[skip]]` groups left out (`--skip`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputInfo {
    pub path: PathBuf,
    /// `file` or `dicom`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_description: Option<String>,
}

/// Everything known about one case once it ran.
#[derive(Clone, Debug, Serialize)]
pub struct CaseRecord {
    pub schema: &'static str,
    pub schema_version: u32,
    pub case: String,
    /// `ok` or `failed`.
    pub status: &'static str,
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub tool: Tool,
    pub module: ModuleInfo,
    pub models: Vec<ModelInfo>,
    pub params: BTreeMap<String, f64>,
    pub device: String,
    pub inputs: BTreeMap<String, InputInfo>,
    /// Output name to file (`quicklook`, `dicom_seg` and `record` included).
    pub outputs: BTreeMap<String, PathBuf>,
    /// Output name to label to cm^3, for masks and label maps.
    pub volumes_cm3: BTreeMap<String, BTreeMap<String, f64>>,
    pub warnings: Vec<String>,
    /// When the case started (UTC, RFC 3339) and how long it took.
    pub started: String,
    pub seconds: f64,
    /// Seconds per step: `load`, the spec's steps, `write`.
    pub steps: Vec<(String, f64)>,
}

/// Now, as RFC 3339 UTC to the second.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

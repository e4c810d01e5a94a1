//! The sections of a spec as TOML holds them (serde, unknown keys refused).
//! Steps stay generic tables here: `check` reads them against the op table.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpec {
    pub module: Header,
    #[serde(rename = "input")]
    pub inputs: Vec<InputDecl>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamDecl>,
    #[serde(default, rename = "skip")]
    pub skips: Vec<SkipDecl>,
    #[serde(default, rename = "step")]
    pub steps: Vec<toml::Spanned<toml::Table>>,
    #[serde(default, rename = "output")]
    pub outputs: Vec<OutputDecl>,
    #[serde(default)]
    pub quicklook: Option<QuicklookDecl>,
    #[serde(default)]
    pub seg: Option<SegDecl>,
    #[serde(default)]
    pub container: Option<Container>,
}

/// `[module]`: what the module is.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The module's name: its binary and `deepneuro run NAME`.
    pub name: String,
    /// The format of this file; this build reads `SPEC_VERSION`.
    pub spec_version: u32,
    /// The module's own version (recorded with every output).
    #[serde(default = "one_zero")]
    pub version: String,
    #[serde(default)]
    pub description: String,
    /// An example command line for `--help`.
    #[serde(default)]
    pub example: Option<String>,
    /// How messages of exit 12 begin ("no brain found", "no tumour found").
    #[serde(default = "nothing_found")]
    pub nothing_found: String,
}

fn nothing_found() -> String {
    "nothing found".into()
}

fn one_zero() -> String {
    "1.0".into()
}

/// What an input holds.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    #[default]
    Image,
    Mask,
}

/// `[[input]]`: one named input, a file or a DICOM folder per case.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputDecl {
    /// Its option (`--flair`), CSV column and value name.
    pub name: String,
    #[serde(default)]
    pub help: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub kind: InputKind,
    /// The expected contrast (`T1w`, `FLAIR`, ...): matched against DICOM
    /// metadata (a warning when they disagree) and against a model's
    /// `modalities` by `stack`.
    #[serde(default)]
    pub contrast: Option<String>,
    /// `--input-dir` with one folder per case: the entry that is this input.
    #[serde(default = "star")]
    pub glob: String,
    /// Other option names for this input (`--input` for `--t1`).
    #[serde(default)]
    pub aliases: Vec<String>,
}

fn yes() -> bool {
    true
}

fn star() -> String {
    "*".into()
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ParamType {
    Float,
    Int,
}

/// `[params.NAME]`: a number the command line may set (`--NAME`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    #[serde(default)]
    pub help: String,
}

/// `[[skip]]`: a group of steps `--skip NAME` leaves out, for inputs that
/// are already processed (co-registered, bias-corrected, skull-stripped).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SkipDecl {
    /// The name `--skip` takes and steps name in `skip` / `if_skipped`.
    pub name: String,
    /// What skipping assumes of the inputs, for `--help`.
    #[serde(default)]
    pub help: String,
}

/// `[[output]]`: a value written per case.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputDecl {
    /// The output's name: `--NAME-name` changes its file name, the per-case
    /// record and the summary list it under this name.
    pub name: String,
    /// The value written.
    pub value: String,
    /// File name; `{case}` is replaced by the case name. `.nii.gz`,
    /// `.nii`, `.nrrd` pick the format.
    pub file: String,
    #[serde(default)]
    pub help: String,
    /// Written only when this flag (`--FLAG`) is given.
    #[serde(default)]
    pub flag: Option<String>,
    /// Plausible volume in cm^3 (masks and label maps): a warning outside.
    #[serde(default)]
    pub range_cm3: Option<[f64; 2]>,
    /// An empty mask or label map is a valid result (exit 0), not exit 12.
    #[serde(default)]
    pub allow_empty: bool,
}

/// `[quicklook]`: a PNG of three slices of `image` with `labels` outlined.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuicklookDecl {
    pub file: String,
    /// The image shown (a value on the same grid as `labels`).
    pub image: String,
    /// A mask or label map.
    pub labels: String,
    /// RGB colour per label value; other labels get a palette colour.
    #[serde(default)]
    pub colours: BTreeMap<String, [u8; 3]>,
    /// More rows below the first, each an image with its own outlines
    /// (`[[quicklook.row]]`): the post-contrast T1 with the enhancing
    /// tumour under the FLAIR with the whole tumour, say.
    #[serde(default, rename = "row")]
    pub rows: Vec<QuicklookRow>,
}

/// `[[quicklook.row]]`: one more row of three slices.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuicklookRow {
    pub image: String,
    pub labels: String,
    #[serde(default)]
    pub colours: BTreeMap<String, [u8; 3]>,
}

/// `[seg]`: one DICOM SEG per case, one segment per label.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SegDecl {
    pub file: String,
    /// A mask or label map on the source input's grid.
    pub value: String,
    /// The input whose DICOM series the SEG refers to.
    pub source: String,
    #[serde(default = "seg_description")]
    pub series_description: String,
    #[serde(default = "seg_label")]
    pub content_label: String,
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default, rename = "segment")]
    pub segments: Vec<SegmentDecl>,
}

fn seg_description() -> String {
    "Segmentation".into()
}

fn seg_label() -> String {
    "SEGMENTATION".into()
}

/// `[[seg.segment]]`: how one label is described.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDecl {
    pub label: u32,
    pub name: String,
    /// SNOMED CT category `[code, meaning]` (default: chosen from the name).
    #[serde(default)]
    pub category: Option<[String; 2]>,
    /// SNOMED CT property type `[code, meaning]`.
    #[serde(default, rename = "type")]
    pub property: Option<[String; 2]>,
    #[serde(default)]
    pub colour: Option<[u8; 3]>,
}

/// `[container]`: which options name host paths, so that a generated
/// wrapper can mount them without code per module.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Image name without tag, e.g. `deepneuro/skull-strip`.
    pub image: String,
    /// The module binary, the image's entry point.
    pub binary: String,
    /// Long options (without `--`) whose value is a file or folder the
    /// module reads; each is mounted read-only at its own mount point.
    pub input_options: Vec<String>,
    /// The long option naming the folder the module writes.
    pub output_option: String,
    /// Its one-letter short form, if any.
    #[serde(default)]
    pub output_short: Option<char>,
}

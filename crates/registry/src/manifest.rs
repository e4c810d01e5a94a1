//! `models.toml`: what each model is, where its bytes come from and what input it expects.
//!
//! Pipelines read the input specification from here rather than hard-coding it, so that a
//! new model version with a different normalisation is a data change, not a code change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

/// The `models.toml` that ships with this source tree, compiled in so that the command works
/// from any directory.
const BUILTIN: &str = include_str!("../../../models.toml");

/// `share/deepneuro/models.toml` of an installed tree (`bin/` beside
/// `share/`), when the running binary is part of one.
fn installed() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("share/deepneuro/models.toml");
    p.is_file().then_some(p)
}

/// How the weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// A TorchScript archive, loadable with `torch.jit.load` / `tch::CModule::load`.
    Torchscript,
    /// A safetensors file; the architecture comes from the entry's `config` table.
    Safetensors,
}

/// Intensity normalisation applied before inference. Which fields are used depends on
/// `method`; see the README for the formulas of each method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// One of `none`, `zscore`, `minmax`, `percentile-zscore`.
    pub method: String,
    /// Lower percentile (0–100) used to clip, for percentile methods.
    pub low_percentile: Option<f64>,
    /// Upper percentile (0–100) used to clip, for percentile methods.
    pub high_percentile: Option<f64>,
    /// Multiplier applied after standardisation.
    pub scale: Option<f64>,
    /// Offset added after scaling.
    pub shift: Option<f64>,
    /// Free text for details that the fields cannot express.
    pub note: Option<String>,
}

/// What the network expects as input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Modalities, in channel order (`["T1w"]`, `["T1w", "FLAIR"]`).
    pub modalities: Vec<String>,
    /// Voxel axis orientation code the array must be in, e.g. `RAS` (nibabel's canonical).
    pub orientation: String,
    /// Voxel spacing in millimetres; absent when the model takes native spacing and resizes
    /// to `shape` instead.
    pub spacing_mm: Option<[f64; 3]>,
    /// Interpolation used to bring the volume to `shape` (`nearest-exact`, `trilinear`),
    /// absent when the volume must already have that shape.
    pub resize: Option<String>,
    /// Expected tensor shape, batch and channel first: `[1, 1, 128, 128, 128]`.
    pub shape: Vec<usize>,
    /// Element type of the input tensor.
    #[serde(default = "default_dtype")]
    pub dtype: String,
    /// Intensity normalisation.
    pub normalization: Normalization,
}

fn default_dtype() -> String {
    "float32".to_owned()
}

/// What the network returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Meaning of each output channel, in order.
    pub channels: Vec<String>,
    /// Free text, e.g. how to threshold.
    pub note: Option<String>,
}

/// How the model is best run over a volume (`[model.inference]`): the
/// sliding-window settings a pipeline step uses unless it sets its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InferenceSpec {
    /// Patch size `[x, y, z]`; absent: the whole volume in one pass.
    pub patch: Option<Vec<i64>>,
    /// Overlap of neighbouring patches in [0, 1).
    pub overlap: Option<f64>,
    /// `constant` or `gaussian`.
    pub blend: Option<String>,
    /// Patches per forward pass.
    pub batch: Option<usize>,
}

/// One `[[model]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Unique name, the handle on the command line (`deepbet-brain`).
    pub name: String,
    /// Version of the weights (usually the upstream release).
    pub version: String,
    /// Plain file name in the cache and on mirrors (`<DEEPNEURO_REGISTRY>/<file>`).
    pub file: String,
    /// Path of the file inside the upstream archive (wheel or zip), used by `import`.
    pub member: Option<String>,
    /// Exact size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// Download URLs, tried in order (`https://`, `http://` or `file://`).
    #[serde(default)]
    pub urls: Vec<String>,
    /// Storage format.
    pub format: ModelFormat,
    /// Architecture configuration for `safetensors` (written as a TOML table, read as JSON).
    pub config: Option<serde_json::Value>,
    /// SPDX licence of the weights.
    pub license: String,
    /// How to cite the model.
    pub citation: String,
    /// One sentence on what the model does.
    pub description: Option<String>,
    /// Project home page.
    pub homepage: Option<String>,
    /// Input specification.
    pub input: InputSpec,
    /// Output specification.
    pub output: Option<OutputSpec>,
    /// Sliding-window defaults.
    #[serde(default)]
    pub inference: Option<InferenceSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    model: Vec<ModelEntry>,
}

/// The parsed, validated `models.toml`.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Where it was read from (`<builtin>` for the compiled-in copy).
    pub path: PathBuf,
    /// The entries, in file order.
    pub models: Vec<ModelEntry>,
}

impl Registry {
    /// Reads and validates `models.toml` at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RegistryError::ManifestRead {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// The `models.toml` of this source tree, compiled into the binary.
    pub fn builtin() -> Result<Self, RegistryError> {
        Self::parse(BUILTIN, Path::new("<builtin models.toml>"))
    }

    /// `path` if given, else `$DEEPNEURO_MODELS`, else an installed tree's
    /// `share/deepneuro/models.toml` (beside the binary), else the compiled-in copy.
    pub fn load_default(path: Option<&Path>) -> Result<Self, RegistryError> {
        match path {
            Some(p) => Self::load(p),
            None => match std::env::var_os("DEEPNEURO_MODELS") {
                Some(p) if !p.is_empty() => Self::load(PathBuf::from(p)),
                _ => match installed() {
                    Some(p) => Self::load(p),
                    None => Self::builtin(),
                },
            },
        }
    }

    /// Parses and validates manifest text; `path` only labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, RegistryError> {
        let invalid = |reason: String| RegistryError::ManifestInvalid {
            path: path.to_owned(),
            reason,
        };
        let file: ManifestFile =
            toml::from_str(text).map_err(|e| invalid(one_line(&e.to_string())))?;
        let mut names = BTreeSet::new();
        for (i, m) in file.model.iter().enumerate() {
            validate(m).map_err(|r| invalid(format!("model #{} '{}': {r}", i + 1, m.name)))?;
            if !names.insert(m.name.as_str()) {
                return Err(invalid(format!("model name '{}' appears twice", m.name)));
            }
            // Mirrors are flat directories, so one file name must mean one content.
            if let Some(other) = file.model[..i]
                .iter()
                .find(|o| o.file == m.file && o.sha256 != m.sha256)
            {
                return Err(invalid(format!(
                    "models '{}' and '{}' share the file name '{}' but not the content",
                    other.name, m.name, m.file
                )));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            models: file.model,
        })
    }

    /// The entry named `name`.
    pub fn find(&self, name: &str) -> Result<&ModelEntry, RegistryError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| RegistryError::ModelNotFound {
                name: name.to_owned(),
                known: self.names().join(", "),
            })
    }

    /// The names of all entries, in file order.
    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }

    /// The entries named in `names`, or all entries when `names` is empty.
    pub fn select(&self, names: &[String]) -> Result<Vec<&ModelEntry>, RegistryError> {
        if names.is_empty() {
            return Ok(self.models.iter().collect());
        }
        names.iter().map(|n| self.find(n)).collect()
    }
}

/// TOML errors span several lines with a source excerpt; the registry promises one-line
/// messages.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn validate(m: &ModelEntry) -> Result<(), String> {
    if !is_safe_component(&m.name) {
        return Err("`name` must be non-empty and use only letters, digits, '-', '_', '.'".into());
    }
    if !is_safe_component(&m.version) {
        return Err(
            "`version` must be non-empty and use only letters, digits, '-', '_', '.'".into(),
        );
    }
    // The file name becomes a path in the cache; anything with a separator could escape it.
    if !is_safe_component(&m.file) {
        return Err(
            "`file` must be a plain file name (letters, digits, '-', '_', '.'; no '/')".into(),
        );
    }
    if m.sha256.len() != 64
        || !m
            .sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err("`sha256` must be 64 lower-case hex digits".into());
    }
    if m.size == 0 {
        return Err("`size` must be positive".into());
    }
    match (m.format, &m.config) {
        (ModelFormat::Safetensors, None) => {
            return Err("format `safetensors` needs a `config` table".into())
        }
        (ModelFormat::Torchscript, Some(_)) => {
            return Err("format `torchscript` takes no `config` table".into())
        }
        _ => {}
    }
    for url in &m.urls {
        if !(url.starts_with("https://")
            || url.starts_with("http://")
            || url.starts_with("file://"))
        {
            return Err(format!(
                "URL {url} must start with https://, http:// or file://"
            ));
        }
    }
    let input = &m.input;
    if input.modalities.is_empty() {
        return Err("`input.modalities` must list at least one modality".into());
    }
    if !is_orientation(&input.orientation) {
        return Err(format!(
            "`input.orientation` '{}' is not a three-letter code such as RAS or LPS",
            input.orientation
        ));
    }
    if input.shape.is_empty() || input.shape.contains(&0) {
        return Err("`input.shape` must be non-empty with positive sizes".into());
    }
    if let Some(s) = input.spacing_mm {
        if !s.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err("`input.spacing_mm` must be three positive numbers".into());
        }
    }
    if input.normalization.method.is_empty() {
        return Err("`input.normalization.method` must not be empty".into());
    }
    Ok(())
}

fn is_safe_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One letter from each of the pairs L/R, A/P, S/I, in any order.
fn is_orientation(s: &str) -> bool {
    let axes: Vec<u8> = s
        .bytes()
        .filter_map(|c| match c.to_ascii_uppercase() {
            b'L' | b'R' => Some(0),
            b'A' | b'P' => Some(1),
            b'S' | b'I' => Some(2),
            _ => None,
        })
        .collect();
    s.len() == 3 && axes.len() == 3 && axes.iter().collect::<BTreeSet<_>>().len() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_is_valid() {
        let r = Registry::builtin().unwrap();
        assert!(r.find("deepbet-bbox").is_ok());
        assert!(r.find("deepbet-brain").is_ok());
        assert!(r.find("nope").is_err());
    }

    #[test]
    fn orientation_codes() {
        assert!(is_orientation("RAS"));
        assert!(is_orientation("lps"));
        assert!(!is_orientation("RRS"));
        assert!(!is_orientation("RA"));
        assert!(!is_orientation("RASX"));
    }

    #[test]
    fn rejects_path_in_file_name() {
        let text = BUILTIN.replace("file = \"model.pt\"", "file = \"../x.pt\"");
        let err = Registry::parse(&text, Path::new("t.toml")).unwrap_err();
        assert_eq!(err.code(), deepneuro_exit::Code::Input);
        assert!(err.to_string().contains("plain file name"), "{err}");
    }

    const ONE: &str = r#"
[[model]]
name = "a"
version = "1"
file = "a.bin"
size = 3
sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
format = "FORMAT"
CONFIG
license = "MIT"
citation = "c"
[model.input]
modalities = ["T1w", "FLAIR"]
orientation = "LPS"
spacing_mm = [1.0, 1.0, 1.0]
shape = [1, 2, 4, 4, 4]
[model.input.normalization]
method = "zscore"
"#;

    fn one(format: &str, config: &str) -> Result<Registry, RegistryError> {
        let text = ONE.replace("FORMAT", format).replace("CONFIG", config);
        Registry::parse(&text, Path::new("t.toml"))
    }

    #[test]
    fn safetensors_needs_a_config_table_read_as_json() {
        assert!(one("safetensors", "").is_err());
        assert!(one("torchscript", "config = { depth = 4 }").is_err());
        assert!(one("onnx", "").is_err());
        let r = one("safetensors", "config = { depth = 4, widths = [8, 16] }").unwrap();
        let m = r.find("a").unwrap();
        assert_eq!(m.config.as_ref().unwrap()["widths"][1], 16);
        assert_eq!(m.input.modalities, ["T1w", "FLAIR"]);
        assert_eq!(m.input.dtype, "float32");
    }

    #[test]
    fn duplicate_names_and_conflicting_file_names_are_rejected() {
        let a = ONE.replace("FORMAT", "torchscript").replace("CONFIG", "");
        let twice = format!("{a}{a}");
        let e = Registry::parse(&twice, Path::new("t.toml")).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        let other = a
            .replace("name = \"a\"", "name = \"b\"")
            .replace("ba78", "ca78");
        let e = Registry::parse(&format!("{a}{other}"), Path::new("t.toml")).unwrap_err();
        assert!(e.to_string().contains("share the file name"), "{e}");
    }

    #[test]
    fn unknown_fields_are_typos_not_silence() {
        let text = ONE
            .replace("FORMAT", "torchscript")
            .replace("CONFIG", "")
            .replace(
                "method = \"zscore\"",
                "method = \"zscore\"\nlow_percentil = 1.0",
            );
        assert!(Registry::parse(&text, Path::new("t.toml")).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "",
            "[[model]]",
            "model = 3",
            "\u{0}\u{1}",
            "[[model]]\nname = 1",
        ] {
            let r = Registry::parse(text, Path::new("t.toml"));
            if let Err(e) = r {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
}

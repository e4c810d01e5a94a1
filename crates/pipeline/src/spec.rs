//! The pipeline specification (`pipelines/*.toml`): parameters with
//! defaults, an ordered list of named steps, and output names. Models are
//! named as in `models.toml`; their input shape and normalisation come from
//! there, never from the spec.

use crate::PipelineError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub pipeline: Header,
    /// Parameters the command line may override (`--threshold`, `--dilate`).
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub outputs: Outputs,
    /// How the module runs in a container: read by docker/ and `deepneuro wrap`.
    #[serde(default)]
    pub container: Option<Container>,
    /// Where the spec was read from, for messages.
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Input roles, e.g. `["t1"]`; the first is the primary image.
    pub inputs: Vec<String>,
}

/// The `[container]` section: which command-line options name host paths,
/// so that a generated wrapper can mount them without code per module.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Image name without tag, e.g. `deepneuro/skull-strip`.
    pub image: String,
    /// The module binary, the image's entry point.
    pub binary: String,
    /// Long options (without `--`) whose value is a file or folder the module
    /// reads; each is mounted read-only at its own mount point.
    pub input_options: Vec<String>,
    /// The long option naming the folder the module writes (mounted read-write).
    pub output_option: String,
    /// Its one-letter short form, if any.
    #[serde(default)]
    pub output_short: Option<char>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// `{case}` is replaced by the case name.
    pub mask: String,
    pub brain: String,
    pub quicklook: String,
    pub preprocessed: String,
    /// Plausible intracranial volume in cm^3; outside it the case warns.
    pub icv_range_cm3: [f64; 2],
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            mask: "{case}_mask.nii.gz".into(),
            brain: "{case}_brain.nii.gz".into(),
            quicklook: "{case}_quicklook.png".into(),
            preprocessed: "{case}_preprocessed.nii.gz".into(),
            icv_range_cm3: [800.0, 2200.0],
        }
    }
}

/// A number, or `"$name"` naming one of `[params]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Param {
    Value(f64),
    Ref(String),
}

impl Param {
    pub fn resolve(&self, params: &BTreeMap<String, f64>) -> Result<f64, String> {
        match self {
            Param::Value(v) => Ok(*v),
            Param::Ref(r) => {
                let name = r
                    .strip_prefix('$')
                    .ok_or_else(|| format!("'{r}' is not a number or $param"))?;
                params
                    .get(name)
                    .copied()
                    .ok_or_else(|| format!("unknown parameter ${name}"))
            }
        }
    }
}

/// The grid a step works on: the model-sized copy of the whole image, or
/// the full-resolution canonical image.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Grid {
    Small,
    #[default]
    Full,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Keep the first volume of a 4D input (with a warning).
    FirstVolume,
    /// Reorient to the closest canonical RAS grid (nibabel's as_closest_canonical).
    Reorient,
    /// Replace NaN by 0 and +-inf by the largest finite f32 (torch.nan_to_num).
    NanToNum,
    /// Refuse an image without spatial structure (pure noise): the mean
    /// correlation of neighbouring voxels must reach `min_correlation`
    /// (head MRIs: above 0.8; i.i.d. noise: about 0). Not part of deepbet,
    /// which returns a plausible-looking mask for noise.
    CheckStructure {
        #[serde(default)]
        grid: Grid,
        min_correlation: f64,
    },
    /// Resize the full image to the model's input shape (models.toml `resize`).
    Resize { model: String },
    /// Percentiles of the small image for the model's normalisation.
    Percentiles { model: String },
    /// Normalise the grid's image as the model's spec says and run the model.
    Predict {
        model: String,
        #[serde(default)]
        grid: Grid,
        #[serde(default = "one")]
        channel: i64,
    },
    /// Crop the full image to the bounding box, resize to the model shape,
    /// predict, resize the probability back and paste it into the full grid.
    PredictCrop {
        model: String,
        #[serde(default = "one")]
        channel: i64,
    },
    /// probability > value
    Threshold {
        #[serde(default)]
        grid: Grid,
        value: Param,
    },
    LargestComponent {
        #[serde(default)]
        grid: Grid,
        #[serde(default)]
        connectivity: crate::ops::Connectivity,
        /// Only inside the bounding box (deepbet post-processes `mask[bbox]`).
        #[serde(default)]
        within_bbox: bool,
    },
    /// Bounding box of the small mask, scaled to the full grid, with margin.
    Bbox { margin: f64, min_fraction: f64 },
    FillHoles {
        #[serde(default)]
        within_bbox: bool,
    },
    /// Dilate (positive) or erode (negative) by N voxels, 6-connectivity.
    Grow { voxels: Param },
    /// N4 bias field correction of the full image (`deepneuro-preprocess`);
    /// must come before the first step that reads the image.
    BiasCorrect {
        #[serde(default)]
        shrink_factor: Option<usize>,
        #[serde(default)]
        iterations: Option<Vec<usize>>,
    },
    /// Z-score of the full image, over all voxels or only the non-zero ones;
    /// before the first step that reads the image.
    Zscore {
        #[serde(default)]
        nonzero: bool,
    },
    /// Clip the full image to percentiles (`[0.5, 99.5]`), optionally
    /// rescaled to `rescale`; before the first step that reads the image.
    ClipPercentiles {
        percentiles: [f64; 2],
        #[serde(default)]
        rescale: Option<[f64; 2]>,
    },
}

fn one() -> i64 {
    1
}

impl Spec {
    pub fn parse(text: &str, path: &Path) -> Result<Spec, PipelineError> {
        let mut spec: Spec = toml::from_str(text).map_err(|e| PipelineError::Spec {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        spec.path = path.to_path_buf();
        if spec.pipeline.inputs.is_empty() {
            return Err(PipelineError::Spec {
                path: path.to_path_buf(),
                reason: "pipeline.inputs is empty".into(),
            });
        }
        Ok(spec)
    }

    pub fn load(path: &Path) -> Result<Spec, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError::Spec {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Spec::parse(&text, path)
    }

    /// The skull-strip spec compiled into the binary, so `skull-strip` runs
    /// from any folder and in a container without the source tree.
    pub fn builtin_skull_strip() -> Spec {
        Spec::parse(
            include_str!("../../../pipelines/skull-strip.toml"),
            Path::new("<builtin pipelines/skull-strip.toml>"),
        )
        .expect("the committed skull-strip spec parses")
    }

    /// Every model name the steps use, in order of first use.
    pub fn models(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.steps {
            let m = match s {
                Step::Resize { model }
                | Step::Percentiles { model }
                | Step::Predict { model, .. }
                | Step::PredictCrop { model, .. } => model,
                _ => continue,
            };
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_spec_parses_and_names_both_models() {
        let s = Spec::builtin_skull_strip();
        assert_eq!(s.models(), ["deepbet-bbox", "deepbet-brain"]);
        assert_eq!(s.params["threshold"], 0.5);
    }

    #[test]
    fn unknown_step_is_an_error() {
        let t = "[pipeline]\nname='x'\ninputs=['t1']\n[[step]]\nop='nope'\n";
        assert!(Spec::parse(t, Path::new("x.toml")).is_err());
    }
}

//! A recipe's `models.toml`: one registry entry per trained net, with the
//! size and SHA-256 of the weights file it points at, and the f16 copy of
//! the weights that `--half` asks for.

use std::path::Path;

use deepneuro_data::DataCollection;
use deepneuro_registry::{
    InferenceSpec, InputSpec, ModelEntry, ModelFormat, Normalization, OutputSpec,
};
use serde::Serialize;
use tch::{Kind, Tensor};

use super::discover::Naming;
use super::NetReport;
use crate::config::{LabelScheme, TargetKind, TrainConfig};
use crate::TrainError;

/// DeepNeuro's paper, which describes the two-net glioblastoma module.
const CITATION: &str = "Beers A, Brown J, Chang K, Hoebel K, Patel J, Ly KI, Tolaney SM, \
Brastianos P, Rosen B, Gerstner ER, Kalpathy-Cramer J. DeepNeuro: an open-source deep learning \
toolbox for neuroimaging. Neuroinformatics 19:127-140 (2021). doi:10.1007/s12021-020-09477-5. \
Cite also the BraTS release the weights were trained on.";

/// What the entries say about the training data.
pub(crate) struct DataInfo {
    folder: String,
    naming: Naming,
    scheme: LabelScheme,
    orientation: String,
    spacing: [f64; 3],
}

impl DataInfo {
    /// The folder, naming and label scheme, and the voxel grid of the
    /// first case (the orientation and spacing the nets were trained on).
    pub fn of(
        collection: &DataCollection,
        folder: &Path,
        naming: Naming,
        scheme: LabelScheme,
    ) -> Result<DataInfo, TrainError> {
        let info = collection.info(0)?;
        let affine = deepneuro_volume::Affine::from_fn(|i, j| info.affine[i][j]);
        let orientation = deepneuro_volume::aff2axcodes(&affine).iter().collect();
        Ok(DataInfo {
            folder: folder.display().to_string(),
            naming,
            scheme,
            orientation,
            spacing: info.spacing.map(|s| (s * 1e4).round() / 1e4),
        })
    }
}

#[derive(Serialize)]
struct Manifest<'a> {
    model: &'a [ModelEntry],
}

/// Writes one `[[model]]` entry per (config, report) to `path`.
pub(crate) fn write(
    path: &Path,
    info: &DataInfo,
    nets: &[(&TrainConfig, &NetReport)],
) -> Result<(), TrainError> {
    let entries = nets
        .iter()
        .map(|(cfg, report)| entry(info, cfg, report))
        .collect::<Result<Vec<_>, _>>()?;
    let body = toml::to_string(&Manifest { model: &entries })
        .map_err(|e| TrainError::io(path, format!("cannot write the entries: {e}")))?;
    let text = format!(
        "# Registry entries written by `deepneuro train --recipe glioblastoma`; paste them\n\
         # into models.toml (or point DEEPNEURO_MODELS at this file). The URLs are the\n\
         # weights where they were written; replace them with where you publish them.\n\n{body}"
    );
    std::fs::write(path, text).map_err(|e| TrainError::io(path, e))
}

/// The registry entry of one trained net.
fn entry(info: &DataInfo, cfg: &TrainConfig, report: &NetReport) -> Result<ModelEntry, TrainError> {
    let weights =
        std::path::absolute(&report.weights).map_err(|e| TrainError::io(&report.weights, e))?;
    let (sha256, size) =
        deepneuro_registry::sha256_file(&weights).map_err(|e| TrainError::io(&weights, e))?;
    let half = weights
        .file_name()
        .is_some_and(|n| n == "best_f16.safetensors");
    let file = format!(
        "{}{}.safetensors",
        report.name,
        if half { "-f16" } else { "" }
    );
    let config = without_nulls(
        serde_json::to_value(&cfg.model)
            .map_err(|e| TrainError::config("model", format!("cannot write the config: {e}")))?,
    );
    let enhancing = cfg.data.target == TargetKind::EnhancingTumour;
    Ok(ModelEntry {
        name: report.name.clone(),
        version: "1".into(),
        file,
        member: None,
        size,
        sha256,
        urls: vec![file_url(&weights)],
        format: ModelFormat::Safetensors,
        config: Some(config),
        license: "CC-BY-4.0".into(),
        citation: CITATION.into(),
        description: Some(description(info, report, enhancing, half)),
        homepage: None,
        input: input_spec(info, cfg),
        output: Some(output_spec(enhancing)),
        inference: Some(InferenceSpec {
            patch: Some(spatial(cfg).to_vec()),
            overlap: Some(0.5),
            blend: Some("gaussian".into()),
            batch: Some(cfg.batch_size),
        }),
    })
}

/// The patch size: the model's input shape without its channel entry.
fn spatial(cfg: &TrainConfig) -> &[i64] {
    let shape = &cfg.model.input_shape;
    &shape[..shape.len().saturating_sub(1)]
}

fn description(info: &DataInfo, report: &NetReport, enhancing: bool, half: bool) -> String {
    let what = if enhancing {
        "enhancing tumour inside the whole tumour (net 2 of 2)"
    } else {
        "whole tumour (net 1 of 2)"
    };
    format!(
        "Glioblastoma {what}; trained by `deepneuro train --recipe glioblastoma` on {} \
         ({} file names, {} labels, {} training cases; best epoch {}){}.",
        info.folder,
        info.naming.release(),
        info.scheme.name(),
        report.training.train_cases.len(),
        report.best_epoch,
        if half { "; f16 weights" } else { "" }
    )
}

fn input_spec(info: &DataInfo, cfg: &TrainConfig) -> InputSpec {
    let mut modalities: Vec<String> = ["FLAIR", "T1w", "T1w-ce"].map(String::from).to_vec();
    let mut note =
        "each image channel z-scored over its non-zero voxels (inside the brain mask)".to_string();
    if cfg.data.append_whole_tumour_channel {
        modalities.push("whole-tumour".into());
        note.push_str("; channel 4 is the binary whole-tumour mask (0 or 1), not normalised");
    }
    let mut shape = vec![1, cfg.model.in_channels().max(0) as usize];
    shape.extend(spatial(cfg).iter().map(|&s| s.max(1) as usize));
    InputSpec {
        modalities,
        orientation: info.orientation.clone(),
        spacing_mm: Some(info.spacing),
        resize: None,
        shape,
        dtype: "float32".into(),
        normalization: Normalization {
            method: "zscore".into(),
            note: Some(note),
            ..Default::default()
        },
    }
}

fn output_spec(enhancing: bool) -> OutputSpec {
    let (channel, note) = if enhancing {
        (
            "enhancing tumour",
            "sigmoid probability; threshold 0.5 and keep it inside the whole tumour",
        )
    } else {
        ("whole tumour", "sigmoid probability; threshold 0.5")
    };
    OutputSpec {
        channels: vec![channel.into()],
        note: Some(note.into()),
    }
}

/// A JSON value without its nulls, which TOML cannot write (an absent key
/// reads back as the same default).
fn without_nulls(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, without_nulls(v)))
            .collect(),
        serde_json::Value::Array(a) => a.into_iter().map(without_nulls).collect(),
        other => other,
    }
}

/// A `file://` URL of an absolute path, bytes outside the unreserved set
/// percent-encoded.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Writes the floating-point tensors of `src` as f16 to `dst` (other kinds
/// as they are) and copies the config beside it; the model loader converts
/// them back to f32.
pub(crate) fn write_half(src: &Path, dst: &Path) -> Result<(), TrainError> {
    let tensors = Tensor::read_safetensors(src).map_err(|e| TrainError::io(src, e))?;
    let half = tensors
        .into_iter()
        .map(|(name, t)| {
            let t = match t.kind() {
                Kind::Float | Kind::Double => t.f_to_kind(Kind::Half)?,
                _ => t,
            };
            Ok((name, t))
        })
        .collect::<Result<Vec<_>, TrainError>>()?;
    Tensor::write_safetensors(&half, dst).map_err(|e| TrainError::io(dst, e))?;
    let (from, to) = (src.with_extension("json"), dst.with_extension("json"));
    std::fs::copy(&from, &to).map_err(|e| TrainError::io(&to, e))?;
    Ok(())
}

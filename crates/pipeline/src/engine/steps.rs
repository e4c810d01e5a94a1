//! What each op does to the values of a case. The op table
//! (`spec::ops`) says which keys each op has; the spec was checked against
//! it, so a key the table calls required is present here, and every value
//! read exists with one of the declared types.

use super::model::window_options;
use super::value::{mask_volume, volume_mask, BoxField, Field, MaskField, Value};
use super::{CaseRun, Engine};
use crate::ops::{self, BBox, Connectivity, Mask};
use crate::spec::Step;
use crate::torch_ops;
use crate::PipelineError;
use deepneuro_volume::{Affine, DType, Volume};
use std::collections::BTreeMap;
use std::sync::Arc;
use tch::{Kind, Tensor};
use tracing::{debug, warn};

type Params = BTreeMap<String, f64>;

pub(super) fn apply(
    e: &Engine,
    s: &Step,
    run: &mut CaseRun,
    p: &Params,
) -> Result<(), PipelineError> {
    let out = match s.op.name {
        "first-volume" => first_volume(s, run)?,
        "reorient" => reorient(s, run)?,
        "nan-to-num" => {
            let f = field(s, run, "image")?;
            let t = f.tensor(e.device())?.f_nan_to_num(0.0, None, None)?;
            let like = f.share();
            Value::Image(Field::from_tensor(t, &like))
        }
        "resize" => resize(e, s, run)?,
        "check-structure" => return check_structure(e, s, run, p),
        "percentiles" => percentiles(e, s, run)?,
        "predict" => predict(e, s, run, p)?,
        "threshold" => threshold(e, s, run, p)?,
        "largest-component" => largest_component(e, s, run)?,
        "bbox" => bbox(e, s, run, p)?,
        "crop" => crop(e, s, run)?,
        "fill-holes" => {
            let within = within(s, run)?;
            let m = mask(s, run, "mask")?;
            let filled = match within {
                Some(b) => {
                    let mut out = m.mask.clone();
                    out.paste(&b, &ops::fill_holes(&m.mask.crop(&b)));
                    out
                }
                None => ops::fill_holes(&m.mask),
            };
            Value::Mask(MaskField {
                mask: filled,
                affine: m.affine,
            })
        }
        "grow" => {
            // deepbet: abs(int(n)) passes, so fractions truncate.
            let n = s.num("voxels", p).unwrap_or(0.0).trunc() as i64;
            let m = mask(s, run, "mask")?;
            let grown = if n == 0 {
                m.mask.clone()
            } else {
                ops::grow(&m.mask, n)
            };
            Value::Mask(MaskField {
                mask: grown,
                affine: m.affine,
            })
        }
        "n4" => n4(s, run, p)?,
        "register" => register(s, run, p)?,
        "resample" => resample(s, run)?,
        "apply-mask" => apply_mask_step(s, run)?,
        "zscore" => zscore(s, run)?,
        "clip-percentiles" => clip_percentiles(s, run)?,
        "stack" => stack(e, s, run)?,
        "remove-small" => remove_small(s, run, p)?,
        "merge-labels" => merge_labels(s, run)?,
        "nonzero" => {
            let v = volume(s, run, "image")?;
            Value::Mask(MaskField {
                mask: nonzero(&v),
                affine: *v.affine(),
            })
        }
        other => {
            return Err(PipelineError::step(
                &s.id,
                format!("op {other} cannot run here"),
            ))
        }
    };
    let name = s
        .out()
        .ok_or_else(|| PipelineError::step(&s.id, "no `out`"))?;
    run.values.insert(name.to_string(), out);
    Ok(())
}

fn get<'a>(s: &Step, run: &'a mut CaseRun, key: &str) -> Result<&'a mut Value, PipelineError> {
    let name = s
        .value(key)
        .ok_or_else(|| PipelineError::step(&s.id, format!("no key {key:?}")))?;
    run.values
        .get_mut(name)
        .ok_or_else(|| PipelineError::step(&s.id, format!("value {name:?} is missing")))
}

fn field<'a>(s: &Step, run: &'a mut CaseRun, key: &str) -> Result<&'a mut Field, PipelineError> {
    match get(s, run, key)? {
        Value::Image(f) | Value::Probability(f) => Ok(f),
        v => Err(wrong(s, key, v)),
    }
}

fn mask<'a>(s: &Step, run: &'a mut CaseRun, key: &str) -> Result<&'a MaskField, PipelineError> {
    match get(s, run, key)? {
        Value::Mask(m) => Ok(m),
        v => Err(wrong(s, key, v)),
    }
}

fn volume(s: &Step, run: &mut CaseRun, key: &str) -> Result<Arc<Volume>, PipelineError> {
    get(s, run, key)?.to_volume()
}

fn wrong(s: &Step, key: &str, v: &Value) -> PipelineError {
    PipelineError::step(&s.id, format!("key {key:?}: unexpected {}", v.ty().name()))
}

/// The same kind of value as `like` (image or probability) holding `v`.
fn same_kind(like: &Value, f: Field) -> Value {
    match like {
        Value::Probability(_) => Value::Probability(f),
        _ => Value::Image(f),
    }
}

fn nothing(e: &Engine, what: impl std::fmt::Display) -> PipelineError {
    PipelineError::NothingFound(format!("{}: {what}", e.spec.module.nothing_found))
}

fn same_grid(s: &Step, a: [usize; 3], b: [usize; 3]) -> Result<(), PipelineError> {
    if a != b {
        return Err(PipelineError::step(
            &s.id,
            format!("the values are on different grids ({a:?} and {b:?}): resample one first"),
        ));
    }
    Ok(())
}

fn first_volume(s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let f = field(s, run, "image")?;
    let contrast = f.contrast.clone();
    let v = f.volume()?;
    if v.channels() == 1 {
        return Ok(Value::Image(f.share()));
    }
    let msg = format!(
        "the input has {} volumes; only the first is used",
        v.channels()
    );
    warn!("{msg}");
    run.warnings.push(msg);
    let out = super::value::first_volume(&v)?.into_owned();
    Ok(Value::Image(Field::from_volume(out, contrast)))
}

fn reorient(s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let v = get(s, run, "image")?;
    let vol = v.to_volume()?;
    let (c, _) = vol.to_canonical();
    Ok(match v {
        Value::Mask(_) => Value::Mask(MaskField {
            mask: volume_mask(&c),
            affine: *c.affine(),
        }),
        Value::Labels(_) => Value::Labels(Arc::new(c)),
        Value::Image(f) | Value::Probability(f) => {
            let contrast = f.contrast.clone();
            same_kind(v, Field::from_volume(c, contrast))
        }
        other => return Err(wrong(s, "image", other)),
    })
}

/// `F.interpolate(x[None], shape, mode='nearest-exact')[0]` for `[c, x, y, z]`.
fn resize4(t: &Tensor, shape: [i64; 3]) -> Result<Tensor, PipelineError> {
    if t.size()[1..] == shape {
        return Ok(t.shallow_clone());
    }
    Ok(t.f_unsqueeze(0)?
        .f_internal_upsample_nearest_exact3d(shape.as_slice(), None, None, None)?
        .f_squeeze_dim(0)?)
}

/// The affine of a grid of `to` voxels spanning the same field of view as
/// `from` voxels of `affine` starting at voxel `lo` (nearest-exact places
/// each new voxel at the centre of the source voxels it samples).
fn scaled_affine(affine: &Affine, lo: [usize; 3], from: [usize; 3], to: [i64; 3]) -> Affine {
    let mut scale = Affine::identity();
    for a in 0..3 {
        let f = from[a] as f64 / to[a].max(1) as f64;
        scale[(a, a)] = f;
        scale[(a, 3)] = lo[a] as f64 + 0.5 * f - 0.5;
    }
    affine * scale
}

fn resize(e: &Engine, s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let shape = match (s.text("model"), s.ints("shape")) {
        (Some(m), _) => {
            let m = e.model(m)?;
            if m.entry.input.resize.as_deref().unwrap_or("nearest-exact") != "nearest-exact" {
                return Err(PipelineError::step(
                    &s.id,
                    format!(
                        "model {}: only nearest-exact resize is implemented",
                        m.entry.name
                    ),
                ));
            }
            m.spatial_shape()
        }
        (None, Some([x, y, z])) if *x > 0 && *y > 0 && *z > 0 => [*x, *y, *z],
        _ => {
            return Err(PipelineError::step(
                &s.id,
                "give `model` or `shape = [x, y, z]` (positive)",
            ))
        }
    };
    let like = get(s, run, "image")?.share();
    let f = field(s, run, "image")?;
    let t = resize4(&f.tensor(e.device())?, shape)?;
    let affine = scaled_affine(&f.affine, [0; 3], f.shape, shape);
    Ok(same_kind(
        &like,
        Field::from_tensor_at(t, affine, f.dtype, f.contrast.clone()),
    ))
}

fn check_structure(
    e: &Engine,
    s: &Step,
    run: &mut CaseRun,
    p: &Params,
) -> Result<(), PipelineError> {
    let min = s.num("min_correlation", p).unwrap_or(0.0);
    let t = field(s, run, "image")?.tensor(e.device())?;
    let r = torch_ops::neighbour_correlation(&t.f_select(0, 0)?)?;
    debug!(r, "neighbour correlation");
    if r < min {
        return Err(nothing(e, format!("the image looks like noise: neighbouring voxels are uncorrelated (r = {r:.3} < {min})")));
    }
    Ok(())
}

fn percentiles(e: &Engine, s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let (lo, hi) = match (s.nums("percentiles"), s.text("model")) {
        (Some([lo, hi]), _) => (*lo, *hi),
        (Some(_), _) => {
            return Err(PipelineError::step(
                &s.id,
                "`percentiles` needs two numbers",
            ))
        }
        (None, Some(m)) => {
            let n = &e.model(m)?.entry.input.normalization;
            match (n.low_percentile, n.high_percentile) {
                (Some(l), Some(h)) => (l, h),
                _ => {
                    return Err(PipelineError::step(
                        &s.id,
                        format!("model {m} declares no percentiles"),
                    ))
                }
            }
        }
        (None, None) => return Err(PipelineError::step(&s.id, "give `model` or `percentiles`")),
    };
    if !(0.0..=100.0).contains(&lo) || !(lo..=100.0).contains(&hi) {
        return Err(PipelineError::step(
            &s.id,
            format!("percentiles {lo}, {hi}: need 0 <= low <= high <= 100"),
        ));
    }
    let t = field(s, run, "image")?.tensor(e.device())?;
    let (low, high) = torch_ops::quantile_pair(&t, lo / 100.0, hi / 100.0)?;
    if f64::try_from(&high)? <= f64::try_from(&low)? {
        return Err(nothing(
            e,
            "the image has no intensity contrast (its percentiles are equal)",
        ));
    }
    Ok(Value::Range(low, high))
}

/// The box a `predict` step works in, on the image's grid.
fn crop_box(s: &Step, run: &mut CaseRun, shape: [usize; 3]) -> Result<Option<BBox>, PipelineError> {
    if s.value("crop").is_none() {
        return Ok(None);
    }
    box_of(s, run, "crop", shape).map(Some)
}

/// The box `key` names, on a grid of `shape`: a bounding box, or the
/// extent of a mask's voxels (empty when the mask is).
fn box_of(
    s: &Step,
    run: &mut CaseRun,
    key: &str,
    shape: [usize; 3],
) -> Result<BBox, PipelineError> {
    Ok(match get(s, run, key)? {
        Value::BBox(b) => {
            same_grid(s, b.shape, shape)?;
            b.bbox
        }
        Value::Mask(m) => {
            same_grid(s, m.mask.dims(), shape)?;
            match ops::foreground_extent(&m.mask, 0.0) {
                Some(ext) => BBox {
                    lo: ext.map(|(l, _)| l),
                    hi: ext.map(|(_, h)| h + 1),
                },
                None => BBox {
                    lo: [0; 3],
                    hi: [0; 3],
                },
            }
        }
        v => return Err(wrong(s, key, v)),
    })
}

fn crop(e: &Engine, s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let (affine, shape) = get(s, run, "value")?
        .grid()
        .ok_or_else(|| PipelineError::step(&s.id, "`value` has no grid"))?;
    let b = box_of(s, run, "box", shape)?;
    if b.dims().contains(&0) {
        return Err(nothing(e, format!("{}: the box to crop to is empty", s.id)));
    }
    let mut shift = Affine::identity();
    for a in 0..3 {
        shift[(a, 3)] = b.lo[a] as f64;
    }
    let at = affine * shift;
    let value = get(s, run, "value")?;
    if let Value::Mask(m) = value {
        return Ok(Value::Mask(MaskField {
            mask: m.mask.crop(&b),
            affine: at,
        }));
    }
    let vol = value.to_volume()?;
    use ndarray::s as sl;
    let view = vol.data().slice(sl![
        ..,
        b.lo[0]..b.hi[0],
        b.lo[1]..b.hi[1],
        b.lo[2]..b.hi[2]
    ]);
    let mut out = Volume::new(deepneuro_volume::nifti_layout(view), at, vol.dtype())
        .map_err(|e| PipelineError::step(&s.id, e.to_string()))?;
    out.set_disk_scaling(vol.disk_scaling());
    Ok(match value {
        Value::Labels(_) => Value::Labels(Arc::new(out)),
        Value::Image(f) | Value::Probability(f) => {
            let contrast = f.contrast.clone();
            same_kind(value, Field::from_volume(out, contrast))
        }
        v => return Err(wrong(s, "value", v)),
    })
}

/// A view of `t[:, box]` for `[c, x, y, z]` (shares memory with `t`).
fn crop4(t: &Tensor, b: &BBox) -> Result<Tensor, PipelineError> {
    let mut v = t.shallow_clone();
    for a in 0..3 {
        v = v.f_narrow(a as i64 + 1, b.lo[a] as i64, (b.hi[a] - b.lo[a]) as i64)?;
    }
    Ok(v)
}

fn normalize(
    e: &Engine,
    s: &Step,
    run: &mut CaseRun,
    model: &str,
    x: &Tensor,
) -> Result<Tensor, PipelineError> {
    let n = &e.model(model)?.entry.input.normalization;
    match n.method.as_str() {
        "" | "none" => Ok(x.shallow_clone()),
        "zscore" => {
            let dims: &[i64] = &[1, 2, 3];
            let mean = x.f_mean_dim(dims, true, Kind::Float)?;
            let std = x.f_std_dim(dims, true, true)?;
            Ok(x.f_sub(&mean)?.f_div(&std)?)
        }
        "percentile-zscore" => {
            let (low, high) = match get(s, run, "range")? {
                Value::Range(l, h) => (l.shallow_clone(), h.shallow_clone()),
                v => return Err(wrong(s, "range", v)),
            };
            torch_ops::normalize(
                x,
                &low,
                &high,
                n.scale.unwrap_or(1.0),
                n.shift.unwrap_or(0.0),
            )
        }
        other => Err(PipelineError::step(
            &s.id,
            format!("normalisation {other:?} is not implemented"),
        )),
    }
}

/// `[k, x, y, z]` zeros on a grid of `shape`, on `device`.
fn zeros(
    k: i64,
    shape: [usize; 3],
    kind: Kind,
    device: tch::Device,
) -> Result<Tensor, PipelineError> {
    let [x, y, z] = shape.map(|v| v as i64);
    Ok(Tensor::f_zeros([k, x, y, z], (kind, device))?)
}

fn predict(e: &Engine, s: &Step, run: &mut CaseRun, p: &Params) -> Result<Value, PipelineError> {
    let name = s.text("model").unwrap_or_default().to_string();
    let m = e.model(&name)?;
    let f = field(s, run, "image")?;
    let (affine, shape) = (f.affine, f.shape);
    let x = f.tensor(e.device())?;
    let b = crop_box(s, run, shape)?;
    if b.is_some_and(|b| b.dims().contains(&0)) {
        // Nothing to look at (an empty cascade mask): no prediction anywhere.
        let k = m
            .entry
            .output
            .as_ref()
            .map_or(1, |o| o.channels.len().max(1));
        let keep = s.ints("channels").map_or(k, |c| c.len()) as i64;
        let none = zeros(keep, shape, Kind::Float, x.device())?;
        return Ok(Value::Probability(Field::from_tensor_at(
            none,
            affine,
            DType::F32,
            None,
        )));
    }
    let region = match &b {
        Some(b) => crop4(&x, b)?,
        None => x.shallow_clone(),
    };
    let input = model_input(e, s, run, &name, &region, (affine, shape, b))?;
    let window = window(s, p, m.entry.inference.as_ref());
    let y = keep_channels(s, &name, m.run(&input, window.as_ref())?)?;
    let y = if s.flag("resize") {
        let back = region.size();
        resize4(&y, [back[1], back[2], back[3]])?
    } else {
        y
    };
    let y = match &b {
        Some(b) => {
            let full = zeros(y.size()[0], shape, y.kind(), y.device())?;
            crop4(&full, b)?.f_copy_(&y)?;
            full
        }
        None => y,
    };
    Ok(Value::Probability(Field::from_tensor_at(
        y,
        affine,
        DType::F32,
        None,
    )))
}

/// The network's input: the region resized to the model's shape when the
/// step says so, normalised as models.toml says; kept as an image value
/// when the step names one (`model_input`), on a grid placing each voxel
/// where it samples the image of grid `(affine, shape)`, cropped to `b`.
fn model_input(
    e: &Engine,
    s: &Step,
    run: &mut CaseRun,
    model: &str,
    region: &Tensor,
    (affine, shape, b): (Affine, [usize; 3], Option<BBox>),
) -> Result<Tensor, PipelineError> {
    let model_shape = e.model(model)?.spatial_shape();
    let resize = s.flag("resize");
    let input = if resize {
        resize4(region, model_shape)?
    } else {
        region.shallow_clone()
    };
    let input = normalize(e, s, run, model, &input)?;
    if let Some(keep) = s.value("model_input") {
        let lo = b.map_or([0; 3], |b| b.lo);
        let from = b.map_or(shape, |b| b.dims());
        let to = if resize {
            model_shape
        } else {
            from.map(|v| v as i64)
        };
        let at = scaled_affine(&affine, lo, from, to);
        let t = input.f_to_kind(Kind::Float)?;
        run.values.insert(
            keep.to_string(),
            Value::Image(Field::from_tensor_at(t, at, DType::F32, None)),
        );
    }
    Ok(input)
}

/// The output channels the step keeps (all without `channels`).
fn keep_channels(s: &Step, model: &str, y: Tensor) -> Result<Tensor, PipelineError> {
    let Some(ch) = s.ints("channels") else {
        return Ok(y);
    };
    let n = y.size()[0];
    if let Some(bad) = ch.iter().find(|&&c| c < 0 || c >= n) {
        return Err(PipelineError::step(
            &s.id,
            format!("channel {bad}: model {model} returns {n} channel(s)"),
        ));
    }
    let idx = Tensor::f_from_slice(ch)?.f_to_device(y.device())?;
    Ok(y.f_index_select(0, &idx)?)
}

/// Sliding-window settings: the step's keys, else models.toml's
/// `[model.inference]`; no patch size means the whole volume in one pass.
fn window(
    s: &Step,
    p: &Params,
    dflt: Option<&deepneuro_registry::InferenceSpec>,
) -> Option<deepneuro_infer::SlidingWindowOptions> {
    let patch = s
        .ints("patch")
        .map(<[i64]>::to_vec)
        .or_else(|| dflt.and_then(|d| d.patch.clone()))?;
    let overlap = s.num("overlap", p).or_else(|| dflt.and_then(|d| d.overlap));
    let blend = s
        .text("blend")
        .or_else(|| dflt.and_then(|d| d.blend.as_deref()));
    let batch = s
        .num("batch", p)
        .or_else(|| dflt.and_then(|d| d.batch.map(|b| b as f64)));
    Some(window_options(&patch, overlap, blend, batch))
}

fn threshold(e: &Engine, s: &Step, run: &mut CaseRun, p: &Params) -> Result<Value, PipelineError> {
    let v = s.num("value", p).unwrap_or(0.5);
    let c = s.num("channel", p).unwrap_or(0.0) as i64;
    let f = field(s, run, "prob")?;
    let t = f.tensor(e.device())?;
    if c < 0 || c >= t.size()[0] {
        return Err(PipelineError::step(
            &s.id,
            format!("channel {c}: the value has {} channel(s)", t.size()[0]),
        ));
    }
    let mask = torch_ops::tensor_to_mask(&t.f_select(0, c)?.f_gt(v)?)?;
    Ok(Value::Mask(MaskField {
        mask,
        affine: f.affine,
    }))
}

fn within(s: &Step, run: &mut CaseRun) -> Result<Option<BBox>, PipelineError> {
    if s.value("within").is_none() {
        return Ok(None);
    }
    let b = match get(s, run, "within")? {
        Value::BBox(b) => *b,
        v => return Err(wrong(s, "within", v)),
    };
    let dims = mask(s, run, "mask")?.mask.dims();
    same_grid(s, b.shape, dims)?;
    Ok(Some(b.bbox))
}

fn connectivity(s: &Step) -> Connectivity {
    match s.text("connectivity") {
        Some("6") => Connectivity::Six,
        _ => Connectivity::TwentySix,
    }
}

fn largest_component(e: &Engine, s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let conn = connectivity(s);
    let allow_empty = s.flag("allow_empty");
    let b = within(s, run)?;
    let name = s.value("mask").unwrap_or_default().to_string();
    let m = mask(s, run, "mask")?;
    let largest = match b {
        Some(b) => ops::largest_component(&m.mask.crop(&b), conn).map(|part| {
            let mut out = m.mask.clone();
            out.paste(&b, &part);
            out
        }),
        None => ops::largest_component(&m.mask, conn),
    };
    let out = match largest {
        Some(l) => l,
        None if allow_empty => m.mask.clone(),
        None => return Err(nothing(e, format!("the mask {name:?} is empty"))),
    };
    Ok(Value::Mask(MaskField {
        mask: out,
        affine: m.affine,
    }))
}

fn bbox(e: &Engine, s: &Step, run: &mut CaseRun, p: &Params) -> Result<Value, PipelineError> {
    let margin = s.num("margin", p).unwrap_or(0.0) as f32;
    let min_fraction = s.num("min_fraction", p).unwrap_or(0.0) as f32;
    let onto = match s.value("onto") {
        Some(_) => get(s, run, "onto")?.grid().map(|(_, sh)| sh),
        None => None,
    };
    let m = mask(s, run, "mask")?;
    let shape = onto.unwrap_or(m.mask.dims());
    let b = ops::bbox_with_margin(&m.mask, shape, margin, min_fraction)
        .ok_or_else(|| nothing(e, "not enough foreground to calculate the bounding box"))?;
    debug!(?b, "bounding box");
    Ok(Value::BBox(BoxField { bbox: b, shape }))
}

fn preprocess_error(s: &Step, e: deepneuro_preprocess::PreprocessError) -> PipelineError {
    use deepneuro_preprocess::PreprocessError as P;
    match e {
        P::BadParameter { .. } => PipelineError::step(&s.id, e.to_string()),
        e => PipelineError::BadInput {
            path: "input".into(),
            reason: format!("{}: {e}", s.id),
        },
    }
}

fn optional_mask_volume(
    s: &Step,
    run: &mut CaseRun,
    key: &str,
) -> Result<Option<Volume>, PipelineError> {
    if s.value(key).is_none() {
        return Ok(None);
    }
    let m = mask(s, run, key)?;
    Ok(Some(mask_volume(&m.mask, m.affine)?))
}

fn with_field(s: &Step, run: &mut CaseRun, v: Volume) -> Result<Value, PipelineError> {
    let like = get(s, run, "image")?.share();
    let contrast = match &like {
        Value::Image(f) | Value::Probability(f) => f.contrast.clone(),
        _ => None,
    };
    Ok(same_kind(&like, Field::from_volume(v, contrast)))
}

fn n4(s: &Step, run: &mut CaseRun, p: &Params) -> Result<Value, PipelineError> {
    let m = optional_mask_volume(s, run, "mask")?;
    let v = volume(s, run, "image")?;
    let d = deepneuro_preprocess::n4::N4Options::default();
    let opts = deepneuro_preprocess::n4::N4Options {
        shrink_factor: s
            .num("shrink_factor", p)
            .map_or(d.shrink_factor, |x| x.max(1.0) as usize),
        maximum_number_of_iterations: s
            .ints("iterations")
            .map_or(d.maximum_number_of_iterations.clone(), |i| {
                i.iter().map(|&x| x.max(0) as usize).collect()
            }),
        ..d
    };
    let r =
        deepneuro_preprocess::n4::n4(&v, m.as_ref(), &opts).map_err(|e| preprocess_error(s, e))?;
    with_field(s, run, r.corrected)
}

fn register(
    s: &Step,
    run: &mut CaseRun,
    p: &BTreeMap<String, f64>,
) -> Result<Value, PipelineError> {
    use deepneuro_preprocess::register::{Metric, RegistrationOptions, TransformKind};
    let fixed_mask = optional_mask_volume(s, run, "fixed_mask")?;
    let fixed = volume(s, run, "fixed")?;
    let moving = volume(s, run, "moving")?;
    let opts = RegistrationOptions {
        transform: match s.text("transform") {
            Some("affine") => TransformKind::Affine,
            _ => TransformKind::Rigid,
        },
        metric: match s.text("metric") {
            Some("ncc") => Metric::NormalizedCrossCorrelation,
            _ => Metric::MattesMutualInformation { bins: 50 },
        },
        ..RegistrationOptions::default()
    };
    let r = deepneuro_preprocess::register::register(&fixed, &moving, fixed_mask.as_ref(), &opts)
        .map_err(|e| match e {
        deepneuro_preprocess::PreprocessError::BadParameter { .. } => {
            PipelineError::step(&s.id, e.to_string())
        }
        e => PipelineError::Frame(format!("{}: registration failed: {e}", s.id)),
    })?;
    // The metric is minimised (-MI or -NCC^2): its negation is the similarity.
    let similarity = -r.metric_value;
    debug!(similarity, "registered");
    if let Some(min) = s.num("min_similarity", p) {
        if similarity.is_nan() || similarity < min {
            return Err(PipelineError::Frame(format!(
                "{}: registration failed: the final similarity {similarity:.4} is below {min} \
                 (the images do not match; are they the same patient and session?)",
                s.id
            )));
        }
    }
    Ok(Value::Transform(r.transform))
}

/// The grid `resample` writes onto: `onto`'s, or the value's own field of
/// view at `spacing`.
fn target_grid(
    s: &Step,
    run: &mut CaseRun,
) -> Result<(deepneuro_volume::Affine, [usize; 3]), PipelineError> {
    use deepneuro_preprocess::resample::Grid;
    match (s.value("onto"), s.nums("spacing")) {
        (Some(_), None) => get(s, run, "onto")?
            .grid()
            .ok_or_else(|| PipelineError::step(&s.id, "`onto` has no grid")),
        (None, Some(&[x, y, z])) => {
            let v = get(s, run, "value")?.to_volume()?;
            let g = Grid::with_spacing(&v, [x, y, z]).map_err(|e| preprocess_error(s, e))?;
            Ok((g.affine, g.shape))
        }
        _ => Err(PipelineError::step(
            &s.id,
            "give exactly one of `onto` and `spacing` ([x, y, z] mm)",
        )),
    }
}

fn resample(s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    use deepneuro_preprocess::resample::{Grid, Interpolation, ResampleOptions};
    let (affine, shape) = target_grid(s, run)?;
    let transform = match s.value("transform") {
        Some(_) => match get(s, run, "transform")? {
            Value::Transform(t) if s.flag("invert") => {
                let mut m = t
                    .inverse()
                    .ok_or_else(|| PipelineError::step(&s.id, "the transform cannot be inverted"))?
                    .ras_matrix();
                // Rounding in the inversion leaves ~1e-17 in the homogeneous row, which
                // the resampler rightly refuses in a general matrix.
                for j in 0..3 {
                    m[(3, j)] = 0.0;
                }
                m[(3, 3)] = 1.0;
                Some(m)
            }
            Value::Transform(t) => Some(t.ras_matrix()),
            v => return Err(wrong(s, "transform", v)),
        },
        None => None,
    };
    let value = get(s, run, "value")?;
    let labels = matches!(value, Value::Mask(_) | Value::Labels(_));
    if transform.is_none()
        && value
            .grid()
            .is_some_and(|(a, sh)| a == affine && sh == shape)
    {
        return Ok(value.share());
    }
    let vol = value.to_volume()?;
    let exact = match transform {
        None => super::regrid::exact(&vol, &affine, shape),
        Some(_) => None,
    };
    let out = match exact {
        Some(v) => v,
        None => {
            let interpolation = match (s.text("interpolation"), labels) {
                (Some("nearest"), _) | (None | Some("auto"), true) => Interpolation::Nearest,
                (Some("bspline"), _) => Interpolation::BSpline,
                _ => Interpolation::Linear,
            };
            let opts = ResampleOptions {
                interpolation,
                ..ResampleOptions::default()
            };
            deepneuro_preprocess::resample::resample(
                &vol,
                &Grid { shape, affine },
                transform.as_ref(),
                &opts,
            )
            .map_err(|e| preprocess_error(s, e))?
        }
    };
    Ok(match value {
        Value::Mask(_) => Value::Mask(MaskField {
            mask: volume_mask(&out),
            affine,
        }),
        Value::Labels(_) => Value::Labels(Arc::new(out)),
        Value::Image(f) | Value::Probability(f) => {
            let contrast = f.contrast.clone();
            same_kind(value, Field::from_volume(out, contrast))
        }
        v => return Err(wrong(s, "value", v)),
    })
}

/// Zeroes the voxels of every channel of `v` outside `mask` (same grid).
/// The pairing goes by position, never by iteration order: the volume's
/// logical order (z fastest) is not the mask's memory order (x fastest).
pub fn apply_mask(v: &mut Volume, mask: &Mask) {
    use rayon::prelude::*;
    let keep = mask.as_slice();
    // [c, z, y, x]: standard layout exactly when the volume is in NIfTI order.
    let mut view = v.data_mut().view_mut().permuted_axes([0, 3, 2, 1]);
    match view.as_slice_mut() {
        Some(voxels) => voxels.par_chunks_mut(keep.len()).for_each(|channel| {
            for (x, &m) in channel.iter_mut().zip(keep) {
                if m == 0 {
                    *x = 0.0;
                }
            }
        }),
        None => ndarray::Zip::indexed(&mut view).for_each(|(_, z, y, x), v| {
            if !mask.get(x, y, z) {
                *v = 0.0;
            }
        }),
    }
}

fn apply_mask_step(s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let m = mask(s, run, "mask")?.clone();
    let v = volume(s, run, "image")?;
    same_grid(s, v.spatial_shape(), m.mask.dims())?;
    let mut out = (*v).clone();
    apply_mask(&mut out, &m.mask);
    with_field(s, run, out)
}

fn zscore(s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    use deepneuro_preprocess::intensity::{zscore, ZScoreRegion};
    let m = optional_mask_volume(s, run, "mask")?;
    let v = volume(s, run, "image")?;
    let region = match (&m, s.flag("nonzero")) {
        (Some(m), _) => ZScoreRegion::Mask(m),
        (None, true) => ZScoreRegion::NonZero,
        (None, false) => ZScoreRegion::Whole,
    };
    let out = zscore(&v, region).map_err(|e| preprocess_error(s, e))?;
    with_field(s, run, out)
}

fn clip_percentiles(s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let [lo, hi] = match s.nums("percentiles") {
        Some([a, b]) => [*a, *b],
        _ => {
            return Err(PipelineError::step(
                &s.id,
                "`percentiles` needs two numbers",
            ))
        }
    };
    let rescale = match s.nums("rescale") {
        None => None,
        Some([a, b]) => Some((*a as f32, *b as f32)),
        Some(_) => return Err(PipelineError::step(&s.id, "`rescale` needs two numbers")),
    };
    let m = optional_mask_volume(s, run, "mask")?;
    let v = volume(s, run, "image")?;
    let out = deepneuro_preprocess::intensity::percentile_clip_in(&v, m.as_ref(), lo, hi, rescale)
        .map_err(|e| preprocess_error(s, e))?;
    with_field(s, run, out)
}

/// The names in the order the model's modalities list them, matched to
/// each image's contrast (case-insensitive).
fn modality_order(
    e: &Engine,
    s: &Step,
    run: &CaseRun,
    names: &[String],
) -> Result<Vec<String>, PipelineError> {
    let Some(model) = s.text("model") else {
        return Ok(names.to_vec());
    };
    let modalities = &e.model(model)?.entry.input.modalities;
    let contrast = |n: &String| match run.values.get(n) {
        Some(Value::Image(f)) => f.contrast.clone(),
        _ => None,
    };
    let mut out = Vec::new();
    for m in modalities {
        let found = names
            .iter()
            .find(|n| contrast(n).is_some_and(|c| c.eq_ignore_ascii_case(m)))
            .ok_or_else(|| {
                PipelineError::step(
                    &s.id,
                    format!("model {model} needs modality {m:?}: no image given has that contrast"),
                )
            })?;
        out.push(found.clone());
    }
    Ok(out)
}

fn stack(e: &Engine, s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let names = modality_order(e, s, run, s.values("images"))?;
    let mut tensors = Vec::new();
    let mut grid: Option<(Affine, [usize; 3])> = None;
    for n in &names {
        let value = run
            .values
            .get_mut(n)
            .ok_or_else(|| PipelineError::step(&s.id, format!("value {n:?} is missing")))?;
        let (affine, shape) = value
            .grid()
            .ok_or_else(|| PipelineError::step(&s.id, format!("{n:?} has no grid")))?;
        if let Some((_, sh)) = grid {
            same_grid(s, sh, shape)?;
        }
        grid.get_or_insert((affine, shape));
        let t = match value {
            Value::Image(f) | Value::Probability(f) => f.tensor(e.device())?,
            Value::Mask(m) => {
                torch_ops::mask_to_tensor(&m.mask, Kind::Float, e.device())?.f_unsqueeze(0)?
            }
            v => return Err(wrong(s, "images", v)),
        };
        tensors.push(t.f_to_kind(Kind::Float)?);
    }
    let (affine, _) = grid.ok_or_else(|| PipelineError::step(&s.id, "no images"))?;
    let t = Tensor::f_cat(&tensors, 0)?.f_contiguous()?;
    Ok(Value::Image(Field::from_tensor_at(
        t,
        affine,
        DType::F32,
        None,
    )))
}

fn voxel_mm3(affine: &Affine) -> f64 {
    affine.fixed_view::<3, 3>(0, 0).determinant().abs()
}

fn remove_small(s: &Step, run: &mut CaseRun, p: &Params) -> Result<Value, PipelineError> {
    let min_mm3 = s.num("min_mm3", p).unwrap_or(0.0).max(0.0);
    let m = mask(s, run, "mask")?;
    let voxel = voxel_mm3(&m.affine);
    let min_voxels = if voxel > 0.0 {
        (min_mm3 / voxel).ceil() as usize
    } else {
        0
    };
    let out = ops::remove_small(&m.mask, Connectivity::TwentySix, min_voxels);
    Ok(Value::Mask(MaskField {
        mask: out,
        affine: m.affine,
    }))
}

fn merge_labels(s: &Step, run: &mut CaseRun) -> Result<Value, PipelineError> {
    let labels = s.ints("labels").unwrap_or_default().to_vec();
    let names = s.values("masks").to_vec();
    if labels.len() != names.len() || labels.iter().any(|&l| !(1..=255).contains(&l)) {
        return Err(PipelineError::step(
            &s.id,
            "`labels` needs one label (1-255) per mask",
        ));
    }
    let mut out: Option<(Vec<f32>, [usize; 3], Affine)> = None;
    for (n, &l) in names.iter().zip(&labels) {
        let m = match run.values.get(n) {
            Some(Value::Mask(m)) => m,
            _ => return Err(PipelineError::step(&s.id, format!("{n:?} is not a mask"))),
        };
        let (data, dims, _) = out
            .get_or_insert_with(|| (vec![0.0; m.mask.as_slice().len()], m.mask.dims(), m.affine));
        same_grid(s, *dims, m.mask.dims())?;
        for (o, &v) in data.iter_mut().zip(m.mask.as_slice()) {
            if v != 0 {
                *o = l as f32;
            }
        }
    }
    let (data, d, affine) = out.ok_or_else(|| PipelineError::step(&s.id, "no masks"))?;
    let v = Volume::from_nifti_vec([1, d[0], d[1], d[2]], data, affine, DType::U8)
        .map_err(|e| PipelineError::step(&s.id, e.to_string()))?;
    Ok(Value::Labels(Arc::new(v)))
}

fn nonzero(v: &Volume) -> Mask {
    let s = v.spatial_shape();
    let n = s.iter().product::<usize>();
    Mask::from_vec(
        s,
        v.nifti_slice()[..n]
            .iter()
            .map(|&x| (x != 0.0) as u8)
            .collect(),
    )
}

//! Executes a [`Spec`]'s steps in order on one case. Models are loaded once
//! per [`Pipeline`] and reused for every case of a batch.

use crate::ops::{self, BBox, Mask};
use crate::spec::{Grid, Spec, Step};
use crate::torch_ops::{self, Model};
use crate::PipelineError;
use deepneuro_registry::{FetchOptions, Registry};
use deepneuro_volume::{Affine, DType, Reorientation, Volume};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use tch::{Device, Kind, Tensor};
use tracing::{debug, warn};

/// Models resolved and loaded for one spec.
pub struct Pipeline {
    pub spec: Spec,
    models: HashMap<String, Model>,
    device: Device,
}

/// What one case produced, on the input's own voxel grid.
pub struct CaseOutput {
    /// uint8 mask, one volume, input grid and affine.
    pub mask: Volume,
    /// The (first volume of the) input with voxels outside the mask set to 0.
    pub brain: Volume,
    /// The brain network's input (normalised crop) with a world affine, if kept.
    pub preprocessed: Option<Volume>,
    pub icv_cm3: f64,
    pub bbox: Option<BBox>,
    pub warnings: Vec<String>,
    /// Seconds per step, in order.
    pub timings: Vec<(String, f64)>,
}

/// Working state of one case; each step fills or replaces a slot.
struct State {
    volume: Volume,
    reorientation: Option<Reorientation>,
    image: Option<Tensor>,
    small: Option<Tensor>,
    range: Option<(Tensor, Tensor)>,
    prob: [Option<Tensor>; 2],
    mask: [Option<Mask>; 2],
    bbox: Option<BBox>,
    preprocessed: Option<Volume>,
    warnings: Vec<String>,
}

fn slot(g: Grid) -> usize {
    match g {
        Grid::Small => 0,
        Grid::Full => 1,
    }
}

fn missing(step: &str, what: &str) -> PipelineError {
    PipelineError::step(
        step,
        format!("needs {what}, which no earlier step produced"),
    )
}

impl Pipeline {
    /// Resolves every model the spec names through the registry (fetching
    /// into the cache unless offline) and loads it on `device`.
    pub fn load(
        spec: Spec,
        registry: &Registry,
        fetch: &FetchOptions,
        device: Device,
    ) -> Result<Pipeline, PipelineError> {
        let mut models = HashMap::new();
        for name in spec.models() {
            let entry = registry.find(&name)?;
            let path = deepneuro_registry::ensure(entry, fetch)?;
            debug!(model = %name, path = %path.display(), "loading model");
            models.insert(name.clone(), Model::load(entry, &path, device)?);
        }
        Ok(Pipeline {
            spec,
            models,
            device,
        })
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn model(&self, name: &str) -> Result<&Model, PipelineError> {
        self.models
            .get(name)
            .ok_or_else(|| PipelineError::step("model", format!("model {name} not loaded")))
    }

    /// Runs every step on `input` with `params` overriding the spec's.
    pub fn run_case(
        &self,
        input: &Volume,
        params: &BTreeMap<String, f64>,
        keep_preprocessed: bool,
    ) -> Result<CaseOutput, PipelineError> {
        check_3d(input)?;
        let mut p = self.spec.params.clone();
        p.extend(params.iter().map(|(k, v)| (k.clone(), *v)));
        let mut st = State {
            volume: input.clone(),
            reorientation: None,
            image: None,
            small: None,
            range: None,
            prob: [None, None],
            mask: [None, None],
            bbox: None,
            preprocessed: None,
            warnings: Vec::new(),
        };
        let mut timings = Vec::new();
        for step in &self.spec.steps {
            let t0 = Instant::now();
            self.apply(step, &mut st, &p, keep_preprocessed)?;
            let name = step_name(step);
            timings.push((name.to_string(), t0.elapsed().as_secs_f64()));
        }
        let t0 = Instant::now();
        let out = self.finish(input, st, timings.clone())?;
        let mut out = out;
        out.timings
            .push(("to-input-grid".into(), t0.elapsed().as_secs_f64()));
        Ok(out)
    }

    /// The image on `grid`: the resized one (which an earlier step must have
    /// made) or the full-resolution one.
    fn grid_image(&self, st: &mut State, grid: Grid, step: &str) -> Result<Tensor, PipelineError> {
        match grid {
            Grid::Small => Ok(st
                .small
                .as_ref()
                .ok_or_else(|| missing(step, "a resized image"))?
                .shallow_clone()),
            Grid::Full => self.image(st),
        }
    }

    fn image(&self, st: &mut State) -> Result<Tensor, PipelineError> {
        if st.image.is_none() {
            // C-contiguous [x, y, z], as deepbet's `x.copy()` gives torch, so
            // reductions run in the same order.
            let borrowed = deepneuro_core::as_tensor(&st.volume);
            let mut t = borrowed
                .f_select(0, 0)?
                .f_to_device(self.device)?
                .f_contiguous()?;
            // Never keep a view of the volume's memory beyond this borrow.
            if t.data_ptr() == borrowed.data_ptr() {
                t = t.copy();
            }
            st.image = Some(t);
        }
        Ok(st.image.as_ref().expect("set above").shallow_clone())
    }

    fn apply(
        &self,
        step: &Step,
        st: &mut State,
        p: &BTreeMap<String, f64>,
        keep_preprocessed: bool,
    ) -> Result<(), PipelineError> {
        let name = step_name(step);
        let param = |v: &crate::spec::Param| v.resolve(p).map_err(|e| PipelineError::step(name, e));
        match step {
            Step::FirstVolume => {
                if st.volume.channels() > 1 {
                    let msg = format!(
                        "the input has {} volumes; only the first is used",
                        st.volume.channels()
                    );
                    warn!("{msg}");
                    st.warnings.push(msg);
                }
                if let Cow::Owned(first) = first_volume(&st.volume)? {
                    st.volume = first;
                }
            }
            Step::Reorient => {
                let (c, r) = st.volume.to_canonical();
                st.volume = c;
                st.reorientation = Some(r);
                st.image = None;
            }
            Step::NanToNum => {
                let t = self.image(st)?.f_nan_to_num(0.0, None, None)?;
                st.image = Some(t);
            }
            Step::CheckStructure {
                grid,
                min_correlation,
            } => {
                let x = self.grid_image(st, *grid, name)?;
                let r = torch_ops::neighbour_correlation(&x)?;
                debug!(r, "neighbour correlation");
                if r < *min_correlation {
                    return Err(PipelineError::NoBrain(format!(
                        "the image looks like noise: neighbouring voxels are uncorrelated (r = {r:.3} < {min_correlation})"
                    )));
                }
            }
            Step::Resize { model } => {
                let m = self.model(model)?;
                if m.spec().resize.as_deref().unwrap_or("nearest-exact") != "nearest-exact" {
                    return Err(PipelineError::step(
                        name,
                        format!("model {model}: only nearest-exact resize is implemented"),
                    ));
                }
                st.small = Some(torch_ops::resize_nearest_exact(
                    &self.image(st)?,
                    m.spatial_shape(),
                )?);
            }
            Step::Percentiles { model } => {
                let n = &self.model(model)?.spec().normalization;
                let (lo, hi) = match (n.low_percentile, n.high_percentile) {
                    (Some(l), Some(h)) => (l, h),
                    _ => {
                        return Err(PipelineError::step(
                            name,
                            format!("model {model} declares no percentiles"),
                        ))
                    }
                };
                let small = st
                    .small
                    .as_ref()
                    .ok_or_else(|| missing(name, "a resized image"))?;
                let (low, high) = torch_ops::quantile_pair(small, lo / 100.0, hi / 100.0)?;
                if f64::try_from(&high)? <= f64::try_from(&low)? {
                    return Err(PipelineError::NoBrain(
                        "the image has no intensity contrast (its percentiles are equal)".into(),
                    ));
                }
                st.range = Some((low, high));
            }
            Step::Predict {
                model,
                grid,
                channel,
            } => {
                let m = self.model(model)?;
                let x = self.grid_image(st, *grid, name)?;
                let x = self.normalize(m, st, &x, name)?;
                st.prob[slot(*grid)] = Some(m.probability(&x, *channel)?);
            }
            Step::PredictCrop { model, channel } => {
                let m = self.model(model)?;
                let b = st.bbox.ok_or_else(|| missing(name, "a bounding box"))?;
                let image = self.image(st)?;
                let crop = crop_tensor(&image, &b)?;
                let x = torch_ops::resize_nearest_exact(&crop, m.spatial_shape())?;
                let x = self.normalize(m, st, &x, name)?;
                if keep_preprocessed {
                    st.preprocessed = Some(preprocessed_volume(&x, &b, st.volume.affine())?);
                }
                let prob = m.probability(&x, *channel)?;
                let back = torch_ops::resize_nearest_exact(&prob, b.dims().map(|v| v as i64))?;
                let full = image.f_zeros_like()?;
                crop_tensor(&full, &b)?.f_copy_(&back)?;
                st.prob[1] = Some(full);
            }
            Step::Threshold { grid, value } => {
                let v = param(value)?;
                let prob = st.prob[slot(*grid)]
                    .as_ref()
                    .ok_or_else(|| missing(name, "a probability map"))?;
                st.mask[slot(*grid)] = Some(torch_ops::tensor_to_mask(&prob.f_gt(v)?)?);
            }
            Step::LargestComponent {
                grid,
                connectivity,
                within_bbox,
            } => {
                let conn = *connectivity;
                let bbox = if *within_bbox {
                    Some(st.bbox.ok_or_else(|| missing(name, "a bounding box"))?)
                } else {
                    None
                };
                let m = st.mask[slot(*grid)]
                    .as_mut()
                    .ok_or_else(|| missing(name, "a mask"))?;
                let empty = || PipelineError::NoBrain("the brain mask is empty".into());
                match bbox {
                    Some(b) => {
                        let part = ops::largest_component(&m.crop(&b), conn).ok_or_else(empty)?;
                        m.paste(&b, &part);
                    }
                    None => *m = ops::largest_component(m, conn).ok_or_else(empty)?,
                }
            }
            Step::Bbox {
                margin,
                min_fraction,
            } => {
                let small = st.mask[0]
                    .as_ref()
                    .ok_or_else(|| missing(name, "a small mask"))?;
                let b = ops::bbox_with_margin(
                    small,
                    st.volume.spatial_shape(),
                    *margin as f32,
                    *min_fraction as f32,
                )
                .ok_or_else(|| {
                    PipelineError::NoBrain(
                        "not enough foreground to calculate the bounding box".into(),
                    )
                })?;
                debug!(?b, "bounding box");
                st.bbox = Some(b);
            }
            Step::FillHoles { within_bbox } => {
                let b = if *within_bbox {
                    Some(st.bbox.ok_or_else(|| missing(name, "a bounding box"))?)
                } else {
                    None
                };
                let m = st.mask[1].as_mut().ok_or_else(|| missing(name, "a mask"))?;
                match b {
                    Some(b) => {
                        let part = ops::fill_holes(&m.crop(&b));
                        m.paste(&b, &part);
                    }
                    None => *m = ops::fill_holes(m),
                }
            }
            Step::BiasCorrect {
                shrink_factor,
                iterations,
            } => {
                before_image(st, name)?;
                let defaults = deepneuro_preprocess::n4::N4Options::default();
                let opts = deepneuro_preprocess::n4::N4Options {
                    shrink_factor: shrink_factor.unwrap_or(defaults.shrink_factor),
                    maximum_number_of_iterations: iterations
                        .clone()
                        .unwrap_or(defaults.maximum_number_of_iterations.clone()),
                    ..defaults
                };
                let r = deepneuro_preprocess::n4::n4(&st.volume, None, &opts)
                    .map_err(|e| preprocess_error(name, e))?;
                st.volume = r.corrected;
            }
            Step::Zscore { nonzero } => {
                before_image(st, name)?;
                use deepneuro_preprocess::intensity::{zscore, ZScoreRegion};
                let region = if *nonzero {
                    ZScoreRegion::NonZero
                } else {
                    ZScoreRegion::Whole
                };
                st.volume = zscore(&st.volume, region).map_err(|e| preprocess_error(name, e))?;
            }
            Step::ClipPercentiles {
                percentiles,
                rescale,
            } => {
                before_image(st, name)?;
                let rescale = rescale.map(|[a, b]| (a as f32, b as f32));
                st.volume = deepneuro_preprocess::intensity::percentile_clip(
                    &st.volume,
                    percentiles[0],
                    percentiles[1],
                    rescale,
                )
                .map_err(|e| preprocess_error(name, e))?;
            }
            Step::Grow { voxels } => {
                // deepbet: abs(int(n)) passes, so fractions truncate.
                let n = param(voxels)?.trunc() as i64;
                let m = st.mask[1].as_mut().ok_or_else(|| missing(name, "a mask"))?;
                if n != 0 {
                    *m = ops::grow(m, n);
                }
            }
        }
        Ok(())
    }

    fn normalize(
        &self,
        m: &Model,
        st: &State,
        x: &Tensor,
        step: &str,
    ) -> Result<Tensor, PipelineError> {
        let n = &m.spec().normalization;
        if n.method != "percentile-zscore" {
            return Err(PipelineError::step(
                step,
                format!("normalisation '{}' is not implemented", n.method),
            ));
        }
        let (low, high) = st
            .range
            .as_ref()
            .ok_or_else(|| missing(step, "intensity percentiles"))?;
        torch_ops::normalize(x, low, high, n.scale.unwrap_or(1.0), n.shift.unwrap_or(0.0))
    }

    fn finish(
        &self,
        input: &Volume,
        st: State,
        timings: Vec<(String, f64)>,
    ) -> Result<CaseOutput, PipelineError> {
        let [_, mask] = st.mask;
        let mask = mask.ok_or_else(|| missing("output", "a full-resolution mask"))?;
        let affine = *st.volume.affine();
        let mask_data: Vec<f32> = mask.as_slice().iter().map(|&v| v as f32).collect();
        let dims = mask.dims();
        let mut mask_vol =
            Volume::from_nifti_vec([1, dims[0], dims[1], dims[2]], mask_data, affine, DType::U8)
                .map_err(|e| PipelineError::step("output", e.to_string()))?;
        // The brain image keeps the input's values (NaN included), as deepbet's apply_mask.
        let mut brain = st.volume.clone();
        apply_mask(&mut brain, &mask);
        if let Some(r) = &st.reorientation {
            let undo = |v: &Volume| {
                r.undo(v)
                    .map_err(|e| PipelineError::step("to-input-grid", e.to_string()))
            };
            mask_vol = undo(&mask_vol)?;
            brain = undo(&brain)?;
        }
        mask_vol.set_disk_scaling(None);
        let voxel_mm3: f64 = input.spacing().iter().product();
        let icv_cm3 = 1e-3 * mask.count() as f64 * voxel_mm3;
        Ok(CaseOutput {
            mask: mask_vol,
            brain,
            preprocessed: st.preprocessed,
            icv_cm3,
            bbox: st.bbox,
            warnings: st.warnings,
            timings,
        })
    }
}

/// Zeroes the voxels of every channel of `v` outside `mask` (same grid).
/// The pairing goes by position, never by iteration order: the volume's
/// logical order (z fastest) is not the mask's memory order (x fastest),
/// and zipping the two once paired each voxel with another voxel's mask.
fn apply_mask(v: &mut Volume, mask: &Mask) {
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

fn step_name(s: &Step) -> &'static str {
    match s {
        Step::FirstVolume => "first-volume",
        Step::Reorient => "reorient",
        Step::NanToNum => "nan-to-num",
        Step::CheckStructure { .. } => "check-structure",
        Step::Resize { .. } => "resize",
        Step::Percentiles { .. } => "percentiles",
        Step::Predict { .. } => "predict",
        Step::PredictCrop { .. } => "predict-crop",
        Step::Threshold { .. } => "threshold",
        Step::LargestComponent { .. } => "largest-component",
        Step::Bbox { .. } => "bbox",
        Step::FillHoles { .. } => "fill-holes",
        Step::Grow { .. } => "grow",
        Step::BiasCorrect { .. } => "bias-correct",
        Step::Zscore { .. } => "zscore",
        Step::ClipPercentiles { .. } => "clip-percentiles",
    }
}

/// Steps that change the full-resolution volume must run before it becomes
/// the image tensor, or their result would be silently ignored.
fn before_image(st: &State, step: &str) -> Result<(), PipelineError> {
    if st.image.is_some() {
        return Err(PipelineError::step(
            step,
            "must come before the first step that reads the image (e.g. nan-to-num)",
        ));
    }
    Ok(())
}

/// Input problems (NaN voxels, a constant image) are the input's fault
/// (exit 3); invalid settings are the spec's.
fn preprocess_error(step: &str, e: deepneuro_preprocess::PreprocessError) -> PipelineError {
    use deepneuro_preprocess::PreprocessError as P;
    match e {
        P::BadParameter { .. } => PipelineError::step(step, e.to_string()),
        e => PipelineError::BadInput {
            path: "input".into(),
            reason: format!("{step}: {e}"),
        },
    }
}

/// A 2D image (or a 1-voxel-thick slab) cannot be skull-stripped.
pub fn check_3d(v: &Volume) -> Result<(), PipelineError> {
    let s = v.spatial_shape();
    if s.iter().any(|&d| d < 2) {
        return Err(PipelineError::BadInput {
            path: "input".into(),
            reason: format!("is a 2D image (shape {s:?}); a 3D volume is needed"),
        });
    }
    Ok(())
}

/// The first channel (volume) of a 4D volume, same geometry; `v` itself,
/// not a copy, when it has one volume only.
pub fn first_volume(v: &Volume) -> Result<Cow<'_, Volume>, PipelineError> {
    if v.channels() == 1 {
        return Ok(Cow::Borrowed(v));
    }
    let s = v.spatial_shape();
    let n = s.iter().product::<usize>();
    let data = v.nifti_slice()[..n].to_vec();
    let mut out = Volume::from_nifti_vec([1, s[0], s[1], s[2]], data, *v.affine(), v.dtype())
        .map_err(|e| PipelineError::step("first-volume", e.to_string()))?;
    out.set_disk_scaling(v.disk_scaling());
    Ok(Cow::Owned(out))
}

/// A view of `t[bbox]` (shares memory with `t`).
pub fn crop_tensor(t: &Tensor, b: &BBox) -> Result<Tensor, PipelineError> {
    let mut v = t.shallow_clone();
    for a in 0..3 {
        v = v.f_narrow(a as i64, b.lo[a] as i64, (b.hi[a] - b.lo[a]) as i64)?;
    }
    Ok(v)
}

/// The model input as a volume whose affine places each resized voxel at
/// the centre of the source voxels it samples (nearest-exact).
fn preprocessed_volume(x: &Tensor, b: &BBox, canonical: &Affine) -> Result<Volume, PipelineError> {
    let size = x.size();
    let mut scale = Affine::identity();
    for a in 0..3 {
        let f = b.dims()[a] as f64 / size[a] as f64;
        scale[(a, a)] = f;
        scale[(a, 3)] = b.lo[a] as f64 + 0.5 * f - 0.5;
    }
    let affine = canonical * scale;
    deepneuro_core::volume_from_tensor(&x.f_to_kind(Kind::Float)?, affine, DType::F32)
        .map_err(|e| PipelineError::step("save-preprocessed", e.to_string()))
}

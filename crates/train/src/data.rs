//! From cases to tensors: the seeded train/validation split, input
//! normalisation and target encoding (as an [`Augmentation`] so that it runs
//! on the batch workers), and whole-volume evaluation with [`evaluate_dice`].

use std::collections::HashSet;

use deepneuro_augment::{AugmentError, Augmentation, Compose, Rng, Sample};
use deepneuro_data::DataCollection;
use deepneuro_models::Model;
use ndarray::{Array4, Axis};
use tch::{Device, Kind, Tensor};

use crate::config::{DataConfig, LabelScheme, TargetKind};
use crate::TrainError;

/// Splits `n` case indices into (training, validation): `round(fraction *
/// n)` validation cases (at least one when the fraction is positive and at
/// least one training case is left), drawn with `seed`. Both lists sorted.
pub fn split_cases(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut state = seed ^ 0x5EED_5B17_CA5E_0001;
    // Fisher-Yates with splitmix64: a fixed, dependency-free draw per seed.
    for i in (1..n).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        idx.swap(i, (z % (i as u64 + 1)) as usize);
    }
    let mut n_val = (fraction * n as f64).round() as usize;
    if fraction > 0.0 && n_val == 0 {
        n_val = 1;
    }
    n_val = n_val.min(n.saturating_sub(1));
    let mut val = idx[..n_val].to_vec();
    let mut train = idx[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

/// Keeps the chosen cases, z-scores the input, appends the whole-tumour
/// channel when asked, runs the user's augmentation and encodes the
/// target, in that order (the target is encoded last so that augmentations
/// see label maps, e.g. for label-centred patches).
#[derive(Debug)]
pub(crate) struct Prepare {
    /// Case ids to keep; others yield no sample (`None`: keep all).
    pub keep: Option<HashSet<String>>,
    pub data: DataConfig,
    pub background: bool,
    pub then: Compose,
    /// The enhancing tumour's label, for `target = "enhancing_tumour"`.
    enhancing: i32,
}

impl Prepare {
    /// The preparation of `data` (whose label scheme must be settled, see
    /// [`crate::labels`]) followed by the augmentation `augment`.
    pub fn new(
        data: &DataConfig,
        keep: Option<HashSet<String>>,
        background: bool,
        augment: &str,
    ) -> Result<Prepare, TrainError> {
        let enhancing = match (data.target, data.label_scheme.enhancing_label()) {
            (TargetKind::EnhancingTumour, None) => {
                return Err(TrainError::config(
                    "data.label_scheme",
                    "the enhancing tumour needs brats2017 or brats2023 (auto was not resolved)",
                ))
            }
            (_, label) => label.unwrap_or(0),
        };
        Ok(Prepare {
            keep,
            data: data.clone(),
            background,
            then: deepneuro_augment::parse(augment)?,
            enhancing,
        })
    }
}

impl Augmentation for Prepare {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Vec<Sample>, AugmentError> {
        if self
            .keep
            .as_ref()
            .is_some_and(|k| !k.contains(&sample.case))
        {
            return Ok(Vec::new());
        }
        let missing = |s: &Sample, g: &str| AugmentError::GroupMissing {
            case: s.case.clone(),
            group: g.to_string(),
        };
        for g in [&self.data.input_group, &self.data.target_group] {
            if !sample.groups.contains_key(g) {
                return Err(missing(&sample, g));
            }
        }
        if self.data.normalize {
            if let Some(x) = sample.groups.get_mut(&self.data.input_group) {
                zscore_nonzero(x);
            }
        }
        if self.data.append_whole_tumour_channel {
            append_whole_tumour(&mut sample, &self.data);
        }
        let mut out = self.then.apply(sample, rng)?;
        for s in &mut out {
            let t = s
                .groups
                .get(&self.data.target_group)
                .ok_or_else(|| missing(s, &self.data.target_group))?;
            let encoded = encode_target(t, &self.data, self.background, self.enhancing);
            s.groups.insert(self.data.target_group.clone(), encoded);
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "prepare"
    }
}

/// Per channel: `(v - mean) / std` over the non-zero voxels; zeros (the
/// background outside the brain) stay zero, so that the background does not
/// dominate the statistics.
fn zscore_nonzero(x: &mut Array4<f32>) {
    for mut ch in x.axis_iter_mut(Axis(0)) {
        let (mut n, mut sum, mut sq) = (0usize, 0f64, 0f64);
        for &v in ch.iter().filter(|v| **v != 0.0 && v.is_finite()) {
            n += 1;
            sum += v as f64;
            sq += (v as f64) * (v as f64);
        }
        if n < 2 {
            continue;
        }
        let mean = sum / n as f64;
        let std = (sq / n as f64 - mean * mean).max(0.0).sqrt().max(1e-8);
        ch.mapv_inplace(|v| {
            if v != 0.0 && v.is_finite() {
                ((v as f64 - mean) / std) as f32
            } else {
                0.0
            }
        });
    }
}

/// Appends `label > 0` of the target's first channel to the input group as
/// its last channel. Both groups are on the case's grid here, before any
/// augmentation, so the later spatial steps move the channel with the image.
fn append_whole_tumour(sample: &mut Sample, data: &DataConfig) {
    let Some(t) = sample.groups.get(&data.target_group) else {
        return;
    };
    let whole = t
        .index_axis(Axis(0), 0)
        .mapv(|v| if v > 0.0 { 1.0f32 } else { 0.0 })
        .insert_axis(Axis(0));
    if let Some(x) = sample.groups.get_mut(&data.input_group) {
        if let Ok(joined) = ndarray::concatenate(Axis(0), &[x.view(), whole.view()]) {
            *x = joined;
        }
    }
}

/// The label map (channel 0) as the training target: `label > 0`, the
/// enhancing label `enhancing`, or one channel per label (background first
/// when asked).
fn encode_target(
    t: &Array4<f32>,
    data: &DataConfig,
    background: bool,
    enhancing: i32,
) -> Array4<f32> {
    let lab = t.index_axis(Axis(0), 0);
    let (x, y, z) = lab.dim();
    let one = |f: &dyn Fn(f32) -> bool| lab.mapv(|v| if f(v) { 1.0f32 } else { 0.0 });
    let mut chans = Vec::new();
    match data.target {
        TargetKind::Binary | TargetKind::WholeTumour => chans.push(one(&|v| v > 0.0)),
        TargetKind::EnhancingTumour => chans.push(one(&|v| v.round() as i32 == enhancing)),
        TargetKind::Labels => {
            if background {
                let labels = data.labels.clone();
                chans.push(one(&move |v| {
                    !labels.iter().any(|&l| v.round() as i32 == l)
                }));
            }
            for &l in &data.labels {
                chans.push(one(&move |v| v.round() as i32 == l));
            }
        }
    }
    let views: Vec<_> = chans.iter().map(|c| c.view()).collect();
    ndarray::stack(Axis(0), &views).unwrap_or_else(|_| Array4::zeros((0, x, y, z)))
}

/// A C-order array as a tensor on `device`, with `shape`.
pub(crate) fn to_tensor<D: ndarray::Dimension>(
    a: &ndarray::Array<f32, D>,
    device: Device,
) -> Result<Tensor, TrainError> {
    let shape: Vec<i64> = a.shape().iter().map(|&s| s as i64).collect();
    let t = match a.as_slice() {
        Some(s) => Tensor::f_from_slice(s)?,
        None => Tensor::f_from_slice(&a.iter().copied().collect::<Vec<f32>>())?,
    };
    Ok(t.f_view(shape.as_slice())?.f_to_device(device)?)
}

/// Pads `[n, c, x, y, z]` at the high end of each spatial axis to a
/// multiple of `factor`, runs `f`, and crops the result back.
pub(crate) fn padded_forward(
    x: &Tensor,
    factor: &[i64],
    f: &dyn Fn(&Tensor) -> Result<Tensor, TrainError>,
) -> Result<Tensor, TrainError> {
    let size = x.size();
    let spatial = &size[2..];
    let mut pad = Vec::new();
    for (s, k) in spatial.iter().zip(factor).rev() {
        pad.extend([0, (k - s % k) % k]);
    }
    if pad.iter().all(|&p| p == 0) {
        return f(x);
    }
    let mut y = f(&x.f_constant_pad_nd(pad.as_slice())?)?;
    for (axis, &s) in spatial.iter().enumerate() {
        y = y.f_narrow(axis as i64 + 2, 0, s)?;
    }
    Ok(y)
}

/// Intersection and sizes of `probs > 0.5` against `target`, per channel.
pub(crate) fn dice_counts(probs: &Tensor, target: &Tensor) -> Result<Vec<[f64; 3]>, TrainError> {
    let p = probs.f_gt(0.5)?.f_to_kind(Kind::Float)?;
    let t = target.f_gt(0.5)?.f_to_kind(Kind::Float)?;
    let dims: Vec<i64> = (0..p.dim() as i64).filter(|&d| d != 1).collect();
    let sum = |x: &Tensor| -> Result<Vec<f64>, TrainError> {
        let s = x.f_sum_dim_intlist(dims.as_slice(), false, Kind::Double)?;
        Ok(Vec::<f64>::try_from(&s.f_to_device(Device::Cpu)?)?)
    };
    let (i, a, b) = (sum(&p.f_mul(&t)?)?, sum(&p)?, sum(&t)?);
    Ok((0..i.len()).map(|c| [i[c], a[c], b[c]]).collect())
}

/// The mean over channels of `2 |P ∩ T| / (|P| + |T|)` (1 when both are empty).
pub(crate) fn dice_from_counts(counts: &[[f64; 3]]) -> f64 {
    let per: Vec<f64> = counts
        .iter()
        .map(|[i, a, b]| if a + b == 0.0 { 1.0 } else { 2.0 * i / (a + b) })
        .collect();
    per.iter().sum::<f64>() / per.len().max(1) as f64
}

/// The prepared samples of case `index`: whole volume, or the validation
/// augmentation's draw (seeded by `seed` and the index).
pub(crate) fn case_samples(
    collection: &DataCollection,
    index: usize,
    prep: &Prepare,
    seed: u64,
) -> Result<Vec<Sample>, TrainError> {
    let sample = collection.load(index)?;
    let mut rng = deepneuro_augment::rng(seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
    Ok(prep.apply(sample, &mut rng)?)
}

/// The prepared samples of case `index` as `[1, c, x, y, z]` tensors
/// (input, encoded target) with the model's probabilities, on whole
/// volumes or the `data.validation_augment` draw (seeded with 0).
fn scored_samples(
    model: &dyn Model,
    collection: &DataCollection,
    index: usize,
    data: &DataConfig,
    factor: &[i64],
) -> Result<Vec<(Tensor, Tensor)>, TrainError> {
    let prep = Prepare::new(data, None, false, &data.validation_augment)?;
    let mut out = Vec::new();
    for s in case_samples(collection, index, &prep, 0)? {
        let x = to_tensor(&s.groups[&data.input_group], Device::Cpu)?.f_unsqueeze(0)?;
        let t = to_tensor(&s.groups[&data.target_group], model.device())?.f_unsqueeze(0)?;
        let probs = padded_forward(&x, factor, &|x| Ok(model.predict(x)?))?;
        // A model with a background channel: keep the foreground ones.
        let probs = if probs.size()[1] == t.size()[1] + 1 {
            probs.f_narrow(1, 1, t.size()[1])?
        } else {
            probs
        };
        out.push((probs, t));
    }
    Ok(out)
}

/// The probabilities of `model` on the whole volume of case `index`
/// (`[c, x, y, z]`, C order), its input normalised as in training; a
/// background channel, if the model has one, is left out. `factor`: see
/// [`crate::pad_factor`].
pub fn predict_case(
    model: &dyn Model,
    collection: &DataCollection,
    index: usize,
    data: &DataConfig,
    factor: &[i64],
) -> Result<Array4<f32>, TrainError> {
    let mut whole = DataConfig {
        validation_augment: String::new(),
        ..data.clone()
    };
    // The target is dropped here, so an unsettled scheme may take any value
    // rather than fail on a case without enhancing tumour.
    if whole.label_scheme == LabelScheme::Auto {
        whole.label_scheme = LabelScheme::Brats2017;
    }
    let (probs, _) = scored_samples(model, collection, index, &whole, factor)?
        .into_iter()
        .next()
        .ok_or_else(|| TrainError::config("data", "the case gave no sample"))?;
    let p = probs
        .f_squeeze_dim(0)?
        .f_to_kind(Kind::Float)?
        .f_to_device(Device::Cpu)?;
    let shape: Vec<usize> = p.size().iter().map(|&s| s as usize).collect();
    let v = Vec::<f32>::try_from(&p.f_contiguous()?.f_view(-1)?)?;
    Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), v)
        .map_err(|e| TrainError::config("model", format!("unexpected output shape: {e}")))
}

/// The mean per-case Dice of `model` on `cases` of `collection`: sigmoid
/// (or softmax) outputs above 0.5 against the target encoded as in training
/// (`data.target`; an `auto` label scheme is detected over `cases`), on
/// whole volumes, or on the `data.validation_augment` draw when set (seeded
/// with 0); inputs are normalised as in training.
/// `factor`: see [`crate::pad_factor`] (volumes are padded to it).
pub fn evaluate_dice(
    model: &dyn Model,
    collection: &DataCollection,
    cases: &[usize],
    data: &DataConfig,
    factor: &[i64],
) -> Result<f64, TrainError> {
    let data = &crate::labels::resolve(data, collection, cases)?;
    let mut total = 0.0;
    for &i in cases {
        let mut counts: Vec<[f64; 3]> = Vec::new();
        for (probs, t) in scored_samples(model, collection, i, data, factor)? {
            add_counts(&mut counts, &dice_counts(&probs, &t)?);
        }
        total += dice_from_counts(&counts);
    }
    Ok(total / cases.len().max(1) as f64)
}

pub(crate) fn add_counts(acc: &mut Vec<[f64; 3]>, c: &[[f64; 3]]) {
    if acc.is_empty() {
        acc.extend_from_slice(c);
    } else {
        for (a, b) in acc.iter_mut().zip(c) {
            for k in 0..3 {
                a[k] += b[k];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ndarray::{s, Array4};

    use super::*;
    use crate::config::LabelScheme;

    /// A 24^3 case: three positive image channels and a label map with a
    /// core (1), an enhancing ring (4) and oedema (2) off-centre, so that
    /// flips change where the tumour is.
    fn case() -> Sample {
        let n = 24;
        let mut labels = Array4::<f32>::zeros((1, n, n, n));
        for ((_, x, y, z), v) in labels.indexed_iter_mut() {
            let r =
                ((x as f32 - 9.0).powi(2) + (y as f32 - 13.0).powi(2) + (z as f32 - 11.0).powi(2))
                    .sqrt();
            *v = match r {
                r if r < 2.5 => 1.0,
                r if r < 4.5 => 4.0,
                r if r < 7.0 => 2.0,
                _ => 0.0,
            };
        }
        let input = Array4::from_shape_fn((3, n, n, n), |(c, x, y, z)| {
            1.0 + ((c * 31 + x * 7 + y * 3 + z) % 17) as f32
        });
        Sample {
            case: "c".into(),
            groups: BTreeMap::from([
                ("input".to_string(), input),
                ("ground_truth".to_string(), labels),
            ]),
            affine: deepneuro_volume::Affine::identity(),
        }
    }

    fn data(target: TargetKind) -> DataConfig {
        DataConfig {
            target,
            label_scheme: LabelScheme::Brats2017,
            append_whole_tumour_channel: true,
            ..DataConfig::default()
        }
    }

    const AUGMENT: &str = "patches(size=8x8x8,count=6,label=ground_truth,label_fraction=0.5); \
                           flip(axes=0-1-2,p=0.5)";

    #[test]
    fn fourth_channel_is_the_whole_tumour_after_patches_and_flips() {
        let prep = Prepare::new(&data(TargetKind::WholeTumour), None, false, AUGMENT).unwrap();
        let mut tumour_voxels = 0.0;
        for seed in 0..8 {
            let out = prep
                .apply(case(), &mut deepneuro_augment::rng(seed))
                .unwrap();
            assert_eq!(out.len(), 6);
            for s in &out {
                let x = &s.groups["input"];
                let t = &s.groups["ground_truth"];
                assert_eq!(x.shape(), &[4, 8, 8, 8]);
                // Exactly the target (label > 0, moved by the same patches
                // and flips), so exactly 0 or 1: never z-scored.
                assert_eq!(x.slice(s![3, .., .., ..]), t.slice(s![0, .., .., ..]));
                assert!(x
                    .slice(s![3, .., .., ..])
                    .iter()
                    .all(|&v| v == 0.0 || v == 1.0));
                tumour_voxels += t.sum();
            }
        }
        assert!(tumour_voxels > 0.0, "no patch met the tumour");
    }

    #[test]
    fn enhancing_target_lies_inside_the_fourth_channel() {
        let prep = Prepare::new(&data(TargetKind::EnhancingTumour), None, false, AUGMENT).unwrap();
        let whole = prep.apply(case(), &mut deepneuro_augment::rng(3)).unwrap();
        let plain = Prepare::new(&data(TargetKind::WholeTumour), None, false, AUGMENT).unwrap();
        let same = plain.apply(case(), &mut deepneuro_augment::rng(3)).unwrap();
        let (mut enhancing, mut inside) = (0.0, 0.0);
        for (e, w) in whole.iter().zip(&same) {
            let (x, t) = (&e.groups["input"], &e.groups["ground_truth"]);
            assert_eq!(x, &w.groups["input"], "the same draw gives the same input");
            enhancing += t.sum();
            inside += (t * &x.slice(s![3..4, .., .., ..])).sum();
        }
        assert!(enhancing > 0.0);
        assert_eq!(enhancing, inside);
    }

    #[test]
    fn an_unresolved_scheme_is_refused() {
        let mut d = data(TargetKind::EnhancingTumour);
        d.label_scheme = LabelScheme::Auto;
        let e = Prepare::new(&d, None, false, "").unwrap_err();
        assert!(e.to_string().contains("data.label_scheme"), "{e}");
    }
}

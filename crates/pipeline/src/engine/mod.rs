//! Runs a checked [`Spec`] on one case: the inputs become values, each
//! step reads and writes values by name, and the outputs the spec declares
//! are taken from the values at the end. Models load once per [`Engine`]
//! and serve every case of a batch.

mod model;
mod regrid;
mod steps;
pub mod value;

pub use model::LoadedModel;
pub use value::{Field, MaskField, Value};

use crate::spec::{Spec, Step};
use crate::PipelineError;
use deepneuro_registry::{FetchOptions, Registry};
use deepneuro_volume::Volume;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use tch::Device;
use tracing::debug;

/// A spec with its models loaded on a device.
pub struct Engine {
    pub spec: Spec,
    models: HashMap<String, LoadedModel>,
    device: Device,
}

/// One loaded input of a case.
pub struct InputVolume {
    pub volume: Volume,
    /// The spec's expected contrast of this input.
    pub contrast: Option<String>,
}

/// What one case produced: every value at the end of the run.
pub struct CaseRun {
    pub values: BTreeMap<String, Value>,
    pub warnings: Vec<String>,
    /// Seconds per step, in order.
    pub timings: Vec<(String, f64)>,
}

impl CaseRun {
    /// A declared output's value as a volume (masks as uint8).
    pub fn output(&mut self, spec: &Spec, name: &str) -> Result<Volume, PipelineError> {
        let decl = spec
            .outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| PipelineError::step("output", format!("no output {name:?}")))?;
        let v = self.values.get_mut(&decl.value).ok_or_else(|| {
            PipelineError::step("output", format!("value {:?} was not produced", decl.value))
        })?;
        Ok((*v.to_volume()?).clone())
    }
}

/// Called after each step with the step and the values it wrote, for
/// `--save-all-steps`.
pub type StepObserver<'a> =
    dyn FnMut(&Step, &mut BTreeMap<String, Value>) -> Result<(), PipelineError> + 'a;

impl Engine {
    /// Resolves every model the spec names through the registry (fetching
    /// into the cache unless offline) and loads it on `device`.
    pub fn load(
        spec: Spec,
        registry: &Registry,
        fetch: &FetchOptions,
        device: Device,
    ) -> Result<Engine, PipelineError> {
        let mut models = HashMap::new();
        for name in spec.models() {
            let entry = registry.find(&name)?;
            let path = deepneuro_registry::ensure(entry, fetch)?;
            debug!(model = %name, path = %path.display(), "loading model");
            models.insert(name.clone(), LoadedModel::load(entry, &path, device)?);
        }
        Ok(Engine {
            spec,
            models,
            device,
        })
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Every loaded model, for the per-case record.
    pub fn models(&self) -> impl Iterator<Item = &LoadedModel> {
        self.models.values()
    }

    pub(crate) fn model(&self, name: &str) -> Result<&LoadedModel, PipelineError> {
        self.models
            .get(name)
            .ok_or_else(|| PipelineError::step("model", format!("model {name} not loaded")))
    }

    /// Runs every step on `inputs` (by input name) with `params`
    /// overriding the spec's defaults.
    pub fn run_case(
        &self,
        inputs: BTreeMap<String, InputVolume>,
        params: &BTreeMap<String, f64>,
        mut observer: Option<&mut StepObserver<'_>>,
    ) -> Result<CaseRun, PipelineError> {
        let mut p = self.spec.defaults();
        p.extend(params.iter().map(|(k, v)| (k.clone(), *v)));
        let mut values = BTreeMap::new();
        for (name, input) in inputs {
            check_3d(&input.volume, &name)?;
            values.insert(
                name,
                Value::Image(Field::from_volume(input.volume, input.contrast)),
            );
        }
        for decl in &self.spec.inputs {
            if decl.kind == crate::spec::InputKind::Mask {
                if let Some(Value::Image(f)) = values.remove(&decl.name) {
                    let mut f = f;
                    let v = f.volume()?;
                    let mask = value::volume_mask(&v);
                    values.insert(
                        decl.name.clone(),
                        Value::Mask(MaskField {
                            mask,
                            affine: *v.affine(),
                        }),
                    );
                }
            }
        }
        let mut run = CaseRun {
            values,
            warnings: Vec::new(),
            timings: Vec::new(),
        };
        for step in &self.spec.steps {
            if !reads_present(step, &run.values) {
                debug!(step = %step.id, "skipped: an optional input is absent");
                continue;
            }
            let t0 = Instant::now();
            steps::apply(self, step, &mut run, &p)?;
            run.timings
                .push((step.op.name.to_string(), t0.elapsed().as_secs_f64()));
            if let Some(obs) = observer.as_mut() {
                obs(step, &mut run.values)?;
            }
        }
        Ok(run)
    }
}

/// Whether every value a step reads exists (a value derived from an absent
/// optional input does not; the checks at load time ensure nothing else
/// can be missing).
fn reads_present(step: &Step, values: &BTreeMap<String, Value>) -> bool {
    use crate::spec::ops::Key;
    step.op.keys.iter().all(|k| match k.key {
        Key::Read(_) => step.value(k.name).is_none_or(|v| values.contains_key(v)),
        Key::ReadList(_) => step.values(k.name).iter().all(|v| values.contains_key(v)),
        _ => true,
    })
}

/// A 2D image (or a 1-voxel-thick slab) is not a volume the modules take.
pub fn check_3d(v: &Volume, input: &str) -> Result<(), PipelineError> {
    let s = v.spatial_shape();
    if s.iter().any(|&d| d < 2) {
        return Err(PipelineError::BadInput {
            path: input.into(),
            reason: format!("is a 2D image (shape {s:?}); a 3D volume is needed"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepneuro_volume::{Affine, DType};
    use std::path::Path;

    fn engine(steps: &str) -> Engine {
        let text =
            format!("[module]\nname = \"t\"\nspec_version = 1\n[[input]]\nname = \"img\"\n{steps}");
        let registry = Registry::load_default(None).unwrap();
        let spec = Spec::parse(&text, Path::new("t.toml"), &registry).unwrap();
        Engine::load(
            spec,
            &registry,
            &FetchOptions::from_env().unwrap(),
            Device::Cpu,
        )
        .unwrap()
    }

    fn input(v: Volume) -> BTreeMap<String, InputVolume> {
        BTreeMap::from([(
            "img".to_string(),
            InputVolume {
                volume: v,
                contrast: None,
            },
        )])
    }

    fn sample() -> Volume {
        let mut a = Affine::identity();
        a[(0, 0)] = -2.0;
        a[(1, 1)] = 1.5;
        a[(2, 2)] = 3.0;
        a[(0, 3)] = 7.0;
        let data: Vec<f32> = (0..6 * 5 * 4)
            .map(|i| {
                if (i % 6) >= 2 && (i % 6) < 5 {
                    (i % 13) as f32 + 1.0
                } else {
                    0.0
                }
            })
            .collect();
        Volume::from_nifti_vec([1, 6, 5, 4], data, a, DType::I16).unwrap()
    }

    #[test]
    fn crop_keeps_every_voxel_in_its_world_place() {
        let e = engine(
            "[[step]]\nop = \"nonzero\"\nimage = \"img\"\nout = \"m\"\n[[step]]\nop = \"crop\"\nvalue = \"img\"\nbox = \"m\"\nout = \"c\"\n[[step]]\nop = \"crop\"\nvalue = \"m\"\nbox = \"m\"\nout = \"mc\"\n",
        );
        let v = sample();
        let mut run = e
            .run_case(input(v.clone()), &BTreeMap::new(), None)
            .unwrap();
        let c = run.values.get_mut("c").unwrap().to_volume().unwrap();
        assert_eq!(c.spatial_shape(), [3, 5, 4]);
        assert_eq!(c.dtype(), DType::I16);
        for (i, j, k) in [(0, 0, 0), (2, 4, 3), (1, 2, 1)] {
            let world = c.voxel_to_world([i as f64, j as f64, k as f64]);
            assert_eq!(
                world,
                v.voxel_to_world([i as f64 + 2.0, j as f64, k as f64])
            );
            assert_eq!(c.data()[[0, i, j, k]], v.data()[[0, i + 2, j, k]]);
        }
        let mc = run.values.get_mut("mc").unwrap().to_volume().unwrap();
        assert_eq!(mc.affine(), c.affine());
        assert!(mc.nifti_slice().iter().all(|&x| x == 1.0));
    }

    #[test]
    fn resample_to_a_spacing_keeps_the_field_of_view() {
        let e = engine(
            "[[step]]\nop = \"resample\"\nvalue = \"img\"\nspacing = [4.0, 3.0, 1.5]\nout = \"r\"\n",
        );
        let mut run = e.run_case(input(sample()), &BTreeMap::new(), None).unwrap();
        let r = run.values.get_mut("r").unwrap().to_volume().unwrap();
        // 6 x 2 mm, 5 x 1.5 mm and 4 x 3 mm: 12 / 4, 7.5 / 3 = 2.5 (rounded away from 0), 12 / 1.5.
        assert_eq!(r.spatial_shape(), [3, 3, 8]);
        assert_eq!(r.spacing(), [4.0, 3.0, 1.5]);
        // The outer corner of the first voxel stays: x runs along -1, from 7 + 1 (its half voxel).
        assert!((r.voxel_to_world([-0.5, 0.0, 0.0])[0] - 8.0).abs() < 1e-9);
    }

    #[test]
    fn clip_percentiles_inside_a_mask_use_only_its_voxels() {
        let e = engine(
            "[[step]]\nop = \"nonzero\"\nimage = \"img\"\nout = \"m\"\n[[step]]\nop = \"clip-percentiles\"\nimage = \"img\"\nmask = \"m\"\npercentiles = [0, 100]\nrescale = [0, 1]\nout = \"c\"\n",
        );
        let mut run = e.run_case(input(sample()), &BTreeMap::new(), None).unwrap();
        let c = run.values.get_mut("c").unwrap().to_volume().unwrap();
        // Inside the mask the values run 1..=13: rescaled to [0, 1]; the zeros
        // outside lie below the mask's minimum and clip to 0.
        let (lo, hi) = c.finite_range().unwrap();
        assert_eq!((lo, hi), (0.0, 1.0));
        let v = sample();
        let (a, b) = (v.nifti_slice(), c.nifti_slice());
        let inside = a.iter().zip(b.iter()).find(|(x, _)| **x == 7.0).unwrap();
        assert!((inside.1 - 0.5).abs() < 1e-6, "{inside:?}");
    }
}

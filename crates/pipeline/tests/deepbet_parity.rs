//! Acceptance: on the sample head and three transformed versions, the mask
//! equals Python deepbet 1.0.2's (run from the venv by
//! scripts/fixtures/skullstrip_deepbet.py) with Dice >= 0.999, on the
//! input's own grid and affine.

use deepneuro_pipeline::ops::Mask;
use deepneuro_pipeline::{CaseRun, Engine, InputVolume, Spec};
use deepneuro_registry::{FetchOptions, Registry};
use deepneuro_testkit::{read_json, run_python, script};
use deepneuro_volume::Volume;
use std::collections::BTreeMap;
use std::path::Path;

/// The skull-strip module with its models, on `device`.
fn skull_strip(registry: &Registry, device: tch::Device) -> Engine {
    let spec = Spec::builtin("skull-strip", registry).unwrap().unwrap();
    let fetch = FetchOptions::from_env().unwrap();
    Engine::load(spec, registry, &fetch, device).expect(
        "deepbet models in the cache: run `make setup` (scripts/registry/import-deepbet.sh)",
    )
}

fn run(engine: &Engine, input: &Volume) -> CaseRun {
    let inputs = BTreeMap::from([(
        "t1".to_string(),
        InputVolume {
            volume: input.clone(),
            contrast: None,
        },
    )]);
    engine.run_case(inputs, &BTreeMap::new(), None).unwrap()
}

/// The brain mask and its volume in cm^3.
fn mask_of(engine: &Engine, input: &Volume) -> (Volume, f64) {
    let mut out = run(engine, input);
    let mask = out.output(&engine.spec, "mask").unwrap();
    let voxel: f64 = mask.spacing().iter().product();
    let n = mask.nifti_slice().iter().filter(|&&v| v > 0.5).count();
    (mask, 1e-3 * n as f64 * voxel)
}

fn as_mask(v: &Volume) -> Mask {
    let s = v.spatial_shape();
    let n = s.iter().product::<usize>();
    // First volume only: deepbet keeps a 4D input's fourth axis (of length 1).
    Mask::from_vec(
        s,
        v.nifti_slice()[..n]
            .iter()
            .map(|&x| (x > 0.5) as u8)
            .collect(),
    )
}

#[test]
fn masks_match_python_deepbet_on_sample_and_transforms() {
    let dir = tempfile::tempdir().unwrap();
    run_python(
        &script("fixtures/skullstrip_deepbet.py"),
        ["make".as_ref(), dir.path().as_os_str()],
    );
    let manifest = read_json(&dir.path().join("manifest.json"));

    tch::set_num_threads(deepneuro_core::cpu_threads() as i32);
    let registry = Registry::load_default(None).unwrap();
    let engine = skull_strip(&registry, tch::Device::Cpu);

    let mut report = Vec::new();
    for case in manifest["cases"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let input = deepneuro_io::read(Path::new(case["input"].as_str().unwrap())).unwrap();
        let reference = deepneuro_io::read(Path::new(case["mask"].as_str().unwrap())).unwrap();
        let (mask, icv_cm3) = mask_of(&engine, &input);
        assert_eq!(
            mask.affine(),
            input.affine(),
            "{name}: mask affine is the input's"
        );
        assert_eq!(
            mask.spatial_shape(),
            input.spatial_shape(),
            "{name}: mask grid"
        );
        let ours = as_mask(&mask);
        let theirs = as_mask(&reference);
        let dice = ours.dice(&theirs);
        let differing = ours
            .as_slice()
            .iter()
            .zip(theirs.as_slice())
            .filter(|(a, b)| a != b)
            .count();
        let tiv = case["tiv_cm3"].as_f64().unwrap();
        report.push(format!(
            "{name}: dice {dice:.6}, {differing} voxels differ, ICV {:.2} cm^3 (deepbet {tiv:.2})",
            icv_cm3
        ));
        assert!(dice >= 0.999, "{}", report.join("\n"));
        assert!((icv_cm3 - tiv).abs() <= 2e-3 * tiv, "{}", report.join("\n"));
    }
    eprintln!("{}", report.join("\n"));
}

/// On a machine with CUDA: the CUDA mask equals the CPU mask, and the
/// steady-state time per case is printed. Without CUDA there is nothing to
/// compare; the test says so on stderr.
#[test]
fn cuda_mask_equals_cpu_mask() {
    deepneuro_core::load_cuda();
    if !tch::Cuda::is_available() {
        eprintln!("no CUDA device: CPU/CUDA comparison not run");
        return;
    }
    let sample = deepneuro_testkit::sample_head();
    let input = deepneuro_io::read(&sample).unwrap();
    let registry = Registry::load_default(None).unwrap();
    let timed = |device| {
        let engine = skull_strip(&registry, device);
        let (first, _) = mask_of(&engine, &input);
        let t0 = std::time::Instant::now();
        for _ in 0..5 {
            run(&engine, &input);
        }
        (as_mask(&first), t0.elapsed().as_secs_f64() / 5.0)
    };
    let (cpu, _) = timed(tch::Device::Cpu);
    let (cuda, per_case) = timed(tch::Device::Cuda(0));
    let dice = cpu.dice(&cuda);
    eprintln!(
        "CUDA vs CPU: dice {dice:.6}; CUDA steady state {per_case:.3} s per case (compute only)"
    );
    assert!(dice >= 0.999, "CUDA vs CPU dice {dice}");
}

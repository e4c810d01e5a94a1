//! The glioblastoma recipe: its committed configs, label-scheme detection
//! on tiny phantom cases, and a tiny end-to-end run (CPU, seconds) whose
//! `models.toml` the registry parses and whose weights the loader reads.

use std::path::{Path, PathBuf};

use deepneuro_data::{CollectionOptions, DataCollection};
use deepneuro_models::{UNet, UNetConfig};
use deepneuro_registry::Registry;
use deepneuro_train::recipe::{glioblastoma, glioblastoma_configs, RecipeOptions};
use deepneuro_train::{detect_label_scheme, LabelScheme, RunOverrides, TargetKind, TrainError};
use ndarray::Array3;

const SIZE: usize = 48;

/// File suffixes of FLAIR, T1, post-contrast T1 and the label map.
const OLD: [&str; 4] = ["_flair", "_t1", "_t1ce", "_seg"];
const NEW: [&str; 4] = ["-t2f", "-t1n", "-t1c", "-seg"];

/// One 48^3 case: a brain ball with a tumour (core 1, enhancing ring
/// `enhancing`, oedema 2) whose position depends on `seed`.
fn phantom(dir: &Path, case: &str, names: [&str; 4], seed: usize, enhancing: f32) -> PathBuf {
    let folder = dir.join(case);
    std::fs::create_dir_all(&folder).unwrap();
    let c = [
        20.0 + (seed % 3) as f32 * 4.0,
        24.0,
        22.0 + (seed % 2) as f32 * 3.0,
    ];
    let labels = Array3::from_shape_fn((SIZE, SIZE, SIZE), |(x, y, z)| {
        let r = ((x as f32 - c[0]).powi(2) + (y as f32 - c[1]).powi(2) + (z as f32 - c[2]).powi(2))
            .sqrt();
        match r {
            r if r < 3.0 => 1.0,
            r if r < 5.0 => enhancing,
            r if r < 8.0 => 2.0,
            _ => 0.0,
        }
    });
    let brain = |x: usize, y: usize, z: usize| {
        let d = |v: usize| (v as f32 - 24.0).powi(2);
        d(x) + d(y) + d(z) < 21.0f32.powi(2)
    };
    // Per modality: (brain, core, enhancing, oedema) intensities.
    let looks = [
        [100.0, 150.0, 180.0, 220.0],
        [100.0, 70.0, 90.0, 80.0],
        [100.0, 60.0, 250.0, 95.0],
    ];
    for (k, look) in looks.iter().enumerate() {
        let img = Array3::from_shape_fn((SIZE, SIZE, SIZE), |(x, y, z)| {
            if !brain(x, y, z) {
                return 0.0;
            }
            let noise = ((x * 7 + y * 13 + z * 29 + seed * 31 + k) % 11) as f32;
            let base = match labels[(x, y, z)] as i32 {
                0 => look[0],
                1 => look[1],
                2 => look[3],
                _ => look[2],
            };
            base + noise
        });
        write(&folder.join(format!("{case}{}.nii.gz", names[k])), img);
    }
    let seg = folder.join(format!("{case}{}.nii.gz", names[3]));
    write(&seg, labels);
    seg
}

fn write(path: &Path, a: Array3<f32>) {
    let v = deepneuro_volume::Volume::from_array3(a, deepneuro_volume::Affine::identity()).unwrap();
    deepneuro_io::write(&v, path).unwrap();
}

fn tiny_model(dir: &Path) -> PathBuf {
    let p = dir.join("tiny.toml");
    std::fs::write(
        &p,
        "input_shape = [32, 32, 32, 1]\ndepth = 2\nmax_filter = 8\nkernel_size = [3, 3, 3]\n\
         pool_size = [2, 2, 2]\nbatch_norm = true\nnum_outputs = 1\n\
         output_activation = \"sigmoid\"\ncost_function = \"dice\"\ninitial_learning_rate = 0.001\n",
    )
    .unwrap();
    p
}

fn options(data: &Path, out: &Path, model: PathBuf) -> RecipeOptions {
    RecipeOptions {
        data: data.to_path_buf(),
        output: out.to_path_buf(),
        model_config: Some(model),
        overrides: RunOverrides {
            epochs: Some(1),
            steps_per_epoch: Some(2),
            batch_size: Some(2),
            device: Some("cpu".into()),
            seed: Some(1),
        },
        quiet: true,
        ..Default::default()
    }
}

#[test]
fn recipe_configs_parse_and_hold_the_paper_network() {
    let (whole, enhancing) = glioblastoma_configs().unwrap();
    let paper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/configs/glioblastoma.toml");
    let mut paper = UNetConfig::from_file(&paper).unwrap();
    assert_eq!(whole.model, paper);
    paper.input_shape = vec![32, 32, 32, 4];
    assert_eq!(enhancing.model, paper);
    assert_eq!(whole.data.target, TargetKind::WholeTumour);
    assert_eq!(enhancing.data.target, TargetKind::EnhancingTumour);
    assert!(!whole.data.append_whole_tumour_channel);
    assert!(enhancing.data.append_whole_tumour_channel);
    assert_eq!(
        whole.data.groups["input"],
        ["*_flair.nii.gz", "*_t1.nii.gz", "*_t1ce.nii.gz"]
    );
    for cfg in [&whole, &enhancing] {
        let mut cfg = cfg.clone();
        cfg.data.source = Some("brats".into());
        cfg.validate(&cfg.model).unwrap();
        deepneuro_augment::parse(&cfg.data.augment).unwrap();
        deepneuro_augment::parse(&cfg.data.validation_augment).unwrap();
    }
}

#[test]
fn label_scheme_is_detected_from_the_label_maps() {
    let dir = tempfile::tempdir().unwrap();
    let detect = |folder: &Path, names: [&str; 4]| {
        let groups = vec![(
            "ground_truth".to_string(),
            vec![format!("*{}.nii.gz", names[3])],
        )];
        let c = DataCollection::open(folder, &groups, &CollectionOptions::default()).unwrap();
        let all: Vec<usize> = (0..c.len()).collect();
        detect_label_scheme(&c, "ground_truth", &all)
    };
    let old = dir.path().join("old");
    phantom(&old, "a", OLD, 0, 4.0);
    phantom(&old, "b", OLD, 1, 4.0);
    assert_eq!(detect(&old, OLD).unwrap(), LabelScheme::Brats2017);

    let new = dir.path().join("new");
    phantom(&new, "a", NEW, 0, 3.0);
    assert_eq!(detect(&new, NEW).unwrap(), LabelScheme::Brats2023);

    let mixed = dir.path().join("mixed");
    let four = phantom(&mixed, "a", OLD, 0, 4.0);
    let three = phantom(&mixed, "b", OLD, 1, 3.0);
    let msg = detect(&mixed, OLD).unwrap_err().to_string();
    assert!(msg.contains(&*four.to_string_lossy()), "{msg}");
    assert!(msg.contains(&*three.to_string_lossy()), "{msg}");

    // No enhancing label at all (the "enhancing" ring labelled oedema).
    let none = dir.path().join("none");
    phantom(&none, "a", OLD, 0, 2.0);
    let e = detect(&none, OLD).unwrap_err();
    assert!(matches!(e, TrainError::LabelScheme { .. }), "{e}");
    assert!(e.to_string().contains("--label-scheme"), "{e}");
}

#[test]
fn recipe_errors_are_one_line_and_name_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let model = tiny_model(dir.path());
    let missing = dir.path().join("missing");
    let e = glioblastoma(&options(&missing, &out, model.clone())).unwrap_err();
    assert!(matches!(e, TrainError::DataFolder { .. }), "{e}");
    assert!(e.to_string().contains("missing: no such folder"), "{e}");

    let mixed = dir.path().join("mixed");
    phantom(&mixed, "a", OLD, 0, 4.0);
    phantom(&mixed, "b", OLD, 1, 3.0);
    phantom(&mixed, "c", OLD, 2, 4.0);
    let e = glioblastoma(&options(&mixed, &out, model)).unwrap_err();
    let msg = e.to_string();
    assert_eq!(msg.lines().count(), 1);
    assert!(msg.contains("label 4") && msg.contains("label 3"), "{msg}");
    assert!(
        !out.exists(),
        "nothing is written before the data is checked"
    );
}

#[test]
fn tiny_recipe_run_writes_both_nets_and_their_registry_entries() {
    tch::set_num_threads(2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("brats23");
    for (i, case) in [
        "BraTS-GLI-00001-000",
        "BraTS-GLI-00002-000",
        "BraTS-GLI-00003-000",
    ]
    .iter()
    .enumerate()
    {
        phantom(&data, case, NEW, i, 3.0);
    }
    let out = dir.path().join("out");
    let mut opts = options(&data, &out, tiny_model(dir.path()));
    opts.half = true;
    let report = glioblastoma(&opts).unwrap();
    assert_eq!(report.label_scheme, LabelScheme::Brats2023);
    for (net, channels) in [("whole", 3), ("enhancing", 4)] {
        let d = out.join(net);
        for f in [
            "best.safetensors",
            "best.json",
            "best_f16.safetensors",
            "best_f16.json",
        ] {
            assert!(d.join(f).is_file(), "{net}/{f} missing");
        }
        let csv = std::fs::read_to_string(d.join("log.csv")).unwrap();
        assert_eq!(csv.lines().count(), 2, "{csv}");
        let cfg = UNetConfig::from_file(&d.join("best.json")).unwrap();
        assert_eq!(cfg.in_channels(), channels);
    }
    assert_eq!(report.whole.best_epoch, 1);
    assert_eq!(report.enhancing.training.train_cases.len(), 2);
    assert!(report.enhancing.val_loss.is_some());

    let registry = Registry::load(&report.models_toml).unwrap();
    assert_eq!(
        registry.names(),
        ["glioblastoma-whole", "glioblastoma-enhancing"]
    );
    for (entry, net) in registry
        .models
        .iter()
        .zip([&report.whole, &report.enhancing])
    {
        let bytes = std::fs::read(&net.weights).unwrap();
        assert_eq!(entry.size, bytes.len() as u64);
        let (sha, _) = deepneuro_registry::sha256_file(&net.weights).unwrap();
        assert_eq!(entry.sha256, sha);
        assert!(entry.file.ends_with("-f16.safetensors"), "{}", entry.file);
        assert_eq!(entry.license, "CC-BY-4.0");
        let desc = entry.description.as_deref().unwrap();
        assert!(
            desc.contains("deepneuro train --recipe glioblastoma"),
            "{desc}"
        );
        assert!(desc.contains(&*data.to_string_lossy()), "{desc}");
        assert_eq!(entry.input.orientation, "RAS");
        // As the pipeline loads a registry entry: the config table, then
        // the (f16) weights converted to the network's f32.
        let cfg = UNetConfig::from_json(&entry.config.as_ref().unwrap().to_string()).unwrap();
        assert_eq!(entry.input.shape[1] as i64, cfg.in_channels());
        let mut unet = UNet::new(cfg, tch::Device::Cpu).unwrap();
        unet.load_weights(&net.weights).unwrap();
    }
    assert_eq!(registry.models[1].input.modalities.len(), 4);
}

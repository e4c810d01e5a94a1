//! Training on generated BraTS phantoms (CPU): a small 3D U-Net learns the
//! whole tumour and is scored on a held-out phantom of another seed, with
//! an independent numpy Dice; CSV log, checkpoints and config errors.

use std::path::Path;
use std::time::Instant;

use deepneuro_data::{brats_groups, CollectionOptions, DataCollection};
use deepneuro_testkit::run_python;
use deepneuro_train::{
    evaluate_dice, pad_factor, predict_case, train, TrainConfig, TrainError, CSV_COLUMNS,
};

fn example_config() -> TrainConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/phantom_whole_tumour.toml");
    TrainConfig::from_file(&path).expect("the example config parses")
}

fn phantoms(dir: &Path, n: usize, seed: u64) {
    deepneuro_testkit::brats_phantoms(dir, n, seed, false);
}

fn one_line(e: &TrainError) -> String {
    let msg = e.to_string();
    assert_eq!(msg.lines().count(), 1, "not one line: {msg}");
    msg
}

#[test]
fn bad_configs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = TrainConfig::from_toml("[optimizer]\nkind = \"rmsprop\"\n").unwrap_err();
    let msg = one_line(&e);
    assert!(msg.contains("line 2") && msg.contains("rmsprop"), "{msg}");
    let e = TrainConfig::from_toml("epochs = 3\nlearning_rat = 0.1\n").unwrap_err();
    assert!(one_line(&e).contains("learning_rat"));

    let mut cfg = example_config();
    cfg.data.source = None;
    let msg = one_line(&train(&cfg, dir.path()).unwrap_err());
    assert!(
        msg.contains("data.source") && msg.contains("missing"),
        "{msg}"
    );

    cfg.data.source = Some("phantoms".into());
    cfg.data.groups.remove("ground_truth");
    let msg = one_line(&train(&cfg, dir.path()).unwrap_err());
    assert!(
        msg.contains("data.groups") && msg.contains("ground_truth"),
        "{msg}"
    );

    let mut cfg = example_config();
    cfg.model.cost_function = "wasserstein".into();
    let msg = one_line(&train(&cfg, dir.path()).unwrap_err());
    assert!(msg.contains("model.cost_function"), "{msg}");

    let mut cfg = example_config();
    cfg.data.source = Some("no_such_folder".into());
    let msg = one_line(&train(&cfg, dir.path()).unwrap_err());
    assert!(msg.contains("no_such_folder"), "{msg}");
}

#[test]
fn phantom_unet_reaches_dice_on_held_out_case() {
    tch::set_num_threads(2);
    let dir = tempfile::tempdir().unwrap();
    phantoms(&dir.path().join("phantoms"), 10, 1);
    phantoms(&dir.path().join("held_out"), 1, 977);

    let cfg = example_config();
    let t0 = Instant::now();
    let report = train(&cfg, dir.path()).expect("training runs");
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(report.train_cases.len(), 8);
    assert_eq!(report.validation_cases.len(), 2);
    for m in &report.epochs {
        eprintln!("{m:?}");
    }
    let last = report.epochs.last().unwrap();
    eprintln!(
        "trained {} epochs in {secs:.1} s; best epoch {}; last val Dice {:?}",
        report.epochs.len(),
        report.best_epoch,
        last.val_dice
    );

    // CSV: header and one row per epoch, epochs numbered from 1.
    let csv = std::fs::read_to_string(dir.path().join("run/log.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), report.epochs.len() + 1);
    for (k, row) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), CSV_COLUMNS.len(), "{row}");
        assert_eq!(cells[0], (k + 1).to_string());
        assert!(cells[1..].iter().all(|c| c.parse::<f64>().is_ok()), "{row}");
    }

    // Checkpoints: the best one reproduces its epoch's validation Dice.
    let best = report.best_checkpoint.clone().unwrap();
    assert_eq!(best, dir.path().join("run/checkpoints/best.safetensors"));
    assert!(best.with_extension("json").exists());
    assert!(report.last_checkpoint.as_ref().unwrap().exists());
    let model = deepneuro_models::load_model(&best, tch::Device::Cpu).unwrap();
    let train_set = DataCollection::open(
        &dir.path().join("phantoms"),
        &brats_groups(),
        &CollectionOptions::default(),
    )
    .unwrap();
    let val_idx: Vec<usize> = (0..train_set.len())
        .filter(|&i| {
            report
                .validation_cases
                .iter()
                .any(|c| c == train_set.cases()[i].id())
        })
        .collect();
    let factor = pad_factor(&cfg.model).unwrap();
    let dice = evaluate_dice(model.as_ref(), &train_set, &val_idx, &cfg.data, &factor).unwrap();
    let logged = report.epochs[report.best_epoch - 1].val_dice.unwrap();
    assert!(
        (dice - logged).abs() < 1e-6,
        "reloaded {dice} vs logged {logged}"
    );

    // The held-out phantom (another seed, never seen): ours and numpy's Dice.
    let held = DataCollection::open(
        &dir.path().join("held_out"),
        &brats_groups(),
        &CollectionOptions::default(),
    )
    .unwrap();
    let held_dice = evaluate_dice(model.as_ref(), &held, &[0], &cfg.data, &factor).unwrap();
    let probs = predict_case(model.as_ref(), &held, 0, &cfg.data, &factor).unwrap();
    assert_eq!(probs.shape(), &[1, 80, 96, 80]);
    let raw = dir.path().join("probs.f32");
    let bytes: Vec<u8> = probs.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).unwrap();
    let seg = held.cases()[0].files(1)[0].clone();
    let py = dir.path().join("dice.py");
    std::fs::write(
        &py,
        "import sys, numpy as np, nibabel as nib\n\
         p = np.fromfile(sys.argv[1], dtype='<f4').reshape(80, 96, 80) > 0.5\n\
         t = nib.load(sys.argv[2]).get_fdata() > 0\n\
         print(2.0 * (p & t).sum() / (p.sum() + t.sum()))\n",
    )
    .unwrap();
    let reference: f64 = run_python(&py, [raw.as_os_str(), seg.as_os_str()])
        .trim()
        .parse()
        .unwrap();
    eprintln!("held-out Dice: ours {held_dice:.4}, numpy {reference:.4}; training {secs:.1} s");
    assert!(
        (held_dice - reference).abs() < 1e-9,
        "{held_dice} vs {reference}"
    );
    assert!(reference >= 0.8, "held-out Dice {reference:.4} < 0.8");
}

/// The options the Dice test does not use, each in a short real run: label
/// targets (background + labels 1, 2, 4, softmax), AdamW with a step
/// schedule and early stopping; SGD with Nesterov momentum and a cyclic
/// schedule. Learning rates are checked against the closed forms of
/// PyTorch's StepLR; early stopping against the logged validation losses.
#[test]
fn label_targets_optimisers_schedules_and_early_stopping_run() {
    tch::set_num_threads(2);
    let dir = tempfile::tempdir().unwrap();
    phantoms(&dir.path().join("phantoms"), 4, 3);
    let mut cfg = example_config();
    cfg.epochs = 6;
    cfg.batch_size = 2;
    cfg.model.depth = 2;
    cfg.model.max_filter = 8;
    cfg.model.num_outputs = 4;
    cfg.model.output_activation = deepneuro_models::OutputActivation::Softmax;
    cfg.data.target = deepneuro_train::config::TargetKind::Labels;
    cfg.data.labels = vec![1, 2, 4];
    cfg.data.validation_split = 0.25;
    cfg.optimizer =
        toml::from_str("kind = 'adamw'\nlearning_rate = 0.01\nweight_decay = 0.01").unwrap();
    cfg.schedule = toml::from_str("kind = 'step'\nstep_size = 1\ngamma = 0.5").unwrap();
    // An improvement of 10 in validation loss never happens: the run stops
    // after the first epoch that fails to beat the first one.
    cfg.callbacks.early_stopping = Some(toml::from_str("patience = 1\nmin_delta = 10.0").unwrap());
    cfg.callbacks.csv_log = Some("labels/log.csv".into());
    cfg.callbacks.checkpoint_dir = None;
    cfg.callbacks.progress = false;
    let report = train(&cfg, dir.path()).expect("label training runs");
    assert!(report.stopped_early, "{report:?}");
    assert_eq!(report.epochs.len(), 2, "{report:?}");
    for (e, m) in report.epochs.iter().enumerate() {
        assert!(
            m.train_loss.is_finite() && m.val_loss.unwrap().is_finite(),
            "{m:?}"
        );
        let want = 0.01 * 0.5f64.powi(e as i32);
        assert!((m.learning_rate - want).abs() < 1e-12, "{m:?} vs {want}");
    }
    let rows = std::fs::read_to_string(dir.path().join("labels/log.csv")).unwrap();
    assert_eq!(rows.lines().count(), 3, "{rows}");

    // The model saved from a label run predicts four channels that sum to one.
    let mut cfg2 = cfg.clone();
    cfg2.epochs = 2;
    cfg2.callbacks.early_stopping = None;
    cfg2.callbacks.csv_log = None;
    cfg2.callbacks.checkpoint_dir = Some("sgd/checkpoints".into());
    cfg2.optimizer =
        toml::from_str("kind = 'sgd'\nlearning_rate = 0.01\nmomentum = 0.9\nnesterov = true")
            .unwrap();
    cfg2.schedule =
        toml::from_str("kind = 'cyclic'\nstep_size = 2\nbase_lr = 0.001\nmax_lr = 0.02").unwrap();
    let report = train(&cfg2, dir.path()).expect("SGD + cyclic training runs");
    assert_eq!(report.epochs.len(), 2);
    assert!(report.epochs.iter().all(|m| m.train_loss.is_finite()));
    let model =
        deepneuro_models::load_model(report.last_checkpoint.as_ref().unwrap(), tch::Device::Cpu)
            .unwrap();
    let x = tch::Tensor::randn([1, 4, 32, 32, 32], (tch::Kind::Float, tch::Device::Cpu));
    let y = model.predict(&x).unwrap();
    assert_eq!(y.size(), [1, 4, 32, 32, 32]);
    let sums = y.sum_dim_intlist(1, false, tch::Kind::Float);
    let worst = (sums - 1.0).abs().max().double_value(&[]);
    assert!(worst < 1e-5, "softmax channels sum to 1 within {worst}");

    // NAdam (written here, checked step by step against PyTorch in
    // `nadam_matches_pytorch`) in a real run from the config.
    let mut cfg3 = cfg2.clone();
    cfg3.callbacks.checkpoint_dir = None;
    cfg3.optimizer = toml::from_str("kind = 'nadam'\nlearning_rate = 0.01").unwrap();
    let report = train(&cfg3, dir.path()).expect("NAdam training runs");
    assert_eq!(report.epochs.len(), 2);
    assert!(report.epochs.iter().all(|m| m.train_loss.is_finite()));
}

/// Runs a reference script that prints one JSON object of number arrays and
/// returns a lookup of those arrays by key.
fn reference(script: &str) -> impl Fn(&str) -> Vec<f64> {
    let out = run_python(&deepneuro_testkit::script(script), Vec::<&str>::new());
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let script = script.to_string();
    move |k: &str| -> Vec<f64> {
        r[k].as_array()
            .unwrap_or_else(|| panic!("{script}: no array {k}"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }
}

/// The CPU, and the CUDA device `--device auto` picks where there is one:
/// the optimisers' CUDA default (flat gradients) is then checked on the
/// kernels it runs on.
fn devices() -> Vec<tch::Device> {
    let mut d = vec![tch::Device::Cpu];
    let auto = deepneuro_core::parse_device("auto").expect("auto always parses");
    if auto.is_cuda() {
        d.push(auto);
    }
    eprintln!("optimisers checked on {d:?}");
    d
}

/// Each optimiser takes the same twelve steps as its `torch.optim`
/// counterpart (scripts/fixtures/optim_reference.py): weight decay (added
/// to the gradient, or decoupled for AdamW), betas, momentum with and
/// without Nesterov, and a learning rate changed half-way, on a fixed
/// smooth objective. Both gradient layouts (flat, the CUDA default, and
/// per variable, the CPU default) are checked, on each of [`devices`].
#[test]
fn optimisers_match_pytorch() {
    use deepneuro_train::{Optimizer, OptimizerConfig, OptimizerKind};
    use tch::{Device, Kind, Tensor};
    let values = reference("fixtures/optim_reference.py");
    let base = OptimizerConfig::default();
    let cases = [
        (
            "adam",
            OptimizerConfig {
                kind: OptimizerKind::Adam,
                beta2: 0.99,
                weight_decay: 0.01,
                ..base.clone()
            },
        ),
        (
            "adamw",
            OptimizerConfig {
                kind: OptimizerKind::Adamw,
                beta1: 0.8,
                weight_decay: 0.1,
                ..base.clone()
            },
        ),
        (
            "sgd",
            OptimizerConfig {
                kind: OptimizerKind::Sgd,
                momentum: 0.9,
                weight_decay: 0.01,
                ..base.clone()
            },
        ),
        (
            "sgd_nesterov",
            OptimizerConfig {
                kind: OptimizerKind::Sgd,
                momentum: 0.8,
                nesterov: true,
                ..base.clone()
            },
        ),
        (
            "nadam",
            OptimizerConfig {
                kind: OptimizerKind::Nadam,
                beta2: 0.99,
                weight_decay: 0.01,
                ..base.clone()
            },
        ),
    ];
    let runs = devices().into_iter().flat_map(|device| {
        cases
            .iter()
            .flat_map(move |c| [(device, c, true), (device, c, false)])
    });
    for (device, (name, cfg), flat) in runs {
        // Float32 parameters and constants, as in the script.
        let tensor = |k: &str| {
            Tensor::from_slice(&values(k))
                .to_kind(Kind::Float)
                .to_device(device)
        };
        let c1 = tensor("c1").view([3, 4]);
        let c2 = tensor("c2");
        let a = tensor("a0").view([3, 4]).set_requires_grad(true);
        let b = tensor("b0").set_requires_grad(true);
        let mut opt = Optimizer::new(cfg, vec![a.shallow_clone(), b.shallow_clone()], 0.05)
            .unwrap()
            .with_flat_gradients(flat);
        for step in 0..12 {
            if step == 6 {
                opt.set_lr(0.02);
            }
            let loss = (&c1 * &a * &a).sum(Kind::Float)
                + (b.sin() * &c2).sum(Kind::Float)
                + a.sum(Kind::Float) * b.sum(Kind::Float);
            opt.backward(&loss).unwrap();
            opt.step().unwrap();
        }
        let values_of = |t: &Tensor| -> Vec<f64> {
            let t = t.detach().to_device(Device::Cpu).to_kind(Kind::Double);
            Vec::<f64>::try_from(t.flatten(0, -1)).unwrap()
        };
        let key = |p: &str| format!("{name}_{p}");
        let what = |p: &str| format!("{} ({device:?}, flat gradients: {flat})", key(p));
        deepneuro_testkit::assert_close(&what("a"), &values_of(&a), &values(&key("a")), 1e-5);
        deepneuro_testkit::assert_close(&what("b"), &values_of(&b), &values(&key("b")), 1e-5);
        // The parameters moved: the comparison is not of two unchanged copies.
        assert!(
            values_of(&a)
                .iter()
                .zip(values("a0"))
                .any(|(x, y)| (x - y).abs() > 0.05),
            "{name} left a where it was"
        );
    }
}

/// The loss scaler of mixed-precision training takes the same steps and
/// keeps the same scale as PyTorch's `torch.amp.GradScaler`
/// (scripts/fixtures/grad_scaler_reference.py): two overflowing steps are
/// skipped and halve the scale, three good steps in a row double it.
#[test]
fn grad_scaler_matches_pytorch() {
    use deepneuro_train::{GradScaler, Optimizer, OptimizerConfig, OptimizerKind};
    use tch::{Device, Kind, Tensor};
    let values = reference("fixtures/grad_scaler_reference.py");
    let sgd = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        ..OptimizerConfig::default()
    };
    // Both gradient layouts, flat (the CUDA default) and per variable, on
    // each device.
    let runs = devices()
        .into_iter()
        .flat_map(|device| [(device, true), (device, false)]);
    for (device, flat) in runs {
        let c = Tensor::from_slice(&values("c"))
            .to_kind(Kind::Float)
            .to_device(device);
        let vs = tch::nn::VarStore::new(device);
        let p = vs
            .root()
            .var_copy("p", &Tensor::from_slice(&values("p0")).to_kind(Kind::Float));
        let mut opt = Optimizer::new(&sgd, vs.trainable_variables(), 0.1)
            .unwrap()
            .with_flat_gradients(flat);
        let mut scaler = GradScaler::new(true).with_schedule(1024.0, 3);
        let mut scales = Vec::new();
        let mut stepped = Vec::new();
        for step in 0..10 {
            let mut loss = (&c * &p * &p).sum(Kind::Float);
            if step == 2 || step == 6 {
                loss *= f64::INFINITY;
            }
            stepped.push(scaler.backward_step(&loss, &mut opt).unwrap());
            scales.push(scaler.scale());
        }
        let run = format!("{device:?}, flat gradients: {flat}");
        assert_eq!(
            scales,
            values("scales"),
            "the scale after each step ({run})"
        );
        let skipped: Vec<usize> = (0..10).filter(|&i| !stepped[i]).collect();
        assert_eq!(
            skipped,
            [2, 6],
            "the overflowing steps are the skipped ones ({run})"
        );
        let got = p.detach().to_device(Device::Cpu).to_kind(Kind::Double);
        let got = Vec::<f64>::try_from(got).unwrap();
        let what = format!("GradScaler p ({run})");
        deepneuro_testkit::assert_close(&what, &got, &values("p"), 1e-6);
    }
    // A disabled scaler scales nothing.
    assert_eq!(GradScaler::new(false).scale(), 1.0);
}

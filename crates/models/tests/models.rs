//! deepneuro-models against PyTorch: U-Net outputs, loss values and loss
//! gradients from `scripts/fixtures/unet_parity.py`, run at test time; the
//! paper configurations; errors on bad input.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use deepneuro_models::losses::{
    binary_cross_entropy, categorical_cross_entropy, dice_ce_loss, focal_loss, soft_dice_loss,
    wasserstein_critic_loss, DiceCeOptions, DiceOptions,
};
use deepneuro_models::{load_model, Forward, Model, ModelError, UNet, UNetConfig};
use deepneuro_testkit::{read_json, read_npy, run_python, script, workspace_root};
use tch::{Device, Kind, Tensor};

/// The reference outputs, written once per test binary.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        tch::set_num_threads(2);
        let dir = tempfile::tempdir().expect("temp dir");
        run_python(&script("fixtures/unet_parity.py"), [dir.path()]);
        dir
    })
    .path()
}

fn npy_tensor(path: &Path) -> Tensor {
    let npy = read_npy(path);
    let data: Vec<f32> = npy.data.iter().map(|&v| v as f32).collect();
    let shape: Vec<i64> = npy.shape.iter().map(|&s| s as i64).collect();
    Tensor::from_slice(&data).reshape(shape.as_slice())
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("a numeric tensor")
}

/// Max abs difference, after checking the shapes agree.
fn max_abs_diff(what: &str, actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.size(), expected.size(), "{what}: shape differs");
    let (a, b) = (to_vec(actual), to_vec(expected));
    a.iter()
        .zip(&b)
        .map(|(x, y)| {
            if x.is_nan() || y.is_nan() {
                f64::INFINITY
            } else {
                (x - y).abs()
            }
        })
        .fold(0.0, f64::max)
}

#[test]
fn unet_variants_match_pytorch() {
    let dir = fixtures();
    let manifest = read_json(&dir.join("manifest.json"));
    let names: Vec<&str> = manifest["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| v.as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 8, "the script builds 8 variants");
    for name in names {
        let weights = dir.join(format!("{name}.safetensors"));
        // load_model picks the native U-Net from the extension and reads NAME.json beside it.
        let model = load_model(&weights, Device::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = npy_tensor(&dir.join(format!("{name}_input.npy")));
        let expected = npy_tensor(&dir.join(format!("{name}_output.npy")));
        let y = model.predict(&x).unwrap_or_else(|e| panic!("{name}: {e}"));
        let diff = max_abs_diff(name, &y, &expected);
        println!("{name}: output {:?}, max abs diff {diff:e}", y.size());
        assert!(diff <= 1e-4, "{name}: max abs diff {diff:e} > 1e-4");
        // Forward (the patch-inference trait) gives the same as predict.
        let f = tch::no_grad(|| Forward::forward(model.as_ref(), &x)).expect("forward");
        assert_eq!(max_abs_diff(name, &f, &y), 0.0);
    }
    let traced = manifest["traced"].as_str().expect("traced");
    let ts = load_model(&dir.join("traced.pt"), Device::Cpu).expect("TorchScript model");
    let x = npy_tensor(&dir.join(format!("{traced}_input.npy")));
    let expected = npy_tensor(&dir.join(format!("{traced}_output.npy")));
    let diff = max_abs_diff("traced", &ts.predict(&x).expect("predict"), &expected);
    println!("traced.pt ({traced}): max abs diff {diff:e}");
    assert!(diff <= 1e-4, "TorchScript: max abs diff {diff:e} > 1e-4");
}

type LossFn = dyn Fn(&Tensor, &Tensor) -> Result<Tensor, ModelError>;

#[test]
fn losses_and_gradients_match_pytorch() {
    let dir = fixtures();
    let manifest = read_json(&dir.join("manifest.json"));
    let dice_batch = DiceOptions {
        smooth_nr: 1.0,
        smooth_dr: 1.0,
        batch: true,
        include_background: false,
    };
    let cases: Vec<(&str, Box<LossFn>)> = vec![
        (
            "dice",
            Box::new(|p, t| soft_dice_loss(p, t, &DiceOptions::default())),
        ),
        (
            "dice_batch_nobg",
            Box::new(move |p, t| soft_dice_loss(p, t, &dice_batch)),
        ),
        (
            "dice_ce",
            Box::new(|p, t| dice_ce_loss(p, t, &DiceCeOptions::default())),
        ),
        ("focal", Box::new(|p, t| focal_loss(p, t, 2.0, Some(0.25)))),
        (
            "focal_noalpha",
            Box::new(|p, t| focal_loss(p, t, 1.5, None)),
        ),
        ("bce", Box::new(binary_cross_entropy)),
        ("cce", Box::new(categorical_cross_entropy)),
    ];
    for (key, loss_fn) in cases {
        let f = |s: &str| dir.join(format!("loss_{key}_{s}.npy"));
        let x = npy_tensor(&f("input")).set_requires_grad(true);
        let target = npy_tensor(&f("target"));
        let loss = loss_fn(&x, &target).unwrap_or_else(|e| panic!("{key}: {e}"));
        loss.backward();
        let value = loss.double_value(&[]);
        let expected = manifest["losses"][key].as_f64().expect("loss value");
        let grad_diff = max_abs_diff(key, &x.grad(), &npy_tensor(&f("grad")));
        println!(
            "{key}: loss {value} vs {expected} (diff {:e}), grad max abs diff {grad_diff:e}",
            (value - expected).abs()
        );
        assert!(
            (value - expected).abs() <= 1e-5,
            "{key}: loss {value} vs PyTorch {expected}"
        );
        assert!(
            grad_diff <= 1e-4,
            "{key}: gradient max abs diff {grad_diff:e} > 1e-4"
        );
    }

    // WGAN-GP: the loss and its gradient with respect to the critic's weights,
    // which runs through the penalty's double backward.
    let w_path = |s: &str| dir.join(format!("wgan_{s}.npy"));
    let w = npy_tensor(&w_path("w")).set_requires_grad(true);
    let critic = |x: &Tensor| -> Result<Tensor, tch::TchError> {
        x.f_tanh()?
            .f_mul(&w)?
            .f_flatten(1, -1)?
            .f_sum_dim_intlist(&[1i64][..], false, Kind::Float)
    };
    let (real, fake, eps) = (
        npy_tensor(&w_path("real")),
        npy_tensor(&w_path("fake")),
        npy_tensor(&w_path("eps")),
    );
    let loss = wasserstein_critic_loss(critic, &real, &fake, &eps, 10.0).expect("WGAN-GP loss");
    loss.backward();
    let value = loss.double_value(&[]);
    let expected = manifest["losses"]["wgan"].as_f64().expect("wgan");
    let grad_diff = max_abs_diff("wgan grad_w", &w.grad(), &npy_tensor(&w_path("grad_w")));
    println!("wgan: loss {value} vs {expected}, grad_w max abs diff {grad_diff:e}");
    assert!(
        (value - expected).abs() <= 1e-4 * expected.abs().max(1.0),
        "wgan loss {value} vs {expected}"
    );
    assert!(grad_diff <= 1e-4, "wgan grad_w max abs diff {grad_diff:e}");
}

fn config_file(name: &str) -> PathBuf {
    workspace_root().join("crates/models/configs").join(name)
}

#[test]
fn paper_configurations_build_and_run() {
    tch::set_num_threads(2);
    for (file, input, output) in [
        (
            "skull_stripping.toml",
            [1i64, 2, 64, 64, 8],
            [1i64, 1, 64, 64, 8],
        ),
        ("glioblastoma.toml", [1, 3, 32, 32, 32], [1, 1, 32, 32, 32]),
    ] {
        let config = UNetConfig::from_file(&config_file(file)).unwrap_or_else(|e| panic!("{e}"));
        let net = UNet::new(config, Device::Cpu).unwrap_or_else(|e| panic!("{file}: {e}"));
        let x = Tensor::randn(input, (Kind::Float, Device::Cpu));
        let y = net.predict(&x).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(y.size(), output.to_vec(), "{file}");
        let (lo, hi) = (y.min().double_value(&[]), y.max().double_value(&[]));
        assert!(
            (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi),
            "{file}: sigmoid output in [{lo}, {hi}]"
        );
    }
    // DeepNeuro's filter rule for the skull-stripping net.
    let c = UNetConfig::from_file(&config_file("skull_stripping.toml")).unwrap();
    assert_eq!(c.encoder_widths(0), vec![32, 64]);
    assert_eq!(c.encoder_widths(3), vec![256, 512]);
    assert_eq!(c.decoder_widths(2), vec![256, 128]);
    assert_eq!(c.decoder_widths(0), vec![64, 32]);
}

fn small() -> UNetConfig {
    UNetConfig {
        input_shape: vec![8, 8, 4, 1],
        pool_size: vec![2, 2, 1],
        depth: 2,
        max_filter: 8,
        ..UNetConfig::default()
    }
}

fn message(r: Result<impl std::fmt::Debug, ModelError>) -> String {
    let e = r.expect_err("an error");
    let m = e.to_string();
    assert!(!m.contains('\n'), "one-line message: {m}");
    m
}

#[test]
fn bad_configs_weights_and_inputs_are_clear_errors() {
    let too_deep = UNetConfig {
        depth: 5,
        ..small()
    };
    let m = message(UNet::new(too_deep, Device::Cpu));
    assert!(
        m.contains("depth 5 is too large") && m.contains("axis 0 of size 8"),
        "{m}"
    );
    let m = message(UNetConfig::from_toml("block = \"capsule\""));
    assert!(m.contains("capsule") && m.contains("residual"), "{m}");
    let m = message(UNetConfig::from_toml("activation = \"swish\""));
    assert!(m.contains("swish"), "{m}");
    let m = message(UNetConfig::from_json(r#"{"layer_order": "conv-act"}"#));
    assert!(m.contains("layer_order"), "{m}");
    let m = message(UNetConfig::from_json(r#"{"kernel_size": [4]}"#));
    assert!(m.contains("kernel_size"), "{m}");
    let m = message(UNetConfig::from_json(r#"{"cost_function": "hinge"}"#));
    assert!(m.contains("hinge"), "{m}");
    let m = message(UNetConfig::from_json(r#"{"max_filtre": 4}"#));
    assert!(m.contains("max_filtre"), "{m}");

    // Weights saved for one config, loaded for another.
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.safetensors");
    let net = UNet::new(small(), Device::Cpu).unwrap();
    net.save(&a).unwrap();
    let mut wider = UNet::new(
        UNetConfig {
            max_filter: 16,
            ..small()
        },
        Device::Cpu,
    )
    .unwrap();
    let m = message(wider.load_weights(&a));
    assert!(m.contains("a.safetensors") && m.contains("shape"), "{m}");
    let mut residual = UNet::new(
        UNetConfig {
            block: deepneuro_models::BlockType::Residual,
            ..small()
        },
        Device::Cpu,
    )
    .unwrap();
    let m = message(residual.load_weights(&a));
    assert!(m.contains("missing") && m.contains("shortcut"), "{m}");

    // Round trip through the file pair, and bad files.
    let back = load_model(&a, Device::Cpu).expect("reload");
    let x = Tensor::randn([2, 1, 8, 8, 4], (Kind::Float, Device::Cpu));
    let diff = max_abs_diff(
        "round trip",
        &back.predict(&x).unwrap(),
        &net.predict(&x).unwrap(),
    );
    assert_eq!(diff, 0.0);
    let m = message(back.predict(&Tensor::zeros([1, 2, 8, 8, 4], (Kind::Float, Device::Cpu))));
    assert!(
        m.contains("[1, 2, 8, 8, 4]") && m.contains("1 channels"),
        "{m}"
    );
    let m = message(back.predict(&Tensor::zeros([1, 1, 5, 8, 4], (Kind::Float, Device::Cpu))));
    assert!(m.contains("not divisible"), "{m}");
    let m = message(load_model(&dir.path().join("a.onnx"), Device::Cpu));
    assert!(m.contains("unsupported model file"), "{m}");
    std::fs::write(dir.path().join("b.json"), small().to_json()).unwrap();
    std::fs::write(dir.path().join("b.safetensors"), b"not safetensors").unwrap();
    let m = message(load_model(&dir.path().join("b.safetensors"), Device::Cpu));
    assert!(m.contains("b.safetensors"), "{m}");
    std::fs::write(dir.path().join("c.pt"), b"not torchscript").unwrap();
    let m = message(load_model(&dir.path().join("c.pt"), Device::Cpu));
    assert!(m.contains("c.pt") && m.contains("TorchScript"), "{m}");
    let m = message(load_model(
        &dir.path().join("missing.safetensors"),
        Device::Cpu,
    ));
    assert!(m.contains("missing.json"), "{m}");
}

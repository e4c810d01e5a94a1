//! Patch inference against MONAI 1.6.1's `sliding_window_inference`, run at
//! test time by scripts/fixtures/infer_monai.py on the same TorchScript
//! models and inputs; and the errors on bad input.

use std::path::Path;

use deepneuro_infer::{
    predict_volume, sliding_window, Blend, Forward, InferError, SlidingWindowOptions, TorchScript,
};
use deepneuro_testkit::{read_json, read_npy, run_python, script};
use deepneuro_volume::{Affine, DType};
use tch::{Device, Kind, TchError, Tensor};

/// The reference tolerance: the largest absolute difference allowed.
const TOL: f64 = 1e-4;

fn load(path: &Path) -> Tensor {
    let npy = read_npy(path);
    let data: Vec<f32> = npy.data.iter().map(|v| *v as f32).collect();
    let shape: Vec<i64> = npy.shape.iter().map(|s| *s as i64).collect();
    Tensor::from_slice(&data).view(shape.as_slice())
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a - b).abs().max().double_value(&[])
}

fn options(case: &serde_json::Value) -> SlidingWindowOptions {
    let ints = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect()
    };
    let overlap = match &case["overlap"] {
        serde_json::Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap()).collect(),
        v => vec![v.as_f64().unwrap()],
    };
    SlidingWindowOptions {
        roi_size: ints(&case["roi"]),
        overlap,
        blend: match case["mode"].as_str().unwrap() {
            "constant" => Blend::Constant,
            _ => Blend::gaussian(),
        },
        cval: case["cval"].as_f64().unwrap(),
        sw_batch_size: case["sw"].as_u64().unwrap() as usize,
        center_crop: (!case["center_crop"].is_null()).then(|| ints(&case["center_crop"])),
        skip_empty: case["skip_empty"].as_f64().map(|v| v as f32),
        ..Default::default()
    }
}

#[test]
fn sliding_window_matches_monai_and_predict_volume_keeps_geometry() {
    tch::set_num_threads(2);
    let dir = tempfile::tempdir().unwrap();
    run_python(&script("fixtures/infer_monai.py"), [dir.path()]);
    let cases = read_json(&dir.path().join("cases.json"));
    let cases = cases.as_array().unwrap();
    assert!(
        cases.len() >= 38,
        "expected every configuration, got {}",
        cases.len()
    );
    let model3d = TorchScript::load(dir.path().join("model3d.pt"), Device::Cpu).unwrap();
    let model2d = TorchScript::load(dir.path().join("model2d.pt"), Device::Cpu).unwrap();
    let mut worst = 0.0f64;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let model = match case["model"].as_str().unwrap() {
            "model3d" => &model3d,
            _ => &model2d,
        };
        let x = load(
            &dir.path()
                .join(format!("{}.npy", case["input"].as_str().unwrap())),
        );
        let expected = load(&dir.path().join(format!("{name}.npy")));
        let got = sliding_window(model, &x, &options(case)).unwrap();
        let diff = max_abs_diff(&got, &expected);
        eprintln!("{name}: max |ours - MONAI| = {diff:.3e}");
        assert!(diff <= TOL, "{name}: max abs diff {diff:e} > {TOL:e}");
        worst = worst.max(diff);
    }
    eprintln!("{} cases, worst max abs diff {worst:.3e}", cases.len());

    // The skip_empty reference is zero where only empty windows reach, so
    // the option visibly changes the result there.
    let skip = load(&dir.path().join("in3d_skip.npy"));
    assert_eq!(skip.narrow(2, 0, 21).abs().max().double_value(&[]), 0.0);
    let x = load(&dir.path().join("in3d_slab.npy"));
    let mut no_skip = case_named(cases, "in3d_skip");
    no_skip["skip_empty"] = serde_json::Value::Null;
    let plain = sliding_window(&model3d, &x, &options(&no_skip)).unwrap();
    assert!(
        max_abs_diff(&plain, &skip) > 1e-2,
        "skip_empty changed nothing"
    );

    // predict_volume: the same windows over a Volume, the affine kept.
    let x = load(&dir.path().join("in3d.npy"));
    let mut affine = Affine::identity();
    affine[(0, 0)] = -1.5;
    affine[(1, 3)] = 12.0;
    let vol = deepneuro_core::volume_from_tensor(&x, affine, DType::F32).unwrap();
    let case = case_named(cases, "in3d_o0.5_gaussian_sw4");
    let out = predict_volume(&model3d, &vol, &options(&case), Device::Cpu).unwrap();
    assert_eq!(out.shape(), [3, 37, 45, 29]);
    assert_eq!(out.affine(), &affine);
    let expected = load(&dir.path().join("in3d_o0.5_gaussian_sw4.npy"));
    let got = deepneuro_core::to_tensor(&out, Device::Cpu).unsqueeze(0);
    let diff = max_abs_diff(&got, &expected);
    eprintln!("predict_volume (windows): {diff:.3e}");
    assert!(diff <= TOL);
    // No window: one forward pass over the whole volume.
    let out = predict_volume(
        &model3d,
        &vol,
        &SlidingWindowOptions::default(),
        Device::Cpu,
    )
    .unwrap();
    let expected = load(&dir.path().join("in3d_whole.npy"));
    let got = deepneuro_core::to_tensor(&out, Device::Cpu).unsqueeze(0);
    let diff = max_abs_diff(&got, &expected);
    eprintln!("predict_volume (whole): {diff:.3e}");
    assert!(diff <= TOL);
}

/// The case called `name`.
fn case_named(cases: &[serde_json::Value], name: &str) -> serde_json::Value {
    cases
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone()
}

/// A model that adds its input's channels: known output, no TorchScript.
struct SumChannels;

impl Forward for SumChannels {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_sum_dim_intlist(1i64, true, Kind::Float)
    }
}

/// A model that returns its input, as a view.
struct Identity;

impl Forward for Identity {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        Ok(x.shallow_clone())
    }
}

/// A model that returns one channel more from its third call on.
struct Fickle(std::cell::Cell<usize>);

impl Forward for Fickle {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        self.0.set(self.0.get() + 1);
        match self.0.get() {
            1 | 2 => Ok(x.shallow_clone()),
            _ => Tensor::f_cat(&[x, &x.f_narrow(1, 0, 1)?], 1),
        }
    }
}

/// A model that shrinks its input, which patch inference cannot stitch.
struct Shrink;

impl Forward for Shrink {
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_narrow(2, 0, 2)
    }
}

#[test]
fn bad_input_gives_errors() {
    let x = Tensor::ones([1, 2, 20, 20, 20], (Kind::Float, Device::Cpu));
    let opts = |roi: Vec<i64>, overlap: f64| SlidingWindowOptions {
        roi_size: roi,
        overlap: vec![overlap],
        ..Default::default()
    };
    let run = |x: &Tensor, o: &SlidingWindowOptions| sliding_window(&SumChannels, x, o);
    let err = run(&x, &opts(vec![8, 8], 0.25)).unwrap_err();
    assert!(matches!(err, InferError::RoiRank { .. }), "{err}");
    assert!(err.to_string().contains("3 spatial axes"), "{err}");
    for o in [1.0, -0.1, f64::NAN] {
        let err = run(&x, &opts(vec![8, 8, 8], o)).unwrap_err();
        assert!(matches!(err, InferError::Overlap(_)), "{o}: {err}");
    }
    let mut o = opts(vec![8, 8, 8], 0.5);
    o.overlap = vec![0.5, 0.5];
    assert!(matches!(run(&x, &o), Err(InferError::Overlap(_))));
    let empty = Tensor::ones([1, 2, 0, 20, 20], (Kind::Float, Device::Cpu));
    let err = run(&empty, &opts(vec![8, 8, 8], 0.25)).unwrap_err();
    assert!(matches!(err, InferError::EmptyInput(_)), "{err}");
    let flat = Tensor::ones([2, 20], (Kind::Float, Device::Cpu));
    assert!(matches!(
        run(&flat, &opts(vec![], 0.25)),
        Err(InferError::InputRank(_))
    ));
    let ints = Tensor::ones([1, 1, 20, 20], (Kind::Int64, Device::Cpu));
    assert!(matches!(
        run(&ints, &opts(vec![8, 8], 0.25)),
        Err(InferError::InputKind(_))
    ));
    let mut o = opts(vec![8, 8, 8], 0.25);
    o.sw_batch_size = 0;
    assert!(matches!(run(&x, &o), Err(InferError::BatchSize)));
    o.sw_batch_size = 2;
    o.center_crop = Some(vec![4, 9, 4]);
    assert!(matches!(run(&x, &o), Err(InferError::CenterCrop { .. })));
    o.center_crop = None;
    o.blend = Blend::Gaussian { sigma_scale: 0.0 };
    assert!(matches!(run(&x, &o), Err(InferError::SigmaScale(_))));
    let err = sliding_window(&Shrink, &x, &opts(vec![8, 8, 8], 0.25)).unwrap_err();
    assert!(matches!(err, InferError::OutputShape { .. }), "{err}");
}

#[test]
fn known_model_and_all_skipped_windows() {
    // Summing channels commutes with stitching: any window layout and blend
    // gives the channel sum back, padding included.
    let x = Tensor::randn([2, 3, 11, 7, 5], (Kind::Float, Device::Cpu));
    let expected = x.sum_dim_intlist(1i64, true, Kind::Float);
    for blend in [Blend::Constant, Blend::gaussian()] {
        let o = SlidingWindowOptions {
            roi_size: vec![4, 9, 3],
            overlap: vec![0.6],
            blend,
            sw_batch_size: 5,
            center_crop: Some(vec![2, 5, 3]),
            ..Default::default()
        };
        let got = sliding_window(&SumChannels, &x, &o).unwrap();
        assert!(max_abs_diff(&got, &expected) < 1e-5, "{blend:?}");
        // In double precision the output keeps the input's kind.
        let got = sliding_window(&SumChannels, &x.to_kind(Kind::Double), &o).unwrap();
        assert_eq!(got.kind(), Kind::Double);
        let diff = max_abs_diff(&got.to_kind(Kind::Float), &expected);
        assert!(diff < 1e-5, "f64 {blend:?}: {diff:e}");
    }
    // A model that returns its input: the prediction is the reused batch
    // buffer itself, which must be added up before the buffer is refilled.
    // One window per batch, many batches.
    let o = SlidingWindowOptions {
        roi_size: vec![3, 4, 2],
        overlap: vec![0.5],
        sw_batch_size: 1,
        ..Default::default()
    };
    let got = sliding_window(&Identity, &x, &o).unwrap();
    let diff = max_abs_diff(&got, &x);
    assert!(diff < 1e-6, "identity: {diff:e}");
    // A model whose number of output channels changes between batches is
    // an error naming the shapes.
    let err = sliding_window(&Fickle(std::cell::Cell::new(0)), &x, &o).unwrap_err();
    assert!(matches!(err, InferError::OutputShape { .. }), "{err}");
    // Every window empty: the output is zero with the model's channels.
    let zeros = Tensor::zeros([1, 2, 9, 9], (Kind::Float, Device::Cpu));
    let o = SlidingWindowOptions {
        roi_size: vec![4, 4],
        skip_empty: Some(0.0),
        ..Default::default()
    };
    let got = sliding_window(&SumChannels, &zeros, &o).unwrap();
    assert_eq!(got.size(), vec![1, 1, 9, 9]);
    assert_eq!(got.abs().max().double_value(&[]), 0.0);
}

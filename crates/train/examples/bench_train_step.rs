//! The Rust side of scripts/bench/train_step_bench.py.
//!
//! Usage: bench_train_step MODEL.toml BATCH STEPS THREADS DEVICE AMP(0|1)
//!
//! Builds the U-Net of MODEL.toml as the training loop does (logits out, the
//! configured activation inside the loss), the default Adam optimiser, and
//! one fixed random batch (inputs ~ N(0, 1), targets a random binary mask)
//! on DEVICE (AMP 1: mixed precision, CUDA only), then times STEPS calls of
//! `deepneuro_train::train_step` after two warm-up steps. Prints
//! `{"step_seconds": [...], "median": s, "samples_per_second": n,
//! "parameters": n}`.

use std::time::Instant;

use deepneuro_models::{OutputActivation, UNet, UNetConfig};
use deepneuro_train::config::OptimizerConfig;
use deepneuro_train::{build_optimizer, train_step, GradScaler};
use tch::{Kind, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    deepneuro_core::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        return Err("usage: bench_train_step MODEL.toml BATCH STEPS THREADS DEVICE AMP".into());
    }
    let cfg = UNetConfig::from_file(std::path::Path::new(&args[1]))?;
    let batch: i64 = args[2].parse()?;
    let steps: usize = args[3].parse()?;
    tch::set_num_threads(args[4].parse()?);
    let device = deepneuro_core::parse_device(&args[5])?;
    // Mixed precision as the training loop runs it: autocast and loss scaling.
    let mut scaler = GradScaler::new(args[6] == "1" && device.is_cuda());
    tch::manual_seed(7);

    let act = cfg.output_activation;
    let mut logits_cfg = cfg.clone();
    logits_cfg.output_activation = OutputActivation::None;
    let net = UNet::new(logits_cfg, device)?;
    let mut opt = build_optimizer(&OptimizerConfig::default(), &net, cfg.initial_learning_rate)?;
    let spatial: Vec<i64> = cfg.input_shape[..cfg.input_shape.len() - 1].to_vec();
    let channels = *cfg.input_shape.last().unwrap();
    let mut xs = vec![batch, channels];
    xs.extend(&spatial);
    let mut ts = vec![batch, cfg.num_outputs];
    ts.extend(&spatial);
    let x = Tensor::randn(xs.as_slice(), (Kind::Float, device));
    let t = Tensor::rand(ts.as_slice(), (Kind::Float, device))
        .gt(0.5)
        .to_kind(Kind::Float);

    let cost = cfg.cost_function.clone();
    let mut times = Vec::with_capacity(steps);
    for i in 0..steps + 2 {
        let t0 = Instant::now();
        train_step(&net, &mut opt, &x, &t, &cost, act, &mut scaler)?;
        if i >= 2 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let parameters: i64 = net
        .var_store()
        .trainable_variables()
        .iter()
        .map(|v| v.numel() as i64)
        .sum();
    println!(
        "{}",
        serde_json::json!({
            "step_seconds": times,
            "median": median,
            "samples_per_second": batch as f64 / median,
            "parameters": parameters,
        })
    );
    Ok(())
}

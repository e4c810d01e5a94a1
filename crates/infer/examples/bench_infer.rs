//! The Rust side of scripts/bench/patch_infer_bench.py.
//!
//! Usage: bench_infer MODEL.pt INPUT.npy SW_BATCH_SIZE [REPEATS] [THREADS]
//!
//! Loads the TorchScript model and the `[1, c, x, y, z]` input, then times,
//! in rounds that alternate them: the floor (the bare forward passes of as
//! many windows, in batches of the same sizes, in this process);
//! `sliding_window` (roi 96^3, overlap 0.5, constant blending); and the
//! window loop alone, with a model that costs nothing. Prints one JSON
//! line: the medians and minima and every run.

use std::time::Instant;

use deepneuro_infer::{sliding_window, window_count, Forward, SlidingWindowOptions, TorchScript};
use tch::{Device, Kind, Tensor};

/// A model that costs (almost) nothing: its output is a view of the first
/// three input channels, so timing the sliding window with it measures what
/// the window loop adds to the forward passes.
struct Noop;

impl Forward for Noop {
    fn forward(&self, x: &Tensor) -> Result<Tensor, tch::TchError> {
        x.f_narrow(1, 0, 3)
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn timed(
    f: impl FnOnce() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    f()?;
    Ok(t0.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    deepneuro_core::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err(
            "usage: bench_infer MODEL.pt INPUT.npy SW_BATCH_SIZE [REPEATS] [THREADS]".into(),
        );
    }
    let sw: usize = args[3].parse()?;
    let repeats: usize = args.get(4).map_or(Ok(3), |s| s.parse())?;
    let threads: i32 = args.get(5).map_or(Ok(2), |s| s.parse())?;
    tch::set_num_threads(threads);
    let model = TorchScript::load(&args[1], Device::Cpu)?;
    let x = Tensor::read_npy(&args[2])?.to_kind(Kind::Float);
    let opts = SlidingWindowOptions {
        roi_size: vec![96, 96, 96],
        overlap: vec![0.5],
        sw_batch_size: sw,
        ..Default::default()
    };
    let patches = window_count(&x.size(), &opts)? * x.size()[0] as usize;
    // The batch sizes the sliding window uses: full ones, then the rest.
    let sizes: Vec<i64> = (0..patches)
        .step_by(sw)
        .map(|s| (patches - s).min(sw) as i64)
        .collect();
    let c = x.size()[1];
    let floor_inputs: Vec<Tensor> = sizes
        .iter()
        .map(|m| Tensor::randn([*m, c, 96, 96, 96], (Kind::Float, Device::Cpu)))
        .collect();
    // TorchScript profiles the first calls of each input shape before it
    // optimises, so every shape runs twice untimed.
    for _ in 0..2 {
        let _ = model.forward(&floor_inputs[0])?;
        let _ = model.forward(&floor_inputs[floor_inputs.len() - 1])?;
    }
    let (mut floor, mut ours, mut loop_only) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats {
        floor.push(timed(|| {
            for b in &floor_inputs {
                let _ = model.forward(b)?;
            }
            Ok(())
        })?);
        ours.push(timed(|| {
            sliding_window(&model, &x, &opts)
                .map(drop)
                .map_err(Into::into)
        })?);
        loop_only.push(timed(|| {
            sliding_window(&Noop, &x, &opts)
                .map(drop)
                .map_err(Into::into)
        })?);
    }
    println!(
        "{{\"seconds\": {}, \"floor_seconds\": {}, \"seconds_min\": {}, \"floor_seconds_min\": {}, \"loop_seconds\": {}, \"patches\": {patches}, \"batch_size\": {sw}, \"runs\": {ours:?}, \"floor_runs\": {floor:?}}}",
        median(&ours),
        median(&floor),
        min(&ours),
        min(&floor),
        median(&loop_only),
    );
    Ok(())
}

//! The Rust side of scripts/bench/patch_infer_bench.py.
//!
//! Usage: bench_infer MODEL.pt INPUT.npy SW_BATCH_SIZE [REPEATS] [THREADS]
//!
//! Loads the TorchScript model and the `[1, c, x, y, z]` input, then times
//! `sliding_window` (roi 96^3, overlap 0.5, constant blending) and the floor:
//! the bare forward passes of as many windows, in batches of the same sizes,
//! in this process; and the loop alone, with a model that only copies.
//! Runs alternate and the medians are printed as JSON: `{"seconds",
//! "floor_seconds", "patches", "batch_size", "loop_seconds", "runs",
//! "floor_runs"}`.

use std::time::Instant;

use deepneuro_infer::{sliding_window, window_count, Forward, SlidingWindowOptions, TorchScript};
use tch::{Device, Kind, Tensor};

/// A model that costs (almost) nothing: its output is a copy of the first
/// three input channels, so timing the sliding window with it measures what
/// the window loop adds to the forward passes.
struct Noop;

impl Forward for Noop {
    fn forward(&self, x: &Tensor) -> Result<Tensor, tch::TchError> {
        x.f_narrow(1, 0, 3)?.f_contiguous()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
    let (mut runs, mut floor_runs, mut noop_runs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats {
        let t0 = Instant::now();
        for b in &floor_inputs {
            let _ = model.forward(b)?;
        }
        floor_runs.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let y = sliding_window(&model, &x, &opts)?;
        runs.push(t0.elapsed().as_secs_f64());
        drop(y);
        let t0 = Instant::now();
        let y = sliding_window(&Noop, &x, &opts)?;
        noop_runs.push(t0.elapsed().as_secs_f64());
        drop(y);
    }
    println!(
        "{{\"seconds\": {}, \"floor_seconds\": {}, \"patches\": {patches}, \"batch_size\": {sw}, \"loop_seconds\": {}, \"runs\": {runs:?}, \"floor_runs\": {floor_runs:?}}}",
        median(runs.clone()),
        median(floor_runs.clone()),
        median(noop_runs),
    );
    Ok(())
}

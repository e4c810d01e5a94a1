//! The Rust side of scripts/bench/patch_infer_bench.py.
//!
//! Usage: bench_infer MODEL.pt INPUT.npy SW_BATCH_SIZE [REPEATS] [THREADS] [DEVICE] [AMP] [OUT.npy]
//!
//! DEVICE is cpu (the default) or cuda; AMP 1 runs the model under autocast
//! (CUDA only). On CUDA the input, windows and output stay on the GPU and
//! every timed section ends with a device synchronisation. OUT.npy, when
//! given, receives the stitched output of the last timed run (for checking
//! it against MONAI's).
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

/// Runs `f` under autocast when `amp`: `deepneuro_core::autocast`, or plain
/// `tch::autocast` (libtorch's JIT autocast mode left on) when `plain`.
fn region<T>(plain: bool, amp: bool, f: impl FnOnce() -> T) -> T {
    if plain {
        tch::autocast(amp, f)
    } else {
        deepneuro_core::autocast(amp, f)
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

/// Waits for the device's queued work, so that wall-clock times are the
/// work's and not only its launch.
fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    deepneuro_core::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err(
            "usage: bench_infer MODEL.pt INPUT.npy SW_BATCH_SIZE [REPEATS] [THREADS] \
             [DEVICE] [AMP] [OUT.npy]"
                .into(),
        );
    }
    let sw: usize = args[3].parse()?;
    let repeats: usize = args.get(4).map_or(Ok(3), |s| s.parse())?;
    let threads: i32 = args.get(5).map_or(Ok(2), |s| s.parse())?;
    let device = deepneuro_core::parse_device(args.get(6).map_or("cpu", String::as_str))?;
    let amp = args.get(7).is_some_and(|s| s == "1") && device.is_cuda();
    tch::set_num_threads(threads);
    let model = TorchScript::load(&args[1], device)?;
    let x = Tensor::read_npy(&args[2])?
        .to_kind(Kind::Float)
        .to_device(device);
    let opts = SlidingWindowOptions {
        roi_size: vec![96, 96, 96],
        overlap: vec![0.5],
        sw_batch_size: sw,
        mixed_precision: amp,
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
        .map(|m| Tensor::randn([*m, c, 96, 96, 96], (Kind::Float, device)))
        .collect();
    let _guard = tch::no_grad_guard();
    let jit = std::env::var("BENCH_JIT").unwrap_or_default();
    let plain = jit == "keep";
    let forward = |b: &Tensor| region(plain, amp, || model.forward(b));
    // What the model computes in, under autocast or not, on its first calls
    // (TorchScript profiles, then optimises): half precision tells that
    // autocast reached into the graph.
    let mut forward_kinds = Vec::new();
    for _ in 0..3 {
        forward_kinds.push(format!("{:?}", forward(&floor_inputs[0])?.kind()));
    }
    // TorchScript profiles the first calls of each input shape before it
    // optimises, so every shape runs twice untimed; so does the sliding
    // window, which on CUDA also warms the allocator's cache.
    for _ in 0..2 {
        let _ = forward(&floor_inputs[0])?;
        let _ = forward(&floor_inputs[floor_inputs.len() - 1])?;
    }
    drop(sliding_window(&model, &x, &opts)?);
    sync(device);
    let (mut floor, mut ours, mut loop_only) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..repeats {
        // One autocast region around all the floor's batches, as around
        // the sliding window's loop (and PyTorch's `with` block in the
        // Python bench): the weights are cast to float16 once.
        floor.push(timed(|| {
            region(plain, amp, || {
                for b in &floor_inputs {
                    let _ = forward(b)?;
                }
                Ok::<_, tch::TchError>(())
            })?;
            sync(device);
            Ok(())
        })?);
        ours.push(timed(|| {
            last = Some(sliding_window(&model, &x, &opts)?);
            sync(device);
            Ok(())
        })?);
        loop_only.push(timed(|| {
            drop(sliding_window(&Noop, &x, &opts)?);
            sync(device);
            Ok(())
        })?);
    }
    if let (Some(path), Some(out)) = (args.get(8), last) {
        out.to_device(Device::Cpu).write_npy(path)?;
    }
    println!(
        "{{\"forward_kinds\": {forward_kinds:?}, \"seconds\": {}, \"floor_seconds\": {}, \"seconds_min\": {}, \"floor_seconds_min\": {}, \"loop_seconds\": {}, \"patches\": {patches}, \"batch_size\": {sw}, \"runs\": {ours:?}, \"floor_runs\": {floor:?}}}",
        median(&ours),
        median(&floor),
        min(&ours),
        min(&floor),
        median(&loop_only),
    );
    Ok(())
}

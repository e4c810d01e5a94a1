//! Times `resample_to_spacing` on a volume, excluding file IO.
//!
//! Usage: bench_resample IN.nii.gz SPACING_MM [linear|bspline|nearest] [REPEATS]
//!
//! SPACING_MM is one voxel size for all axes or three separated by commas.
//! Prints `{"seconds": best of REPEATS, "shape": [x, y, z]}`; the thread
//! count follows rayon (`RAYON_NUM_THREADS`).

use deepneuro_preprocess::resample::{resample_to_spacing, Interpolation, ResampleOptions};
use std::path::Path;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_resample: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_resample IN SPACING_MM [linear|bspline|nearest] [REPEATS]";
    let (input, spacing) = match (args.first(), args.get(1)) {
        (Some(i), Some(s)) => (i, s),
        _ => return Err(usage.to_string()),
    };
    let parts: Vec<f64> = spacing
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("spacing {spacing:?}: {e}"))?;
    let spacing = match parts[..] {
        [s] => [s; 3],
        [x, y, z] => [x, y, z],
        _ => return Err(format!("spacing {spacing:?}: give one or three values")),
    };
    let interpolation = match args.get(2).map(String::as_str).unwrap_or("linear") {
        "linear" => Interpolation::Linear,
        "bspline" => Interpolation::BSpline,
        "nearest" => Interpolation::Nearest,
        other => return Err(format!("unknown interpolation {other:?}; {usage}")),
    };
    let repeats: usize = match args.get(3) {
        Some(r) => r.parse().map_err(|e| format!("repeats {r:?}: {e}"))?,
        None => 5,
    };
    let v = deepneuro_io::read(Path::new(input)).map_err(|e| e.to_string())?;
    let opts = ResampleOptions {
        interpolation,
        ..Default::default()
    };
    let mut best = f64::INFINITY;
    let mut shape = [0; 3];
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let out = resample_to_spacing(&v, spacing, &opts).map_err(|e| e.to_string())?;
        best = best.min(t.elapsed().as_secs_f64());
        shape = out.spatial_shape();
    }
    println!(
        "{{\"seconds\": {best}, \"shape\": [{}, {}, {}]}}",
        shape[0], shape[1], shape[2]
    );
    Ok(())
}

//! Times loading a volume as f32 and writing it as `.nii.gz`, for
//! `make bench` (scripts/bench/io_bench.py runs nibabel in the same run).
//!
//! Usage: bench_io FILE REPEATS OUTDIR   (prints JSON: median seconds)

use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite times"));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: bench_io FILE REPEATS OUTDIR");
        std::process::exit(2);
    }
    let path = std::path::Path::new(&args[1]);
    let reps: usize = args[2].parse().expect("REPEATS is a number");
    let out = std::path::Path::new(&args[3]).join("bench_ours.nii.gz");
    let mut load = Vec::new();
    let mut write = Vec::new();
    let mut vol = None;
    for _ in 0..reps {
        let t = Instant::now();
        let v = deepneuro_io::read(path).expect("readable input");
        load.push(t.elapsed().as_secs_f64());
        vol = Some(v);
    }
    let vol = vol.expect("at least one repeat");
    for _ in 0..reps {
        let t = Instant::now();
        deepneuro_io::write(&vol, &out).expect("writable output");
        write.push(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"load_s\": {}, \"write_s\": {}, \"written_bytes\": {}}}",
        median(load),
        median(write),
        std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0)
    );
}

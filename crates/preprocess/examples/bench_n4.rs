//! Times [`deepneuro_preprocess::n4::n4`] on an image and its mask.
//!
//! `cargo run --release -p deepneuro-preprocess --example bench_n4 -- IMAGE MASK [SHRINK] [ITERS]`
//! with ITERS like `50,50,50,50`; prints `{"seconds": ..., "iterations": [...]}` where seconds
//! is the N4 computation alone (reading the files excluded).

use deepneuro_preprocess::n4::{n4, N4Options};
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: bench_n4 IMAGE MASK [SHRINK] [ITERS e.g. 50,50,50,50]".into());
    }
    let image = deepneuro_io::read(Path::new(&args[0]))?;
    let mask = deepneuro_io::read(Path::new(&args[1]))?;
    let mut opts = N4Options::default();
    if let Some(s) = args.get(2) {
        opts.shrink_factor = s.parse()?;
    }
    if let Some(s) = args.get(3) {
        opts.maximum_number_of_iterations =
            s.split(',').map(str::parse).collect::<Result<_, _>>()?;
    }
    let start = Instant::now();
    let result = n4(&image, Some(&mask), &opts)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "seconds": seconds, "iterations": result.iterations })
    );
    Ok(())
}

//! Patch batches per second from a BraTS-layout folder, for `make bench`
//! (scripts/bench/patch_bench.py runs TorchIO's `tio.Queue` on the same
//! cases).
//!
//! Usage: `bench_patches CASES_DIR [--batches N] [--workers W]
//! [--batch-size B] [--patch P] [--per-volume K] [--seed S]`
//!
//! Each case (FLAIR, T1, T1ce, T2 as `input`, the label map as
//! `ground_truth`) yields K patches of P^3 voxels, half centred on the
//! label, then a random flip along x and a random intensity scale and shift
//! of the input; batches of B rows are stacked as `[B, c, P, P, P]`. Prints
//! one JSON object with `batches_per_second` (N batches over the wall time
//! from starting the loader to holding the last batch).

use deepneuro_augment::Augmentation;
use deepneuro_data::{brats_groups, BatchOptions, Batches, CollectionOptions, DataCollection};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_patches: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let (mut batches, mut workers, mut batch_size, mut patch, mut per_volume, mut seed) =
        (16usize, 2usize, 4usize, 128usize, 4usize, 0u64);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))?
                .parse()
                .map_err(|e| format!("{name}: {e}"))
        };
        match a.as_str() {
            "--batches" => batches = value("--batches")? as usize,
            "--workers" => workers = value("--workers")? as usize,
            "--batch-size" => batch_size = value("--batch-size")? as usize,
            "--patch" => patch = value("--patch")? as usize,
            "--per-volume" => per_volume = value("--per-volume")? as usize,
            "--seed" => seed = value("--seed")?,
            _ if dir.is_none() && !a.starts_with("--") => dir = Some(PathBuf::from(a)),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let dir = dir.ok_or("usage: bench_patches CASES_DIR [--batches N] [--workers W]")?;
    let spec = format!(
        "patches(size={patch}x{patch}x{patch},count={per_volume},label=ground_truth,label_fraction=0.5,fallback=true); \
         flip(axes=0,p=0.5); scale(min=0.9,max=1.1,groups=input); shift(min=-0.1,max=0.1,groups=input)"
    );
    let augment: Arc<dyn Augmentation> =
        Arc::new(deepneuro_augment::parse(&spec).map_err(|e| e.to_string())?);

    let start = Instant::now();
    let collection = DataCollection::open(&dir, &brats_groups(), &CollectionOptions::default())
        .map_err(|e| e.to_string())?;
    let n = collection.len();
    let rows = batches * batch_size;
    let epochs = rows.div_ceil(per_volume * n).max(1);
    let opts = BatchOptions {
        batch_size,
        seed,
        epochs,
        workers,
        prefetch: 2 * workers.max(1),
        ..BatchOptions::default()
    };
    let mut it =
        Batches::new(Arc::new(collection), Some(augment), &opts).map_err(|e| e.to_string())?;
    let mut checksum = 0f64;
    let mut got = 0usize;
    for _ in 0..batches {
        let b = it
            .next()
            .ok_or("the stream ended early")?
            .map_err(|e| e.to_string())?;
        // Touch the data so that nothing is optimised away.
        checksum += b.groups["input"]
            .iter()
            .step_by(4099)
            .map(|&v| v as f64)
            .sum::<f64>();
        got += b.len();
    }
    let seconds = start.elapsed().as_secs_f64();
    drop(it);
    println!(
        "{{\"batches_per_second\": {:.4}, \"batches\": {batches}, \"rows\": {got}, \"seconds\": {seconds:.3}, \
         \"workers\": {workers}, \"cases\": {n}, \"checksum\": {checksum:.3}}}",
        batches as f64 / seconds
    );
    Ok(())
}

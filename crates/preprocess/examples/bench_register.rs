//! Times `deepneuro_preprocess::register::register` on a pair of volumes.
//!
//! ```text
//! cargo run --release -p deepneuro-preprocess --example bench_register -- \
//!     FIXED MOVING [rigid|affine] [mattes|ncc] [--init com|moments|geometry|identity] \
//!     [--fraction F] [--min-step S] [--learning-rate L] [--iterations A,B,C] \
//!     [--mask FIXED_MASK]
//! ```
//!
//! Prints `{"seconds": ..., "matrix": [[...], ...], "iterations": [...],
//! "metric_value": ...}` where `seconds` is the registration time without
//! reading the files and `matrix` the 4x4 RAS fixed-to-moving transform.
//! `scripts/fixtures/preprocess_register.py bench-make` makes a 1 mm pair and
//! `bench-peers` times SimpleITK and ANTs on it (and scores this output).

use deepneuro_preprocess::register::{
    register, Initialization, Metric, RegistrationOptions, TransformKind,
};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_register: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut opts = RegistrationOptions::default();
    let mut mask_path: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--init" => {
                opts.initialization = match args.next().as_deref() {
                    Some("com") => Initialization::CenterOfMass,
                    Some("moments") => Initialization::Moments,
                    Some("geometry") => Initialization::Geometry,
                    Some("identity") => Initialization::Identity,
                    other => return Err(format!("unknown --init {other:?}").into()),
                }
            }
            "--fraction" => {
                opts.sampling_fraction = args.next().ok_or("--fraction needs a value")?.parse()?
            }
            "--min-step" => {
                opts.min_step = args.next().ok_or("--min-step needs a value")?.parse()?
            }
            "--learning-rate" => {
                opts.learning_rate = args
                    .next()
                    .ok_or("--learning-rate needs a value")?
                    .parse()?
            }
            "--iterations" => {
                let v = args.next().ok_or("--iterations needs a,b,c")?;
                opts.iterations = v.split(',').map(|x| x.parse()).collect::<Result<_, _>>()?;
            }
            "--bins" => {
                let bins = args.next().ok_or("--bins needs a value")?.parse()?;
                opts.metric = Metric::MattesMutualInformation { bins };
            }
            "--mask" => mask_path = Some(args.next().ok_or("--mask needs a path")?.into()),
            "rigid" => opts.transform = TransformKind::Rigid,
            "affine" => opts.transform = TransformKind::Affine,
            "mattes" => opts.metric = Metric::MattesMutualInformation { bins: 50 },
            "ncc" => opts.metric = Metric::NormalizedCrossCorrelation,
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let [fixed, moving] = positional.as_slice() else {
        return Err("usage: bench_register FIXED MOVING [rigid|affine] [mattes|ncc] [--init X] [--fraction F] [--mask M]".into());
    };
    let fixed = deepneuro_io::read(fixed)?;
    let moving = deepneuro_io::read(moving)?;
    let mask = mask_path.map(|p| deepneuro_io::read(&p)).transpose()?;
    let start = Instant::now();
    let reg = register(&fixed, &moving, mask.as_ref(), &opts)?;
    let seconds = start.elapsed().as_secs_f64();
    let m = reg.transform.ras_matrix();
    let rows: Vec<Vec<f64>> = (0..4)
        .map(|i| (0..4).map(|j| m[(i, j)]).collect())
        .collect();
    let out = serde_json::json!({
        "seconds": seconds,
        "matrix": rows,
        "iterations": reg.iterations,
        "metric_value": reg.metric_value,
    });
    println!("{out}");
    Ok(())
}

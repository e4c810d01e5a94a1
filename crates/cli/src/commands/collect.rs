//! `deepneuro collect`: a DataCollection (folders of cases, a CSV case list
//! or an HDF5 dataset) written as one HDF5 dataset, optionally augmented;
//! `--info` describes such a file.

use crate::exit::{Code, Failure};
use deepneuro_data::{CollectOptions, DataError, GridPolicy};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A folder with one subfolder per case, a CSV case list, or (with --info) an HDF5 dataset.
    pub source: PathBuf,
    /// A data group and its filename patterns, one per channel in order:
    /// NAME='PATTERN[,PATTERN...]'. Repeat for each group.
    #[arg(long = "group", value_name = "NAME=PATTERNS", value_parser = parse_group)]
    pub groups: Vec<(String, Vec<String>)>,
    /// Augmentations applied to each case before writing, e.g.
    /// 'patches(size=64x64x64,count=8,label=ground_truth,label_fraction=0.7); flip(axes=0,p=0.5)'
    /// (default: none, each case written as it is).
    #[arg(long)]
    pub augment: Option<String>,
    /// The HDF5 file to write.
    #[arg(long, short = 'o', required_unless_present = "info")]
    pub out: Option<PathBuf>,
    /// Describe the HDF5 dataset SOURCE instead of writing one.
    #[arg(long, conflicts_with_all = ["out", "augment"])]
    pub info: bool,
    /// Zero-pad or crop every case to this shape X,Y,Z (default: all cases must match the first).
    #[arg(long, value_parser = parse_shape)]
    pub fit: Option<[usize; 3]>,
    /// Resample channels on different grids onto each case's first channel (default: skip such cases).
    #[arg(long)]
    pub resample_grids: bool,
    /// Groups holding label maps (resampled label-safe).
    #[arg(long, value_delimiter = ',', default_value = "ground_truth")]
    pub label_groups: Vec<String>,
    /// Deflate level 0-9.
    #[arg(long, default_value_t = CollectOptions::default().compression)]
    pub compression: u8,
    /// Seed of the augmentations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads loading and augmenting cases.
    #[arg(long, default_value_t = CollectOptions::default().workers)]
    pub workers: usize,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_group(s: &str) -> Result<(String, Vec<String>), String> {
    let (name, patterns) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected NAME=PATTERN[,PATTERN...]"))?;
    let patterns: Vec<String> = patterns
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if name.trim().is_empty() || patterns.is_empty() {
        return Err(format!("'{s}': expected NAME=PATTERN[,PATTERN...]"));
    }
    Ok((name.trim().to_string(), patterns))
}

fn parse_shape(s: &str) -> Result<[usize; 3], String> {
    let v: Vec<usize> = s
        .split([',', 'x'])
        .map(|p| p.trim().parse::<usize>().map_err(|e| format!("'{p}': {e}")))
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [a, b, c] if *a > 0 && *b > 0 && *c > 0 => Ok([*a, *b, *c]),
        _ => Err(format!("expected three positive sizes X,Y,Z, got '{s}'")),
    }
}

fn fail(e: DataError) -> Failure {
    let code = match &e {
        DataError::BadSpec { .. } => Code::Usage,
        e if e.is_output_error() => Code::Output,
        _ => Code::Input,
    };
    Failure::new(code, e)
}

pub fn run(a: &Args) -> Result<(), Failure> {
    if a.info {
        let info = deepneuro_data::describe(&a.source).map_err(fail)?;
        if a.json {
            super::print_json(&info);
        } else {
            println!(
                "{}: {} rows, format {}, written by deepneuro {}",
                info.path.display(),
                info.cases,
                info.format_version,
                info.deepneuro_version
            );
            for g in &info.groups {
                println!(
                    "  {:<14} {:?} {} channels [{}] chunk {:?} {} ({:.1} MB)",
                    g.name,
                    g.shape,
                    g.dtype,
                    g.channels.join(", "),
                    g.chunk,
                    g.compression,
                    g.stored_bytes as f64 / 1e6
                );
            }
        }
        return Ok(());
    }
    let out = a
        .out
        .as_ref()
        .ok_or_else(|| Failure::new(Code::Usage, "--out is required"))?;
    crate::overwrite::refuse(&[Some(a.source.as_path())], &[Some(out.as_path())])?;
    if a.groups.is_empty() {
        return Err(Failure::new(
            Code::Usage,
            "give at least one --group NAME='PATTERN,...' (e.g. --group input='*_t1.nii.gz')",
        ));
    }
    let augment = a
        .augment
        .as_deref()
        .map(deepneuro_augment::parse)
        .transpose()
        .map_err(|e| Failure::new(Code::Usage, format!("--augment: {e}")))?;
    let mut opts = CollectOptions {
        fit: a.fit,
        compression: a.compression,
        seed: a.seed,
        workers: a.workers,
        ..CollectOptions::default()
    };
    opts.collection.grid = if a.resample_grids {
        GridPolicy::Resample
    } else {
        GridPolicy::Error
    };
    opts.collection.label_groups = a.label_groups.clone();
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} cases {elapsed} (ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let progress = |done: usize, total: usize| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    };
    let report = deepneuro_data::collect(
        &a.source,
        &a.groups,
        augment.as_ref(),
        out,
        &opts,
        &progress,
    )
    .map_err(fail)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for s in &report.skipped {
        tracing::warn!("skipped case {}: {}", s.case, s.reason);
    }
    if a.json {
        super::print_json(&report);
    } else {
        eprintln!(
            "{}: {} cases, {} rows, {} skipped, {:.1} s",
            report.output.display(),
            report.cases_written,
            report.rows,
            report.skipped.len(),
            report.seconds
        );
        for s in &report.skipped {
            eprintln!("  skipped {}: {}", s.case, s.reason);
        }
    }
    Ok(())
}

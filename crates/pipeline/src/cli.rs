//! The command line of a pipeline run, shared by the `skull-strip` binary
//! and `deepneuro run <spec>`: case list, device and threads, models loaded
//! once, per-case outputs, summary table or JSON, exit code.

use crate::cases::{self, Case, Shard};
use crate::input::{load_input, LoadOptions, Plugins};
use crate::output::{write_case, CaseFiles, OutputOptions};
use crate::{exit, Pipeline, PipelineError, Spec};
use clap::Parser;
use deepneuro_registry::{FetchOptions, Registry};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tracing::{error, info, warn};

#[derive(Debug, Clone, Parser)]
#[command(
    about = "Brain extraction of T1-weighted MRI (deepbet 1.0.2 on libtorch)",
    after_help = "Exit codes: 0 every case succeeded; 1 internal error; 2 bad usage; 3 input missing, \
unreadable or invalid; 4 output cannot be written; 5 network failure fetching weights; 6 weight \
checksum mismatch; 7 model not cached while offline; 8 device not available; 10 several DICOM \
series and no --series; 11 unsupported DICOM feature; 12 no brain found (not a head MRI); \
13 batch: some cases failed (see the summary)."
)]
pub struct Args {
    /// T1-weighted image: NIfTI/NRRD file or DICOM folder (one case).
    #[arg(long, alias = "input", conflicts_with_all = ["input_dir", "cases"])]
    pub t1: Option<PathBuf>,
    /// Batch: one case per image file or subfolder.
    #[arg(long, conflicts_with = "cases")]
    pub input_dir: Option<PathBuf>,
    /// Batch: CSV with an `input` (or `t1`) column and an optional `case` column.
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// Folder for the outputs (created if missing).
    #[arg(long, short = 'o')]
    pub output_folder: PathBuf,
    /// DICOM: the SeriesInstanceUID (or series number) to use when a folder holds several.
    #[arg(long)]
    pub series: Option<String>,
    /// Brain probability threshold.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Dilate (positive) or erode (negative) the mask by N voxels.
    #[arg(long, allow_negative_numbers = true)]
    pub dilate: Option<i64>,
    /// Mask file name; `{case}` is replaced by the case name.
    #[arg(long)]
    pub mask_name: Option<String>,
    /// Skull-stripped image file name; `{case}` is replaced by the case name.
    #[arg(long)]
    pub brain_name: Option<String>,
    /// Also write the brain network's input (normalised crop at 256^3).
    #[arg(long)]
    pub save_preprocessed: bool,
    /// Do not write the PNG quick-look.
    #[arg(long)]
    pub no_quicklook: bool,
    /// Write a DICOM SEG (needs DICOM input or --dicom-source).
    #[arg(long)]
    pub dicom_seg: bool,
    /// The DICOM series the SEG refers to, for NIfTI input.
    #[arg(long)]
    pub dicom_source: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// CPU threads (default: the CPUs this process may use).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard i of N (0 <= i < N) of the case list.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Pipeline spec (default: the built-in pipelines/skull-strip.toml).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// models.toml (default: $DEEPNEURO_MODELS, else the built-in one).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// More log output (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Serialize)]
pub struct CaseSummary {
    pub case: String,
    pub input: PathBuf,
    pub status: &'static str,
    pub exit_code: i32,
    pub error: Option<String>,
    pub icv_cm3: Option<f64>,
    pub warnings: Vec<String>,
    pub outputs: Option<CaseFiles>,
    pub seconds: f64,
    /// Seconds per step: "load" (reading the input), the pipeline's steps,
    /// then "write" (every output file).
    pub steps: Vec<(String, f64)>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub pipeline: String,
    pub device: String,
    pub threads: usize,
    pub models_seconds: f64,
    pub succeeded: usize,
    pub failed: usize,
    pub cases: Vec<CaseSummary>,
}

/// Parses `args` (without the program name) and runs; returns the exit code.
/// `spec_path`: the spec `deepneuro run` was given (else `--spec`, else the built-in one).
pub fn run_cli<I, S>(spec_path: Option<&Path>, args: I) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    run_cli_with(spec_path, args, Plugins::default())
}

/// As [`run_cli`], with the binary's plugins (DICOM loader, SEG writer).
pub fn run_cli_with<I, S>(spec_path: Option<&Path>, args: I, plugins: Plugins) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    deepneuro_core::tune_allocator();
    let argv = std::iter::once(std::ffi::OsString::from("skull-strip"))
        .chain(args.into_iter().map(Into::into));
    let mut args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
        }
    };
    if let Some(p) = spec_path {
        args.spec = Some(p.to_path_buf());
    }
    init_logging(args.verbose, args.quiet);
    match run(&args, &plugins) {
        Ok(code) => code,
        Err(e) => {
            error!("{e}");
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"error": e.to_string(), "exit_code": e.exit_code()})
                );
            }
            e.exit_code()
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,deepneuro_pipeline=info",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DEEPNEURO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // The deepneuro binary may have installed a subscriber already.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn usage(reason: impl Into<String>) -> PipelineError {
    PipelineError::Usage(reason.into())
}

/// Runs the whole command; `Ok(code)` once a summary was produced.
pub fn run(args: &Args, plugins: &Plugins) -> Result<i32, PipelineError> {
    let spec = match &args.spec {
        Some(p) => Spec::load(p)?,
        None => Spec::builtin_skull_strip(),
    };
    // A single non-DICOM input cannot give a SEG without a source series;
    // batch cases are checked one by one when written.
    let t1_not_dicom = args
        .t1
        .as_deref()
        .is_some_and(|p| !deepneuro_dicom::is_dicom_input(p));
    if args.dicom_seg && args.dicom_source.is_none() && t1_not_dicom {
        return Err(usage("--dicom-seg needs DICOM input or --dicom-source"));
    }
    let mut cases = match (&args.t1, &args.input_dir, &args.cases) {
        (Some(t1), None, None) => vec![Case {
            name: crate::input::case_name(t1),
            input: t1.clone(),
        }],
        (None, Some(d), None) => cases::from_dir(d)?,
        (None, None, Some(c)) => cases::from_csv(c)?,
        _ => return Err(usage("give exactly one of --t1, --input-dir, --cases")),
    };
    cases = cases::apply_shard(cases, args.shard);
    let out_opts = OutputOptions::from_args(args, &spec);
    crate::output::check_writable(&args.output_folder)?;

    let device = deepneuro_core::parse_device(&args.device)?;
    let threads = args
        .threads
        .unwrap_or_else(deepneuro_core::cpu_threads)
        .max(1);
    tch::set_num_threads(threads as i32);
    let registry = Registry::load_default(args.models.as_deref())?;
    let fetch = FetchOptions::from_env()?;
    let t0 = Instant::now();
    let pipeline = Pipeline::load(spec, &registry, &fetch, device)?;
    let models_seconds = t0.elapsed().as_secs_f64();
    info!(device = ?device, threads, cases = cases.len(), "models loaded in {models_seconds:.2} s");

    let mut params = BTreeMap::new();
    if let Some(t) = args.threshold {
        params.insert("threshold".to_string(), t);
    }
    if let Some(d) = args.dilate {
        params.insert("dilate".to_string(), d as f64);
    }
    let load_opts = LoadOptions {
        series: args.series.clone(),
    };
    let bar = progress_bar(cases.len(), args.quiet);
    let mut summaries = Vec::new();
    for case in &cases {
        if let Some(b) = &bar {
            b.set_message(case.name.clone());
        }
        let t = Instant::now();
        let result = run_one(
            &pipeline, case, plugins, &load_opts, &params, &out_opts, args,
        );
        let seconds = t.elapsed().as_secs_f64();
        summaries.push(match result {
            Ok((files, icv, warnings, steps)) => CaseSummary {
                case: case.name.clone(),
                input: case.input.clone(),
                status: "ok",
                exit_code: exit::OK,
                error: None,
                icv_cm3: Some(icv),
                warnings,
                outputs: Some(files),
                seconds,
                steps,
            },
            Err(e) => {
                error!(case = %case.name, "{e}");
                CaseSummary {
                    case: case.name.clone(),
                    input: case.input.clone(),
                    status: "failed",
                    exit_code: e.exit_code(),
                    error: Some(e.to_string()),
                    icv_cm3: None,
                    warnings: Vec::new(),
                    outputs: None,
                    seconds,
                    steps: Vec::new(),
                }
            }
        });
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let failed = summaries.iter().filter(|s| s.exit_code != 0).count();
    let summary = Summary {
        pipeline: pipeline.spec.pipeline.name.clone(),
        device: format!("{device:?}").to_lowercase(),
        threads,
        models_seconds,
        succeeded: summaries.len() - failed,
        failed,
        cases: summaries,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serialises")
        );
    } else if !args.quiet {
        print_table(&summary);
    }
    Ok(match (summary.cases.len(), failed) {
        (_, 0) => exit::OK,
        (1, _) => summary.cases[0].exit_code,
        _ => exit::SOME_CASES_FAILED,
    })
}

type CaseResult = (CaseFiles, f64, Vec<String>, Vec<(String, f64)>);

fn run_one(
    pipeline: &Pipeline,
    case: &Case,
    plugins: &Plugins,
    load_opts: &LoadOptions,
    params: &BTreeMap<String, f64>,
    out_opts: &OutputOptions,
    args: &Args,
) -> Result<CaseResult, PipelineError> {
    let t0 = Instant::now();
    let loaded = load_input(&plugins.loaders, &case.input, load_opts)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let mut out = pipeline
        .run_case(&loaded.volume, params, args.save_preprocessed)
        .map_err(|e| match e {
            // Name the file in input errors raised without one.
            PipelineError::BadInput { reason, .. } => PipelineError::BadInput {
                path: case.input.clone(),
                reason,
            },
            e => e,
        })?;
    let [lo, hi] = pipeline.spec.outputs.icv_range_cm3;
    if !(lo..=hi).contains(&out.icv_cm3) {
        let msg = format!(
            "intracranial volume {:.0} cm^3 is outside {lo:.0}-{hi:.0} cm^3: check that the input is a head T1 and check the mask",
            out.icv_cm3
        );
        warn!(case = %case.name, "{msg}");
        out.warnings.push(msg);
    }
    let t0 = Instant::now();
    let files = write_case(
        &case.name,
        &out,
        &loaded,
        out_opts,
        plugins.seg_writer.as_deref(),
    )?;
    // Reading and writing are part of a case's time (and on a GPU most of it),
    // so the per-step seconds name them too.
    out.timings.insert(0, ("load".into(), load_seconds));
    out.timings
        .push(("write".into(), t0.elapsed().as_secs_f64()));
    info!(case = %case.name, icv_cm3 = out.icv_cm3, mask = %files.mask.display(), "done");
    Ok((files, out.icv_cm3, out.warnings, out.timings))
}

fn progress_bar(n: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || n < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(n as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}

fn print_table(s: &Summary) {
    println!(
        "{:<24} {:>7} {:>10} {:>8}  mask / error",
        "case", "status", "ICV cm^3", "seconds"
    );
    for c in &s.cases {
        let icv = c.icv_cm3.map_or("-".to_string(), |v| format!("{v:.1}"));
        let detail = match (&c.outputs, &c.error) {
            (Some(f), _) => f.mask.display().to_string(),
            (None, Some(e)) => e.clone(),
            _ => String::new(),
        };
        println!(
            "{:<24} {:>7} {:>10} {:>8.2}  {}",
            c.case, c.status, icv, c.seconds, detail
        );
        if let Some(q) = c.outputs.as_ref().and_then(|f| f.quicklook.as_ref()) {
            println!(
                "{:<24} {:>7} {:>10} {:>8}  quick-look: {}",
                "",
                "",
                "",
                "",
                q.display()
            );
        }
        for w in &c.warnings {
            println!("{:<24} warning: {w}", "");
        }
    }
    println!(
        "{} succeeded, {} failed ({}, {} threads, models loaded in {:.2} s)",
        s.succeeded, s.failed, s.device, s.threads, s.models_seconds
    );
}

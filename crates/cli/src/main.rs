//! `deepneuro`: a thin command-line front end over the library crates.

mod commands;
mod exit;
mod input;
mod overwrite;

use clap::{Parser, Subcommand};
use exit::Failure;
use std::process::ExitCode;

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("DEEPNEURO_GIT_REVISION"),
    ")"
);

const EXAMPLES: &str = "\
Examples:
  deepneuro info head.nii.gz
  deepneuro info /data/patient01 --series 5
  deepneuro info --json scan.nrrd
  deepneuro convert head.nii.gz head.nrrd
  deepneuro preprocess n4 t1.nii.gz t1_n4.nii.gz --mask brain.nii.gz
  deepneuro doctor";

#[derive(Parser)]
#[command(
    name = "deepneuro",
    about = "Deep learning for brain MRI: inspect, convert and check volumes and installs.",
    disable_version_flag = true,
    after_help = format!("{EXAMPLES}\n\n{}", exit::help())
)]
struct Cli {
    /// Print version, git revision, libtorch version and CUDA availability.
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// More log output (-v info, -vv debug, -vvv trace), on stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Describe a volume (NIfTI, NRRD or DICOM folder): shape, spacing, axis codes, dtype, affine, range.
    #[command(after_help = "Example:\n  deepneuro info --json head.nii.gz")]
    Info(commands::info::Args),
    /// Convert a NIfTI, NRRD or DICOM input to NIfTI (.nii, .nii.gz) or NRRD (.nrrd, .nhdr).
    #[command(after_help = "Example:\n  deepneuro convert head.nii.gz head.nrrd --dtype float32")]
    Convert(commands::convert::Args),
    /// Check an install: libtorch, CUDA devices, cache folder, models.
    #[command(after_help = "Example:\n  deepneuro doctor --json")]
    Doctor(commands::doctor::Args),
    /// Model weights: list, fetch (hash-checked), verify, path, remove, import.
    #[command(
        subcommand,
        after_help = "Examples:\n  deepneuro models list\n  deepneuro models fetch deepbet-brain\n  deepneuro models import deepbet-1.0.2-py3-none-any.whl"
    )]
    Models(deepneuro_registry::ModelsCommand),
    /// DICOM folders: list their series; write a mask as a DICOM SEG.
    #[command(subcommand)]
    Dicom(commands::dicom::DicomCommand),
    /// Collect cases (folders, CSV, HDF5) into an HDF5 dataset, optionally augmented; --info describes one.
    #[command(
        after_help = "Examples:\n  deepneuro collect brats/ --group input='*_flair.nii.gz,*_t1.nii.gz,*_t1ce.nii.gz,*_t2.nii.gz' --group ground_truth='*_seg.nii.gz' --out brats.h5\n  deepneuro collect brats/ --group input='*_t1.nii.gz' --group ground_truth='*_seg.nii.gz' --augment 'patches(size=64x64x64,count=8,label=ground_truth,label_fraction=0.7)' --out patches.h5\n  deepneuro collect --info brats.h5"
    )]
    Collect(commands::collect::Args),
    /// Run a model (TorchScript or deepneuro U-Net) over a volume, whole or in overlapping patches.
    #[command(
        after_help = "Example:\n  deepneuro predict --model unet.pt --input t1.nii.gz --output prob.nii.gz --patch-size 96,96,96 --overlap 0.25 --blend gaussian --batch 4"
    )]
    Predict(commands::predict::Args),
    /// Train a U-Net from a DataCollection as a TOML config says (checkpoints, CSV log, early stopping), or a built-in recipe's nets.
    #[command(
        after_help = "Examples:\n  deepneuro train --config crates/train/configs/phantom_whole_tumour.toml --json\n  deepneuro train --recipe glioblastoma --data BraTS2021/ --output gbm/ --device cuda:0"
    )]
    Train(commands::train::Args),
    /// Preprocessing: resample, normalize, n4 (bias field), register (rigid/affine).
    #[command(subcommand)]
    Preprocess(commands::preprocess::PreprocessCommand),
    /// Write a shell wrapper that runs a module's Docker image like the native command.
    #[command(
        after_help = "Example:\n  deepneuro wrap skull-strip --out ~/bin\n  ~/bin/skull-strip --t1 'scans/patient 01' --output-folder 'results/patient 01'"
    )]
    Wrap(commands::wrap::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(
        after_help = "Examples:\n  deepneuro completions bash > ~/.local/share/bash-completion/completions/deepneuro\n  deepneuro completions zsh > ~/.zfunc/_deepneuro\n  deepneuro completions fish > ~/.config/fish/completions/deepneuro.fish"
    )]
    Completions(commands::docs::CompletionsArgs),
    /// Write man pages for deepneuro and each subcommand (or print deepneuro.1 on stdout).
    #[command(
        after_help = "Example:\n  deepneuro man --out ~/.local/share/man/man1 && man deepneuro-preprocess-n4"
    )]
    Man(commands::docs::ManArgs),
    /// Run a module by name (see `deepneuro modules`) or from a spec file, with the module's own options.
    #[command(
        disable_help_flag = true,
        after_help = "Examples:\n  deepneuro run skull-strip --t1 head.nii.gz --output-folder out\n  deepneuro run my-module.toml --help"
    )]
    Run {
        /// The module: a built-in name or a spec file (TOML).
        #[arg(value_name = "MODULE|SPEC", allow_hyphen_values = true)]
        spec: Option<String>,
        /// The module's own arguments (see `deepneuro run MODULE --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// List the built-in modules (each runs with `deepneuro run NAME` or its own binary).
    #[command(after_help = "Example:\n  deepneuro modules --json")]
    Modules {
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

fn print_version() {
    let rt = deepneuro_core::describe_runtime();
    println!("deepneuro {LONG_VERSION}");
    println!("libtorch {}", rt.libtorch);
    if rt.cuda_available {
        println!("CUDA usable: yes ({} device(s))", rt.cuda_devices);
    } else {
        println!("CUDA usable: no (CPU, {} threads)", rt.cpu_threads);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `deepneuro run` hands the log set-up, with -v/-q, to the module.
    if !matches!(cli.command, Some(Command::Run { .. })) {
        deepneuro_core::logging::init(cli.verbose, cli.quiet, "warn");
    }
    if cli.version {
        print_version();
        return ExitCode::SUCCESS;
    }
    let result: Result<(), Failure> = match &cli.command {
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return exit::Code::Usage.exit();
        }
        Some(Command::Info(a)) => commands::info::run(a),
        Some(Command::Convert(a)) => commands::convert::run(a),
        Some(Command::Doctor(a)) => commands::doctor::run(a),
        Some(Command::Models(cmd)) => commands::models::run(cmd),
        Some(Command::Dicom(cmd)) => commands::dicom::run(cmd),
        Some(Command::Preprocess(cmd)) => commands::preprocess::run(cmd),
        Some(Command::Collect(a)) => commands::collect::run(a),
        Some(Command::Predict(a)) => commands::predict::run(a),
        Some(Command::Train(a)) => commands::train::run(a),
        Some(Command::Wrap(a)) => commands::wrap::run(a),
        Some(Command::Completions(a)) => {
            commands::docs::completions(a, <Cli as clap::CommandFactory>::command())
        }
        Some(Command::Man(a)) => commands::docs::man(a, <Cli as clap::CommandFactory>::command()),
        // The module runner owns its arguments, output and exit codes, so
        // `deepneuro run NAME` and the module binary behave identically.
        Some(Command::Run { spec, args }) => {
            let Some(spec) = spec.as_deref().filter(|s| !s.starts_with('-')) else {
                use clap::CommandFactory;
                let mut cmd = Cli::command();
                let _ = cmd.find_subcommand_mut("run").map(|c| c.print_help());
                return ExitCode::from(if spec.is_some() { 0 } else { 2 });
            };
            let mut args = args.clone();
            let flags = std::iter::repeat_n("-v", cli.verbose as usize)
                .chain(cli.quiet.then_some("-q"))
                .map(std::ffi::OsString::from);
            args.extend(flags);
            let code = deepneuro_pipeline::run_module(spec, args);
            // Every output is written and closed by now; skip libtorch's tear-down.
            deepneuro_core::exit_now(code.clamp(0, 255));
        }
        Some(Command::Modules { json }) => commands::modules::run(*json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.exit_code()
        }
    }
}

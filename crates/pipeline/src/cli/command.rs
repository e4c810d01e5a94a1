//! The command line of a module, generated from its spec with clap's
//! builder API: one option per input (and its series choice), per
//! parameter (typed and range-checked), per output name and flag, and the
//! options every module shares.

use crate::spec::{ParamType, Spec};
use clap::{value_parser, Arg, ArgAction, ArgMatches, Command};
use std::path::PathBuf;

/// `--help`'s version line: crate version and git revision.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("DEEPNEURO_GIT_REVISION"),
    ")"
);

/// The module's command.
pub fn command(spec: &Spec) -> Command {
    let name = spec.module.name.clone();
    let mut after = String::new();
    if let Some(ex) = &spec.module.example {
        after.push_str(&format!("Example:\n  {ex}\n\n"));
    }
    after.push_str(&format!(
        "Spec: {} (spec format {}, module version {})\n\n{}",
        spec.path.display(),
        spec.module.spec_version,
        spec.module.version,
        crate::exit::help()
    ));
    let mut cmd = Command::new(name)
        .about(spec.module.description.clone())
        .version(VERSION)
        .after_help(after)
        .next_line_help(false);
    cmd = inputs(cmd, spec);
    cmd = params(cmd, spec);
    cmd = skips(cmd, spec);
    cmd = outputs(cmd, spec);
    common(cmd)
}

fn inputs(mut cmd: Command, spec: &Spec) -> Command {
    let single = spec.inputs.len() == 1;
    for i in &spec.inputs {
        let mut help = if i.help.is_empty() {
            format!("{}: NIfTI/NRRD file or DICOM folder", i.name)
        } else {
            i.help.clone()
        };
        if !i.required {
            help.push_str(" (optional)");
        }
        let mut a = Arg::new(i.name.clone())
            .long(i.name.clone())
            .value_name("PATH")
            .value_parser(value_parser!(PathBuf))
            .help(help)
            .help_heading("Inputs");
        for alias in &i.aliases {
            a = a.visible_alias(alias.clone());
        }
        cmd = cmd.arg(a);
        let mut series = Arg::new(format!("{}-series", i.name))
            .long(format!("{}-series", i.name))
            .value_name("NUMBER|UID|REGEX")
            .help(format!(
                "DICOM: the series of --{} to read when its folder holds several (number, UID or a regex on the description)",
                i.name
            ))
            .help_heading("Inputs");
        if single {
            series = series.visible_alias("series");
        }
        cmd = cmd.arg(series);
        if !single {
            cmd = cmd.arg(
                Arg::new(format!("{}-glob", i.name))
                    .long(format!("{}-glob", i.name))
                    .value_name("PATTERN")
                    .default_value(i.glob.clone())
                    .help(format!(
                        "--input-dir: the entry of each case folder that is --{}",
                        i.name
                    ))
                    .help_heading("Batch"),
            );
        }
    }
    let dir_help = if single {
        "Batch: one case per image file or DICOM folder in DIR"
    } else {
        "Batch: one case per subfolder of DIR, each input found by its --<input>-glob"
    };
    cmd.arg(
        Arg::new("input-dir")
            .long("input-dir")
            .value_name("DIR")
            .value_parser(value_parser!(PathBuf))
            .help(dir_help)
            .help_heading("Batch"),
    )
    .arg(
        Arg::new("cases")
            .long("cases")
            .value_name("CSV")
            .value_parser(value_parser!(PathBuf))
            .help("Batch: a CSV with one column per input (optional <input>_series columns, optional case column)")
            .help_heading("Batch"),
    )
    .arg(
        Arg::new("shard")
            .long("shard")
            .value_name("i/N")
            .value_parser(|s: &str| s.parse::<crate::cases::Shard>())
            .help("Run only shard i of N (0 <= i < N) of the case list")
            .help_heading("Batch"),
    )
}

fn params(mut cmd: Command, spec: &Spec) -> Command {
    for (name, p) in &spec.params {
        let (lo, hi, ty) = (p.min, p.max, p.ty);
        let key = name.clone();
        let parser = move |s: &str| -> Result<f64, String> {
            let v: f64 = s
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a number"))?;
            if ty == ParamType::Int && v.fract() != 0.0 {
                return Err(format!("{s:?} is not a whole number"));
            }
            if !(lo..=hi).contains(&v) {
                return Err(format!("{key} must be between {lo} and {hi}"));
            }
            Ok(v)
        };
        let default = match p.ty {
            ParamType::Int => format!("{}", p.default as i64),
            ParamType::Float => format!("{}", p.default),
        };
        cmd = cmd.arg(
            Arg::new(name.clone())
                .long(name.clone())
                .value_name(if p.ty == ParamType::Int { "N" } else { "X" })
                .value_parser(parser)
                .allow_negative_numbers(true)
                .default_value(default)
                .help(format!("{} ({} to {})", p.help, p.min, p.max))
                .help_heading("Parameters"),
        );
    }
    cmd
}

/// `--skip a,b` when the spec declares `[[skip]]` groups.
fn skips(cmd: Command, spec: &Spec) -> Command {
    if spec.skips.is_empty() {
        return cmd;
    }
    let names: Vec<String> = spec.skips.iter().map(|k| k.name.clone()).collect();
    let help: Vec<String> = spec
        .skips
        .iter()
        .map(|k| format!("{} ({})", k.name, k.help))
        .collect();
    cmd.arg(
        Arg::new("skip")
            .long("skip")
            .value_name("STEPS")
            .value_delimiter(',')
            .action(ArgAction::Append)
            .value_parser(clap::builder::PossibleValuesParser::new(names))
            .hide_possible_values(true)
            .help(format!(
                "Leave out steps for already-processed inputs, comma-separated: {}",
                help.join("; ")
            ))
            .help_heading("Parameters"),
    )
}

/// The groups `--skip` names.
pub fn skipped(m: &ArgMatches) -> Vec<String> {
    m.try_get_many::<String>("skip")
        .ok()
        .flatten()
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

fn outputs(mut cmd: Command, spec: &Spec) -> Command {
    let mut flags: Vec<&str> = Vec::new();
    for o in &spec.outputs {
        cmd = cmd.arg(
            Arg::new(format!("{}-name", o.name))
                .long(format!("{}-name", o.name))
                .value_name("TEMPLATE")
                .default_value(o.file.clone())
                .help(format!(
                    "File name of {}; {{case}} is the case name",
                    if o.help.is_empty() { &o.name } else { &o.help }
                ))
                .help_heading("Outputs"),
        );
        if let Some(f) = &o.flag {
            if !flags.contains(&f.as_str()) {
                flags.push(f);
                cmd = cmd.arg(
                    Arg::new(f.clone())
                        .long(f.clone())
                        .action(ArgAction::SetTrue)
                        .help(format!(
                            "Also write {}",
                            if o.help.is_empty() { &o.name } else { &o.help }
                        ))
                        .help_heading("Outputs"),
                );
            }
        }
    }
    if spec.quicklook.is_some() {
        cmd = cmd.arg(
            Arg::new("no-quicklook")
                .long("no-quicklook")
                .action(ArgAction::SetTrue)
                .help("Do not write the PNG quick-look")
                .help_heading("Outputs"),
        );
    }
    if spec.seg.is_some() {
        cmd = cmd
            .arg(
                Arg::new("dicom-seg")
                    .long("dicom-seg")
                    .action(ArgAction::SetTrue)
                    .help("Write a DICOM SEG (always done for DICOM input; NIfTI input needs --dicom-source)")
                    .help_heading("Outputs"),
            )
            .arg(
                Arg::new("dicom-source")
                    .long("dicom-source")
                    .value_name("DIR")
                    .value_parser(value_parser!(PathBuf))
                    .help("The DICOM series the SEG refers to, for NIfTI input")
                    .help_heading("Outputs"),
            );
    }
    cmd.arg(
        Arg::new("save-all-steps")
            .long("save-all-steps")
            .action(ArgAction::SetTrue)
            .help("Also write every value each step produces, in <case>_steps/")
            .help_heading("Outputs"),
    )
}

fn common(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("output-folder")
            .long("output-folder")
            .short('o')
            .value_name("DIR")
            .value_parser(value_parser!(PathBuf))
            .required(true)
            .help("Folder for the outputs (created if missing)"),
    )
    .arg(
        Arg::new("device")
            .long("device")
            .value_name("DEVICE")
            .default_value("auto")
            .help("auto, cpu, cuda or cuda:N"),
    )
    .arg(
        Arg::new("threads")
            .long("threads")
            .value_name("N")
            .value_parser(value_parser!(u16).range(1..))
            .help("CPU threads [default: the CPUs this process may use]"),
    )
    .arg(
        Arg::new("allow-gaps")
            .long("allow-gaps")
            .action(ArgAction::SetTrue)
            .help("DICOM: resample a series with missing slices or uneven spacing instead of failing"),
    )
    .arg(
        Arg::new("allow-frame-mismatch")
            .long("allow-frame-mismatch")
            .action(ArgAction::SetTrue)
            .help("DICOM: combine inputs whose PatientID or FrameOfReferenceUID differ (refused otherwise, exit 16)"),
    )
    .arg(
        Arg::new("spec")
            .long("spec")
            .value_name("TOML")
            .value_parser(value_parser!(PathBuf))
            .help("Run this spec instead of the module's own [default: $DEEPNEURO_PIPELINES/<module>.toml, else the installed, else the built-in one]"),
    )
    .arg(
        Arg::new("models")
            .long("models")
            .value_name("TOML")
            .value_parser(value_parser!(PathBuf))
            .help("models.toml [default: $DEEPNEURO_MODELS, else the built-in one]"),
    )
    .arg(
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .help("Print the summary as one JSON object on stdout"),
    )
    .arg(
        Arg::new("verbose")
            .short('v')
            .long("verbose")
            .action(ArgAction::Count)
            .help("More log output on stderr (-v info, -vv debug); DEEPNEURO_LOG takes a tracing filter"),
    )
    .arg(
        Arg::new("quiet")
            .short('q')
            .long("quiet")
            .action(ArgAction::SetTrue)
            .conflicts_with("verbose")
            .help("Only errors on stderr"),
    )
}

/// The parsed options every module has.
#[derive(Clone, Debug)]
pub struct Common {
    pub output_folder: PathBuf,
    pub device: String,
    pub threads: Option<usize>,
    pub allow_gaps: bool,
    pub allow_frame_mismatch: bool,
    pub models: Option<PathBuf>,
    pub json: bool,
    pub verbose: u8,
    pub quiet: bool,
    pub save_all_steps: bool,
    pub no_quicklook: bool,
    pub dicom_seg: bool,
    pub dicom_source: Option<PathBuf>,
    pub input_dir: Option<PathBuf>,
    pub cases: Option<PathBuf>,
    pub shard: Option<crate::cases::Shard>,
}

impl Common {
    pub fn from_matches(m: &ArgMatches) -> Common {
        let flag = |k: &str| {
            m.try_get_one::<bool>(k)
                .ok()
                .flatten()
                .copied()
                .unwrap_or(false)
        };
        let path = |k: &str| m.try_get_one::<PathBuf>(k).ok().flatten().cloned();
        Common {
            output_folder: path("output-folder").unwrap_or_default(),
            device: m
                .get_one::<String>("device")
                .cloned()
                .unwrap_or_else(|| "auto".into()),
            threads: m.get_one::<u16>("threads").map(|&t| t as usize),
            allow_gaps: flag("allow-gaps"),
            allow_frame_mismatch: flag("allow-frame-mismatch"),
            models: path("models"),
            json: flag("json"),
            verbose: m.get_count("verbose"),
            quiet: flag("quiet"),
            save_all_steps: flag("save-all-steps"),
            no_quicklook: flag("no-quicklook"),
            dicom_seg: flag("dicom-seg"),
            dicom_source: path("dicom-source"),
            input_dir: path("input-dir"),
            cases: path("cases"),
            shard: m.get_one::<crate::cases::Shard>("shard").copied(),
        }
    }
}

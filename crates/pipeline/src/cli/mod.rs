//! The command line every module shares, generated from its spec: the
//! module binaries and `deepneuro run` call [`run_module`]. Inputs and
//! parameters are checked before anything is created or loaded; models
//! load once; each case's outputs are staged and committed together.

pub mod command;
mod summary;

use crate::cases::{self, Case, InputDecl};
use crate::engine::{Engine, InputVolume, Value};
use crate::input::{self, InputKind, LoadOptions};
use crate::output::{self, OutputPlan, Staged, Written};
use crate::record::{self, CaseRecord, InputInfo, ModelInfo, ModuleInfo};
use crate::spec::{Spec, Step};
use crate::{exit, PipelineError};
use clap::ArgMatches;
use command::Common;
use deepneuro_registry::{FetchOptions, Registry};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;
use summary::{CaseSummary, Summary};
use tracing::{error, info};

/// Runs the module `module` (a name or spec path; `--spec` in `args`
/// overrides it) with `args` (without the program name); returns the exit
/// code.
pub fn run_module<I, S>(module: &str, args: I) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    deepneuro_core::tune_allocator();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let (spec_flag, models_flag) = prescan(&args);
    let registry = match Registry::load_default(models_flag.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail_early(&e.to_string(), e.code().code()),
    };
    let spec = match &spec_flag {
        Some(p) => Spec::load(p, &registry),
        None => Spec::resolve(module, &registry),
    };
    let spec = match spec {
        Ok(s) => s,
        Err(e) => return fail_early(&format!("module spec {e}"), exit::BAD_INPUT),
    };
    let argv = std::iter::once(OsString::from(spec.module.name.clone())).chain(args);
    let matches = match command::command(&spec).try_get_matches_from(argv) {
        Ok(m) => m,
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
    let common = Common::from_matches(&matches);
    deepneuro_core::logging::init_with_writer(common.verbose, common.quiet, "warn", || {
        summary::LogWriter
    });
    let spec = match spec.skipping(&command::skipped(&matches)) {
        Ok(s) => s,
        Err(e) => return fail_early(&e.to_string(), exit::USAGE),
    };
    match run(&spec, &registry, &matches, &common) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if common.json {
                println!(
                    "{}",
                    serde_json::json!({"error": e.to_string(), "exit_code": e.exit_code()})
                );
            }
            e.exit_code()
        }
    }
}

fn fail_early(message: &str, code: i32) -> i32 {
    eprintln!("error: {message}");
    code
}

/// `--spec` and `--models` are needed to build the command line itself.
fn prescan(args: &[OsString]) -> (Option<PathBuf>, Option<PathBuf>) {
    let mut spec = None;
    let mut models = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        for (flag, slot) in [("--spec", &mut spec), ("--models", &mut models)] {
            if s == flag {
                *slot = it.clone().next().map(PathBuf::from);
            } else if let Some(v) = s.strip_prefix(&format!("{flag}=")) {
                *slot = Some(PathBuf::from(v));
            }
        }
    }
    (spec, models)
}

fn usage(reason: impl Into<String>) -> PipelineError {
    PipelineError::Usage(reason.into())
}

/// Runs the whole command; `Ok(code)` once a summary was produced.
fn run(
    spec: &Spec,
    registry: &Registry,
    m: &ArgMatches,
    common: &Common,
) -> Result<i32, PipelineError> {
    let (cases, skipped) = case_list(spec, m, common)?;
    let cases = cases::apply_shard(cases, common.shard);
    let params = params(spec, m);
    let plan = output_plan(spec, m, common, &cases)?;
    check_up_front(spec, &cases, &plan, common)?;
    output::check_writable(&common.output_folder)?;

    let device = deepneuro_core::parse_device(&common.device)?;
    let threads = common
        .threads
        .unwrap_or_else(deepneuro_core::cpu_threads)
        .max(1);
    tch::set_num_threads(threads as i32);
    let fetch = FetchOptions::from_env()?;
    let t0 = Instant::now();
    let engine = Engine::load(spec.clone(), registry, &fetch, device)?;
    let models_seconds = t0.elapsed().as_secs_f64();
    info!(device = ?device, threads, cases = cases.len(), "models loaded in {models_seconds:.2} s");

    let ctx = Context {
        engine: &engine,
        params: &params,
        plan: &plan,
        common,
        series: series_flags(spec, m),
        device: format!("{device:?}").to_lowercase(),
    };
    let batch = cases.len() + skipped.len() > 1;
    let bar = summary::progress_bar(cases.len(), common.quiet);
    summary::show_bar(bar.as_ref());
    let mut summaries: Vec<CaseSummary> = skipped.iter().map(CaseSummary::skipped).collect();
    for case in &cases {
        if let Some(b) = &bar {
            b.set_message(case.name.clone());
        }
        let s = ctx.run_case(case);
        if batch && s.exit_code != exit::OK {
            error!(case = %case.name, "{}", s.error.as_deref().unwrap_or(""));
        }
        summaries.push(s);
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    summary::show_bar(None);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let summary = Summary::new(
        spec,
        ctx.models(),
        ctx.all_params(),
        &ctx.device,
        threads,
        models_seconds,
        summaries,
    );
    summary.print(common.json, common.quiet, batch);
    Ok(summary.exit_code(batch))
}

/// The cases: one from the input options, or a batch.
fn case_list(
    spec: &Spec,
    m: &ArgMatches,
    common: &Common,
) -> Result<(Vec<Case>, Vec<cases::Skipped>), PipelineError> {
    let given: BTreeMap<String, PathBuf> = spec
        .inputs
        .iter()
        .filter_map(|i| {
            m.get_one::<PathBuf>(&i.name)
                .map(|p| (i.name.clone(), p.clone()))
        })
        .collect();
    let modes = [
        !given.is_empty(),
        common.input_dir.is_some(),
        common.cases.is_some(),
    ];
    if modes.iter().filter(|&&x| x).count() != 1 {
        let inputs: Vec<String> = spec
            .inputs
            .iter()
            .map(|i| format!("--{}", i.name))
            .collect();
        return Err(usage(format!(
            "give the inputs ({}), or --input-dir, or --cases: exactly one of these",
            inputs.join(" ")
        )));
    }
    let decls: Vec<InputDecl> = spec
        .inputs
        .iter()
        .map(|i| InputDecl {
            name: i.name.clone(),
            required: i.required,
            glob: m
                .try_get_one::<String>(&format!("{}-glob", i.name))
                .ok()
                .flatten()
                .cloned()
                .unwrap_or_else(|| i.glob.clone()),
        })
        .collect();
    if let Some(d) = &common.input_dir {
        return cases::from_dir(d, &decls);
    }
    if let Some(c) = &common.cases {
        return cases::from_csv(c, &decls);
    }
    let missing: Vec<String> = spec
        .inputs
        .iter()
        .filter(|i| i.required && !given.contains_key(&i.name))
        .map(|i| format!("--{}", i.name))
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "missing required input(s): {}",
            missing.join(", ")
        )));
    }
    let first = &given[&spec
        .inputs
        .iter()
        .find(|i| given.contains_key(&i.name))
        .map(|i| i.name.clone())
        .unwrap_or_default()];
    let case = Case {
        name: input::case_name(first),
        inputs: given
            .into_iter()
            .map(|(k, path)| (k, cases::CaseInput { path, series: None }))
            .collect(),
    };
    Ok((vec![case], Vec::new()))
}

fn series_flags(spec: &Spec, m: &ArgMatches) -> BTreeMap<String, String> {
    spec.inputs
        .iter()
        .filter_map(|i| {
            m.get_one::<String>(&format!("{}-series", i.name))
                .map(|s| (i.name.clone(), s.clone()))
        })
        .collect()
}

fn params(spec: &Spec, m: &ArgMatches) -> BTreeMap<String, f64> {
    spec.params
        .keys()
        .filter_map(|k| m.get_one::<f64>(k).map(|v| (k.clone(), *v)))
        .collect()
}

fn output_plan(
    spec: &Spec,
    m: &ArgMatches,
    common: &Common,
    cases: &[Case],
) -> Result<OutputPlan, PipelineError> {
    let mut outputs = Vec::new();
    for o in &spec.outputs {
        if let Some(f) = &o.flag {
            if !m.get_flag(f) {
                continue;
            }
        }
        let template = m
            .get_one::<String>(&format!("{}-name", o.name))
            .cloned()
            .unwrap_or_else(|| o.file.clone());
        if template.is_empty() || template.contains('/') {
            return Err(usage(format!(
                "--{}-name {template:?}: a file name is needed, not a path",
                o.name
            )));
        }
        if cases.len() > 1 && !template.contains("{case}") {
            return Err(usage(format!(
                "--{}-name {template:?}: a batch needs {{case}} in file names, or the cases overwrite each other",
                o.name
            )));
        }
        outputs.push((o.clone(), template));
    }
    let mut names: Vec<&String> = outputs.iter().map(|(_, t)| t).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(usage("two outputs have the same file name"));
    }
    let source_series = spec.seg.as_ref().and_then(|s| {
        m.get_one::<String>(&format!("{}-series", s.source))
            .cloned()
    });
    Ok(OutputPlan {
        folder: common.output_folder.clone(),
        outputs,
        quicklook: !common.no_quicklook,
        dicom_seg: common.dicom_seg,
        dicom_source: common.dicom_source.clone(),
        dicom_source_series: source_series,
    })
}

/// What can be known wrong before anything is created: a missing input of
/// a single case, a SEG with no DICOM to refer to, an output that is an input.
fn check_up_front(
    spec: &Spec,
    cases: &[Case],
    plan: &OutputPlan,
    common: &Common,
) -> Result<(), PipelineError> {
    if let [case] = cases {
        for c in case.inputs.values() {
            if !c.path.exists() {
                return Err(PipelineError::BadInput {
                    path: c.path.clone(),
                    reason: "does not exist".into(),
                });
            }
        }
        if let Some(seg) = &spec.seg {
            let dicom = case
                .inputs
                .get(&seg.source)
                .is_some_and(|c| deepneuro_dicom::is_dicom_input(&c.path));
            if common.dicom_seg && common.dicom_source.is_none() && !dicom {
                return Err(usage("--dicom-seg needs DICOM input or --dicom-source"));
            }
        }
        let inputs: Vec<PathBuf> = case.inputs.values().map(|c| c.path.clone()).collect();
        for (_, t) in &plan.outputs {
            output::refuse_input(&plan.folder.join(output::file_name(t, &case.name)), &inputs)?;
        }
    }
    if let Some(src) = &common.dicom_source {
        if !src.exists() {
            return Err(PipelineError::BadInput {
                path: src.clone(),
                reason: "does not exist".into(),
            });
        }
    }
    Ok(())
}

/// A case's inputs: the volumes, what each was, and the warnings their
/// metadata gave.
struct LoadedInputs {
    volumes: BTreeMap<String, InputVolume>,
    kinds: BTreeMap<String, InputKind>,
    warnings: Vec<String>,
}

struct Context<'a> {
    engine: &'a Engine,
    params: &'a BTreeMap<String, f64>,
    plan: &'a OutputPlan,
    common: &'a Common,
    /// `--<input>-series` choices.
    series: BTreeMap<String, String>,
    device: String,
}

impl Context<'_> {
    /// Every parameter's value: the spec's defaults and the command line's.
    fn all_params(&self) -> BTreeMap<String, f64> {
        let mut params = self.engine.spec.defaults();
        params.extend(self.params.iter().map(|(k, v)| (k.clone(), *v)));
        params
    }

    fn models(&self) -> Vec<ModelInfo> {
        let mut models: Vec<ModelInfo> = self
            .engine
            .models()
            .map(|m| ModelInfo {
                name: m.entry.name.clone(),
                version: m.entry.version.clone(),
                sha256: m.entry.sha256.clone(),
            })
            .collect();
        models.sort_by(|a, b| a.name.cmp(&b.name));
        models
    }

    fn run_case(&self, case: &Case) -> CaseSummary {
        let started = record::now();
        let t0 = Instant::now();
        match self.try_case(case, &started, t0) {
            Ok(s) => s,
            Err(e) => CaseSummary::failed(case, &e, t0.elapsed().as_secs_f64()),
        }
    }

    fn try_case(
        &self,
        case: &Case,
        started: &str,
        t0: Instant,
    ) -> Result<CaseSummary, PipelineError> {
        let spec = &self.engine.spec;
        let LoadedInputs {
            volumes,
            kinds,
            warnings,
        } = self.load_inputs(case)?;
        let load_seconds = t0.elapsed().as_secs_f64();
        let input_paths: Vec<PathBuf> = case.inputs.values().map(|c| c.path.clone()).collect();
        let mut staged = Staged::new();
        let steps_dir = self
            .common
            .save_all_steps
            .then(|| staged.path(self.plan.folder.join(format!("{}_steps", case.name))));
        let mut run = self.run_steps(case, volumes, steps_dir.as_deref())?;
        run.warnings.splice(0..0, warnings);
        let t_write = Instant::now();
        let mut written = output::stage_case(
            spec,
            self.plan,
            &case.name,
            &mut run,
            &kinds,
            &input_paths,
            &mut staged,
        )?;
        if steps_dir.is_some() {
            let dest = self.plan.folder.join(format!("{}_steps", case.name));
            written.files.insert("steps".into(), dest);
        }
        let mut steps = vec![("load".to_string(), load_seconds)];
        steps.extend(run.timings.iter().cloned());
        steps.push(("write".into(), t_write.elapsed().as_secs_f64()));
        let record_path = self.plan.folder.join(format!("{}_record.json", case.name));
        written.files.insert("record".into(), record_path.clone());
        let rec = self.record(case, started, t0, &kinds, &written, &run.warnings, &steps);
        write_json(&staged.path(record_path), &rec)?;
        staged.commit()?;
        info!(case = %case.name, "done");
        Ok(CaseSummary::ok(
            case,
            written,
            run.warnings,
            t0.elapsed().as_secs_f64(),
            steps,
        ))
    }

    /// Each input of `case`, loaded, with what it was and the warnings its
    /// DICOM metadata give about its contrast.
    fn load_inputs(&self, case: &Case) -> Result<LoadedInputs, PipelineError> {
        let spec = &self.engine.spec;
        let mut warnings = Vec::new();
        let mut volumes = BTreeMap::new();
        let mut kinds = BTreeMap::new();
        let mut all = Vec::new();
        for (name, ci) in &case.inputs {
            let opts = LoadOptions {
                series: ci.series.clone().or_else(|| self.series.get(name).cloned()),
                allow_gaps: self.common.allow_gaps,
            };
            all.push((name.as_str(), input::load(&ci.path, &opts)?));
        }
        if !self.common.allow_frame_mismatch {
            let refs: Vec<(&str, &input::Loaded)> = all.iter().map(|(n, l)| (*n, l)).collect();
            input::check_same_frame(&refs)?;
        }
        for (name, loaded) in all {
            let name = name.to_string();
            let contrast = spec.input(&name).and_then(|d| d.contrast.clone());
            if let Some(expected) = contrast.as_deref() {
                for w in input::contrast_warnings(&name, expected, &loaded) {
                    tracing::warn!("{w}");
                    warnings.push(w);
                }
            }
            kinds.insert(name.clone(), loaded.kind);
            volumes.insert(
                name.clone(),
                InputVolume {
                    volume: loaded.volume,
                    contrast,
                },
            );
        }
        Ok(LoadedInputs {
            volumes,
            kinds,
            warnings,
        })
    }

    /// The spec's steps on one case, each step's values saved into
    /// `steps_dir` when `--save-all-steps` asked for them.
    fn run_steps(
        &self,
        case: &Case,
        volumes: BTreeMap<String, InputVolume>,
        steps_dir: Option<&Path>,
    ) -> Result<crate::CaseRun, PipelineError> {
        let mut n = 0usize;
        let mut save =
            |s: &Step, values: &mut BTreeMap<String, Value>| -> Result<(), PipelineError> {
                n += 1;
                match steps_dir {
                    Some(dir) => save_step(dir, n, s, values),
                    None => Ok(()),
                }
            };
        self.engine
            .run_case(volumes, self.params, Some(&mut save))
            .map_err(|e| name_input(e, case))
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        case: &Case,
        started: &str,
        t0: Instant,
        kinds: &BTreeMap<String, InputKind>,
        written: &Written,
        warnings: &[String],
        steps: &[(String, f64)],
    ) -> CaseRecord {
        let spec = &self.engine.spec;
        let inputs = case
            .inputs
            .iter()
            .map(|(k, c)| {
                let (kind, uid, desc) = match kinds.get(k) {
                    Some(InputKind::Dicom {
                        series,
                        description,
                        ..
                    }) => ("dicom", Some(series.clone()), Some(description.clone())),
                    _ => ("file", None, None),
                };
                (
                    k.clone(),
                    InputInfo {
                        path: absolute(&c.path),
                        kind,
                        series_uid: uid,
                        series_description: desc,
                    },
                )
            })
            .collect();
        CaseRecord {
            schema: record::SCHEMA,
            schema_version: record::SCHEMA_VERSION,
            case: case.name.clone(),
            status: "ok",
            exit_code: exit::OK,
            error: None,
            tool: record::TOOL,
            module: ModuleInfo {
                name: spec.module.name.clone(),
                version: spec.module.version.clone(),
                spec: spec.path.clone(),
                spec_sha256: spec.sha256.clone(),
                skipped: spec.skipped.clone(),
            },
            models: self.models(),
            params: self.all_params(),
            device: self.device.clone(),
            inputs,
            outputs: written.files.clone(),
            volumes_cm3: written.volumes_cm3.clone(),
            warnings: warnings.to_vec(),
            started: started.to_string(),
            seconds: t0.elapsed().as_secs_f64(),
            steps: steps.to_vec(),
        }
    }
}

/// A JSON document, pretty, through a temporary file renamed into place.
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), PipelineError> {
    deepneuro_io::write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })?;
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Input errors raised without a file name get the case's first input.
fn name_input(e: PipelineError, case: &Case) -> PipelineError {
    match e {
        PipelineError::BadInput { path, reason } => {
            let path = case
                .inputs
                .get(&path.to_string_lossy().to_string())
                .or_else(|| case.inputs.values().next())
                .map_or(path, |c| c.path.clone());
            PipelineError::BadInput { path, reason }
        }
        e => e,
    }
}

/// `--save-all-steps`: every spatial value a step wrote, as NIfTI.
fn save_step(
    dir: &Path,
    n: usize,
    s: &Step,
    values: &mut BTreeMap<String, Value>,
) -> Result<(), PipelineError> {
    std::fs::create_dir_all(dir).map_err(|e| output::unwritable(dir, e.to_string()))?;
    let mut names: Vec<String> = Vec::new();
    if s.op.key("out").is_some() {
        names.extend(s.out().map(str::to_string));
    }
    names.extend(s.value("model_input").map(str::to_string));
    for name in names {
        let Some(v) = values.get_mut(&name) else {
            continue;
        };
        if !v.ty().spatial() {
            continue;
        }
        let vol = v.to_volume()?;
        let file = format!("{n:02}_{}_{}.nii.gz", s.op.name, name.replace('/', "-"));
        deepneuro_io::write(&vol, &dir.join(file))?;
    }
    Ok(())
}

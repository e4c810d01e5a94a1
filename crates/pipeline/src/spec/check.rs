//! Reading a spec and checking all of it: sections, parameters, every
//! step's keys against the op table, the types of the values read and
//! written in order, models against the registry, sub-pipelines (inlined
//! here), and the values outputs name.

use super::ops::{self, Key, OpDef, Out};
use super::raw::{InputKind, ParamType, RawSpec};
use super::{Spec, SpecError, Ty, SPEC_VERSION};
use deepneuro_registry::Registry;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A number in a step: literal or a `[params]` name.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Lit(f64),
    Param(String),
}

impl ParamValue {
    pub fn get(&self, params: &BTreeMap<String, f64>) -> f64 {
        match self {
            ParamValue::Lit(v) => *v,
            // Checked when the spec loaded: every reference names a parameter.
            ParamValue::Param(p) => params.get(p).copied().unwrap_or(f64::NAN),
        }
    }
}

/// One checked key of a step.
#[derive(Clone, Debug, PartialEq)]
pub enum StepArg {
    Value(String),
    Values(Vec<String>),
    Num(ParamValue),
    Bool(bool),
    Text(String),
    Nums(Vec<f64>),
    Ints(Vec<i64>),
    Table(BTreeMap<String, String>),
}

/// A checked step.
#[derive(Clone, Debug)]
pub struct Step {
    pub op: &'static OpDef,
    /// How messages name the step: `step 4 (predict)` or its `name`.
    pub id: String,
    /// The spec file and line it came from.
    pub origin: String,
    /// Its line in the spec being checked (for an included module's step,
    /// the line of the `module` step).
    pub line: usize,
    pub args: BTreeMap<String, StepArg>,
    /// `[[skip]]` groups that leave this step out when skipped.
    pub skip: Vec<String>,
    /// The `[[skip]]` group whose skipping runs this step (an alternative
    /// to the steps it leaves out).
    pub if_skipped: Option<String>,
}

impl Step {
    /// Whether the step runs when the groups in `skipped` are skipped.
    pub fn runs_with(&self, skipped: &[String]) -> bool {
        !self.skip.iter().any(|g| skipped.contains(g))
            && self.if_skipped.as_ref().is_none_or(|g| skipped.contains(g))
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        match self.args.get(key) {
            Some(StepArg::Value(v)) => Some(v),
            _ => None,
        }
    }

    pub fn values(&self, key: &str) -> &[String] {
        match self.args.get(key) {
            Some(StepArg::Values(v)) => v,
            _ => &[],
        }
    }

    pub fn num(&self, key: &str, params: &BTreeMap<String, f64>) -> Option<f64> {
        match self.args.get(key) {
            Some(StepArg::Num(p)) => Some(p.get(params)),
            _ => None,
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.args.get(key), Some(StepArg::Bool(true)))
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.args.get(key) {
            Some(StepArg::Text(t)) => Some(t),
            _ => None,
        }
    }

    pub fn nums(&self, key: &str) -> Option<&[f64]> {
        match self.args.get(key) {
            Some(StepArg::Nums(v)) => Some(v),
            _ => None,
        }
    }

    pub fn ints(&self, key: &str) -> Option<&[i64]> {
        match self.args.get(key) {
            Some(StepArg::Ints(v)) => Some(v),
            _ => None,
        }
    }

    /// The name of the value this step writes under `key`; `out` defaults
    /// to the op's first read value (a change in place).
    pub fn out(&self) -> Option<&str> {
        self.value("out")
            .or_else(|| self.op.primary().and_then(|k| self.value(k)))
    }

    pub fn models(&self) -> Vec<&str> {
        self.op
            .keys
            .iter()
            .filter(|k| k.key == Key::Model)
            .filter_map(|k| self.text(k.name))
            .collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses `text`; `stack` holds the specs being read, to refuse cycles.
pub(crate) fn parse(
    text: &str,
    path: &Path,
    registry: &Registry,
    stack: &mut Vec<PathBuf>,
) -> Result<Spec, SpecError> {
    let err =
        |line: Option<usize>, reason: String| SpecError::new(path, Some(line.unwrap_or(1)), reason);
    if text.contains("\n[pipeline]") || text.starts_with("[pipeline]") {
        return Err(err(
            None,
            "this is the old spec format ([pipeline]); modules now start with [module] spec_version = 1 (see pipelines/README.md)".into(),
        ));
    }
    let toml_err = |e: toml::de::Error| {
        let line = e.span().map(|s| line_of(text, s.start));
        err(line, first_line_of_toml(&e))
    };
    // The version first: a later format may change any other section.
    let table: toml::Table = toml::from_str(text).map_err(toml_err)?;
    let version = table
        .get("module")
        .and_then(|m| m.get("spec_version"))
        .and_then(|v| v.as_integer());
    if version != Some(SPEC_VERSION as i64) {
        return Err(err(
            text.find("spec_version").map(|o| line_of(text, o)),
            match version {
                Some(v) => format!("spec_version {v} is not one this build reads ({SPEC_VERSION})"),
                None => {
                    format!("[module] spec_version is missing (this build reads {SPEC_VERSION})")
                }
            },
        ));
    }
    let raw: RawSpec = toml::from_str(text).map_err(toml_err)?;
    let mut c = Checker {
        text,
        path,
        registry,
        types: BTreeMap::new(),
        from_optional: BTreeMap::new(),
        params: raw.params.clone(),
        skips: raw.skips.iter().map(|k| k.name.clone()).collect(),
    };
    c.header(&raw)?;
    let mut all_steps = Vec::new();
    stack.push(path.to_path_buf());
    for (i, spanned) in raw.steps.iter().enumerate() {
        let line = line_of(text, spanned.span().start);
        for step in c.expand(i + 1, line, spanned.get_ref())? {
            if step.op.name == "module" {
                all_steps.extend(c.inline(&step, stack)?);
            } else {
                all_steps.push(step);
            }
        }
    }
    stack.pop();
    let types = c.every_skip_combination(&raw, &all_steps)?;
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    let steps = all_steps
        .iter()
        .filter(|s| s.runs_with(&[]))
        .cloned()
        .collect();
    Ok(Spec {
        module: raw.module,
        inputs: raw.inputs,
        params: raw.params,
        skips: raw.skips,
        skipped: Vec::new(),
        steps,
        all_steps,
        outputs: raw.outputs,
        quicklook: raw.quicklook,
        seg: raw.seg,
        container: raw.container,
        types,
        path: path.to_path_buf(),
        sha256: format!("{:x}", hasher.finalize()),
    })
}

fn first_line_of_toml(e: &toml::de::Error) -> String {
    e.message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .to_string()
}

/// Names of values, inputs, params and outputs: lower-case words.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Options every module has; a parameter, input or output may not take them.
const RESERVED: &[&str] = &[
    "input-dir",
    "cases",
    "output-folder",
    "device",
    "threads",
    "shard",
    "spec",
    "models",
    "json",
    "verbose",
    "quiet",
    "help",
    "version",
    "save-all-steps",
    "no-quicklook",
    "dicom-seg",
    "dicom-source",
    "allow-gaps",
    "allow-frame-mismatch",
    "series",
    "skip",
];

/// At most this many `[[skip]]` groups: every combination is checked.
const MAX_SKIPS: usize = 8;

struct Checker<'a> {
    text: &'a str,
    path: &'a Path,
    registry: &'a Registry,
    types: BTreeMap<String, Ty>,
    /// Values that may be absent: they derive from an optional input.
    from_optional: BTreeMap<String, bool>,
    params: BTreeMap<String, super::ParamDecl>,
    /// The `[[skip]]` group names.
    skips: Vec<String>,
}

impl Checker<'_> {
    /// A refusal at `line`, or at the `[module]` header when the problem
    /// has no line of its own.
    fn err(&self, line: Option<usize>, reason: impl Into<String>) -> SpecError {
        let line = line.or_else(|| self.section_line("[module]")).unwrap_or(1);
        SpecError::new(self.path, Some(line), reason)
    }

    fn section_line(&self, needle: &str) -> Option<usize> {
        self.text.find(needle).map(|o| line_of(self.text, o))
    }

    fn header(&mut self, raw: &RawSpec) -> Result<(), SpecError> {
        let line = self.section_line("[module]");
        if !valid_name(&raw.module.name) {
            return Err(self.err(
                line,
                format!(
                    "module name {:?} must be a lower-case word (a-z, 0-9, -, _)",
                    raw.module.name
                ),
            ));
        }
        if raw.inputs.is_empty() {
            return Err(self.err(None, "no [[input]]: a module needs at least one input"));
        }
        let mut options: Vec<String> = Vec::new();
        let claim =
            |options: &mut Vec<String>, name: &str, what: &str, line| -> Result<(), SpecError> {
                if RESERVED.contains(&name) || options.iter().any(|o| o == name) {
                    return Err(SpecError::new(
                        self.path,
                        line,
                        format!("{what} {name:?}: the option --{name} is taken"),
                    ));
                }
                options.push(name.to_string());
                Ok(())
            };
        for i in &raw.inputs {
            let line = self
                .text
                .find(&format!("\"{}\"", i.name))
                .map(|o| line_of(self.text, o));
            if !valid_name(&i.name) {
                return Err(self.err(
                    line,
                    format!("input name {:?} must be a lower-case word", i.name),
                ));
            }
            claim(&mut options, &i.name, "input", line)?;
            claim(&mut options, &format!("{}-series", i.name), "input", line)?;
            claim(&mut options, &format!("{}-glob", i.name), "input", line)?;
            for a in &i.aliases {
                claim(&mut options, a, "input alias", line)?;
            }
            glob::Pattern::new(&i.glob)
                .map_err(|e| self.err(line, format!("input {}: glob {:?}: {e}", i.name, i.glob)))?;
            let ty = match i.kind {
                InputKind::Image => Ty::Image,
                InputKind::Mask => Ty::Mask,
            };
            self.types.insert(i.name.clone(), ty);
            self.from_optional.insert(i.name.clone(), !i.required);
        }
        for (name, p) in &raw.params {
            let line = self.section_line(&format!("[params.{name}]"));
            if !valid_name(name) {
                return Err(self.err(
                    line,
                    format!("parameter name {name:?} must be a lower-case word"),
                ));
            }
            claim(&mut options, name, "parameter", line)?;
            let ok = p.min.is_finite()
                && p.max.is_finite()
                && p.min <= p.default
                && p.default <= p.max
                && (p.ty == ParamType::Float || p.default.fract() == 0.0);
            if !ok {
                return Err(self.err(line, format!("parameter {name}: need min <= default <= max, finite (and whole numbers for type int)")));
            }
        }
        self.skip_groups(raw)?;
        for o in &raw.outputs {
            let line = self
                .text
                .find(&format!("\"{}\"", o.name))
                .map(|off| line_of(self.text, off));
            if !valid_name(&o.name) {
                return Err(self.err(
                    line,
                    format!("output name {:?} must be a lower-case word", o.name),
                ));
            }
            claim(&mut options, &format!("{}-name", o.name), "output", line)?;
            if let Some(f) = &o.flag {
                if !valid_name(f) {
                    return Err(self.err(
                        line,
                        format!("output {}: flag {f:?} must be a lower-case word", o.name),
                    ));
                }
                if !options.iter().any(|x| x == f) {
                    claim(&mut options, f, "output flag", line)?;
                }
            }
        }
        Ok(())
    }

    /// The steps one `[[step]]` table stands for: one, or one per
    /// `for_each` entry with `{each}` replaced.
    fn expand(
        &self,
        index: usize,
        line: usize,
        table: &toml::Table,
    ) -> Result<Vec<Step>, SpecError> {
        let at = Some(line);
        let op_name = match table.get("op") {
            Some(toml::Value::String(s)) => s.as_str(),
            Some(_) => return Err(self.err(at, format!("step {index}: `op` must be a string"))),
            None => return Err(self.err(at, format!("step {index}: no `op`"))),
        };
        let op = ops::find(op_name).ok_or_else(|| {
            let known: Vec<&str> = ops::OPS.iter().map(|o| o.name).collect();
            self.err(
                at,
                format!(
                    "step {index}: unknown op {op_name:?} (known: {})",
                    known.join(", ")
                ),
            )
        })?;
        let each: Vec<Option<String>> = match table.get("for_each") {
            None => vec![None],
            Some(toml::Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|v| v.as_str().map(|s| Some(s.to_string())))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    self.err(
                        at,
                        format!("step {index} ({op_name}): `for_each` must be a list of names"),
                    )
                })?,
            Some(_) => {
                return Err(self.err(
                    at,
                    format!(
                        "step {index} ({op_name}): `for_each` must be a non-empty list of names"
                    ),
                ))
            }
        };
        let mut out = Vec::new();
        for e in each {
            let id_base = match table.get("name") {
                Some(toml::Value::String(n)) => n.clone(),
                Some(_) => {
                    return Err(self.err(
                        at,
                        format!("step {index} ({op_name}): `name` must be a string"),
                    ))
                }
                None => format!("step {index} ({op_name})"),
            };
            let id = match &e {
                Some(v) => format!("{} [{v}]", id_base.replace("{each}", v)),
                None => id_base,
            };
            let (skip, if_skipped) = self.skip_keys(&id, at, table)?;
            let mut args = BTreeMap::new();
            for (k, v) in table {
                if matches!(
                    k.as_str(),
                    "op" | "for_each" | "name" | "skip" | "if_skipped"
                ) {
                    continue;
                }
                let def = op.key(k).ok_or_else(|| {
                    let keys: Vec<&str> = op.keys.iter().map(|k| k.name).collect();
                    self.err(
                        at,
                        format!(
                            "{id}: unknown key {k:?} (op {op_name} takes: {})",
                            keys.join(", ")
                        ),
                    )
                })?;
                let v = substitute(v, e.as_deref());
                args.insert(k.clone(), self.arg(&id, at, k, def.key, &v)?);
            }
            for k in op.keys.iter().filter(|k| k.required) {
                if !args.contains_key(k.name) {
                    return Err(
                        self.err(at, format!("{id}: missing key {:?} ({})", k.name, k.help))
                    );
                }
            }
            if op.name == "resample" && args.contains_key("onto") == args.contains_key("spacing") {
                return Err(self.err(
                    at,
                    format!("{id}: give exactly one of `onto` and `spacing`"),
                ));
            }
            if let Some(StepArg::Nums(sp)) = args.get("spacing") {
                if sp.len() != 3 || sp.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                    return Err(self.err(
                        at,
                        format!("{id}: `spacing` must be three positive numbers [x, y, z] mm"),
                    ));
                }
            }
            out.push(Step {
                op,
                id,
                origin: format!("{}:{line}", self.path.display()),
                line,
                args,
                skip,
                if_skipped,
            });
        }
        Ok(out)
    }

    /// `[[skip]]` names: option-like words, unique, and few enough that
    /// every combination can be checked.
    fn skip_groups(&self, raw: &RawSpec) -> Result<(), SpecError> {
        let line = self.section_line("[[skip]]");
        if raw.skips.len() > MAX_SKIPS {
            return Err(self.err(line, format!("at most {MAX_SKIPS} [[skip]] groups")));
        }
        for (i, k) in raw.skips.iter().enumerate() {
            if !valid_name(&k.name) {
                return Err(self.err(
                    line,
                    format!("skip name {:?} must be a lower-case word", k.name),
                ));
            }
            if raw.skips[..i].iter().any(|o| o.name == k.name) {
                return Err(self.err(line, format!("skip {:?} is declared twice", k.name)));
            }
        }
        Ok(())
    }

    /// A step's `skip` (a group or a list of groups) and `if_skipped` (one
    /// group), each naming a declared `[[skip]]`.
    fn skip_keys(
        &self,
        id: &str,
        at: Option<usize>,
        table: &toml::Table,
    ) -> Result<(Vec<String>, Option<String>), SpecError> {
        let known = |g: &str| -> Result<String, SpecError> {
            if self.skips.iter().any(|k| k == g) {
                Ok(g.to_string())
            } else {
                Err(self.err(
                    at,
                    format!("{id}: skip group {g:?} is not declared (add [[skip]] name = {g:?})"),
                ))
            }
        };
        let bad = |k: &str| self.err(at, format!("{id}: `{k}` must name a [[skip]] group"));
        let skip = match table.get("skip") {
            None => Vec::new(),
            Some(toml::Value::String(g)) => vec![known(g)?],
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().ok_or_else(|| bad("skip")).and_then(known))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("skip")),
        };
        let if_skipped = match table.get("if_skipped") {
            None => None,
            Some(toml::Value::String(g)) => Some(known(g)?),
            Some(_) => return Err(bad("if_skipped")),
        };
        if let Some(g) = &if_skipped {
            if skip.contains(g) {
                return Err(self.err(
                    at,
                    format!("{id}: `skip` and `if_skipped` both name {g:?}: the step never runs"),
                ));
            }
        }
        Ok((skip, if_skipped))
    }

    /// Checks the steps that run under every combination of skipped
    /// groups, so that any `--skip` a user gives yields a valid module;
    /// returns every value's type (one type per value across combinations).
    fn every_skip_combination(
        &mut self,
        raw: &RawSpec,
        steps: &[Step],
    ) -> Result<BTreeMap<String, Ty>, SpecError> {
        let (types0, optional0) = (self.types.clone(), self.from_optional.clone());
        let mut all: BTreeMap<String, Ty> = BTreeMap::new();
        for bits in 0..(1u32 << self.skips.len()) {
            let skipped: Vec<String> = (0..self.skips.len())
                .filter(|i| bits & (1 << i) != 0)
                .map(|i| self.skips[i].clone())
                .collect();
            self.types = types0.clone();
            self.from_optional = optional0.clone();
            let checked = steps
                .iter()
                .filter(|s| s.runs_with(&skipped))
                .try_for_each(|s| self.types_of(s))
                .and_then(|()| self.declared_outputs(raw));
            if let Err(mut e) = checked {
                if !skipped.is_empty() {
                    e.reason = format!("with --skip {}: {}", skipped.join(","), e.reason);
                }
                return Err(e);
            }
            for (name, ty) in &self.types {
                match all.insert(name.clone(), *ty) {
                    Some(old) if old != *ty => {
                        return Err(self.err(
                            self.section_line("[[skip]]"),
                            format!(
                                "with --skip {}: {name:?} is a {}, otherwise a {}",
                                skipped.join(","),
                                ty.name(),
                                old.name()
                            ),
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(all)
    }

    fn arg(
        &self,
        id: &str,
        at: Option<usize>,
        k: &str,
        key: Key,
        v: &toml::Value,
    ) -> Result<StepArg, SpecError> {
        use toml::Value as V;
        let bad = |what: &str| self.err(at, format!("{id}: key {k:?} must be {what}"));
        let name = |v: &V| -> Result<String, SpecError> {
            match v {
                V::String(s) if valid_value_name(s) => Ok(s.clone()),
                _ => Err(bad("a value name (a lower-case word)")),
            }
        };
        let number = |v: &V| -> Result<ParamValue, SpecError> {
            match v {
                V::Float(f) if f.is_finite() => Ok(ParamValue::Lit(*f)),
                V::Integer(i) => Ok(ParamValue::Lit(*i as f64)),
                V::String(s) => {
                    let p = s
                        .strip_prefix('$')
                        .ok_or_else(|| bad("a number or \"$param\""))?;
                    if !self.params.contains_key(p) {
                        return Err(
                            self.err(at, format!("{id}: key {k:?}: unknown parameter ${p}"))
                        );
                    }
                    Ok(ParamValue::Param(p.to_string()))
                }
                _ => Err(bad("a finite number or \"$param\"")),
            }
        };
        Ok(match key {
            Key::Read(_) | Key::Write(_) => StepArg::Value(name(v)?),
            Key::ReadList(_) => match v {
                V::Array(a) if !a.is_empty() => {
                    StepArg::Values(a.iter().map(name).collect::<Result<_, _>>()?)
                }
                _ => return Err(bad("a non-empty list of value names")),
            },
            Key::Num => StepArg::Num(number(v)?),
            Key::Int => {
                let n = number(v)?;
                if let ParamValue::Lit(x) = n {
                    if x.fract() != 0.0 {
                        return Err(bad("a whole number"));
                    }
                }
                if let ParamValue::Param(p) = &n {
                    if self.params[p].ty != ParamType::Int {
                        return Err(self.err(
                            at,
                            format!("{id}: key {k:?}: parameter ${p} is not of type int"),
                        ));
                    }
                }
                StepArg::Num(n)
            }
            Key::Bool => StepArg::Bool(v.as_bool().ok_or_else(|| bad("true or false"))?),
            Key::Choice(choices) => {
                let s = match v {
                    V::String(s) => s.clone(),
                    V::Integer(i) => i.to_string(),
                    _ => return Err(bad(&format!("one of {}", choices.join(", ")))),
                };
                if !choices.contains(&s.as_str()) {
                    return Err(bad(&format!("one of {}", choices.join(", "))));
                }
                StepArg::Text(s)
            }
            Key::NumList => match v {
                V::Array(a) if !a.is_empty() => StepArg::Nums(
                    a.iter()
                        .map(|x| match x {
                            V::Float(f) if f.is_finite() => Some(*f),
                            V::Integer(i) => Some(*i as f64),
                            _ => None,
                        })
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad("a list of finite numbers"))?,
                ),
                _ => return Err(bad("a non-empty list of numbers")),
            },
            Key::IntList => match v {
                V::Array(a) if !a.is_empty() => StepArg::Ints(
                    a.iter()
                        .map(|x| x.as_integer())
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad("a list of whole numbers"))?,
                ),
                _ => return Err(bad("a non-empty list of whole numbers")),
            },
            Key::Model => {
                let m = v.as_str().ok_or_else(|| bad("a model name"))?;
                if self.registry.find(m).is_err() {
                    let known: Vec<&str> = self
                        .registry
                        .models
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect();
                    return Err(self.err(
                        at,
                        format!(
                            "{id}: unknown model {m:?} (models.toml {} has: {})",
                            self.registry.path.display(),
                            known.join(", ")
                        ),
                    ));
                }
                StepArg::Text(m.to_string())
            }
            Key::Module => StepArg::Text(
                v.as_str()
                    .ok_or_else(|| bad("a module name or spec path"))?
                    .to_string(),
            ),
            Key::Table => match v {
                V::Table(t) => StepArg::Table(
                    t.iter()
                        .map(|(a, b)| match b {
                            V::String(s) => Some((a.clone(), s.clone())),
                            V::Float(f) if f.is_finite() => Some((a.clone(), f.to_string())),
                            V::Integer(i) => Some((a.clone(), i.to_string())),
                            _ => None,
                        })
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad("a table of names or numbers"))?,
                ),
                _ => return Err(bad("a table")),
            },
        })
    }

    /// Checks the types of what a step reads and records what it writes.
    fn types_of(&mut self, s: &Step) -> Result<(), SpecError> {
        let err = |reason: String| {
            SpecError::new(self.path, Some(s.line), step_reason(s, self.path, reason))
        };
        let mut optional = false;
        for def in s.op.keys {
            let (allowed, names): (&[Ty], Vec<&str>) = match def.key {
                Key::Read(t) => (t, s.value(def.name).into_iter().collect()),
                Key::ReadList(t) => (t, s.values(def.name).iter().map(|x| x.as_str()).collect()),
                _ => continue,
            };
            for n in names {
                let ty = self.types.get(n).ok_or_else(|| {
                    err(format!(
                        "reads {n:?}, which no input or earlier step provides"
                    ))
                })?;
                if !allowed.contains(ty) {
                    let want: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
                    return Err(err(format!(
                        "key {:?}: {n:?} is a {}, this op needs a {}",
                        def.name,
                        ty.name(),
                        want.join(" or ")
                    )));
                }
                optional |= self.from_optional.get(n).copied().unwrap_or(false);
            }
        }
        self.model_needs(s).map_err(err)?;
        for def in s.op.keys {
            let Key::Write(out) = def.key else { continue };
            let name = if def.name == "out" {
                s.out()
            } else {
                s.value(def.name)
            };
            let Some(name) = name else { continue };
            let ty = match out {
                Out::Fixed(t) => t,
                Out::SameAs(k) => s
                    .value(k)
                    .and_then(|v| self.types.get(v))
                    .copied()
                    .ok_or_else(|| err(format!("key {k:?} is missing")))?,
            };
            self.types.insert(name.to_string(), ty);
            self.from_optional.insert(name.to_string(), optional);
        }
        Ok(())
    }

    /// What a model asks of a `predict` or `percentiles` step.
    fn model_needs(&self, s: &Step) -> Result<(), String> {
        let Some(m) = s.models().first().and_then(|m| self.registry.find(m).ok()) else {
            return Ok(());
        };
        let n = &m.input.normalization;
        match (s.op.name, n.method.as_str()) {
            ("predict", "percentile-zscore") if s.value("range").is_none() => Err(format!(
                "model {} normalises by percentiles: give `range` (from a `percentiles` step)",
                m.name
            )),
            ("predict", "none" | "zscore" | "percentile-zscore" | "") => Ok(()),
            ("predict", other) => Err(format!(
                "model {}: normalisation {other:?} is not implemented",
                m.name
            )),
            ("percentiles", _) if n.low_percentile.is_none() && s.nums("percentiles").is_none() => {
                Err(format!(
                    "model {} declares no percentiles: give `percentiles`",
                    m.name
                ))
            }
            ("resize", _) if m.input.shape.len() != 5 => Err(format!(
                "model {}: input shape {:?} is not [1, c, x, y, z]",
                m.name, m.input.shape
            )),
            _ => Ok(()),
        }
    }

    /// The steps of a `module` step's spec, its values renamed into this
    /// spec: its inputs become the mapped values, the values behind its
    /// mapped outputs get the new names, everything else `ID/name`.
    fn inline(&mut self, s: &Step, stack: &mut Vec<PathBuf>) -> Result<Vec<Step>, SpecError> {
        let err = |reason: String| {
            SpecError::new(self.path, Some(s.line), step_reason(s, self.path, reason))
        };
        let module = s.text("module").unwrap_or_default();
        let (sub_path, sub_text) = self.sub_spec(module).map_err(&err)?;
        if stack.contains(&sub_path) {
            return Err(err(format!("module {module:?} includes itself")));
        }
        let sub = parse(&sub_text, &sub_path, self.registry, stack)?;
        let table = |k: &str| match s.args.get(k) {
            Some(StepArg::Table(t)) => t.clone(),
            _ => BTreeMap::new(),
        };
        let (inputs, outputs, params) = (table("inputs"), table("outputs"), table("params"));
        for i in &sub.inputs {
            if i.required && !inputs.contains_key(&i.name) {
                return Err(err(format!(
                    "module {module}: input {:?} is not mapped in `inputs`",
                    i.name
                )));
            }
        }
        for k in inputs.keys() {
            if sub.input(k).is_none() {
                return Err(err(format!("module {module} has no input {k:?}")));
            }
        }
        let mut values: BTreeMap<String, String> = inputs.clone();
        let mut out_names: BTreeMap<String, String> = BTreeMap::new();
        for (k, new) in &outputs {
            let o = sub.outputs.iter().find(|o| &o.name == k).ok_or_else(|| {
                let have: Vec<&str> = sub.outputs.iter().map(|o| o.name.as_str()).collect();
                err(format!(
                    "module {module} has no output {k:?} (it has: {})",
                    have.join(", ")
                ))
            })?;
            if !valid_value_name(new) {
                return Err(err(format!("outputs: {new:?} is not a value name")));
            }
            out_names.insert(o.value.clone(), new.clone());
        }
        let mut p = sub.defaults();
        for (k, v) in &params {
            let decl = sub
                .params
                .get(k)
                .ok_or_else(|| err(format!("module {module} has no parameter {k:?}")))?;
            let x: f64 = v
                .parse()
                .map_err(|_| err(format!("params: {k} = {v:?} is not a number")))?;
            if !(decl.min..=decl.max).contains(&x) {
                return Err(err(format!(
                    "params: {k} = {x} is outside {}..={}",
                    decl.min, decl.max
                )));
            }
            p.insert(k.clone(), x);
        }
        let prefix = format!("{}/", s.value("name").unwrap_or(&s.id).replace(' ', "_"));
        let mut steps = Vec::new();
        for step in sub.steps {
            // The sub-module's own groups are not options of this module:
            // its steps run as its defaults, tagged with the outer step's groups.
            let mut step = step;
            step.skip = s.skip.clone();
            step.if_skipped = s.if_skipped.clone();
            steps.push(rename_step(
                step,
                &s.id,
                s.line,
                &prefix,
                &mut values,
                &out_names,
                &p,
            ));
        }
        Ok(steps)
    }

    fn sub_spec(&self, module: &str) -> Result<(PathBuf, String), String> {
        if module.contains('/') || module.ends_with(".toml") {
            let base = self.path.parent().unwrap_or(Path::new("."));
            let p = base.join(module);
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            return Ok((p, text));
        }
        if let Some(p) = super::search_path(module) {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            return Ok((p, text));
        }
        super::BUILTIN
            .iter()
            .find(|(n, _)| *n == module)
            .map(|(n, t)| {
                (
                    PathBuf::from(format!("<builtin pipelines/{n}.toml>")),
                    t.to_string(),
                )
            })
            .ok_or_else(|| format!("no module {module:?}"))
    }

    /// Outputs, quick-look and SEG name values of the right types.
    fn declared_outputs(&self, raw: &RawSpec) -> Result<(), SpecError> {
        let ty = |v: &str, what: &str, allowed: &[Ty]| -> Result<(), SpecError> {
            let line = self
                .text
                .find(&format!("\"{v}\""))
                .map(|o| line_of(self.text, o));
            let t = self.types.get(v).ok_or_else(|| {
                self.err(
                    line,
                    format!("{what}: no input or step provides the value {v:?}"),
                )
            })?;
            if !allowed.contains(t) {
                return Err(self.err(
                    line,
                    format!(
                        "{what}: {v:?} is a {}, not one of the types that can be written here",
                        t.name()
                    ),
                ));
            }
            Ok(())
        };
        let spatial = [Ty::Image, Ty::Mask, Ty::Probability, Ty::Labels];
        for o in &raw.outputs {
            ty(&o.value, &format!("output {}", o.name), &spatial)?;
        }
        if let Some(q) = &raw.quicklook {
            let rows = std::iter::once((&q.image, &q.labels, &q.colours))
                .chain(q.rows.iter().map(|r| (&r.image, &r.labels, &r.colours)));
            for (image, labels, colours) in rows {
                ty(image, "quicklook image", &spatial)?;
                ty(labels, "quicklook labels", &[Ty::Mask, Ty::Labels])?;
                for k in colours.keys() {
                    if k.parse::<u32>().is_err() {
                        return Err(self.err(
                            self.section_line("[quicklook"),
                            format!("quicklook colours: {k:?} is not a label number"),
                        ));
                    }
                }
            }
        }
        if let Some(seg) = &raw.seg {
            ty(&seg.value, "seg value", &[Ty::Mask, Ty::Labels])?;
            if !raw.inputs.iter().any(|i| i.name == seg.source) {
                return Err(self.err(
                    self.section_line("[seg]"),
                    format!("seg source {:?} is not an input", seg.source),
                ));
            }
        }
        Ok(())
    }
}

/// A step's problem; a step of an included module also says where it was
/// written.
fn step_reason(s: &Step, path: &Path, reason: String) -> String {
    if s.origin.starts_with(&format!("{}:", path.display())) {
        format!("{}: {reason}", s.id)
    } else {
        format!("{} ({}): {reason}", s.id, s.origin)
    }
}

fn valid_value_name(s: &str) -> bool {
    !s.is_empty() && s.split('/').all(valid_name)
}

/// Replaces `{each}` in every string of `v`.
fn substitute(v: &toml::Value, each: Option<&str>) -> toml::Value {
    match (v, each) {
        (toml::Value::String(s), Some(e)) => toml::Value::String(s.replace("{each}", e)),
        (toml::Value::Array(a), Some(_)) => {
            toml::Value::Array(a.iter().map(|x| substitute(x, each)).collect())
        }
        (toml::Value::Table(t), Some(_)) => toml::Value::Table(
            t.iter()
                .map(|(k, x)| (k.clone(), substitute(x, each)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// One step of an included module, its value names mapped into the outer
/// spec (`values`: the sub-spec's current name -> outer name, updated as
/// the step writes) and its parameters fixed.
fn rename_step(
    mut step: Step,
    outer_id: &str,
    outer_line: usize,
    prefix: &str,
    values: &mut BTreeMap<String, String>,
    out_names: &BTreeMap<String, String>,
    params: &BTreeMap<String, f64>,
) -> Step {
    let read = |n: &str, values: &BTreeMap<String, String>| {
        values
            .get(n)
            .cloned()
            .unwrap_or_else(|| format!("{prefix}{n}"))
    };
    let mut writes = Vec::new();
    // An omitted `out` writes the primary value: make it explicit first so
    // that it is renamed as a write, not as a read.
    if step.op.key("out").is_some() && step.value("out").is_none() {
        if let Some(p) = step
            .op
            .primary()
            .and_then(|k| step.value(k))
            .map(str::to_string)
        {
            step.args.insert("out".into(), StepArg::Value(p));
        }
    }
    for def in step.op.keys {
        match (def.key, step.args.get_mut(def.name)) {
            (Key::Read(_), Some(StepArg::Value(v))) => *v = read(v, values),
            (Key::ReadList(_), Some(StepArg::Values(vs))) => {
                for v in vs.iter_mut() {
                    *v = read(v, values);
                }
            }
            (Key::Write(_), Some(StepArg::Value(v))) => writes.push((def.name, v.clone())),
            (_, Some(StepArg::Num(n @ ParamValue::Param(_)))) => {
                *n = ParamValue::Lit(n.get(params))
            }
            _ => {}
        }
    }
    for (key, old) in writes {
        let new = out_names
            .get(&old)
            .cloned()
            .unwrap_or_else(|| format!("{prefix}{old}"));
        values.insert(old, new.clone());
        step.args.insert(key.to_string(), StepArg::Value(new));
    }
    step.id = format!("{outer_id} / {}", step.id);
    step.line = outer_line;
    step
}

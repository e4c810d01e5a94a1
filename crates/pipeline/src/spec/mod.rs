//! Module specifications (`pipelines/*.toml`): named inputs, typed
//! parameters, steps that read and write named values, and declared
//! outputs. [`Spec::parse`] checks the whole spec — every key, every op,
//! every value's type, every model name, the order of reads and writes —
//! before any model or image is loaded; the reference is pipelines/README.md.

mod check;
pub mod ops;
mod raw;

pub use check::{ParamValue, Step, StepArg};
pub use raw::{
    Container, Header, InputDecl, InputKind, OutputDecl, ParamDecl, ParamType, QuicklookDecl,
    QuicklookRow, SegDecl, SegmentDecl, SkipDecl,
};

use deepneuro_registry::Registry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The spec format this build reads (`[module] spec_version`).
pub const SPEC_VERSION: u32 = 1;

/// The type of a named value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ty {
    /// Intensities, one or more channels.
    Image,
    /// A binary mask.
    Mask,
    /// Probabilities (or any model output), one or more channels.
    Probability,
    /// Integer labels (0 = background).
    Labels,
    /// A world-to-world affine transform from `register`.
    Transform,
    /// A box of voxels on some grid.
    BBox,
    /// A pair of intensity percentiles.
    Range,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Image => "image",
            Ty::Mask => "mask",
            Ty::Probability => "probability",
            Ty::Labels => "label map",
            Ty::Transform => "transform",
            Ty::BBox => "bounding box",
            Ty::Range => "percentile range",
        }
    }

    /// Whether a value of this type lies on a voxel grid (can be written).
    pub fn spatial(self) -> bool {
        matches!(self, Ty::Image | Ty::Mask | Ty::Probability | Ty::Labels)
    }
}

/// Why a spec was refused: the file, the line (when known) and the problem.
#[derive(Debug, Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct SpecError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

impl SpecError {
    pub fn new(path: &Path, line: Option<usize>, reason: impl Into<String>) -> SpecError {
        SpecError {
            path: path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

/// A checked module specification.
#[derive(Clone, Debug)]
pub struct Spec {
    pub module: Header,
    pub inputs: Vec<InputDecl>,
    pub params: BTreeMap<String, ParamDecl>,
    /// The `[[skip]]` groups `--skip` may name.
    pub skips: Vec<SkipDecl>,
    /// The groups skipped in this run ([`Spec::skipping`]).
    pub skipped: Vec<String>,
    /// The steps that run, `for_each` expanded and sub-pipelines inlined.
    pub steps: Vec<Step>,
    /// Every step, whichever groups are skipped.
    all_steps: Vec<Step>,
    pub outputs: Vec<OutputDecl>,
    pub quicklook: Option<QuicklookDecl>,
    pub seg: Option<SegDecl>,
    pub container: Option<Container>,
    /// The type of every value the steps write (inputs included).
    pub types: BTreeMap<String, Ty>,
    /// Where the spec was read from, for messages.
    pub path: PathBuf,
    /// SHA-256 of the spec text (and of the specs it includes).
    pub sha256: String,
}

/// The modules compiled into every binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "skull-strip",
        include_str!("../../../../pipelines/skull-strip.toml"),
    ),
    (
        "skull-strip-n4",
        include_str!("../../../../pipelines/skull-strip-n4.toml"),
    ),
    (
        "glioblastoma-seg",
        include_str!("../../../../pipelines/glioblastoma-seg.toml"),
    ),
];

impl Spec {
    /// Parses and checks `text` (read from `path`, for messages and for
    /// resolving sub-pipeline paths) against `registry`.
    pub fn parse(text: &str, path: &Path, registry: &Registry) -> Result<Spec, SpecError> {
        check::parse(text, path, registry, &mut Vec::new())
    }

    /// Reads and checks the spec at `path`.
    pub fn load(path: &Path, registry: &Registry) -> Result<Spec, SpecError> {
        let text = read_spec(path)?;
        Spec::parse(&text, path, registry)
    }

    /// A built-in module by name.
    pub fn builtin(name: &str, registry: &Registry) -> Option<Result<Spec, SpecError>> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let path = PathBuf::from(format!("<builtin pipelines/{name}.toml>"));
        Some(Spec::parse(text, &path, registry))
    }

    /// Where a module's spec comes from, first found wins: a path (anything
    /// with a `/` or ending in `.toml`), `$DEEPNEURO_PIPELINES/<name>.toml`,
    /// the installed tree's `share/deepneuro/pipelines/<name>.toml` (beside
    /// the binary), then the compiled-in copy.
    pub fn resolve(name_or_path: &str, registry: &Registry) -> Result<Spec, SpecError> {
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            return Spec::load(Path::new(name_or_path), registry);
        }
        if let Some(p) = search_path(name_or_path) {
            return Spec::load(&p, registry);
        }
        Spec::builtin(name_or_path, registry).unwrap_or_else(|| {
            let known: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            Err(SpecError::new(
                Path::new(name_or_path),
                None,
                format!(
                    "no such module (built in: {}; or give a spec path)",
                    known.join(", ")
                ),
            ))
        })
    }

    /// This spec with the steps of the `skipped` groups left out and their
    /// alternatives in (every combination was checked when it loaded).
    pub fn skipping(&self, skipped: &[String]) -> Result<Spec, SpecError> {
        if let Some(g) = skipped
            .iter()
            .find(|g| !self.skips.iter().any(|k| &k.name == *g))
        {
            let known: Vec<&str> = self.skips.iter().map(|k| k.name.as_str()).collect();
            return Err(SpecError::new(
                &self.path,
                None,
                format!(
                    "--skip {g:?}: module {} skips only: {}",
                    self.module.name,
                    if known.is_empty() {
                        "nothing".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        let mut spec = self.clone();
        spec.skipped = self
            .skips
            .iter()
            .filter(|k| skipped.contains(&k.name))
            .map(|k| k.name.clone())
            .collect();
        spec.steps = self
            .all_steps
            .iter()
            .filter(|s| s.runs_with(&spec.skipped))
            .cloned()
            .collect();
        Ok(spec)
    }

    pub fn input(&self, name: &str) -> Option<&InputDecl> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// Every model name the steps use, in order of first use.
    pub fn models(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.steps {
            for m in s.models() {
                if !out.iter().any(|o| o == m) {
                    out.push(m.to_string());
                }
            }
        }
        out
    }

    /// The parameters' defaults.
    pub fn defaults(&self) -> BTreeMap<String, f64> {
        self.params
            .iter()
            .map(|(k, p)| (k.clone(), p.default))
            .collect()
    }
}

pub(crate) fn read_spec(path: &Path) -> Result<String, SpecError> {
    std::fs::read_to_string(path).map_err(|e| SpecError::new(path, None, e.to_string()))
}

fn search_path(name: &str) -> Option<PathBuf> {
    let file = format!("{name}.toml");
    if let Some(dir) = std::env::var_os("DEEPNEURO_PIPELINES") {
        let p = PathBuf::from(dir).join(&file);
        if p.is_file() {
            return Some(p);
        }
    }
    let exe = std::env::current_exe().ok()?;
    let share = exe
        .parent()?
        .parent()?
        .join("share/deepneuro/pipelines")
        .join(&file);
    share.is_file().then_some(share)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::load_default(None).unwrap()
    }

    const HEAD: &str = "[module]\nname = \"m\"\nspec_version = 1\n\n[[input]]\nname = \"t1\"\n\n";

    fn refuse(steps: &str) -> SpecError {
        let text = format!("{HEAD}{steps}");
        Spec::parse(&text, Path::new("m.toml"), &registry()).unwrap_err()
    }

    #[test]
    fn builtin_specs_parse_and_name_their_models() {
        let s = Spec::builtin("skull-strip", &registry()).unwrap().unwrap();
        assert_eq!(s.models(), ["deepbet-bbox", "deepbet-brain"]);
        assert_eq!(s.defaults()["threshold"], 0.5);
        assert_eq!(s.types["brain_mask"], Ty::Mask);
        assert_eq!(s.types["preprocessed"], Ty::Image);
        Spec::builtin("skull-strip-n4", &registry())
            .unwrap()
            .unwrap();
    }

    const SKIPPING: &str = "[[skip]]\nname = \"strip\"\nhelp = \"skull-stripped\"\n\n\
        [[step]]\nop = \"module\"\nmodule = \"skull-strip\"\nskip = \"strip\"\n\
        inputs = { t1 = \"t1\" }\noutputs = { mask = \"brain\" }\n\n\
        [[step]]\nop = \"nonzero\"\nimage = \"t1\"\nout = \"brain\"\nif_skipped = \"strip\"\n\n\
        [[step]]\nop = \"zscore\"\nimage = \"t1\"\nmask = \"brain\"\nout = \"z\"\n";

    #[test]
    fn skip_groups_swap_steps_and_every_combination_is_checked() {
        let text = format!("{HEAD}{SKIPPING}");
        let spec = Spec::parse(&text, Path::new("m.toml"), &registry()).unwrap();
        let ops = |s: &Spec| s.steps.iter().map(|s| s.op.name).collect::<Vec<_>>();
        assert_eq!(spec.models(), ["deepbet-bbox", "deepbet-brain"]);
        assert!(!ops(&spec).contains(&"nonzero"));
        assert_eq!(ops(&spec).last(), Some(&"zscore"));
        let skipped = spec.skipping(&["strip".to_string()]).unwrap();
        assert_eq!(ops(&skipped), ["nonzero", "zscore"]);
        assert!(skipped.models().is_empty(), "no model loads when skipped");
        assert_eq!(skipped.skipped, ["strip"]);
        let e = spec.skipping(&["n4".to_string()]).unwrap_err();
        assert!(e.to_string().contains("skips only: strip"), "{e}");

        // Without the alternative, the skipped combination reads a value nothing wrote.
        let broken = text.replace(
            "if_skipped = \"strip\"\n",
            "if_skipped = \"strip\"\nskip = \"strip\"\n",
        );
        let e = Spec::parse(&broken, Path::new("m.toml"), &registry()).unwrap_err();
        assert!(e.to_string().contains("both name \"strip\""), "{e}");
        let broken = text.replace("out = \"brain\"\nif_skipped", "out = \"other\"\nif_skipped");
        let e = Spec::parse(&broken, Path::new("m.toml"), &registry()).unwrap_err();
        assert!(
            e.to_string()
                .contains("with --skip strip: step 3 (zscore): reads \"brain\""),
            "{e}"
        );
        let undeclared = text.replace("[[skip]]\nname = \"strip\"", "[[skip]]\nname = \"n4\"");
        let e = Spec::parse(&undeclared, Path::new("m.toml"), &registry()).unwrap_err();
        assert!(
            e.to_string()
                .contains("skip group \"strip\" is not declared"),
            "{e}"
        );
    }

    #[test]
    fn refusals_name_the_file_line_and_problem() {
        let e = refuse("[[step]]\nop = \"nope\"\nimage = \"t1\"\n");
        assert_eq!(e.line, Some(8), "{e}");
        assert!(
            e.to_string()
                .starts_with("m.toml:8: step 1: unknown op \"nope\""),
            "{e}"
        );

        let e = refuse("[[step]]\nop = \"reorient\"\nimage = \"t1\"\nfoo = 1\n");
        assert!(e.to_string().contains("unknown key \"foo\""), "{e}");

        let e = refuse("[[step]]\nop = \"threshold\"\nprob = \"p\"\nvalue = 0.5\nout = \"m\"\n");
        assert!(
            e.to_string()
                .contains("reads \"p\", which no input or earlier step provides"),
            "{e}"
        );
        assert!(e.to_string().contains("m.toml:8"), "{e}");

        let e = refuse("[[step]]\nop = \"grow\"\nmask = \"t1\"\nvoxels = 1\n");
        assert!(
            e.to_string()
                .contains("\"t1\" is a image, this op needs a mask"),
            "{e}"
        );

        let e = refuse("[[step]]\nop = \"resize\"\nimage = \"t1\"\nmodel = \"no-such-model\"\n");
        assert!(
            e.to_string().contains("unknown model \"no-such-model\""),
            "{e}"
        );

        let e = refuse("[[step]]\nop = \"grow\"\nmask = \"t1\"\nvoxels = \"$missing\"\n");
        assert!(e.to_string().contains("unknown parameter $missing"), "{e}");

        let e = refuse("[[step]]\nop = \"reorient\"\nimage = \"t1\"\n[[output]]\nname = \"x\"\nvalue = \"nothing\"\nfile = \"x.nii.gz\"\n");
        assert!(
            e.to_string()
                .contains("no input or step provides the value \"nothing\""),
            "{e}"
        );
    }

    #[test]
    fn old_format_and_other_versions_are_refused() {
        let e = Spec::parse(
            "[pipeline]\nname = \"x\"\n",
            Path::new("old.toml"),
            &registry(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("old spec format"), "{e}");
        let e = Spec::parse(
            &HEAD.replace("spec_version = 1", "spec_version = 9"),
            Path::new("v.toml"),
            &registry(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("spec_version 9"), "{e}");
    }

    #[test]
    fn for_each_expands_and_module_inlines() {
        let text = format!(
            "{HEAD}[[input]]\nname = \"flair\"\n\n[[step]]\nop = \"reorient\"\nfor_each = [\"t1\", \"flair\"]\nimage = \"{{each}}\"\nout = \"{{each}}_ras\"\n\n[[step]]\nop = \"module\"\nname = \"strip\"\nmodule = \"skull-strip\"\ninputs = {{ t1 = \"t1_ras\" }}\noutputs = {{ mask = \"brain\" }}\nparams = {{ threshold = 0.6 }}\n"
        );
        let s = Spec::parse(&text, Path::new("m.toml"), &registry()).unwrap();
        assert_eq!(s.types["t1_ras"], Ty::Image);
        assert_eq!(s.types["flair_ras"], Ty::Image);
        assert_eq!(s.types["brain"], Ty::Mask);
        assert!(s.types.contains_key("strip/ras"));
        // The sub-module's in-place write of its input goes to its own name,
        // not over the outer value.
        let first = &s.steps[2];
        assert_eq!(first.op.name, "first-volume");
        assert_eq!(first.value("image"), Some("t1_ras"));
        assert_eq!(first.out(), Some("strip/t1"));
        let threshold = s
            .steps
            .iter()
            .find(|x| x.op.name == "threshold" && x.out() == Some("strip/mask"))
            .unwrap();
        assert_eq!(threshold.num("value", &BTreeMap::new()), Some(0.6));
    }
}

#[cfg(test)]
mod readme {
    /// pipelines/README.md's op reference is the op table's own text.
    #[test]
    fn readme_reference_matches_the_op_table() {
        let readme = include_str!("../../../../pipelines/README.md");
        let reference = super::ops::reference_markdown();
        if !readme.contains(&reference) {
            let out = std::env::temp_dir().join("deepneuro-op-reference.md");
            std::fs::write(&out, &reference).unwrap();
            panic!(
                "pipelines/README.md's op reference is out of date: the current text is in {}",
                out.display()
            );
        }
    }
}

/// Bad specs never panic, and every refusal names the file, a line and the
/// problem: a mutation of every line of both shipped specs, and random
/// specs built from the op table's own keys and some junk.
#[cfg(test)]
mod mutations {
    use super::*;

    const JUNK: &[&str] = &[
        "\"zzz\"",
        "-1",
        "0",
        "1e300",
        "[]",
        "[1, \"a\"]",
        "{}",
        "{ a = 1 }",
        "\"$nope\"",
        "\"$threshold\"",
        "true",
        "\"t1\"",
        "\"mask\"",
        "\"{each}\"",
        "[\"t1\", \"t1\"]",
        "\"deepbet-bbox\"",
        "\"skull-strip\"",
        "\"../x.toml\"",
        "nan",
        "\"\"",
    ];

    fn check(text: &str, registry: &Registry) {
        let path = Path::new("mutant.toml");
        if let Err(e) = Spec::parse(text, path, registry) {
            let msg = e.to_string();
            let line = e.line.expect("every refusal has a line");
            assert!(
                msg.starts_with(&format!("mutant.toml:{line}: ")) && msg.len() > 20,
                "{msg}"
            );
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn every_line_of_the_shipped_specs_mutated() {
        let registry = Registry::load_default(None).unwrap();
        let mut n = 0;
        for (_, text) in BUILTIN {
            let lines: Vec<&str> = text.lines().collect();
            for i in 0..lines.len() {
                let mut variants: Vec<String> = vec![
                    String::new(),
                    "junk = 1".into(),
                    format!("{0}\n{0}", lines[i]),
                ];
                if let Some((key, _)) = lines[i].split_once(" = ") {
                    variants.extend(JUNK.iter().map(|j| format!("{key} = {j}")));
                }
                if lines[i].starts_with('[') {
                    variants.push(lines[i].replace('[', "[[").replace(']', "]]"));
                    variants.push("[nope]".into());
                }
                for v in variants {
                    let mut m = lines.clone();
                    m[i] = &v;
                    check(&m.join("\n"), &registry);
                    n += 1;
                }
            }
        }
        assert!(n > 2000, "{n} mutants");
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
            &v[(self.next() % v.len() as u64) as usize]
        }
    }

    fn random_spec(r: &mut Rng) -> String {
        let names = [
            "t1",
            "flair",
            "mask",
            "prob",
            "x",
            "box",
            "range",
            "t",
            "out",
            "strip/mask",
        ];
        let mut s = String::new();
        if !r.next().is_multiple_of(10) {
            s.push_str("[module]\nname = \"m\"\nspec_version = 1\n");
        }
        for _ in 0..(r.next() % 3) {
            s.push_str(&format!(
                "[[input]]\nname = {}\nrequired = {}\n",
                r.pick(&["\"t1\"", "\"flair\"", "\"Bad Name\"", "1", "\"input-dir\""]),
                r.pick(&["true", "false"])
            ));
        }
        if r.next().is_multiple_of(3) {
            s.push_str(&format!(
                "[params.threshold]\ntype = {}\ndefault = {}\nmin = 0\nmax = {}\n",
                r.pick(&["\"float\"", "\"int\"", "\"x\""]),
                r.pick(&["0.5", "2", "-1"]),
                r.pick(&["1", "0", "1e9"])
            ));
        }
        for _ in 0..(r.next() % 8) {
            let op = r.pick(ops::OPS);
            s.push_str(&format!("[[step]]\nop = \"{}\"\n", op.name));
            for k in op.keys {
                if r.next().is_multiple_of(4) {
                    continue;
                }
                let v = match r.next() % 3 {
                    0 => format!("\"{}\"", r.pick(&names)),
                    1 => r.pick(JUNK).to_string(),
                    _ => format!("[\"{}\", \"{}\"]", r.pick(&names), r.pick(&names)),
                };
                s.push_str(&format!("{} = {v}\n", k.name));
            }
            if r.next().is_multiple_of(5) {
                s.push_str("for_each = [\"t1\", \"flair\"]\n");
            }
        }
        for _ in 0..(r.next() % 2) {
            s.push_str(&format!(
                "[[output]]\nname = \"o\"\nvalue = \"{}\"\nfile = \"{{case}}.nii.gz\"\n",
                r.pick(&names)
            ));
        }
        if r.next().is_multiple_of(7) {
            // Byte-level damage too.
            let cut = (r.next() as usize) % (s.len() + 1);
            s.truncate(s.floor_char_boundary(cut));
        }
        s
    }

    #[test]
    fn twenty_thousand_random_specs() {
        let registry = Registry::load_default(None).unwrap();
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let text = random_spec(&mut r);
            if Spec::parse(&text, Path::new("mutant.toml"), &registry).is_ok() {
                accepted += 1;
            }
            check(&text, &registry);
        }
        eprintln!("{accepted} of 20000 random specs were valid");
    }
}

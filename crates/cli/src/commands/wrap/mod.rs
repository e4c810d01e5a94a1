//! `deepneuro wrap <module>`: writes a POSIX shell script that runs the
//! module's Docker image as if it were the native command. Which options
//! name input paths and which the output folder comes from the `[container]`
//! section of the module's pipeline spec, so a new module needs no code here.

use crate::exit::{Code, Failure};
use deepneuro_pipeline::{Container, Spec};
use std::path::{Path, PathBuf};

const TEMPLATE: &str = include_str!("wrapper.sh");

#[derive(clap::Args)]
pub struct Args {
    /// A module name (`skull-strip`) or the path of a pipeline spec with a [container] section.
    pub module: String,
    /// The image to run (default: the spec's image, tagged with this version).
    #[arg(long)]
    pub image: Option<String>,
    /// Folder to write the wrapper into (created if missing); it is named after the module.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let spec = find_spec(&args.module)?;
    let container = spec.container.as_ref().ok_or_else(|| {
        Failure::new(
            Code::Input,
            format!(
                "{}: the spec has no [container] section, so it cannot be wrapped",
                spec.path.display()
            ),
        )
    })?;
    let image = args
        .image
        .clone()
        .unwrap_or_else(|| format!("{}:{}", container.image, env!("CARGO_PKG_VERSION")));
    let script = render(&spec, container, &image).map_err(|reason| {
        Failure::new(Code::Input, format!("{}: {reason}", spec.path.display()))
    })?;
    let path = args.out.join(&spec.module.name);
    crate::overwrite::refuse(&[Some(spec.path.as_path())], &[Some(path.as_path())])?;
    write_executable(&path, &script)?;
    println!("{}", path.display());
    Ok(())
}

/// A built-in module name, or a spec file (the same lookup as `deepneuro run`).
fn find_spec(module: &str) -> Result<Spec, Failure> {
    let registry = deepneuro_registry::Registry::load_default(None)?;
    Spec::resolve(module, &registry)
        .map_err(|e| Failure::new(Code::Input, format!("module spec {e}")))
}

/// Option names go into `case` patterns unquoted and the module name into
/// the script's text (and its file name), so only plain words are allowed.
fn check_word(what: &str, noun: &str, name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} is not a plain {noun} (a-z, 0-9, -)"
        ))
    }
}

/// Single-quotes a word for the shell.
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The wrapper script for a spec.
pub fn render(spec: &Spec, c: &Container, image: &str) -> Result<String, String> {
    check_word("[module] name", "module name", &spec.module.name)?;
    for name in c.input_options.iter().chain([&c.output_option]) {
        check_word("[container] option", "long option name", name)?;
    }
    if let Some(s) = c.output_short {
        if !s.is_ascii_alphabetic() {
            return Err(format!("[container] output_short {s:?} is not a letter"));
        }
    }
    if c.input_options.is_empty() {
        return Err("[container] input_options is empty".into());
    }
    let long = |suffix: &str| -> String {
        c.input_options
            .iter()
            .map(|o| format!("--{o}{suffix}"))
            .collect::<Vec<_>>()
            .join("|")
    };
    let input_cases = format!(
        "    {}) args=\"$args $(q \"$a\")\"; next=in ;;\n    {}) args=\"$args $(q \"${{a%%=*}}\")\"; input \"${{a#*=}}\" ;;",
        long(""),
        long("=*"),
    );
    let out = &c.output_option;
    let mut output_cases = format!(
        "    --{out}) args=\"$args --{out}\"; next=out ;;\n    --{out}=*) args=\"$args --{out}\"; output \"${{a#*=}}\" ;;"
    );
    if let Some(s) = c.output_short {
        output_cases.push_str(&format!(
            "\n    -{s}) args=\"$args -{s}\"; next=out ;;\n    -{s}?*) args=\"$args -{s}\"; _v=${{a#-{s}}}; output \"${{_v#=}}\" ;;"
        ));
    }
    let spec_name = spec
        .path
        .display()
        .to_string()
        .replace(['<', '>'], "")
        .replace("builtin ", "");
    // Values that reach comments must stay on one line.
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    Ok(TEMPLATE
        .replace("@INPUT_CASES@", &input_cases)
        .replace("@OUTPUT_CASES@", &output_cases)
        .replace("@IMAGE_TEXT@", &one_line(image))
        .replace("@IMAGE@", &sh_quote(image))
        .replace("@MODULE@", &spec.module.name)
        .replace("@BINARY@", &one_line(&c.binary))
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"))
        .replace("@SPEC@", &one_line(&spec_name)))
}

/// Writes `text` to `path` through a temporary file renamed into place, so a
/// failed write never leaves half a wrapper behind, then makes it executable.
fn write_executable(path: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::new(Code::Output, format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    deepneuro_io::write_atomic(path, |w| w.write_all(text.as_bytes()))
        .map_err(|e| Failure::new(Code::Output, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(fail)?;
    }
    Ok(())
}

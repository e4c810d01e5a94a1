//! `deepneuro completions` and `deepneuro man`: shell completion scripts and
//! man pages generated from the argument definitions, so they never drift
//! from `--help`.

use crate::exit::{Code, Failure};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
    /// Complete a module's own command (`skull-strip`, or a spec file) [default: deepneuro's].
    #[arg(long, value_name = "MODULE")]
    pub module: Option<String>,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Folder to write deepneuro.1 and one page per subcommand into, e.g.
    /// ~/.local/share/man/man1 (created if missing; default: print deepneuro.1 on stdout).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The page of a module's own command (`skull-strip`, or a spec file) [default: deepneuro's].
    #[arg(long, value_name = "MODULE")]
    pub module: Option<String>,
}

/// A module's command line, as its binary and `deepneuro run` build it
/// from the spec.
fn module_command(module: &str) -> Result<clap::Command, Failure> {
    let registry = deepneuro_registry::Registry::load_default(None)?;
    let spec = deepneuro_pipeline::Spec::resolve(module, &registry)
        .map_err(|e| Failure::new(Code::Input, format!("module spec {e}")))?;
    Ok(deepneuro_pipeline::cli::command::command(&spec))
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(a: &CompletionsArgs, cmd: clap::Command) -> Result<(), Failure> {
    let mut cmd = match &a.module {
        Some(m) => module_command(m)?,
        None => cmd,
    };
    let name = cmd.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, name, &mut script);
    print_bytes(&script)
}

/// Writes the man pages into `--out`, or the main page on stdout.
pub fn man(a: &ManArgs, cmd: clap::Command) -> Result<(), Failure> {
    let cmd = match &a.module {
        Some(m) => module_command(m)?,
        None => cmd,
    };
    // The help subcommand has no page of its own: `man deepneuro` covers it.
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = &a.out else {
        return print_bytes(&render(&cmd)?);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::new(Code::Output, format!("{}: {e}", dir.display())))?;
    let mut written = 0;
    write_pages(&cmd, dir, &mut written)?;
    tracing::info!("wrote {written} man pages into {}", dir.display());
    Ok(())
}

/// Writes the page of `cmd` and, depth first, of each of its subcommands,
/// named as `man` looks them up (`deepneuro-preprocess-n4.1`).
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut usize) -> Result<(), Failure> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    let page = render(cmd)?;
    let path = dir.join(page_name(cmd));
    deepneuro_io::write_atomic(&path, |w| w.write_all(&page))
        .map_err(|e| Failure::new(Code::Output, e))?;
    *written += 1;
    Ok(())
}

fn man_page(cmd: &clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd.clone()).source(format!("deepneuro {}", env!("CARGO_PKG_VERSION")))
}

fn page_name(cmd: &clap::Command) -> String {
    man_page(cmd).get_filename()
}

fn render(cmd: &clap::Command) -> Result<Vec<u8>, Failure> {
    let mut page = Vec::new();
    man_page(cmd)
        .render(&mut page)
        .map_err(|e| Failure::new(Code::Internal, format!("rendering the man page: {e}")))?;
    Ok(page)
}

/// Writes generated text to stdout; a closed pipe (`| head`) is an output
/// error, not a panic.
fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(Code::Output, format!("stdout: {e}")))
}

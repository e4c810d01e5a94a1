//! The log set-up every deepneuro binary that links this crate shares, so
//! `-v`, `-q`, `DEEPNEURO_LOG` and `NO_COLOR` mean the same everywhere.
//!
//! Logs go to stderr, one line per event without the module path (users
//! read them, not developers). The filter comes from `DEEPNEURO_LOG` when it
//! is set and not empty (the `tracing` `EnvFilter` syntax, e.g.
//! `debug,deepneuro_io=trace`), otherwise from the verbosity flags. Colour is
//! used only when stderr is a terminal and `NO_COLOR` is unset or empty
//! (<https://no-color.org>), so a log redirected to a file or a pipe holds no
//! escape codes.

use std::ffi::OsStr;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The environment variable that overrides the verbosity flags.
pub const ENV_FILTER: &str = "DEEPNEURO_LOG";

/// The filter directives the verbosity flags ask for: `quiet` gives errors
/// only; otherwise 0 gives `default` (a binary's usual level, e.g. `"warn"`
/// or `"warn,deepneuro_pipeline=info"`), 1 info, 2 debug and 3 or more trace.
pub fn directives(verbose: u8, quiet: bool, default: &str) -> &str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => default,
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    }
}

/// Whether log lines are coloured: only on a terminal, and never when
/// `NO_COLOR` holds a value (an empty one counts as unset, as no-color.org
/// says).
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the stderr log for this process, as the module doc describes.
///
/// A second call (for instance the pipeline runner's, when the `deepneuro`
/// binary has set up the log already) changes nothing; the return value says
/// whether this call installed it. An invalid `DEEPNEURO_LOG` is reported on
/// stderr and the flags' level used instead, so a typo never silences errors.
pub fn init(verbose: u8, quiet: bool, default: &str) -> bool {
    init_with_writer(verbose, quiet, default, std::io::stderr)
}

/// [`init`] with another writer of stderr lines, e.g. one that clears a
/// progress bar while a line is printed (the colour choice still follows
/// stderr).
pub fn init_with_writer<W>(verbose: u8, quiet: bool, default: &str, writer: W) -> bool
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let level = directives(verbose, quiet, default);
    let filter = match std::env::var(ENV_FILTER) {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!(
                "warning: {ENV_FILTER}={spec:?} is not a valid log filter ({e}); using {level:?}"
            );
            EnvFilter::new(level)
        }),
        _ => EnvFilter::new(level),
    };
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .with_ansi(colour)
        .try_init()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_levels() {
        assert_eq!(directives(0, true, "warn"), "error");
        assert_eq!(directives(3, true, "warn"), "error");
        assert_eq!(directives(0, false, "warn,x=info"), "warn,x=info");
        assert_eq!(directives(1, false, "warn"), "info");
        assert_eq!(directives(2, false, "warn"), "debug");
        assert_eq!(directives(3, false, "warn"), "trace");
        assert_eq!(directives(9, false, "warn"), "trace");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new(""))));
    }
}

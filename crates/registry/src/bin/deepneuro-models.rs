//! A stand-alone `deepneuro models` for scripts and for tests that need real processes; the
//! `deepneuro` CLI embeds the same subcommands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use deepneuro_registry::{run, ModelsCommand, NetworkConfig, RunContext};

#[derive(Debug, Parser)]
#[command(name = "deepneuro-models", about = "Manage DeepNeuro model weights")]
struct Args {
    /// models.toml to use (default: $DEEPNEURO_MODELS, else the built-in one).
    #[arg(long, global = true)]
    manifest: Option<PathBuf>,
    /// Cache directory (default: $DEEPNEURO_HOME, else the XDG cache).
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    /// Never touch the network (also DEEPNEURO_OFFLINE=1).
    #[arg(long, global = true)]
    offline: bool,
    /// Read timeout in seconds: the longest wait for the response or for the next bytes of it.
    #[arg(long, global = true, default_value_t = NetworkConfig::default().read_timeout.as_secs_f64())]
    read_timeout: f64,
    /// Retries per URL after a transient failure.
    #[arg(long, global = true, default_value_t = NetworkConfig::default().retries)]
    retries: u32,
    #[command(subcommand)]
    command: ModelsCommand,
}

/// The log on stderr, as `deepneuro`'s (`deepneuro_core::logging`) sets it
/// up: the filter from `DEEPNEURO_LOG` when it is set and not empty (else
/// warnings and errors), no module path, and colour only when stderr is a
/// terminal and `NO_COLOR` is unset or empty (https://no-color.org). This
/// crate cannot call that function: deepneuro-core links libtorch, and the
/// registry must build without it (`make check-deps`), so the rule is
/// repeated here. `RUST_LOG`, which this binary read before, is still taken
/// when `DEEPNEURO_LOG` is not set, so scripts (and this crate's tests) that
/// set it keep their log.
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let filter = match set("DEEPNEURO_LOG").or_else(|| set("RUST_LOG")) {
        Some(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: {spec:?} is not a valid log filter ({e}); using \"warn\"");
            EnvFilter::new("warn")
        }),
        None => EnvFilter::new("warn"),
    };
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour)
        .try_init();
}

fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    let result = RunContext::from_env(args.manifest.clone()).and_then(|mut ctx| {
        if let Some(dir) = &args.cache_dir {
            ctx.cache = deepneuro_registry::Cache::new(dir);
        }
        ctx.offline |= args.offline;
        if args.read_timeout.is_finite() && args.read_timeout > 0.0 {
            ctx.network.read_timeout = Duration::from_secs_f64(args.read_timeout.min(86_400.0));
        }
        ctx.network.retries = args.retries;
        run(&args.command, &ctx)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.code().exit()
        }
    }
}

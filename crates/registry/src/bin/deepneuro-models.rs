//! A stand-alone `deepneuro models` for scripts and for tests that need real processes; the
//! `deepneuro` CLI embeds the same subcommands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use deepneuro_registry::{run, ModelsCommand, RunContext};

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
    /// Read timeout in seconds.
    #[arg(long, global = true)]
    read_timeout: Option<f64>,
    /// Retries per URL after a transient failure.
    #[arg(long, global = true)]
    retries: Option<u32>,
    #[command(subcommand)]
    command: ModelsCommand,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let result = RunContext::from_env(args.manifest.clone()).and_then(|mut ctx| {
        if let Some(dir) = &args.cache_dir {
            ctx.cache = deepneuro_registry::Cache::new(dir);
        }
        ctx.offline |= args.offline;
        if let Some(secs) = args.read_timeout.filter(|s| s.is_finite() && *s > 0.0) {
            ctx.network.read_timeout = Duration::from_secs_f64(secs.min(86_400.0));
        }
        if let Some(r) = args.retries {
            ctx.network.retries = r;
        }
        run(&args.command, &ctx)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

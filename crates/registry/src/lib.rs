//! DeepNeuro's model registry: `models.toml`, a cache of verified weights, resumable
//! downloads with retries and mirrors, and import for machines without network access.
//!
//! Nothing is installed into the cache unless its size and SHA-256 match `models.toml`.
//! Downloads stream into `<file>.part` next to the final path, are hashed, then renamed into
//! place; an interrupted transfer is resumed with an HTTP Range request; a per-model lock
//! keeps concurrent processes from downloading twice.
//!
//! # Environment
//! - `DEEPNEURO_HOME`: cache root (else `$XDG_CACHE_HOME/deepneuro`, else
//!   `$HOME/.cache/deepneuro`).
//! - `DEEPNEURO_OFFLINE=1`: never touch the network.
//! - `DEEPNEURO_REGISTRY=<base>`: fetch `<base>/<file>` instead of each entry's `urls`
//!   (internal mirrors; `file://` works too).
//! - `DEEPNEURO_MODELS=<path>`: the `models.toml` to use instead of the compiled-in copy.
//!
//! # Exit codes ([`RegistryError::code`])
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 2 | command-line usage error (from clap) |
//! | 3 | bad input: unknown model, invalid `models.toml`, unusable URL or archive, nothing to import |
//! | 4 | local I/O: cache not writable, lock failed, no cache directory |
//! | 5 | network: connection refused or cut, timeout, HTTP error status |
//! | 6 | checksum or size mismatch |
//! | 7 | not cached (offline, or `verify` of a named model that is not cached) |
//!
//! # Library use
//! ```no_run
//! use deepneuro_registry::{ensure, FetchOptions, Registry};
//! let registry = Registry::builtin()?;
//! let entry = registry.find("deepbet-brain")?;
//! let path = ensure(entry, &FetchOptions::from_env()?)?;
//! println!("{} expects {:?}", path.display(), entry.input.shape);
//! # Ok::<(), deepneuro_registry::RegistryError>(())
//! ```

mod cache;
mod cli;
mod error;
mod fetch;
mod hash;
mod http;
mod import;
mod manifest;

pub use cache::{Cache, CacheLock, CacheState, Verification};
pub use cli::{run, ModelsCommand, RunContext};
pub use error::RegistryError;
pub use fetch::{ensure, env_flag, fetch, FetchOptions, NetworkConfig};
pub use hash::{sha256_file, sha256_reader};
pub use import::{import, ImportOptions, Imported};
pub use manifest::{
    InferenceSpec, InputSpec, ModelEntry, ModelFormat, Normalization, OutputSpec, Registry,
};

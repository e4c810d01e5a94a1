//! Pipelines as data: reusable steps (`ops` free of libtorch, `torch_ops`
//! through libtorch) and the runner of `pipelines/*.toml` specs, plus the
//! command line shared by `skull-strip` and `deepneuro run`.

mod error;
pub mod ops;
pub mod runner;
pub mod spec;
pub mod torch_ops;

pub use error::{exit, PipelineError};
pub use runner::{CaseOutput, Pipeline};
pub use spec::{Container, Spec, Step};

pub mod cases;
pub mod cli;
pub mod dicom;
pub mod input;
pub mod output;
pub mod quicklook;

pub use cli::{run_cli, run_cli_with, Args};
pub use deepneuro_core::exit_now;
pub use input::{InputKind, InputLoader, LoadOptions, Loaded, Plugins, SegWriter};

//! Modules as data: the spec language (`spec`), the engine that runs a
//! spec on a case (`engine`), the reusable steps (`ops` free of libtorch,
//! `torch_ops` through libtorch), and the command line every module shares.

pub mod engine;
mod error;
pub mod ops;
pub mod spec;
pub mod torch_ops;

pub use engine::{CaseRun, Engine, InputVolume};
pub use error::{exit, PipelineError};
pub use spec::{Container, Spec, SpecError, Step};

pub mod cases;
pub mod cli;
pub mod dicom;
pub mod input;
pub mod output;
pub mod quicklook;
pub mod record;

pub use cli::run_module;
pub use deepneuro_core::exit_now;
pub use input::{InputKind, LoadOptions, Loaded};

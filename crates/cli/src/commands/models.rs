//! `deepneuro models ...`: the registry crate does the work.

use crate::exit::Failure;
use deepneuro_registry::{ModelsCommand, RunContext};

pub fn run(cmd: &ModelsCommand) -> Result<(), Failure> {
    let ctx = RunContext::from_env(None)?;
    deepneuro_registry::run(cmd, &ctx)?;
    Ok(())
}

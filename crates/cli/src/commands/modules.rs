//! `deepneuro modules`: the built-in modules, each with its description and
//! where its spec is read from (a `$DEEPNEURO_PIPELINES` or installed copy
//! takes precedence over the compiled-in one).

use crate::exit::{Code, Failure};
use deepneuro_pipeline::spec::{Spec, BUILTIN};
use deepneuro_registry::Registry;
use serde::Serialize;

#[derive(Serialize)]
struct Module {
    name: String,
    version: String,
    description: String,
    spec: String,
    inputs: Vec<String>,
    models: Vec<String>,
}

pub fn run(json: bool) -> Result<(), Failure> {
    let registry = Registry::load_default(None)?;
    let mut modules = Vec::new();
    for (name, _) in BUILTIN {
        let spec = Spec::resolve(name, &registry)
            .map_err(|e| Failure::new(Code::Input, format!("module spec {e}")))?;
        modules.push(Module {
            name: spec.module.name.clone(),
            version: spec.module.version.clone(),
            description: spec.module.description.clone(),
            spec: spec.path.display().to_string(),
            inputs: spec.inputs.iter().map(|i| i.name.clone()).collect(),
            models: spec.models(),
        });
    }
    if json {
        super::print_json(&modules);
        return Ok(());
    }
    for m in &modules {
        println!("{:<16} {:<8} {}", m.name, m.version, m.description);
        println!(
            "{:<16} {:<8} inputs: --{}; spec: {}",
            "",
            "",
            m.inputs.join(" --"),
            m.spec
        );
    }
    Ok(())
}

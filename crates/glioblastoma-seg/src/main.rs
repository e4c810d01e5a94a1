//! `glioblastoma-seg`: runs the glioblastoma-seg module
//! (pipelines/glioblastoma-seg.toml, compiled in; `--spec` or
//! `$DEEPNEURO_PIPELINES` override it). All the work is in
//! deepneuro-pipeline, which `deepneuro run` calls too; exit codes are
//! listed in `--help`.

fn main() {
    let code = deepneuro_pipeline::run_module("glioblastoma-seg", std::env::args_os().skip(1));
    // Every output is written and closed by now; skip libtorch's tear-down.
    deepneuro_pipeline::exit_now(code);
}

//! `skull-strip`: runs pipelines/skull-strip.toml (compiled in; `--spec`
//! overrides it). All the work is in deepneuro-pipeline, which
//! `deepneuro run` calls too; exit codes are listed in `--help`.

fn main() {
    let code = deepneuro_pipeline::run_cli(None, std::env::args_os().skip(1));
    // Every output is written and closed by now; skip libtorch's tear-down.
    deepneuro_pipeline::exit_now(code);
}

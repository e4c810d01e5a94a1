//! Called from the `build.rs` of every crate that links libtorch (the core
//! crate, the CLI and module binaries), so that their binaries and test
//! executables find libtorch without `LD_LIBRARY_PATH`.

use std::path::Path;

/// Emits the linker arguments for the calling package.
///
/// The package must depend on `torch-sys` directly: Cargo passes
/// `DEP_TCH_LIBTORCH_LIB` (torch-sys declares `links = "tch"`) only to direct
/// dependents. It adds an rpath to libtorch's directory, so installed
/// binaries start anywhere. `libtorch_cuda` is deliberately not linked:
/// `deepneuro_core::load_cuda` opens it at run time when an NVIDIA driver is
/// present, which saves its load and tear-down on machines without a GPU.
pub fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=DEP_TCH_LIBTORCH_LIB not set: no rpath to libtorch");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}

/// Whether the libtorch being linked ships `libtorch_cuda.so`.
pub fn libtorch_has_cuda() -> bool {
    std::env::var("DEP_TCH_LIBTORCH_LIB")
        .map(|lib| Path::new(&lib).join("libtorch_cuda.so").exists())
        .unwrap_or(false)
}

/// The version string of the libtorch being linked (`2.11.0+cu130`), read
/// from the `version.py` of the torch package it belongs to, or `unknown`.
pub fn libtorch_version() -> String {
    std::env::var("DEP_TCH_LIBTORCH_LIB")
        .ok()
        .and_then(|lib| std::fs::read_to_string(Path::new(&lib).join("../version.py")).ok())
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("__version__ = "))
                .map(|v| v.trim().trim_matches(['\'', '"']).to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Sets `DEEPNEURO_GIT_REVISION` for the calling package to the checkout's
/// short revision (`unknown` outside a checkout), for `--version` and the
/// per-case records.
pub fn git_revision() {
    let rev = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=DEEPNEURO_GIT_REVISION={rev}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
}

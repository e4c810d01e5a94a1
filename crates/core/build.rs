fn main() {
    deepneuro_build_support::link_libtorch();
    println!(
        "cargo:rustc-env=DEEPNEURO_LIBTORCH_VERSION={}",
        deepneuro_build_support::libtorch_version()
    );
    println!("cargo::rustc-check-cfg=cfg(libtorch_cuda)");
    if deepneuro_build_support::libtorch_has_cuda() {
        println!("cargo:rustc-cfg=libtorch_cuda");
    }
}

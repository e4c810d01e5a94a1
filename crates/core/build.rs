fn main() {
    deepneuro_build_support::link_libtorch();
    println!(
        "cargo:rustc-env=DEEPNEURO_LIBTORCH_VERSION={}",
        deepneuro_build_support::libtorch_version()
    );
}

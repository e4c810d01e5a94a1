fn main() {
    deepneuro_build_support::link_libtorch();
}

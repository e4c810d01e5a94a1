fn main() {
    deepneuro_build_support::link_libtorch();
    deepneuro_build_support::git_revision();
}

//! Any byte string given to the NIfTI parser returns a value or an error;
//! it never panics and never allocates more than the input justifies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = deepneuro_io::nifti::from_bytes(std::path::Path::new("fuzz.nii"), data);
});

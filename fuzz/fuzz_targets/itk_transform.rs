//! Any byte string given to the ITK transform reader (text `.tfm`/`.txt` or
//! the MATLAB v4 `.mat` ITK and ANTs write) returns a transform or an error;
//! it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = deepneuro_preprocess::transform::AffineTransform::from_itk_bytes(
        std::path::Path::new("fuzz.tfm"),
        data,
    );
});

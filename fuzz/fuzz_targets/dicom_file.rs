//! Any file in a DICOM folder is either read, skipped with a reason, or an
//! error; scanning and loading it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The DICOM reader works on folders of files, so each input becomes a
    // file in a private folder (kept for the process, rewritten each time).
    thread_local! {
        static DIR: std::path::PathBuf = {
            let d = std::env::temp_dir().join(format!("deepneuro-fuzz-dicom-{}", std::process::id()));
            std::fs::create_dir_all(&d).expect("temp folder");
            d
        };
    }
    DIR.with(|dir| {
        let file = dir.join("input.dcm");
        if std::fs::write(&file, data).is_err() {
            return;
        }
        if let Ok(scan) = deepneuro_dicom::scan(dir) {
            for series in &scan.series {
                let _ = deepneuro_dicom::load(series, &deepneuro_dicom::LoadOptions::default());
            }
        }
    });
});

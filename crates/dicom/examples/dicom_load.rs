//! Loads one DICOM series and optionally writes it as NIfTI: the program
//! timed by `scripts/bench/dicom_bench.py`.
//!
//! Usage: dicom_load <folder> [out.nii] [--series <selector>]

use deepneuro_dicom::{read_volume, LoadOptions, SeriesSelector};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut folder = None;
    let mut out = None;
    let mut selector = None;
    while let Some(a) = args.next() {
        if a == "--series" {
            match args.next().map(|s| s.parse::<SeriesSelector>()) {
                Some(Ok(s)) => selector = Some(s),
                Some(Err(e)) => {
                    eprintln!("error: {e}");
                    return e.code().exit();
                }
                None => return ExitCode::from(2),
            }
        } else if folder.is_none() {
            folder = Some(PathBuf::from(a));
        } else {
            out = Some(PathBuf::from(a));
        }
    }
    let Some(folder) = folder else {
        eprintln!("usage: dicom_load <folder> [out.nii] [--series <selector>]");
        return ExitCode::from(2);
    };
    let t = std::time::Instant::now();
    let v = match read_volume(&folder, selector.as_ref(), &LoadOptions::default()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return e.code().exit();
        }
    };
    let load_s = t.elapsed().as_secs_f64();
    if let Some(out) = out {
        if let Err(e) = deepneuro_io::write(&v, &out) {
            eprintln!("error: {e}");
            return ExitCode::from(4);
        }
    }
    println!(
        "{{\"shape\": {:?}, \"load_s\": {load_s:.4}, \"total_s\": {:.4}}}",
        v.spatial_shape(),
        t.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

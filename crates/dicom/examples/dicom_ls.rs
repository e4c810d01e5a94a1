//! `dicom ls` as a stand-alone example: one row per series, `--json` for
//! machine-readable output. The CLI's subcommand does the same.
//!
//! Usage: dicom_ls <folder> [--json]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let Some(folder) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: dicom_ls <folder> [--json]");
        return ExitCode::from(2);
    };
    match deepneuro_dicom::scan(std::path::Path::new(folder)) {
        Ok(scan) => {
            if json {
                println!("{}", deepneuro_dicom::format_json(&scan));
            } else {
                print!("{}", deepneuro_dicom::format_table(&scan));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.code().exit()
        }
    }
}

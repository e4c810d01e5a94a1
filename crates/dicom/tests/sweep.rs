//! Every grayscale image of pydicom's test data (pydicom and the
//! `pydicom-data` package) decodes to pydicom's pixel array, or fails with
//! "unsupported transfer syntax <name>". Prints the outcome per file.

use deepneuro_dicom::decode_raw;
use deepneuro_testkit::{read_json, read_npy, run_python, script};
use std::path::Path;

#[test]
fn pydicom_test_data_sweep() {
    let dir = tempfile::tempdir().unwrap();
    run_python(&script("fixtures/dicom_pydicom_sweep.py"), [dir.path()]);
    let manifest = read_json(&dir.path().join("manifest.json"));
    let (mut same, mut unsupported, mut failed) = (0, 0, Vec::new());
    for e in manifest.as_array().unwrap() {
        let path = e["path"].as_str().unwrap();
        let name = Path::new(path).file_name().unwrap().to_string_lossy();
        let ts = e["ts_name"].as_str().unwrap_or("");
        let Some(npy) = e["npy"].as_str() else {
            println!("skip        {name}: {}", e["skip"].as_str().unwrap_or(""));
            continue;
        };
        let expected = read_npy(Path::new(npy));
        match decode_raw(Path::new(path)) {
            Ok((shape, data)) => {
                if shape.to_vec() != expected.shape {
                    println!(
                        "DIFFERENT   {name} [{ts}]: shape {shape:?} vs pydicom {:?}",
                        expected.shape
                    );
                    failed.push(name.to_string());
                    continue;
                }
                let worst = data
                    .iter()
                    .zip(&expected.data)
                    .map(|(a, b)| (*a as f64 - b).abs() / b.abs().max(1.0))
                    .fold(0.0, f64::max);
                if worst <= 1e-6 {
                    println!("same        {name} [{ts}]");
                    same += 1;
                } else {
                    let n = data
                        .iter()
                        .zip(&expected.data)
                        .filter(|(a, b)| (**a as f64 - **b).abs() > 1e-6 * b.abs().max(1.0))
                        .count();
                    println!(
                        "DIFFERENT   {name} [{ts}]: {n} values differ, worst relative {worst:e}"
                    );
                    failed.push(name.to_string());
                }
            }
            Err(err) => {
                let msg = err.to_string();
                if msg.contains("unsupported transfer syntax") {
                    println!("unsupported {name}: {msg}");
                    unsupported += 1;
                } else {
                    println!("ERROR       {name} [{ts}]: {msg}");
                    failed.push(name.to_string());
                }
            }
        }
    }
    println!(
        "{same} same as pydicom, {unsupported} unsupported transfer syntax, {} failed",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "decoded differently from pydicom or failed: {failed:?}"
    );
}

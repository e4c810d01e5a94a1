//! `deepneuro predict` end to end: a TorchScript model exported by PyTorch
//! in the test, patch inference equal to MONAI's sliding_window_inference,
//! the input's geometry kept, and clear errors.

use deepneuro_testkit::{read_npy, run_python, script};
use std::process::Command;

#[test]
fn predict_equals_monai_sliding_window_and_keeps_geometry() {
    let dir = tempfile::tempdir().unwrap();
    run_python(&script("fixtures/predict_cli.py"), [dir.path()]);
    let out = dir.path().join("prob.nii.gz");
    let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .arg("predict")
        .arg("--model")
        .arg(dir.path().join("model.pt"))
        .arg("--input")
        .arg(dir.path().join("input.nii.gz"))
        .arg("--output")
        .arg(&out)
        .args([
            "--patch-size",
            "16,16,16",
            "--overlap",
            "0.25",
            "--blend",
            "gaussian",
        ])
        // Mixed precision is for CUDA: on the CPU it is ignored, and the
        // results stay float32's (the MONAI comparison below).
        .args([
            "--batch",
            "3",
            "--device",
            "cpu",
            "--mixed-precision",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["mixed_precision"], false, "{summary}");
    let got = deepneuro_io::read(&out).unwrap();
    let input = deepneuro_io::read(&dir.path().join("input.nii.gz")).unwrap();
    assert_eq!(got.affine(), input.affine());
    assert_eq!(got.shape(), [3, 37, 45, 29]);
    let expected = read_npy(&dir.path().join("expected.npy"));
    assert_eq!(expected.shape, [37, 45, 29, 3]);
    // The .npy is C order [x, y, z, k]; compare element by element.
    let mut max = 0f64;
    for ((c, x, y, z), v) in got.data().indexed_iter() {
        let e = expected.data[((x * 45 + y) * 29 + z) * 3 + c];
        max = max.max((*v as f64 - e).abs());
    }
    eprintln!("deepneuro predict vs MONAI sliding_window_inference: max abs diff {max:.2e}");
    assert!(max < 1e-4, "max abs diff {max}");

    // A model file that is not one: exit 3 naming it, nothing written.
    let bad = dir.path().join("bad.pt");
    std::fs::write(&bad, b"not a model").unwrap();
    let out2 = dir.path().join("never.nii.gz");
    let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
        .arg("predict")
        .arg("--model")
        .arg(&bad)
        .arg("--input")
        .arg(dir.path().join("input.nii.gz"))
        .arg("--output")
        .arg(&out2)
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("bad.pt"), "{err}");
    assert!(!out2.exists());
}

/// `deepneuro train`: config errors are one line with a documented code
/// (the training itself is tested in crates/train against held-out phantoms).
#[test]
fn train_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "epochs = 2\n[optimizer]\nkind = \"rmsprop\"\n").unwrap();
    let missing = dir.path().join("missing.toml");
    for (cfg, code, mention) in [(&bad, 3, "rmsprop"), (&missing, 3, "missing.toml")] {
        let o = Command::new(env!("CARGO_BIN_EXE_deepneuro"))
            .arg("train")
            .arg("--config")
            .arg(cfg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(mention), "{err}");
    }
}

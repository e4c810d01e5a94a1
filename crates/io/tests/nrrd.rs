//! NRRD reading and writing checked against pynrrd (and ITK through
//! SimpleITK), run from the venv by scripts/fixtures/nrrd_fixtures.py.

use deepneuro_io::{nrrd, IoError};
use deepneuro_testkit::{
    assert_close, flat_affine, json_matrix, read_json, read_npy, run_python, script,
};
use deepneuro_volume::{Affine, DType, Volume};
use ndarray::Array4;
use std::path::{Path, PathBuf};

/// Makes the fixtures in a fresh folder; returns it with the file names.
fn fixtures() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    run_python(
        &script("fixtures/nrrd_fixtures.py"),
        [Path::new("make").as_os_str(), dir.path().as_os_str()],
    );
    let names: Vec<String> =
        serde_json::from_value(read_json(&dir.path().join("manifest.json"))).unwrap();
    assert!(names.len() >= 15, "the fixture script made too few files");
    let files = names.iter().map(|n| dir.path().join(n)).collect();
    (dir, files)
}

/// `a/b.nrrd` -> `a/b.{suffix}`.
fn sibling(p: &Path, suffix: &str) -> PathBuf {
    p.with_extension(suffix)
}

fn assert_affine(what: &str, got: &Affine, expected: &[f64]) {
    let got = flat_affine(got);
    for (g, e) in got.iter().zip(expected) {
        assert!(
            (g - e).abs() <= 1e-5,
            "{what}: affine {got:?} differs from the reference {expected:?}"
        );
    }
}

fn values(vol: &Volume) -> Vec<f64> {
    vol.data().iter().map(|&v| v as f64).collect()
}

/// Compares `vol` with the reference the script wrote for `file`: pynrrd's
/// data and geometry, and ITK's where ITK reads the file.
fn compare(what: &str, vol: &Volume, file: &Path) {
    let meta = read_json(&sibling(file, "ref.json"));
    let npy = read_npy(&sibling(file, "ref.npy"));
    assert_eq!(npy.shape, vol.shape().to_vec(), "{what}: shape");
    assert_close(&format!("{what}: data"), &values(vol), &npy.data, 1e-6);
    assert_affine(what, vol.affine(), &json_matrix(&meta["affine"]));
    if let Some(itk) = meta["itk"].as_object() {
        let npy = read_npy(&sibling(file, "itk.npy"));
        assert_eq!(npy.shape, vol.shape().to_vec(), "{what}: ITK shape");
        assert_close(&format!("{what}: ITK data"), &values(vol), &npy.data, 1e-6);
        assert_affine(
            &format!("{what} (ITK)"),
            vol.affine(),
            &json_matrix(&itk["affine"]),
        );
        assert_eq!(
            itk["components"].as_u64(),
            Some(vol.channels() as u64),
            "{what}: ITK component count"
        );
    }
}

fn dtype_of(meta: &serde_json::Value) -> DType {
    DType::from_name(meta["dtype"].as_str().unwrap()).unwrap()
}

#[test]
fn reads_pynrrd_fixtures() {
    let (_dir, files) = fixtures();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let vol = nrrd::read(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        compare(&name, &vol, file);
        let meta = read_json(&sibling(file, "ref.json"));
        assert_eq!(vol.dtype(), dtype_of(&meta), "{name}: dtype");
        // The generic entry point picks NRRD from the name.
        assert_eq!(
            deepneuro_io::read(file).unwrap(),
            vol,
            "{name}: deepneuro_io::read"
        );
        if name.ends_with(".nrrd") {
            let bytes = std::fs::read(file).unwrap();
            assert_eq!(
                nrrd::from_bytes(file, &bytes).unwrap(),
                vol,
                "{name}: from_bytes"
            );
        }
    }
}

/// Writes every fixture volume in several ways, then has pynrrd and ITK
/// read what we wrote.
#[test]
fn pynrrd_and_itk_read_what_we_write() {
    let (dir, files) = fixtures();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut written: Vec<(PathBuf, Volume)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let vol = nrrd::read(file).unwrap();
        let gzip = out.join(format!("{stem}.nrrd"));
        nrrd::write(&vol, &gzip).unwrap();
        written.push((gzip, vol.clone()));
        let raw_opts = nrrd::WriteOptions {
            encoding: nrrd::Encoding::Raw,
            ..Default::default()
        };
        let raw = out.join(format!("{stem}_raw.nrrd"));
        nrrd::write_with(&vol, &raw, &raw_opts).unwrap();
        written.push((raw, vol.clone()));
        // Detached headers, alternately gzip and raw data.
        let nhdr = out.join(format!("{stem}_det.nhdr"));
        let opts = if i % 2 == 0 {
            nrrd::WriteOptions::default()
        } else {
            raw_opts.clone()
        };
        nrrd::write_with(&vol, &nhdr, &opts).unwrap();
        written.push((nhdr, vol));
    }
    // A float volume that remembers an integer type it no longer fits.
    let (frac_path, frac) = fractional_volume(&out);
    written.push((frac_path, frac));

    let mut args = vec!["check".to_string()];
    args.extend(
        written
            .iter()
            .map(|(p, _)| p.to_string_lossy().into_owned()),
    );
    run_python(&script("fixtures/nrrd_fixtures.py"), &args);

    for (path, vol) in &written {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        compare(&name, vol, path);
        let meta = read_json(&sibling(path, "ref.json"));
        let want = if name.starts_with("fractional") {
            DType::F32
        } else {
            vol.dtype()
        };
        assert_eq!(dtype_of(&meta), want, "{name}: dtype pynrrd reads");
        assert_eq!(meta["space"], "left-posterior-superior", "{name}: space");
        if vol.channels() > 1 {
            assert_eq!(meta["channel_axis"], 0, "{name}: channel axis first");
            assert_eq!(meta["kinds"][0], "list", "{name}: kinds");
        }
        // And our own reader gives the volume back.
        let back = nrrd::read(path).unwrap();
        assert_eq!(back.data(), vol.data(), "{name}: round trip data");
        assert_affine(&name, back.affine(), &flat_affine(vol.affine()));
    }
}

fn fractional_volume(out: &Path) -> (PathBuf, Volume) {
    let data = Array4::from_shape_fn((1, 3, 4, 2), |(_, x, y, z)| {
        x as f32 + 0.25 * (y + z) as f32
    });
    let vol = Volume::new(data, Affine::identity(), DType::I16).unwrap();
    let path = out.join("fractional_int16.nrrd");
    nrrd::write(&vol, &path).unwrap();
    let text = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("type: float\n"), "{text}");
    assert!(
        text.contains("stored as float"),
        "the header explains the type change"
    );
    let back = nrrd::read(&path).unwrap();
    assert_eq!(back.dtype(), DType::F32);
    assert_eq!(back.data(), vol.data());
    (path, vol)
}

/// A small attached raw file: 2x3x4 int16 in LPS.
fn small_raw() -> Vec<u8> {
    let mut bytes = b"NRRD0004\ntype: short\ndimension: 3\nsizes: 2 3 4\nendian: little\n\
        encoding: raw\nspace: left-posterior-superior\n\
        space directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\n\n"
        .to_vec();
    for v in 0i16..24 {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

/// The same file with gzip data.
fn small_gzip() -> Vec<u8> {
    use std::io::Write;
    let raw = small_raw();
    let split = raw.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw[split..]).unwrap();
    let mut out = head.replace("encoding: raw", "encoding: gzip").into_bytes();
    out.extend(enc.finish().unwrap());
    out
}

fn err_of(bytes: &[u8]) -> IoError {
    let path = Path::new("mem.nrrd");
    let e = nrrd::from_bytes(path, bytes).expect_err("bad input must be rejected");
    assert_eq!(e.path(), path, "the error names the file");
    e
}

#[test]
fn small_files_read() {
    let v = nrrd::from_bytes(Path::new("a.nrrd"), &small_raw()).unwrap();
    assert_eq!(v.shape(), [1, 2, 3, 4]);
    assert_eq!(v.data()[[0, 1, 2, 3]], (1 + 2 * 2 + 3 * 6) as f32);
    assert_eq!(v.affine()[(0, 0)], -1.0);
    let g = nrrd::from_bytes(Path::new("a.nrrd"), &small_gzip()).unwrap();
    assert_eq!(g, v);
}

#[test]
fn truncated_raw_data() {
    let bytes = small_raw();
    let e = err_of(&bytes[..bytes.len() - 3]);
    assert!(
        matches!(
            e,
            IoError::Truncated {
                expected: 48,
                actual: 45,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn sizes_exceeding_the_data() {
    let text = String::from_utf8_lossy(&small_raw()).replace("sizes: 2 3 4", "sizes: 2 3 5");
    let e = err_of(text.as_bytes());
    assert!(matches!(e, IoError::Truncated { expected: 60, .. }), "{e}");
    // A header claiming a petabyte is refused before any allocation.
    let text = String::from_utf8_lossy(&small_raw())
        .replace("sizes: 2 3 4", "sizes: 100000 100000 100000");
    let e = err_of(text.as_bytes());
    assert!(matches!(e, IoError::Truncated { .. }), "{e}");
    // The same for gzip data.
    let text = String::from_utf8_lossy(&small_gzip()).replace("sizes: 2 3 4", "sizes: 2 3 5");
    let e = err_of(&lossless_replace(
        &small_gzip(),
        "sizes: 2 3 4",
        "sizes: 2 3 5",
    ));
    assert!(
        matches!(e, IoError::Truncated { .. }),
        "{e} ({})",
        text.len()
    );
}

/// Replaces text in the header of a file with binary data.
fn lossless_replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap();
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&bytes[at + from.len()..]);
    out
}

#[test]
fn corrupt_and_truncated_gzip() {
    let good = small_gzip();
    let mut corrupt = good.clone();
    let n = corrupt.len();
    for b in &mut corrupt[n - 20..n - 8] {
        *b ^= 0x5a;
    }
    assert!(matches!(err_of(&corrupt), IoError::Gzip { .. }));
    assert!(matches!(err_of(&good[..n - 10]), IoError::Gzip { .. }));
    // A forged trailer claiming 4 GiB is refused before inflating.
    let mut forged = good.clone();
    forged[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(err_of(&forged), IoError::Gzip { .. }));
}

#[test]
fn header_errors() {
    let raw = small_raw();
    let e = err_of(&lossless_replace(&raw, "type: short", "type: quaternion"));
    assert!(matches!(e, IoError::UnsupportedDatatype { .. }), "{e}");
    let e = err_of(&lossless_replace(&raw, "type: short", "type: block"));
    assert!(matches!(e, IoError::UnsupportedDatatype { .. }), "{e}");
    let e = err_of(&lossless_replace(&raw, "sizes: 2 3 4\n", ""));
    assert!(
        matches!(&e, IoError::BadHeader { format: "NRRD", reason, .. } if reason.contains("sizes")),
        "{e}"
    );
    let e = err_of(&lossless_replace(&raw, "sizes: 2 3 4", "sizes: 2 0 4"));
    assert!(matches!(e, IoError::BadDimensions { .. }), "{e}");
    let e = err_of(&lossless_replace(
        &raw,
        "dimension: 3\nsizes: 2 3 4",
        "dimension: 5\nsizes: 2 3 4 1 1",
    ));
    assert!(matches!(e, IoError::BadDimensions { .. }), "{e}");
    let e = err_of(&lossless_replace(&raw, "endian: little\n", ""));
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    let e = err_of(&lossless_replace(&raw, "encoding: raw", "encoding: bzip2"));
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    let e = err_of(&lossless_replace(
        &raw,
        "left-posterior-superior",
        "left-posterior-superior-time",
    ));
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    let e = err_of(&lossless_replace(&raw, "(0,0,1)", "(0,0)"));
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    let e = err_of(b"P5\n2 3\n255\n");
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    // A header cut short before its blank line has no data.
    let e = err_of(&raw[..40]);
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    // In memory, a detached header cannot be followed to its data.
    let e = err_of(&lossless_replace(
        &raw,
        "encoding: raw",
        "encoding: raw\ndata file: x.raw",
    ));
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
    let e = err_of(&lossless_replace(
        &raw,
        "encoding: raw",
        "encoding: raw\ndata file: LIST",
    ));
    assert!(matches!(e, IoError::BadHeader { .. }), "{e}");
}

#[test]
fn detached_data_skips_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    // Data after two text lines and behind junk: line skip, then byte
    // skip -1 (the data are the last bytes).
    let mut data = b"line one\nline two\nJUNK".to_vec();
    for v in 0u16..6 {
        data.extend_from_slice(&v.to_be_bytes());
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/d.bin"), &data).unwrap();
    let header = "NRRD0005\ntype: uint16_t\ndimension: 2\nsizes: 3 2\nendian: big\n\
        encoding: raw\nspacings: 2 3\ndata file: sub/d.bin\nline skip: 2\nbyte skip: -1\n";
    let nhdr = dir.path().join("d.nhdr");
    std::fs::write(&nhdr, header).unwrap();
    let v = nrrd::read(&nhdr).unwrap();
    assert_eq!(v.shape(), [1, 3, 2, 1]);
    assert_eq!(v.dtype(), DType::U16);
    assert_eq!(v.data()[[0, 2, 1, 0]], 5.0);
    // No space: read as LPS, as ITK does; z is the unit normal.
    assert_eq!(v.spacing(), [2.0, 3.0, 1.0]);
    assert_eq!(v.affine()[(0, 0)], -2.0);
    assert_eq!(v.affine()[(2, 2)], 1.0);

    std::fs::remove_file(dir.path().join("sub/d.bin")).unwrap();
    let e = nrrd::read(&nhdr).unwrap_err();
    assert!(
        matches!(&e, IoError::Io { path, .. } if path.ends_with("sub/d.bin")),
        "{e}"
    );
}

#[test]
fn failed_writes_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vol = nrrd::from_bytes(Path::new("a.nrrd"), &small_raw()).unwrap();
    let missing = dir.path().join("no/such/folder/x.nrrd");
    let e = nrrd::write(&vol, &missing).unwrap_err();
    assert!(matches!(e, IoError::Unwritable { .. }), "{e}");
    assert!(!dir.path().join("no").exists());
    // A detached header that cannot be put in place (a folder has its
    // name) takes its already written data file with it.
    std::fs::create_dir(dir.path().join("x.nhdr")).unwrap();
    std::fs::write(dir.path().join("x.nhdr/keep"), b"").unwrap();
    let e = nrrd::write(&vol, &dir.path().join("x.nhdr")).unwrap_err();
    assert!(matches!(e, IoError::Unwritable { .. }), "{e}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["x.nhdr".to_string()], "only the folder remains");
}

/// Random corruption of valid files must give errors, never panics.
#[test]
fn mangled_input_never_panics() {
    let seeds = [small_raw(), small_gzip()];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..4000 {
        let mut bytes = seeds[round % 2].clone();
        let edits = 1 + next() % 4;
        for _ in 0..edits {
            let n = bytes.len();
            let at = (next() % n as u64) as usize;
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, b"0123456789 (),:-\n#"[(next() % 18) as usize]),
            }
        }
        let _ = nrrd::from_bytes(Path::new("fuzz.nrrd"), &bytes);
    }
}

//! Malformed input: truncated and corrupted files give errors or skips,
//! never a panic or an abort.

mod common;

use common::fixture;
use deepneuro_dicom::{decode_raw, load, scan, LoadOptions};
use std::path::Path;

/// A small deterministic generator, so that failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn exercise(path: &Path) {
    let _ = decode_raw(path);
    if let Ok(s) = scan(path) {
        for series in &s.series {
            let _ = load(series, &LoadOptions::default());
            let _ = load(
                series,
                &LoadOptions {
                    allow_gaps: true,
                    ..LoadOptions::default()
                },
            );
        }
    }
}

#[test]
fn truncated_and_corrupted_files_never_panic() {
    let sources = [
        fixture("axial/IM0000.dcm"),
        fixture("enhanced/multiframe.dcm"),
        fixture("compressed_rle/IM0000.dcm"),
        fixture("compressed_j2k/IM0000.dcm"),
        fixture("compressed_deflate/IM0000.dcm"),
        fixture("compressed_bigendian/IM0000.dcm"),
        fixture("compressed_jpegls/IM0000.dcm"),
        fixture("compressed_jpeg/IM0000.dcm"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(42);
    let mut cases = 0;
    for src in &sources {
        let bytes = std::fs::read(src).unwrap();
        let target = dir.path().join("case.dcm");
        // Truncations at many lengths, header and pixel data alike.
        let step = (bytes.len() / 15).max(1);
        for len in (0..bytes.len()).step_by(step) {
            std::fs::write(&target, &bytes[..len]).unwrap();
            exercise(&target);
            cases += 1;
        }
        // Random byte corruption, a few bytes at a time.
        // (A corrupted length can make the parser read for a while, so the
        // count is kept small.)
        for _ in 0..8 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % b.len();
                b[i] = rng.next() as u8;
            }
            std::fs::write(&target, &b).unwrap();
            exercise(&target);
            cases += 1;
        }
    }
    println!("{cases} malformed files handled");
}

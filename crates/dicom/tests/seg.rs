//! DICOM SEG output read back by highdicom and dcmqi.

mod common;

use common::{fixture, fixtures};
use deepneuro_dicom::seg::{write_seg, SegOptions, SegmentSpec};
use deepneuro_dicom::{load, scan, LoadOptions, SeriesInfo};
use deepneuro_testkit::{run_python, script};
use deepneuro_volume::{DType, Volume};
use std::path::Path;

fn source(name: &str) -> (SeriesInfo, Volume) {
    let s = scan(&fixture(name)).unwrap();
    let series = s.series[0].clone();
    let v = load(&series, &LoadOptions::default()).unwrap();
    (series, v)
}

/// A label map on the source grid: 1 in one box, 2 in another.
fn box_mask(src: &Volume) -> Volume {
    let [nx, ny, nz] = src.spatial_shape();
    let mut m = src.clone();
    m.set_dtype(DType::U8);
    for ((_, x, y, z), v) in m.data_mut().indexed_iter_mut() {
        *v = if x < nx / 2 && y < ny / 2 && z >= 1 && z + 1 < nz {
            1.0
        } else if x > nx / 2 && y + 2 > ny / 2 && z + 2 < nz {
            2.0
        } else {
            0.0
        };
    }
    m
}

fn readback(seg: &Path, mask: &Path, work: &Path) -> serde_json::Value {
    let out = run_python(&script("fixtures/dicom_seg_readback.py"), [seg, mask, work]);
    println!("{out}");
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

fn assert_readback(r: &serde_json::Value) {
    for tool in ["highdicom", "dcmqi"] {
        let t = &r[tool];
        assert!(t["error"].is_null(), "{tool}: {}", t["error"]);
        assert_eq!(t["shape_equal"], true, "{tool}: {t}");
        assert_eq!(t["mismatches"], 0, "{tool}: {t}");
        assert!(t["affine_err"].as_f64().unwrap() < 1e-3, "{tool}: {t}");
    }
}

fn check_roundtrip(name: &str, reorient: bool) {
    let (series, src) = source(name);
    let mask = box_mask(&src);
    let work = fixtures().join(format!("seg_{name}_{reorient}"));
    std::fs::create_dir_all(&work).unwrap();
    let mask_path = work.join("mask.nii.gz");
    deepneuro_io::nifti::write(&mask, &mask_path).unwrap();
    // A mask on another grid of the same world (axes permuted and flipped)
    // must be resampled back onto the source images.
    let given = if reorient {
        mask.reoriented(&[(1, -1), (2, 1), (0, -1)]).unwrap()
    } else {
        mask.clone()
    };
    let out = work.join("seg.dcm");
    let opts = SegOptions {
        segments: vec![
            SegmentSpec::named(1, "tumor"),
            SegmentSpec::named(2, "edema"),
        ],
        mask_path: mask_path.clone(),
        ..SegOptions::default()
    };
    let summary = write_seg(&series, &given, &out, &opts).unwrap();
    assert_eq!(summary.segments.len(), 2);
    assert_eq!(summary.resampled, reorient);
    let r = readback(&out, &mask_path, &work);
    assert_readback(&r);
    // Our own reader loads each segment as a volume on the source grid.
    if !reorient {
        let back = scan(&out).unwrap();
        assert_eq!(back.series.len(), 2, "{:?}", back.series);
        assert_eq!(back.series[0].modality, "SEG");
        assert_eq!(back.series[0].split.as_deref(), Some("segment 1"));
        for (k, value) in [(0usize, 1.0f32), (1, 2.0)] {
            let v = load(&back.series[k], &LoadOptions::default()).unwrap();
            assert_eq!(v.spatial_shape(), mask.spatial_shape());
            let diff = (v.affine() - mask.affine()).abs().max();
            assert!(diff < 1e-4, "segment {value}: affine differs by {diff}");
            for (a, b) in v.channel(0).iter().zip(mask.channel(0).iter()) {
                assert_eq!(*a, (*b == value) as u8 as f32, "segment {value}");
            }
        }
    }
    let segs = r["highdicom"]["segments"].as_array().unwrap();
    assert_eq!(segs[0]["label"], "tumor");
    assert_eq!(segs[0]["type"], "Neoplasm");
    assert_eq!(segs[1]["type"], "Edema");
}

#[test]
fn axial_seg_reads_back_in_highdicom_and_dcmqi() {
    check_roundtrip("axial", false);
}

#[test]
fn oblique_seg_reads_back_in_highdicom_and_dcmqi() {
    check_roundtrip("oblique", false);
}

#[test]
fn mask_on_another_grid_is_resampled() {
    check_roundtrip("axial", true);
}

#[test]
fn mask_of_another_frame_is_an_error() {
    let (series, src) = source("axial");
    let mut mask = box_mask(&src);
    let mut a = *mask.affine();
    a[(0, 3)] += 5000.0;
    mask.set_affine(a).unwrap();
    let out = fixtures().join("far_seg.dcm");
    let err = write_seg(&series, &mask, &out, &SegOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("another frame of reference"),
        "{err}"
    );
    assert_eq!(err.code(), deepneuro_exit::Code::Input);
    assert!(!out.exists());

    let opts = SegOptions {
        mask_frame_of_reference: Some("1.2.3".into()),
        ..SegOptions::default()
    };
    let err = write_seg(&series, &box_mask(&src), &out, &opts).unwrap_err();
    assert!(
        err.to_string().contains("frame of reference 1.2.3"),
        "{err}"
    );
}

#[test]
fn unwritable_output_is_exit_code_4() {
    let (series, src) = source("axial");
    let out = fixtures().join("no/such/dir/seg.dcm");
    let err = write_seg(&series, &box_mask(&src), &out, &SegOptions::default()).unwrap_err();
    assert_eq!(err.code(), deepneuro_exit::Code::Output, "{err}");
}

#[test]
fn enhanced_multiframe_seg_reads_back() {
    check_roundtrip("enhanced", false);
}

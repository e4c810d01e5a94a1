//! HDF5 datasets: collect, h5py/nibabel check, lazy loading back,
//! describe, fitting shapes, augmentation at collect time, atomic writes.

mod common;

use common::{brats, phantoms, GOOD, GROUP_ARGS};
use deepneuro_data::{
    collect, describe, CollectOptions, CollectionOptions, DataCollection, DataError,
};
use deepneuro_testkit::{run_python, script};
use std::cell::Cell;
use std::path::Path;

fn h5py_check(h5: &Path) -> serde_json::Value {
    let mut args = vec![
        "check".to_string(),
        h5.display().to_string(),
        phantoms().display().to_string(),
    ];
    args.extend(GROUP_ARGS.iter().map(|s| s.to_string()));
    let out = run_python(&script("fixtures/data_h5py_check.py"), args);
    let mut lines = out.lines();
    let summary = serde_json::from_str(lines.next().expect("a JSON line")).expect("JSON");
    assert_eq!(lines.next(), Some("OK"), "{out}");
    summary
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect()
}

#[test]
fn collect_round_trip_matches_nibabel_through_h5py_and_loads_lazily() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("brats.h5");
    let calls = Cell::new(0usize);
    let report = collect(
        phantoms(),
        &brats(),
        None,
        &out,
        &CollectOptions::default(),
        &|done, total| {
            assert_eq!(total, 4);
            assert_eq!(done, calls.get() + 1);
            calls.set(done);
        },
    )
    .expect("collect");
    assert_eq!(calls.get(), 4);
    assert_eq!((report.cases_written, report.rows), (4, 4));
    let skipped: Vec<_> = report.skipped.iter().map(|s| s.case.as_str()).collect();
    assert_eq!(skipped, ["BraTS_Phantom_ambiguous", "BraTS_Phantom_broken"]);
    assert_eq!(report.shapes["input"], [4, 4, 80, 96, 80]);
    assert_eq!(report.shapes["ground_truth"], [4, 1, 80, 96, 80]);
    assert!(leftovers(tmp.path()).is_empty());

    // h5py reads the documented layout and every value equals nibabel's.
    let summary = h5py_check(&out);
    assert_eq!(summary["case_ids"], serde_json::json!(GOOD));
    assert_eq!(summary["groups"]["input"]["level"], 1);

    // Loaded back lazily, rows equal the source cases exactly.
    let h5 = DataCollection::open(&out, &[], &CollectionOptions::default()).expect("open h5");
    let folder =
        DataCollection::from_folder(phantoms(), &brats(), &CollectionOptions::default()).unwrap();
    assert_eq!(h5.case_ids(), folder.case_ids());
    assert_eq!(h5.groups(), folder.groups());
    for i in [3, 0] {
        let a = h5.load(i).unwrap();
        let b = folder.load(i).unwrap();
        assert_eq!(a.case, b.case);
        assert_eq!(a.affine, b.affine);
        assert_eq!(a.groups, b.groups, "case {}", a.case);
    }
    assert_eq!(h5.info(1).unwrap(), folder.info(1).unwrap());
    // Selecting a group loads only that one.
    let only = DataCollection::from_hdf5(&out, &["ground_truth".to_string()]).unwrap();
    assert_eq!(only.load(0).unwrap().groups.len(), 1);

    let info = describe(&out).expect("describe");
    assert_eq!(info.cases, 4);
    assert_eq!(info.format_version, 1);
    let input = &info.groups[0];
    assert_eq!(input.name, "input");
    assert_eq!(input.shape, [4, 4, 80, 96, 80]);
    assert_eq!(input.dtype, "float32");
    assert_eq!(input.chunk, Some(vec![1, 1, 80, 96, 80]));
    assert_eq!(input.compression, "shuffle+deflate(1)");
    assert!(input.stored_bytes > 0 && input.stored_bytes < 4 * 4 * 80 * 96 * 80 * 4);
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["groups"][1]["channels"], serde_json::json!(["seg"]));
}

#[test]
fn fitted_shapes_pad_and_crop_at_the_high_end() {
    let tmp = tempfile::tempdir().unwrap();
    let folder =
        DataCollection::from_folder(phantoms(), &brats(), &CollectionOptions::default()).unwrap();
    let source = folder.load(1).unwrap();
    for fit in [[64, 100, 80], [90, 90, 90]] {
        let out = tmp.path().join(format!("fit{}.h5", fit[0]));
        let opts = CollectOptions {
            fit: Some(fit),
            compression: 4,
            workers: 0,
            ..CollectOptions::default()
        };
        let report = collect(phantoms(), &brats(), None, &out, &opts, &|_, _| {}).unwrap();
        assert_eq!(report.shapes["input"], [4, 4, fit[0], fit[1], fit[2]]);
        let h5 = DataCollection::from_hdf5(&out, &[]).unwrap();
        let back = h5.load(1).unwrap();
        let valid = [fit[0].min(80), fit[1].min(96), fit[2].min(80)];
        for (g, arr) in &back.groups {
            assert_eq!(&arr.shape()[1..], valid.as_slice(), "{g}");
            let want = source.groups[g].slice(ndarray::s![.., ..valid[0], ..valid[1], ..valid[2]]);
            assert_eq!(arr, &want, "{g}");
        }
        assert_eq!(back.affine, source.affine);
        assert!(describe(&out).unwrap().groups[0]
            .compression
            .ends_with("deflate(4)"));
    }
}

#[test]
fn augmentation_at_collect_time_writes_one_row_per_patch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("patches.h5");
    let aug = deepneuro_augment::parse(
        "patches(size=32x24x16,count=3,label=ground_truth,label_fraction=0.5); flip(axes=0,p=0.5)",
    )
    .expect("augmentation");
    let opts = CollectOptions {
        seed: 11,
        ..CollectOptions::default()
    };
    let report = collect(phantoms(), &brats(), Some(&aug), &out, &opts, &|_, _| {}).unwrap();
    assert_eq!((report.cases_written, report.rows), (4, 12));
    assert_eq!(report.shapes["input"], [12, 4, 32, 24, 16]);
    let h5 = DataCollection::from_hdf5(&out, &[]).unwrap();
    assert_eq!(
        h5.case_ids()[..3],
        [
            "BraTS_Phantom_000#p0",
            "BraTS_Phantom_000#p1",
            "BraTS_Phantom_000#p2"
        ]
    );
    // The same seed writes the same rows.
    let again = tmp.path().join("again.h5");
    collect(phantoms(), &brats(), Some(&aug), &again, &opts, &|_, _| {}).unwrap();
    let h5b = DataCollection::from_hdf5(&again, &[]).unwrap();
    for i in [0, 5, 11] {
        assert_eq!(h5.load(i).unwrap().groups, h5b.load(i).unwrap().groups);
        assert_eq!(h5.load(i).unwrap().affine, h5b.load(i).unwrap().affine);
    }
}

#[test]
fn failed_collects_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    // An output folder that does not exist.
    let out = tmp.path().join("missing").join("x.h5");
    let err = collect(
        phantoms(),
        &brats(),
        None,
        &out,
        &CollectOptions::default(),
        &|_, _| {},
    )
    .unwrap_err();
    assert!(err.is_output_error(), "{err}");
    // Every case fails to load: no file and no part.
    let cases = tmp.path().join("cases");
    for case in ["a", "b"] {
        std::fs::create_dir_all(cases.join(case)).unwrap();
        for name in ["flair", "t1", "t1ce", "t2", "seg"] {
            std::fs::write(
                cases.join(case).join(format!("{case}_{name}.nii.gz")),
                b"not gzip",
            )
            .unwrap();
        }
    }
    let out = tmp.path().join("none.h5");
    match collect(
        &cases,
        &brats(),
        None,
        &out,
        &CollectOptions::default(),
        &|_, _| {},
    ) {
        Err(DataError::NoCases { skipped, .. }) => assert_eq!(skipped, 2),
        other => panic!("{other:?}"),
    }
    assert!(!out.exists());
    assert!(leftovers(tmp.path()).is_empty());
    // A file that is not a deepneuro dataset.
    let fake = tmp.path().join("fake.h5");
    std::fs::write(&fake, b"not hdf5").unwrap();
    assert!(DataCollection::from_hdf5(&fake, &[]).is_err());
}

//! DataCollection on BraTS-like phantoms: discovery, skipping, CSV lists,
//! lazy loads against nibabel, cached attributes, grids.

mod common;

use common::{brats, phantoms, GOOD, GROUP_ARGS};
use deepneuro_data::{CollectionOptions, DataCollection, DataError, GridPolicy};
use deepneuro_testkit::{flat_affine, json_matrix, read_json, read_npy, run_python, script};
use std::path::Path;

fn nibabel_dump(case: &str, out: &Path) {
    let mut args = vec![
        "dump".to_string(),
        phantoms().display().to_string(),
        case.to_string(),
        out.display().to_string(),
    ];
    args.extend(GROUP_ARGS.iter().map(|s| s.to_string()));
    run_python(&script("fixtures/data_h5py_check.py"), args);
}

#[test]
fn brats_folder_finds_good_cases_and_reports_bad_ones() {
    let c = DataCollection::from_folder(phantoms(), &brats(), &CollectionOptions::default())
        .expect("collection");
    assert_eq!(c.case_ids(), GOOD);
    let names: Vec<_> = c.groups().iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["input", "ground_truth"]);
    assert_eq!(c.groups()[0].channels, ["flair", "t1", "t1ce", "t2"]);
    assert_eq!(c.groups()[1].channels, ["seg"]);
    let skipped: Vec<_> = c.skipped().iter().map(|s| s.case.as_str()).collect();
    assert_eq!(skipped, ["BraTS_Phantom_ambiguous", "BraTS_Phantom_broken"]);
    let amb = &c.skipped()[0].reason;
    assert!(amb.contains("2 files match \"*_flair.nii.gz\""), "{amb}");
    assert!(
        amb.contains("BraTS_Phantom_ambiguous_repeat_flair.nii.gz"),
        "{amb}"
    );
    let broken = &c.skipped()[1].reason;
    assert!(
        broken.contains("ground_truth: no file matches \"*_seg.nii.gz\""),
        "{broken}"
    );
    // The files of a case are the ones the patterns name, in pattern order.
    let files: Vec<String> = c.cases()[1]
        .files(0)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        ["flair", "t1", "t1ce", "t2"].map(|m| format!("BraTS_Phantom_001_{m}.nii.gz"))
    );
}

#[test]
fn loaded_case_and_cached_info_equal_nibabel() {
    let c = DataCollection::from_folder(phantoms(), &brats(), &CollectionOptions::default())
        .expect("collection");
    let tmp = tempfile::tempdir().unwrap();
    nibabel_dump(GOOD[2], tmp.path());
    let sample = c.load(2).expect("load");
    assert_eq!(sample.case, GOOD[2]);
    for group in ["input", "ground_truth"] {
        let want = read_npy(&tmp.path().join(format!("{group}.npy")));
        let got = &sample.groups[group];
        assert_eq!(got.shape(), want.shape.as_slice(), "{group}");
        // Iteration is in logical (C) order whatever the memory layout.
        let got: Vec<f64> = got.iter().map(|&v| v as f64).collect();
        assert!(got == want.data, "{group}: values differ from nibabel");
    }
    let meta = read_json(&tmp.path().join("case.json"));
    assert_eq!(flat_affine(&sample.affine), json_matrix(&meta["affine"]));

    let info = c.info(2).expect("info");
    assert_eq!(info.shape, [80, 96, 80]);
    assert_eq!(info.spacing, [2.0, 2.0, 2.0]);
    for group in ["input", "ground_truth"] {
        let want = meta["ranges"][group].as_array().unwrap();
        let got = &info.ranges[group];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            let [lo, hi] = g.expect("finite voxels");
            assert_eq!(
                [lo as f64, hi as f64],
                [w[0].as_f64().unwrap(), w[1].as_f64().unwrap()]
            );
        }
    }
    // Derived attributes are computed once: the second call is the cache.
    assert!(std::ptr::eq(info, c.info(2).unwrap()));
    assert!(matches!(
        c.info(9),
        Err(DataError::CaseIndex { index: 9, len: 4 })
    ));
}

#[test]
fn csv_case_list_reports_bad_rows_and_loads_like_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = phantoms();
    let mut text = String::from("case,input:flair,input:t1,ground_truth:seg\n");
    for case in [GOOD[1], GOOD[0]] {
        text += &format!(
            "{case},{r}/{case}/{case}_flair.nii.gz,{r}/{case}/{case}_t1.nii.gz,{r}/{case}/{case}_seg.nii.gz\n",
            r = root.display()
        );
    }
    text += &format!("{},,x.nii.gz,y.nii.gz\n", GOOD[2]);
    text += &format!("{},a,b,c\n", GOOD[0]);
    text += ",a,b,c\n";
    let csv = tmp.path().join("cases.csv");
    std::fs::write(&csv, text).unwrap();
    let c = DataCollection::open(&csv, &[], &CollectionOptions::default()).expect("csv");
    assert_eq!(c.case_ids(), [GOOD[0], GOOD[1]]);
    assert_eq!(c.groups()[0].channels, ["flair", "t1"]);
    let reasons: Vec<String> = c
        .skipped()
        .iter()
        .map(|s| format!("{}: {}", s.case, s.reason))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].starts_with("BraTS_Phantom_000: line 5: the case id is used on line 3"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("input:flair: no file given"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("x.nii.gz does not exist"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].starts_with("line 6: the case id is empty"),
        "{reasons:?}"
    );

    let folder =
        DataCollection::from_folder(root, &brats(), &CollectionOptions::default()).unwrap();
    let a = c.load(0).unwrap();
    let b = folder.load(0).unwrap();
    assert_eq!(a.groups["ground_truth"], b.groups["ground_truth"]);
    assert_eq!(
        a.groups["input"],
        b.groups["input"].slice(ndarray::s![0..2, .., .., ..])
    );
}

#[test]
fn bad_specifications_and_sources_are_errors() {
    let opts = CollectionOptions::default();
    let root = phantoms();
    let bad_glob = vec![("input".to_string(), vec!["[".to_string()])];
    assert!(matches!(
        DataCollection::from_folder(root, &bad_glob, &opts),
        Err(DataError::BadSpec { .. })
    ));
    let reserved = vec![("affines".to_string(), vec!["*".to_string()])];
    assert!(matches!(
        DataCollection::from_folder(root, &reserved, &opts),
        Err(DataError::BadSpec { .. })
    ));
    let nothing = vec![("input".to_string(), vec!["*_pd.nii.gz".to_string()])];
    match DataCollection::from_folder(root, &nothing, &opts) {
        Err(DataError::NoCases { skipped, .. }) => assert_eq!(skipped, 6),
        other => panic!("{other:?}"),
    }
    let missing = root.join("no-such-folder");
    let err = DataCollection::open(&missing, &brats(), &opts).unwrap_err();
    assert!(err.to_string().contains("no-such-folder"), "{err}");
}

#[test]
fn channels_on_another_grid_are_an_error_or_resampled() {
    let tmp = tempfile::tempdir().unwrap();
    let case = GOOD[0];
    let dir = tmp.path().join(case);
    std::fs::create_dir_all(&dir).unwrap();
    for m in ["flair", "t1", "t1ce", "t2"] {
        let name = format!("{case}_{m}.nii.gz");
        std::fs::copy(phantoms().join(case).join(&name), dir.join(&name)).unwrap();
    }
    // The label map at 4 mm: every other voxel, the affine's columns doubled.
    let seg =
        deepneuro_io::read(&phantoms().join(case).join(format!("{case}_seg.nii.gz"))).unwrap();
    let coarse = seg
        .data()
        .slice(ndarray::s![.., ..;2, ..;2, ..;2])
        .to_owned();
    let mut affine = *seg.affine();
    for j in 0..3 {
        for i in 0..3 {
            affine[(i, j)] *= 2.0;
        }
    }
    let mut small = deepneuro_volume::Volume::new(coarse, affine, seg.dtype()).unwrap();
    small.set_dtype(seg.dtype());
    deepneuro_io::write(&small, &dir.join(format!("{case}_seg.nii.gz"))).unwrap();

    let strict =
        DataCollection::from_folder(tmp.path(), &brats(), &CollectionOptions::default()).unwrap();
    match strict.load(0) {
        Err(DataError::GridMismatch { case: c, detail }) => {
            assert_eq!(c, case);
            assert!(
                detail.contains("_seg.nii.gz (shape [40, 48, 40])"),
                "{detail}"
            );
        }
        other => panic!("expected a grid mismatch, got {other:?}"),
    }
    let opts = CollectionOptions {
        grid: GridPolicy::Resample,
        ..CollectionOptions::default()
    };
    let lenient = DataCollection::from_folder(tmp.path(), &brats(), &opts).unwrap();
    let s = lenient.load(0).expect("resampled");
    let gt = &s.groups["ground_truth"];
    assert_eq!(gt.shape(), [1, 80, 96, 80]);
    // Label-safe resampling only ever produces labels of the source.
    assert!(gt.iter().all(|v| [0.0, 1.0, 2.0, 4.0].contains(v)));
    assert!(gt.iter().filter(|&&v| v == 2.0).count() > 100);
    assert_eq!(s.affine, *seg.affine());
}

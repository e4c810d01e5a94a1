//! Runs resampling jobs on both sides (ours, SimpleITK through the fixture
//! script) and compares them.

use deepneuro_preprocess::resample::{
    resample, resample_labels, Grid, Interpolation, ResampleOptions,
};
use deepneuro_testkit::{assert_close, read_npy, run_python, script};
use deepneuro_volume::{Affine, Volume};
use nalgebra::{Matrix3, Rotation3, Vector3};
use std::path::{Path, PathBuf};

const SCRIPT: &str = "fixtures/preprocess_resample.py";

pub(crate) struct Inputs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Inputs {
    pub(crate) fn new() -> Inputs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run_python(&script(SCRIPT), [Path::new("inputs"), &path]);
        Inputs { _dir: dir, path }
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub(crate) fn read(&self, name: &str) -> Volume {
        deepneuro_io::read(&self.file(name)).unwrap()
    }
}

/// One resampling done on both sides.
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) input: PathBuf,
    pub(crate) grid: Grid,
    pub(crate) interp: &'static str,
    pub(crate) world_map: Option<Affine>,
    pub(crate) antialias: bool,
    pub(crate) ours: Volume,
}

fn rows(a: &Affine) -> Vec<Vec<f64>> {
    (0..4)
        .map(|i| (0..4).map(|j| a[(i, j)]).collect())
        .collect()
}

fn interpolation(name: &str) -> Interpolation {
    match name {
        "nearest" => Interpolation::Nearest,
        "linear" => Interpolation::Linear,
        _ => Interpolation::BSpline,
    }
}

pub(crate) fn job(
    name: &str,
    inputs: &Inputs,
    file: &str,
    grid: &Grid,
    interp: &'static str,
    world_map: Option<Affine>,
) -> Job {
    let v = inputs.read(file);
    let ours = if interp == "labels" {
        resample_labels(&v, grid, world_map.as_ref()).unwrap()
    } else {
        let opts = ResampleOptions {
            interpolation: interpolation(interp),
            ..Default::default()
        };
        resample(&v, grid, world_map.as_ref(), &opts).unwrap()
    };
    Job {
        name: name.to_string(),
        input: inputs.file(file),
        grid: grid.clone(),
        interp,
        world_map,
        antialias: false,
        ours,
    }
}

/// Runs the reference for every job; returns (values, region) per job.
pub(crate) fn reference(dir: &Path, jobs: &[Job]) -> Vec<(Vec<f64>, Vec<u8>)> {
    let spec: Vec<serde_json::Value> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            serde_json::json!({
                "input": j.input,
                "shape": j.grid.shape,
                "affine": rows(&j.grid.affine),
                "interp": j.interp,
                "world_map": j.world_map.as_ref().map(rows),
                "antialias": j.antialias,
                "out": dir.join(format!("job{i}")),
            })
        })
        .collect();
    let path = dir.join("jobs.json");
    std::fs::write(&path, serde_json::to_string(&spec).unwrap()).unwrap();
    run_python(&script(SCRIPT), [Path::new("run"), &path]);
    (0..jobs.len())
        .map(|i| {
            let values = read_npy(&dir.join(format!("job{i}.npy")));
            let region = read_npy(&dir.join(format!("job{i}_region.npy")));
            let [nx, ny, nz] = jobs[i].grid.shape;
            assert_eq!(
                values.shape,
                vec![nz, ny, nx],
                "{}: reference shape",
                jobs[i].name
            );
            (values.data, region.data.iter().map(|&r| r as u8).collect())
        })
        .collect()
}

/// Compares one job with its reference as the file docs describe.
pub(crate) fn check(job: &Job, reference: &[f64], region: &[u8]) {
    let ours = job.ours.nifti_slice();
    assert_eq!(
        job.ours.spatial_shape(),
        job.grid.shape,
        "{}: shape",
        job.name
    );
    assert_eq!(ours.len(), reference.len(), "{}: voxel count", job.name);
    let interior: Vec<usize> = (0..ours.len()).filter(|&i| region[i] & 1 != 0).collect();
    // The comparison must cover a real part of the output.
    assert!(
        interior.len() * 5 > ours.len(),
        "{}: only {} of {} voxels are interior",
        job.name,
        interior.len(),
        ours.len()
    );
    let outside_wrong = (0..ours.len())
        .filter(|&i| region[i] & 2 != 0 && ours[i] != 0.0)
        .count();
    assert_eq!(
        outside_wrong, 0,
        "{}: voxels outside the source must be 0",
        job.name
    );
    if matches!(job.interp, "nearest" | "labels") {
        let differ = |i: &&usize| ours[**i] as f64 != reference[**i];
        let ties = interior.iter().filter(|&&i| region[i] & 4 != 0).count();
        let tie_diff = interior
            .iter()
            .filter(|&&i| region[i] & 4 != 0)
            .filter(differ)
            .count();
        let other_diff = interior
            .iter()
            .filter(|&&i| region[i] & 4 == 0)
            .filter(differ)
            .count();
        eprintln!(
            "{}: {} interior voxels, {} ties ({} differ), {} non-tie voxels differ",
            job.name,
            interior.len(),
            ties,
            tie_diff,
            other_diff
        );
        if job.interp == "nearest" {
            assert_eq!(
                other_diff, 0,
                "{}: nearest differs away from ties",
                job.name
            );
            assert!(
                tie_diff * 1000 <= interior.len(),
                "{}: {tie_diff} ties differ",
                job.name
            );
        } else {
            // Label arg-max ties (equal one-hot weights) fall either way with
            // rounding; they are rare on real label maps.
            assert!(
                (other_diff + tie_diff) * 1000 <= interior.len(),
                "{}: {} labels differ",
                job.name,
                other_diff + tie_diff
            );
        }
    } else {
        let a: Vec<f64> = interior.iter().map(|&i| ours[i] as f64).collect();
        let b: Vec<f64> = interior.iter().map(|&i| reference[i]).collect();
        let worst = a
            .iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f64::max);
        eprintln!(
            "{}: {} interior voxels, worst relative error {worst:.2e}",
            job.name,
            a.len()
        );
        assert_close(&job.name, &a, &b, 1e-3);
    }
}

pub(crate) fn run_and_check(jobs: &[Job]) {
    let dir = tempfile::tempdir().unwrap();
    for (job, (values, region)) in jobs.iter().zip(reference(dir.path(), jobs)) {
        check(job, &values, &region);
    }
}

pub(crate) fn affine(lin: Matrix3<f64>, origin: [f64; 3]) -> Affine {
    let mut a = Affine::identity();
    a.fixed_view_mut::<3, 3>(0, 0).copy_from(&lin);
    for r in 0..3 {
        a[(r, 3)] = origin[r];
    }
    a
}

pub(crate) fn rotation(axis: [f64; 3], degrees: f64) -> Matrix3<f64> {
    Rotation3::from_axis_angle(
        &nalgebra::Unit::new_normalize(Vector3::from(axis)),
        degrees.to_radians(),
    )
    .into_inner()
}

/// A grid with linear part `lin` whose centre is the world point `centre`
/// (the oblique source is centred on [1.5, -17, 8] by construction).
pub(crate) fn centered_grid(lin: Matrix3<f64>, shape: [usize; 3], centre: [f64; 3]) -> Grid {
    let half = Vector3::from(shape.map(|n| (n as f64 - 1.0) / 2.0));
    let origin = Vector3::from(centre) - lin * half;
    Grid {
        shape,
        affine: affine(lin, [origin[0], origin[1], origin[2]]),
    }
}

/// An axis-aligned grid covering the world bounding box of `v`.
pub(crate) fn bounding_grid(v: &Volume, spacing: f64) -> Grid {
    let s = v.spatial_shape();
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for corner in 0..8 {
        let ijk = [0, 1, 2].map(|a| {
            if corner >> a & 1 == 1 {
                s[a] as f64 - 1.0
            } else {
                0.0
            }
        });
        let p = v.voxel_to_world(ijk);
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let shape = [0, 1, 2].map(|a| ((hi[a] - lo[a]) / spacing).ceil() as usize + 1);
    Grid {
        shape,
        affine: affine(Matrix3::identity() * spacing, lo),
    }
}

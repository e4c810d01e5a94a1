//! [`DataCollection`]: cases and data groups from a folder, a CSV case list
//! or an HDF5 dataset, loaded lazily.

use crate::discover::{self, Discovered};
use crate::h5::H5Reader;
use crate::load::load_files;
use crate::spec::{CollectionOptions, GroupSpec, Skipped};
use crate::DataError;
use deepneuro_augment::Sample;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Attributes of one case derived from its voxels, computed on first use
/// and cached.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseInfo {
    /// Voxels along x, y, z of the case's grid.
    pub shape: [usize; 3],
    /// Voxel size in mm along x, y, z (the norms of the affine's columns).
    pub spacing: [f64; 3],
    /// Voxel to RAS+ mm, row by row.
    pub affine: [[f64; 4]; 4],
    /// Per group, per channel: the smallest and largest finite value
    /// (`None` for a channel without a finite voxel).
    pub ranges: BTreeMap<String, Vec<Option<[f32; 2]>>>,
}

/// One case: its id and where its voxels come from.
#[derive(Debug)]
pub struct Case {
    id: String,
    /// Per group, per channel: the source file (empty for HDF5 rows).
    files: Vec<Vec<PathBuf>>,
    info: OnceLock<CaseInfo>,
}

impl Case {
    /// The case id (folder name, CSV case column, HDF5 row id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The channel files of group `group` (empty for an HDF5 dataset).
    pub fn files(&self, group: usize) -> &[PathBuf] {
        self.files.get(group).map_or(&[], |f| f.as_slice())
    }
}

#[derive(Debug)]
enum Backend {
    Files,
    Hdf5 {
        reader: Box<H5Reader>,
        /// For each group of the collection, its dataset index in the file.
        datasets: Vec<usize>,
    },
}

/// Cases and their data groups, loaded lazily: building a collection lists
/// files (or reads an HDF5 index); voxels are read when a case is loaded.
/// Cases are sorted by id; the ones that could not be used are listed in
/// [`DataCollection::skipped`].
#[derive(Debug)]
pub struct DataCollection {
    source: PathBuf,
    groups: Vec<GroupSpec>,
    cases: Vec<Case>,
    skipped: Vec<Skipped>,
    options: CollectionOptions,
    backend: Backend,
}

impl DataCollection {
    /// Opens `source` by its kind: a folder (one subfolder per case, files
    /// found by `groups`' filename patterns), a `.csv` case list, or an
    /// HDF5 dataset (`.h5`, `.hdf5`, `.hdf`). For CSV and HDF5 sources the
    /// patterns are ignored and `groups`, when not empty, selects groups by
    /// name.
    pub fn open(
        source: &Path,
        groups: &[(String, Vec<String>)],
        options: &CollectionOptions,
    ) -> Result<DataCollection, DataError> {
        let names: Vec<String> = groups.iter().map(|(n, _)| n.clone()).collect();
        let ext = source
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if source.is_dir() {
            DataCollection::from_folder(source, groups, options)
        } else if ext == "csv" {
            DataCollection::from_csv(source, &names, options)
        } else if matches!(ext.as_str(), "h5" | "hdf5" | "hdf") {
            DataCollection::from_hdf5(source, &names)
        } else if !source.exists() {
            Err(DataError::io(source, "no such file or folder"))
        } else {
            Err(DataError::io(
                source,
                "not a folder, a .csv case list or an HDF5 file (.h5, .hdf5)",
            ))
        }
    }

    /// Cases from a folder with one subfolder per case; `groups` gives each
    /// group's filename patterns, one per channel (the BraTS layout:
    /// `input = ["*_flair.nii.gz", "*_t1.nii.gz", "*_t1ce.nii.gz",
    /// "*_t2.nii.gz"]`, `ground_truth = ["*_seg.nii.gz"]`).
    pub fn from_folder(
        dir: &Path,
        groups: &[(String, Vec<String>)],
        options: &CollectionOptions,
    ) -> Result<DataCollection, DataError> {
        let found = discover::folder::discover(dir, groups)?;
        DataCollection::from_discovered(dir, found, options)
    }

    /// Cases from a CSV case list (see the crate docs for the header).
    pub fn from_csv(
        csv: &Path,
        select: &[String],
        options: &CollectionOptions,
    ) -> Result<DataCollection, DataError> {
        let found = discover::csv::discover(csv, select)?;
        DataCollection::from_discovered(csv, found, options)
    }

    /// Rows of an HDF5 dataset written by [`crate::collect`]; `select`, when
    /// not empty, keeps only the named groups. Rows keep the file's order.
    pub fn from_hdf5(h5: &Path, select: &[String]) -> Result<DataCollection, DataError> {
        let reader = H5Reader::open(h5)?;
        let mut datasets: Vec<usize> = (0..reader.groups.len()).collect();
        if !select.is_empty() {
            datasets = select
                .iter()
                .map(|name| {
                    reader
                        .groups
                        .iter()
                        .position(|g| g.name == *name)
                        .ok_or_else(|| DataError::BadSpec {
                            reason: format!("group {name:?} is not in {}", h5.display()),
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        let groups = datasets.iter().map(|&d| reader.groups[d].clone()).collect();
        let cases = reader
            .case_ids
            .iter()
            .map(|id| Case {
                id: id.clone(),
                files: Vec::new(),
                info: OnceLock::new(),
            })
            .collect();
        Ok(DataCollection {
            source: h5.to_path_buf(),
            groups,
            cases,
            skipped: Vec::new(),
            options: CollectionOptions::default(),
            backend: Backend::Hdf5 {
                reader: Box::new(reader),
                datasets,
            },
        })
    }

    fn from_discovered(
        source: &Path,
        found: Discovered,
        options: &CollectionOptions,
    ) -> Result<DataCollection, DataError> {
        if found.cases.is_empty() {
            return Err(DataError::NoCases {
                path: source.to_path_buf(),
                skipped: found.skipped.len(),
            });
        }
        let cases = found
            .cases
            .into_iter()
            .map(|(id, files)| Case {
                id,
                files,
                info: OnceLock::new(),
            })
            .collect();
        Ok(DataCollection {
            source: source.to_path_buf(),
            groups: found.groups,
            cases,
            skipped: found.skipped,
            options: options.clone(),
            backend: Backend::Files,
        })
    }

    /// The folder, CSV or HDF5 file the collection was built from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The data groups, in order.
    pub fn groups(&self) -> &[GroupSpec] {
        &self.groups
    }

    /// The index of the group called `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    /// The usable cases, sorted by id (HDF5: in row order).
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// The case ids, in case order.
    pub fn case_ids(&self) -> Vec<&str> {
        self.cases.iter().map(|c| c.id.as_str()).collect()
    }

    /// Cases that discovery left out, with the reason.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// The number of usable cases.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// True when there is no usable case (never for a built collection).
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Loads every group of case `index`.
    pub fn load(&self, index: usize) -> Result<Sample, DataError> {
        let all: Vec<usize> = (0..self.groups.len()).collect();
        self.load_groups(index, &all)
    }

    /// Loads the groups `which` (indices into [`DataCollection::groups`]) of
    /// case `index`: each group is `[c, x, y, z]` with its channels in
    /// order. Files are read now; an HDF5 row's slab is read now.
    pub fn load_groups(&self, index: usize, which: &[usize]) -> Result<Sample, DataError> {
        let case = self.cases.get(index).ok_or(DataError::CaseIndex {
            index,
            len: self.cases.len(),
        })?;
        if let Some(&g) = which.iter().find(|&&g| g >= self.groups.len()) {
            return Err(DataError::BadOption {
                name: "group",
                reason: format!(
                    "group index {g} is out of range ({} groups)",
                    self.groups.len()
                ),
            });
        }
        match &self.backend {
            Backend::Files => {
                let (groups, affine) =
                    load_files(&case.id, &self.groups, &case.files, which, &self.options)?;
                Ok(Sample {
                    case: case.id.clone(),
                    groups,
                    affine,
                })
            }
            Backend::Hdf5 { reader, datasets } => {
                let mut groups = BTreeMap::new();
                for &g in which {
                    groups.insert(
                        self.groups[g].name.clone(),
                        reader.read(index, datasets[g])?,
                    );
                }
                Ok(Sample {
                    case: case.id.clone(),
                    groups,
                    affine: reader.affines[index],
                })
            }
        }
    }

    /// Shape, spacing, affine and intensity ranges of case `index`,
    /// computed on first use (this loads the case) and cached.
    pub fn info(&self, index: usize) -> Result<&CaseInfo, DataError> {
        let case = self.cases.get(index).ok_or(DataError::CaseIndex {
            index,
            len: self.cases.len(),
        })?;
        if let Some(info) = case.info.get() {
            return Ok(info);
        }
        let sample = self.load(index)?;
        let info = case_info(&sample);
        // Another thread may have filled the cell meanwhile; both computed
        // the same value, so either is right.
        Ok(case.info.get_or_init(|| info))
    }
}

fn case_info(sample: &Sample) -> CaseInfo {
    use rayon::prelude::*;
    let shape = sample
        .groups
        .values()
        .next()
        .map_or([0; 3], |a| [a.dim().1, a.dim().2, a.dim().3]);
    let a = &sample.affine;
    let spacing = [0, 1, 2].map(|j| (0..3).map(|i| a[(i, j)].powi(2)).sum::<f64>().sqrt());
    let affine = [0, 1, 2, 3].map(|i| [0, 1, 2, 3].map(|j| a[(i, j)]));
    let ranges = sample
        .groups
        .iter()
        .map(|(name, arr)| {
            let per: Vec<Option<[f32; 2]>> = (0..arr.dim().0)
                .into_par_iter()
                .map(|c| {
                    arr.index_axis(ndarray::Axis(0), c)
                        .iter()
                        .filter(|v| v.is_finite())
                        .fold(None, |acc: Option<[f32; 2]>, &v| match acc {
                            None => Some([v, v]),
                            Some([lo, hi]) => Some([lo.min(v), hi.max(v)]),
                        })
                })
                .collect();
            (name.clone(), per)
        })
        .collect();
    CaseInfo {
        shape,
        spacing,
        affine,
        ranges,
    }
}

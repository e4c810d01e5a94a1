//! Opening a dataset written by [`super::H5Writer`] and reading rows lazily.

use super::direct::DirectChunks;
use super::{AFFINES, CASE_IDS, FORMAT, FORMAT_VERSION, SHAPES};
use crate::spec::GroupSpec;
use crate::DataError;
use deepneuro_volume::Affine;
use hdf5::types::VarLenUnicode;
use ndarray::{s, Array4, Ix4};
use std::path::{Path, PathBuf};

/// An open dataset: its index (case ids, affines, valid shapes) is read at
/// open time, voxels only when a row is asked for.
#[derive(Debug)]
pub(crate) struct H5Reader {
    path: PathBuf,
    /// Kept open for the lifetime of the reader so that rows read without
    /// reopening the file.
    _file: hdf5::File,
    datasets: Vec<hdf5::Dataset>,
    /// Per dataset, the direct chunk reader when the layout allows it.
    pub(super) direct: Vec<Option<DirectChunks>>,
    pub groups: Vec<GroupSpec>,
    pub case_ids: Vec<String>,
    pub affines: Vec<Affine>,
    pub shapes: Vec<[usize; 3]>,
    pub format_version: u32,
    pub deepneuro_version: String,
}

impl H5Reader {
    /// Opens `path` and checks its layout: the format attributes, one 5-D
    /// dataset per listed group with one row per case id, affines and valid
    /// shapes that fit the datasets.
    pub fn open(path: &Path) -> Result<H5Reader, DataError> {
        let h5err = |e: hdf5::Error| DataError::hdf5(path, e);
        let bad = |reason: String| DataError::BadLayout {
            path: path.to_path_buf(),
            reason,
        };
        let file = super::file_options().open(path).map_err(h5err)?;
        let format = read_string_attr(&file, "format").map_err(|e| bad(e.to_string()))?;
        if format != FORMAT {
            return Err(bad(format!(
                "attribute format is {format:?}, not {FORMAT:?}"
            )));
        }
        let format_version: u32 = file
            .attr("format_version")
            .and_then(|a| a.read_scalar())
            .map_err(|e| bad(format!("attribute format_version: {e}")))?;
        if format_version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {format_version} is not supported (this build reads {FORMAT_VERSION})"
            )));
        }
        let deepneuro_version = read_string_attr(&file, "deepneuro_version").unwrap_or_default();
        let names = read_strings_attr(&file, "groups").map_err(|e| bad(e.to_string()))?;
        let case_ids: Vec<String> = file
            .dataset(CASE_IDS)
            .and_then(|d| d.read_1d::<VarLenUnicode>())
            .map_err(|e| bad(format!("{CASE_IDS}: {e}")))?
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        let n = case_ids.len();
        let affines_raw = file
            .dataset(AFFINES)
            .and_then(|d| d.read_dyn::<f64>())
            .map_err(|e| bad(format!("{AFFINES}: {e}")))?;
        if affines_raw.shape() != [n, 4, 4] {
            return Err(bad(format!(
                "{AFFINES} has shape {:?}, expected [{n}, 4, 4]",
                affines_raw.shape()
            )));
        }
        let affines = affines_raw
            .as_standard_layout()
            .as_slice()
            .unwrap_or_default()
            .chunks_exact(16)
            .map(Affine::from_row_slice)
            .collect();
        let shapes_raw = file
            .dataset(SHAPES)
            .and_then(|d| d.read_dyn::<u64>())
            .map_err(|e| bad(format!("{SHAPES}: {e}")))?;
        if shapes_raw.shape() != [n, 3] {
            return Err(bad(format!(
                "{SHAPES} has shape {:?}, expected [{n}, 3]",
                shapes_raw.shape()
            )));
        }
        let shapes: Vec<[usize; 3]> = shapes_raw
            .as_standard_layout()
            .as_slice()
            .unwrap_or_default()
            .chunks_exact(3)
            .map(|r| [r[0] as usize, r[1] as usize, r[2] as usize])
            .collect();
        let mut datasets = Vec::with_capacity(names.len());
        let mut groups = Vec::with_capacity(names.len());
        let mut direct = Vec::with_capacity(names.len());
        for name in names {
            let ds = file
                .dataset(&name)
                .map_err(|e| bad(format!("group {name}: {e}")))?;
            let shape = ds.shape();
            if shape.len() != 5 || shape[0] != n {
                return Err(bad(format!(
                    "group {name} has shape {shape:?}, expected [{n}, channels, x, y, z]"
                )));
            }
            if let Some(row) = shapes
                .iter()
                .position(|s| s[0] > shape[2] || s[1] > shape[3] || s[2] > shape[4])
            {
                return Err(bad(format!(
                    "row {row} has valid shape {:?}, larger than group {name}'s {:?}",
                    shapes[row],
                    &shape[2..]
                )));
            }
            let channels = read_strings_attr(&ds, "channels")
                .unwrap_or_else(|_| (0..shape[1]).map(|c| c.to_string()).collect());
            groups.push(GroupSpec { name, channels });
            direct.push(DirectChunks::build(path, &ds));
            datasets.push(ds);
        }
        Ok(H5Reader {
            path: path.to_path_buf(),
            _file: file,
            datasets,
            direct,
            groups,
            case_ids,
            affines,
            shapes,
            format_version,
            deepneuro_version,
        })
    }

    /// The group datasets, in group order.
    pub fn datasets(&self) -> &[hdf5::Dataset] {
        &self.datasets
    }

    /// The valid region of row `row` of group `group`, `[c, x, y, z]` in C
    /// order (what h5py gives for `ds[row, :, :x, :y, :z]`).
    pub fn read(&self, row: usize, group: usize) -> Result<Array4<f32>, DataError> {
        let [x, y, z] = self.shapes[row];
        if let Some(direct) = &self.direct[group] {
            return direct
                .read(row, [x, y, z])
                .map_err(|e| DataError::hdf5(&self.path, format!("row {row}: {e}")));
        }
        self.datasets[group]
            .read_slice::<f32, _, Ix4>(s![row, .., ..x, ..y, ..z])
            .map_err(|e| DataError::hdf5(&self.path, format!("row {row}: {e}")))
    }
}

fn read_string_attr(loc: &hdf5::Location, name: &str) -> hdf5::Result<String> {
    let v: VarLenUnicode = loc.attr(name)?.read_scalar()?;
    Ok(v.as_str().to_string())
}

fn read_strings_attr(loc: &hdf5::Location, name: &str) -> hdf5::Result<Vec<String>> {
    let v = loc.attr(name)?.read_1d::<VarLenUnicode>()?;
    Ok(v.iter().map(|s| s.as_str().to_string()).collect())
}

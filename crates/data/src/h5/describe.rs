//! `deepneuro describe`: what an HDF5 dataset holds, without reading voxels.

use super::H5Reader;
use crate::DataError;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One group dataset of an HDF5 file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct H5GroupInfo {
    /// The group (dataset) name.
    pub name: String,
    /// Channel names, in channel order.
    pub channels: Vec<String>,
    /// `[cases, channels, x, y, z]`.
    pub shape: Vec<usize>,
    /// The stored element type (`float32`).
    pub dtype: String,
    /// The chunk shape, when chunked.
    pub chunk: Option<Vec<usize>>,
    /// The filter pipeline, e.g. `shuffle+deflate(1)`, or `none`.
    pub compression: String,
    /// Bytes the dataset takes in the file (after compression).
    pub stored_bytes: u64,
}

/// What [`describe`] reports about a dataset file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct H5Info {
    /// The file described.
    pub path: PathBuf,
    /// The layout version (see [`super::FORMAT_VERSION`]).
    pub format_version: u32,
    /// The deepneuro version that wrote the file.
    pub deepneuro_version: String,
    /// Rows (cases, or patches of cases).
    pub cases: usize,
    /// The row ids, in row order.
    pub case_ids: Vec<String>,
    /// The group datasets, in the file's group order.
    pub groups: Vec<H5GroupInfo>,
    /// The size of the file in bytes.
    pub file_bytes: u64,
}

/// Describes a dataset written by [`crate::collect`]: groups, shapes,
/// dtypes, case count, chunking and compression. Reads no voxel data.
pub fn describe(h5: &Path) -> Result<H5Info, DataError> {
    let reader = H5Reader::open(h5)?;
    let file_bytes = std::fs::metadata(h5)
        .map_err(|e| DataError::io(h5, e))?
        .len();
    let mut groups = Vec::with_capacity(reader.groups.len());
    for (spec, ds) in reader.groups.iter().zip(reader.datasets()) {
        let dtype = ds
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map(|d| d.to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"));
        let filters: Vec<String> = ds
            .filters()
            .iter()
            .map(|f| match f {
                hdf5::filters::Filter::Deflate(level) => format!("deflate({level})"),
                hdf5::filters::Filter::Shuffle => "shuffle".to_string(),
                other => format!("{other:?}").to_lowercase(),
            })
            .collect();
        groups.push(H5GroupInfo {
            name: spec.name.clone(),
            channels: spec.channels.clone(),
            shape: ds.shape(),
            dtype,
            chunk: ds.chunk(),
            compression: if filters.is_empty() {
                "none".to_string()
            } else {
                filters.join("+")
            },
            stored_bytes: ds.storage_size(),
        });
    }
    Ok(H5Info {
        path: h5.to_path_buf(),
        format_version: reader.format_version,
        deepneuro_version: reader.deepneuro_version.clone(),
        cases: reader.case_ids.len(),
        case_ids: reader.case_ids.clone(),
        groups,
        file_bytes,
    })
}

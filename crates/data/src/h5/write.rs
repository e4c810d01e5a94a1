//! Writing a dataset row by row into `<out>.part`, renamed on success.

use super::{AFFINES, AXIS_ORDER, CASE_IDS, FORMAT, FORMAT_VERSION, SHAPES};
use crate::spec::GroupSpec;
use crate::DataError;
use deepneuro_augment::Sample;
use hdf5::types::VarLenUnicode;
use ndarray::{s, Array1, Array2, Array3, Array4};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Appends samples as rows of one dataset per group. The file is written
/// as `<out>.part` in the output's folder and renamed into place by
/// [`H5Writer::finish`]; dropping the writer before that removes the part.
pub(crate) struct H5Writer {
    out: PathBuf,
    part: PathBuf,
    file: Option<hdf5::File>,
    groups: Vec<GroupSpec>,
    /// Each group's dataset and its row shape `[c, x, y, z]`, made from the
    /// first row.
    datasets: Vec<Option<(hdf5::Dataset, [usize; 4])>>,
    fit: Option<[usize; 3]>,
    level: u8,
    case_ids: Vec<String>,
    affines: Vec<f64>,
    shapes: Vec<u64>,
    /// Set once the part is renamed into place.
    committed: bool,
}

impl H5Writer {
    /// Starts `<out>.part` (replacing a stale one). `fit` fixes the spatial
    /// shape of every row (zero-pad or crop at the high end); `level` is the
    /// deflate level, 0 for none.
    pub fn create(
        out: &Path,
        groups: Vec<GroupSpec>,
        fit: Option<[usize; 3]>,
        level: u8,
    ) -> Result<H5Writer, DataError> {
        let unwritable = |reason: String| DataError::Unwritable {
            path: out.to_path_buf(),
            reason,
        };
        if level > 9 {
            return Err(DataError::BadOption {
                name: "compression",
                reason: format!("deflate level {level} is not in 0..=9"),
            });
        }
        if fit.is_some_and(|f| f.contains(&0)) {
            return Err(DataError::BadOption {
                name: "fit",
                reason: format!("shape {:?} has a zero-length axis", fit.unwrap_or_default()),
            });
        }
        let name = out
            .file_name()
            .ok_or_else(|| unwritable("the output path has no file name".to_string()))?;
        let mut part_name = name.to_os_string();
        part_name.push(".part");
        let part = out.with_file_name(part_name);
        let file = super::file_options()
            .create(&part)
            .map_err(|e| unwritable(e.to_string()))?;
        Ok(H5Writer {
            out: out.to_path_buf(),
            part,
            file: Some(file),
            datasets: vec![None; groups.len()],
            groups,
            fit,
            level,
            case_ids: Vec::new(),
            affines: Vec::new(),
            shapes: Vec::new(),
            committed: false,
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.case_ids.len()
    }

    /// Why `sample` cannot become a row (a missing group, groups on
    /// different spatial shapes, a shape that differs from the first row's
    /// without `fit`), or `None` when it can.
    pub fn check(&self, sample: &Sample) -> Option<String> {
        let mut spatial: Option<[usize; 3]> = None;
        for (g, spec) in self.groups.iter().enumerate() {
            let Some(arr) = sample.groups.get(&spec.name) else {
                return Some(format!("the sample has no group {}", spec.name));
            };
            let (c, x, y, z) = arr.dim();
            if *spatial.get_or_insert([x, y, z]) != [x, y, z] {
                return Some(format!(
                    "group {} has spatial shape {:?}, another group {:?}",
                    spec.name,
                    [x, y, z],
                    spatial.unwrap_or_default()
                ));
            }
            if let Some((_, row)) = &self.datasets[g] {
                let want = if self.fit.is_some() {
                    row[0] == c
                } else {
                    *row == [c, x, y, z]
                };
                if !want {
                    return Some(format!(
                        "group {} has shape {:?} but the dataset's rows are {:?} \
                         (collect with a fixed shape to pad or crop)",
                        spec.name,
                        [c, x, y, z],
                        row
                    ));
                }
            }
        }
        None
    }

    /// Writes `sample` as the next row under `id`.
    pub fn append(&mut self, id: &str, sample: &Sample) -> Result<(), DataError> {
        if let Some(reason) = self.check(sample) {
            return Err(DataError::BadOption {
                name: "sample",
                reason: format!("case {id}: {reason}"),
            });
        }
        let row = self.rows();
        let part = self.part.clone();
        let h5err = |e: hdf5::Error| DataError::hdf5(&part, e);
        let mut valid = [0usize; 3];
        for (g, spec) in self.groups.iter().enumerate() {
            let arr = &sample.groups[&spec.name];
            let (c, x, y, z) = arr.dim();
            if self.datasets[g].is_none() {
                let [dx, dy, dz] = self.fit.unwrap_or([x, y, z]);
                let file = self
                    .file
                    .as_ref()
                    .ok_or_else(|| h5err(hdf5::Error::from("closed")))?;
                let mut builder = file.new_dataset::<f32>().chunk((1, 1, dx, dy, dz)).shape(
                    hdf5::SimpleExtents::new([
                        (0, None),
                        (c, Some(c)),
                        (dx, Some(dx)),
                        (dy, Some(dy)),
                        (dz, Some(dz)),
                    ]),
                );
                if self.level > 0 {
                    builder = builder.shuffle().deflate(self.level);
                }
                let ds = builder.create(spec.name.as_str()).map_err(h5err)?;
                write_strings(&ds, "channels", &spec.channels, &part)?;
                self.datasets[g] = Some((ds, [c, dx, dy, dz]));
            }
            let Some((ds, shape)) = &self.datasets[g] else {
                continue;
            };
            let [_, dx, dy, dz] = *shape;
            valid = [x.min(dx), y.min(dy), z.min(dz)];
            ds.resize((row + 1, c, dx, dy, dz)).map_err(h5err)?;
            if [x, y, z] == [dx, dy, dz] {
                let standard = arr.as_standard_layout();
                ds.write_slice(&standard, s![row, .., .., .., ..])
                    .map_err(h5err)?;
            } else {
                // Pad with zeros or crop, both at the high end of each axis,
                // so that voxel (0, 0, 0) and with it the affine stay put.
                let mut fitted = Array4::<f32>::zeros((c, dx, dy, dz));
                let [vx, vy, vz] = valid;
                fitted
                    .slice_mut(s![.., ..vx, ..vy, ..vz])
                    .assign(&arr.slice(s![.., ..vx, ..vy, ..vz]));
                ds.write_slice(&fitted, s![row, .., .., .., ..])
                    .map_err(h5err)?;
            }
        }
        self.case_ids.push(id.to_string());
        self.affines.extend(sample.affine.transpose().iter());
        self.shapes.extend(valid.iter().map(|&v| v as u64));
        Ok(())
    }

    /// Writes the index datasets and attributes, closes the file and renames
    /// it into place. Returns each group's dataset shape.
    pub fn finish(mut self) -> Result<Vec<(String, Vec<usize>)>, DataError> {
        let part = self.part.clone();
        let h5err = |e: hdf5::Error| DataError::hdf5(&part, e);
        let n = self.rows();
        let file = self
            .file
            .take()
            .ok_or_else(|| h5err(hdf5::Error::from("closed")))?;
        let mut shapes = Vec::new();
        for (spec, ds) in self.groups.iter().zip(&self.datasets) {
            let shape = match ds {
                Some((_, [c, x, y, z])) => vec![n, *c, *x, *y, *z],
                None => {
                    return Err(DataError::NoCases {
                        path: self.out.clone(),
                        skipped: 0,
                    })
                }
            };
            shapes.push((spec.name.clone(), shape));
        }
        let ids = self
            .case_ids
            .iter()
            .map(|s| vlen(s, &part))
            .collect::<Result<Vec<_>, _>>()?;
        file.new_dataset_builder()
            .with_data(&Array1::from(ids))
            .create(CASE_IDS)
            .map_err(h5err)?;
        let affines = Array3::from_shape_vec((n, 4, 4), std::mem::take(&mut self.affines))
            .map_err(|e| DataError::hdf5(&part, e))?;
        file.new_dataset_builder()
            .with_data(&affines)
            .create(AFFINES)
            .map_err(h5err)?;
        let valid = Array2::from_shape_vec((n, 3), std::mem::take(&mut self.shapes))
            .map_err(|e| DataError::hdf5(&part, e))?;
        file.new_dataset_builder()
            .with_data(&valid)
            .create(SHAPES)
            .map_err(h5err)?;
        write_string_attr(&file, "format", FORMAT, &part)?;
        file.new_attr::<u32>()
            .shape(())
            .create("format_version")
            .and_then(|a| a.write_scalar(&FORMAT_VERSION))
            .map_err(h5err)?;
        write_string_attr(&file, "deepneuro_version", env!("CARGO_PKG_VERSION"), &part)?;
        write_string_attr(&file, "axis_order", AXIS_ORDER, &part)?;
        let names: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        write_strings(&file, "groups", &names, &part)?;
        // Every handle into the file must be closed before the rename, or
        // HDF5 would keep writing metadata into the renamed file.
        self.datasets.clear();
        file.close().map_err(h5err)?;
        std::fs::rename(&self.part, &self.out).map_err(|e| DataError::Unwritable {
            path: self.out.clone(),
            reason: e.to_string(),
        })?;
        self.committed = true;
        Ok(shapes)
    }
}

impl Drop for H5Writer {
    fn drop(&mut self) {
        // Nothing partial may stay behind when writing stopped early.
        if !self.committed {
            self.datasets.clear();
            self.file.take();
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

fn vlen(s: &str, part: &Path) -> Result<VarLenUnicode, DataError> {
    VarLenUnicode::from_str(s).map_err(|e| DataError::hdf5(part, format!("string {s:?}: {e}")))
}

fn write_string_attr(
    loc: &hdf5::Location,
    name: &str,
    value: &str,
    part: &Path,
) -> Result<(), DataError> {
    let v = vlen(value, part)?;
    loc.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)
        .and_then(|a| a.write_scalar(&v))
        .map_err(|e| DataError::hdf5(part, e))
}

fn write_strings(
    loc: &hdf5::Location,
    name: &str,
    values: &[String],
    part: &Path,
) -> Result<(), DataError> {
    let v = values
        .iter()
        .map(|s| vlen(s, part))
        .collect::<Result<Vec<_>, _>>()?;
    loc.new_attr_builder()
        .with_data(&Array1::from(v))
        .create(name)
        .map(|_| ())
        .map_err(|e| DataError::hdf5(part, e))
}

use crate::orientation::{inv_ornt_aff, io_orientation, is_permutation, ornt_inverse};
use crate::{aff2axcodes, Affine, AxisCode, DType, Ornt, VolumeError, CANONICAL_ORNT};
use ndarray::{Array3, Array4, ArrayView3, ArrayView4, Axis, ShapeBuilder};
use std::borrow::Cow;

/// Voxel data with its exact world geometry.
///
/// Data are f32 in memory, indexed `[channel, x, y, z]` (see the crate docs),
/// and stored in NIfTI order (x fastest). The on-disk element type is kept
/// in [`Volume::dtype`] so that writers can restore it.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    data: Array4<f32>,
    affine: Affine,
    dtype: DType,
    /// The `(slope, intercept)` that mapped stored integers to values on
    /// disk, kept so that an unmodified volume is written back bit for bit.
    disk_scaling: Option<(f64, f64)>,
}

/// Returns `view` as an owned array with NIfTI memory order: for every
/// channel, x varies fastest, then y, then z. Always a new array.
pub fn nifti_layout(view: ArrayView4<'_, f32>) -> Array4<f32> {
    use ndarray::s;
    use rayon::prelude::*;
    let (nc, nx, ny, nz) = view.dim();
    let mut out = vec![0f32; nc * nx * ny * nz];
    // Row by row (one x line each), rows in parallel: ndarray's generic copy
    // of a flipped or permuted view walks it an element at a time, which made
    // reorienting a 1 mm head ~60 ms per volume; a row with unit stride
    // (forward or flipped) is a plain copy.
    if nx > 0 {
        out.par_chunks_mut(nx).enumerate().for_each(|(r, row)| {
            let (y, z, c) = (r % ny, (r / ny) % nz, r / (ny * nz));
            let src = view.slice(s![c, .., y, z]);
            match (src.as_slice(), src.strides()[0]) {
                (Some(line), _) => row.copy_from_slice(line),
                (None, -1) => {
                    let mut rev = src;
                    rev.invert_axis(Axis(0));
                    let line = rev.as_slice().expect("a flipped unit-stride line");
                    for (o, v) in row.iter_mut().zip(line.iter().rev()) {
                        *o = *v;
                    }
                }
                _ => {
                    for (o, v) in row.iter_mut().zip(src.iter()) {
                        *o = *v;
                    }
                }
            }
        });
    }
    Array4::from_shape_vec((nc, nz, ny, nx), out)
        .expect("the buffer holds exactly the view's elements")
        .permuted_axes([0, 3, 2, 1])
}

fn check_affine(affine: &Affine) -> Result<(), VolumeError> {
    let last_row_ok = affine[(3, 0)] == 0.0
        && affine[(3, 1)] == 0.0
        && affine[(3, 2)] == 0.0
        && affine[(3, 3)] == 1.0;
    if !last_row_ok || affine.iter().any(|v| !v.is_finite()) {
        let mut rows = [[0.0; 4]; 4];
        for (i, row) in rows.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = affine[(i, j)];
            }
        }
        return Err(VolumeError::BadAffine(Box::new(rows)));
    }
    Ok(())
}

impl Volume {
    /// Builds a volume from `[channel, x, y, z]` data in any memory layout.
    pub fn new(data: Array4<f32>, affine: Affine, dtype: DType) -> Result<Self, VolumeError> {
        check_affine(&affine)?;
        let shape = data.dim();
        let shape = [shape.0, shape.1, shape.2, shape.3];
        if shape.contains(&0) {
            return Err(VolumeError::EmptyShape(shape));
        }
        let data = if is_nifti_layout(&data) {
            data
        } else {
            nifti_layout(data.view())
        };
        Ok(Volume {
            data,
            affine,
            dtype,
            disk_scaling: None,
        })
    }

    /// Builds a single-channel volume from `[x, y, z]` data.
    pub fn from_array3(data: Array3<f32>, affine: Affine) -> Result<Self, VolumeError> {
        Self::new(data.insert_axis(Axis(0)), affine, DType::F32)
    }

    /// Builds a volume from a buffer already in NIfTI order (x fastest, then
    /// y, z, channel); `shape` is `[channel, x, y, z]`. No copy is made.
    pub fn from_nifti_vec(
        shape: [usize; 4],
        data: Vec<f32>,
        affine: Affine,
        dtype: DType,
    ) -> Result<Self, VolumeError> {
        check_affine(&affine)?;
        if shape.contains(&0) {
            return Err(VolumeError::EmptyShape(shape));
        }
        let expected = shape.iter().product::<usize>();
        if data.len() != expected {
            return Err(VolumeError::DataLength {
                shape,
                len: data.len(),
                expected,
            });
        }
        let [c, x, y, z] = shape;
        let data = Array4::from_shape_vec((c, x, y, z).strides((x * y * z, 1, x, x * y)), data)
            .expect("strides match the length checked above");
        Ok(Volume {
            data,
            affine,
            dtype,
            disk_scaling: None,
        })
    }

    /// `[channel, x, y, z]`.
    pub fn shape(&self) -> [usize; 4] {
        let d = self.data.dim();
        [d.0, d.1, d.2, d.3]
    }

    /// `[x, y, z]`.
    pub fn spatial_shape(&self) -> [usize; 3] {
        let s = self.shape();
        [s[1], s[2], s[3]]
    }

    pub fn channels(&self) -> usize {
        self.shape()[0]
    }

    pub fn data(&self) -> &Array4<f32> {
        &self.data
    }

    /// Mutable access to the voxels; the shape cannot change through it.
    pub fn data_mut(&mut self) -> &mut Array4<f32> {
        &mut self.data
    }

    pub fn into_data(self) -> Array4<f32> {
        self.data
    }

    /// One channel as an `[x, y, z]` view.
    pub fn channel(&self, c: usize) -> ArrayView3<'_, f32> {
        self.data.index_axis(Axis(0), c)
    }

    /// The voxels as one slice in NIfTI order (x fastest, then y, z,
    /// channel), borrowed when the layout allows, which it does for every
    /// volume this crate builds.
    pub fn nifti_slice(&self) -> Cow<'_, [f32]> {
        let v = self.data.view().permuted_axes([0, 3, 2, 1]);
        match v.to_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(v.iter().copied().collect()),
        }
    }

    pub fn affine(&self) -> &Affine {
        &self.affine
    }

    pub fn set_affine(&mut self, affine: Affine) -> Result<(), VolumeError> {
        check_affine(&affine)?;
        self.affine = affine;
        Ok(())
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn set_dtype(&mut self, dtype: DType) {
        self.dtype = dtype;
    }

    /// The `(slope, intercept)` the file used to store integer values, if
    /// any: value = stored * slope + intercept. Writers reuse it when it
    /// still represents every voxel exactly.
    pub fn disk_scaling(&self) -> Option<(f64, f64)> {
        self.disk_scaling
    }

    pub fn set_disk_scaling(&mut self, scaling: Option<(f64, f64)>) {
        self.disk_scaling = scaling;
    }

    /// Voxel size in millimetres along each voxel axis (the column norms of
    /// the affine, as nibabel's `header.get_zooms()` for a consistent file).
    pub fn spacing(&self) -> [f64; 3] {
        [0, 1, 2].map(|j| self.affine.fixed_view::<3, 1>(0, j).norm())
    }

    /// The world direction each voxel axis increases towards, e.g. `['L','A','S']`.
    pub fn axcodes(&self) -> [AxisCode; 3] {
        aff2axcodes(&self.affine)
    }

    pub fn orientation(&self) -> Ornt {
        io_orientation(&self.affine)
    }

    /// World (RAS mm) coordinates of a continuous voxel index.
    pub fn voxel_to_world(&self, ijk: [f64; 3]) -> [f64; 3] {
        let p = self.affine * nalgebra::Vector4::new(ijk[0], ijk[1], ijk[2], 1.0);
        [p[0], p[1], p[2]]
    }

    /// Continuous voxel index of a world (RAS mm) point; `None` when the
    /// affine is singular.
    pub fn world_to_voxel(&self, xyz: [f64; 3]) -> Option<[f64; 3]> {
        let inv = self.affine.try_inverse()?;
        let p = inv * nalgebra::Vector4::new(xyz[0], xyz[1], xyz[2], 1.0);
        Some([p[0], p[1], p[2]])
    }

    /// Flips and permutes the spatial axes as nibabel's `as_reoriented(ornt)`
    /// does: voxel axis `i` becomes axis `ornt[i].0`, reversed when
    /// `ornt[i].1 == -1`. The world position of every voxel is unchanged.
    pub fn reoriented(&self, ornt: &Ornt) -> Result<Volume, VolumeError> {
        if !is_permutation(ornt) {
            return Err(VolumeError::BadOrientation(*ornt));
        }
        if *ornt == CANONICAL_ORNT {
            return Ok(self.clone());
        }
        let mut view = self.data.view();
        for (i, (_, flip)) in ornt.iter().enumerate() {
            if *flip < 0 {
                view.invert_axis(Axis(i + 1));
            }
        }
        // Output axis k takes the input axis whose target is k.
        let mut perm = [0usize, 0, 0, 0];
        for (i, (ax, _)) in ornt.iter().enumerate() {
            perm[ax + 1] = i + 1;
        }
        let data = nifti_layout(view.permuted_axes(perm));
        let affine = self.affine * inv_ornt_aff(ornt, self.spatial_shape());
        Ok(Volume {
            data,
            affine,
            dtype: self.dtype,
            disk_scaling: self.disk_scaling,
        })
    }

    /// The same voxels with axes flipped and permuted so that the voxel axes
    /// run as close as possible to R, A and S (nibabel's
    /// `as_closest_canonical`), plus what is needed to undo it exactly.
    pub fn to_canonical(&self) -> (Volume, Reorientation) {
        let ornt = self.orientation();
        let canonical = self
            .reoriented(&ornt)
            .expect("io_orientation returns a permutation");
        (
            canonical,
            Reorientation {
                ornt,
                original_affine: self.affine,
            },
        )
    }

    /// Minimum and maximum over all finite voxels; `None` when there is none.
    pub fn finite_range(&self) -> Option<(f32, f32)> {
        let mut it = self.data.iter().copied().filter(|v| v.is_finite());
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }
}

fn is_nifti_layout(data: &Array4<f32>) -> bool {
    data.view().permuted_axes([0, 3, 2, 1]).is_standard_layout()
}

/// What [`Volume::to_canonical`] did, so that results computed on the
/// canonical grid go back to the input's own grid and affine bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub struct Reorientation {
    /// The orientation of the original volume.
    pub ornt: Ornt,
    /// The original affine, restored exactly (no rounding from composing).
    pub original_affine: Affine,
}

impl Reorientation {
    /// Brings a volume on the canonical grid back to the original grid.
    pub fn undo(&self, canonical: &Volume) -> Result<Volume, VolumeError> {
        let mut v = canonical.reoriented(&ornt_inverse(&self.ornt))?;
        v.affine = self.original_affine;
        Ok(v)
    }

    /// Whether the original was already canonical.
    pub fn is_identity(&self) -> bool {
        self.ornt == CANONICAL_ORNT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn las_volume() -> Volume {
        let data = Array3::from_shape_fn((4, 3, 2), |(i, j, k)| (i * 100 + j * 10 + k) as f32);
        let aff = Affine::new(
            -2., 0., 0., 10., 0., 3., 0., -5., 0., 0., 4., 1., 0., 0., 0., 1.,
        );
        Volume::from_array3(data, aff).unwrap()
    }

    #[test]
    fn canonical_keeps_world_positions() {
        let v = las_volume();
        let (c, r) = v.to_canonical();
        assert_eq!(c.axcodes(), ['R', 'A', 'S']);
        for (idx, val) in v.channel(0).indexed_iter() {
            let w = v.voxel_to_world([idx.0 as f64, idx.1 as f64, idx.2 as f64]);
            let ijk = c.world_to_voxel(w).unwrap().map(|x| x.round() as usize);
            assert_eq!(c.channel(0)[[ijk[0], ijk[1], ijk[2]]], *val);
        }
        assert_eq!(r.undo(&c).unwrap(), v);
    }

    #[test]
    fn nifti_slice_is_x_fastest() {
        let v = las_volume();
        let s = v.nifti_slice();
        assert!(matches!(s, Cow::Borrowed(_)));
        assert_eq!(&s[..5], &[0., 100., 200., 300., 10.]);
    }
}

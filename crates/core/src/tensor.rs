//! Volumes as tensors of shape `[channel, x, y, z]`, the axis convention of
//! the volume crate, with NIfTI memory order expressed as strides.

use deepneuro_volume::{Affine, DType, Volume, VolumeError};
use std::marker::PhantomData;
use tch::{Device, Kind, Tensor};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TensorError {
    #[error("tensor of shape {0:?} is not [x, y, z], [c, x, y, z] or [1, c, x, y, z]")]
    Shape(Vec<i64>),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
}

fn sizes_and_strides(v: &Volume) -> ([i64; 4], [i64; 4]) {
    let [c, x, y, z] = v.shape().map(|d| d as i64);
    ([c, x, y, z], [x * y * z, 1, x, x * y])
}

/// A CPU tensor that reads the volume's memory directly. It borrows the
/// volume, so it cannot outlive it; copy it (`shallow_clone` is not enough)
/// with `.copy()` or move it to a device to keep the data longer.
pub struct BorrowedTensor<'a> {
    tensor: Tensor,
    _volume: PhantomData<&'a Volume>,
}

impl std::ops::Deref for BorrowedTensor<'_> {
    type Target = Tensor;
    fn deref(&self) -> &Tensor {
        &self.tensor
    }
}

/// The volume as a `[c, x, y, z]` f32 tensor without copying: the tensor's
/// strides describe the volume's NIfTI layout.
pub fn as_tensor(v: &Volume) -> BorrowedTensor<'_> {
    let (size, strides) = sizes_and_strides(v);
    let data = v.data();
    // Volumes built by the volume crate always have NIfTI layout, so the
    // first element and the strides above describe the buffer exactly.
    debug_assert!(matches!(v.nifti_slice(), std::borrow::Cow::Borrowed(_)));
    // SAFETY: the pointer addresses `c*x*y*z` initialised f32 values laid
    // out with these strides, and the borrow keeps them alive and unchanged
    // for the tensor's lifetime.
    let tensor = unsafe {
        Tensor::from_blob(
            data.as_ptr() as *const u8,
            &size,
            &strides,
            Kind::Float,
            Device::Cpu,
        )
    };
    BorrowedTensor {
        tensor,
        _volume: PhantomData,
    }
}

/// The volume as an owned `[c, x, y, z]` f32 tensor on `device` (one copy).
pub fn to_tensor(v: &Volume, device: Device) -> Tensor {
    as_tensor(v).to_device(device).copy()
}

/// A tensor of shape `[x, y, z]`, `[c, x, y, z]` or `[1, c, x, y, z]` as a
/// volume with the given geometry. One copy, to CPU f32 in NIfTI order.
pub fn volume_from_tensor(t: &Tensor, affine: Affine, dtype: DType) -> Result<Volume, TensorError> {
    let size = t.size();
    let t = match size.as_slice() {
        [_, _, _] => t.unsqueeze(0),
        [_, _, _, _] => t.shallow_clone(),
        [1, _, _, _, _] => t.squeeze_dim(0),
        _ => return Err(TensorError::Shape(size)),
    };
    let [c, x, y, z]: [i64; 4] = t
        .size()
        .try_into()
        .map_err(|_| TensorError::Shape(size.clone()))?;
    // Permuting to [c, z, y, x] and making that contiguous yields NIfTI
    // order; for a tensor made by `as_tensor` it is already contiguous.
    let flat = t
        .f_to_kind(Kind::Float)?
        .f_to_device(Device::Cpu)?
        .f_permute([0, 3, 2, 1])?
        .f_contiguous()?
        .f_view([-1])?;
    let data = Vec::<f32>::try_from(&flat)?;
    Ok(Volume::from_nifti_vec(
        [c as usize, x as usize, y as usize, z as usize],
        data,
        affine,
        dtype,
    )?)
}

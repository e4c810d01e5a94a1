//! The named values of a running case. Images and probabilities live as
//! a volume, a `[c, x, y, z]` tensor on the compute device, or both: each
//! form is made once, when a step first needs it.

use crate::ops::{BBox, Mask};
use crate::spec::Ty;
use crate::PipelineError;
use deepneuro_preprocess::transform::AffineTransform;
use deepneuro_volume::{Affine, DType, Volume};
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

/// Intensities or probabilities on a grid.
pub struct Field {
    vol: Option<Arc<Volume>>,
    tensor: Option<Tensor>,
    pub affine: Affine,
    pub shape: [usize; 3],
    pub channels: usize,
    /// The on-disk type and scaling a written file keeps (an input's).
    pub dtype: DType,
    pub scaling: Option<(f64, f64)>,
    /// The contrast of the input it derives from (`stack` orders by it).
    pub contrast: Option<String>,
}

impl Field {
    pub fn from_volume(v: Volume, contrast: Option<String>) -> Field {
        let s = v.shape();
        Field {
            affine: *v.affine(),
            shape: [s[1], s[2], s[3]],
            channels: s[0],
            dtype: v.dtype(),
            scaling: v.disk_scaling(),
            contrast,
            vol: Some(Arc::new(v)),
            tensor: None,
        }
    }

    /// `t`: `[c, x, y, z]` float, contiguous.
    pub fn from_tensor(t: Tensor, like: &Field) -> Field {
        Field::from_tensor_at(t, like.affine, like.dtype, like.contrast.clone())
    }

    pub fn from_tensor_at(
        t: Tensor,
        affine: Affine,
        dtype: DType,
        contrast: Option<String>,
    ) -> Field {
        let s = t.size();
        let dim = |i: usize| s.get(i).copied().unwrap_or(1).max(0) as usize;
        Field {
            vol: None,
            affine,
            shape: [dim(1), dim(2), dim(3)],
            channels: dim(0),
            dtype,
            scaling: None,
            contrast,
            tensor: Some(t),
        }
    }

    /// The `[c, x, y, z]` C-contiguous tensor on `device` (made once; the
    /// volume's memory is never shared with it).
    pub fn tensor(&mut self, device: Device) -> Result<Tensor, PipelineError> {
        if let Some(t) = &self.tensor {
            if t.device() == device {
                return Ok(t.shallow_clone());
            }
            let moved = t.f_to_device(device)?;
            self.tensor = Some(moved.shallow_clone());
            return Ok(moved);
        }
        let vol = self
            .vol
            .as_ref()
            .expect("a field holds a volume or a tensor");
        let borrowed = deepneuro_core::as_tensor(vol);
        // C-contiguous [c, x, y, z], as `x.copy()` gives torch in deepbet, so
        // reductions run in the same order.
        let mut t = borrowed.f_to_device(device)?.f_contiguous()?;
        if t.data_ptr() == borrowed.data_ptr() {
            t = t.copy();
        }
        self.tensor = Some(t.shallow_clone());
        Ok(t)
    }

    /// The field as a volume (made once from the tensor).
    pub fn volume(&mut self) -> Result<Arc<Volume>, PipelineError> {
        if let Some(v) = &self.vol {
            return Ok(v.clone());
        }
        let t = self
            .tensor
            .as_ref()
            .expect("a field holds a volume or a tensor");
        let t = t.f_to_kind(Kind::Float)?;
        let mut v = deepneuro_core::volume_from_tensor(&t, self.affine, self.dtype)
            .map_err(|e| PipelineError::step("volume", e.to_string()))?;
        v.set_disk_scaling(self.scaling);
        let v = Arc::new(v);
        self.vol = Some(v.clone());
        Ok(v)
    }

    /// A field sharing this one's data (volumes are shared, tensors are
    /// shallow copies), for a value read under a second name.
    pub fn share(&self) -> Field {
        Field {
            vol: self.vol.clone(),
            tensor: self.tensor.as_ref().map(|t| t.shallow_clone()),
            affine: self.affine,
            shape: self.shape,
            channels: self.channels,
            dtype: self.dtype,
            scaling: self.scaling,
            contrast: self.contrast.clone(),
        }
    }
}

/// A mask on a grid.
#[derive(Clone)]
pub struct MaskField {
    pub mask: Mask,
    pub affine: Affine,
}

/// A box of voxels on a grid of `shape`.
#[derive(Clone, Copy, Debug)]
pub struct BoxField {
    pub bbox: BBox,
    pub shape: [usize; 3],
}

pub enum Value {
    Image(Field),
    Probability(Field),
    Mask(MaskField),
    Labels(Arc<Volume>),
    BBox(BoxField),
    Range(Tensor, Tensor),
    Transform(AffineTransform),
}

impl Value {
    pub fn ty(&self) -> Ty {
        match self {
            Value::Image(_) => Ty::Image,
            Value::Probability(_) => Ty::Probability,
            Value::Mask(_) => Ty::Mask,
            Value::Labels(_) => Ty::Labels,
            Value::BBox(_) => Ty::BBox,
            Value::Range(..) => Ty::Range,
            Value::Transform(_) => Ty::Transform,
        }
    }

    /// A second handle on the same data.
    pub fn share(&self) -> Value {
        match self {
            Value::Image(f) => Value::Image(f.share()),
            Value::Probability(f) => Value::Probability(f.share()),
            Value::Mask(m) => Value::Mask(m.clone()),
            Value::Labels(v) => Value::Labels(v.clone()),
            Value::BBox(b) => Value::BBox(*b),
            Value::Range(a, b) => Value::Range(a.shallow_clone(), b.shallow_clone()),
            Value::Transform(t) => Value::Transform(t.clone()),
        }
    }

    /// The grid (affine, shape) of a spatial value.
    pub fn grid(&self) -> Option<(Affine, [usize; 3])> {
        match self {
            Value::Image(f) | Value::Probability(f) => Some((f.affine, f.shape)),
            Value::Mask(m) => Some((m.affine, m.mask.dims())),
            Value::Labels(v) => Some((*v.affine(), v.spatial_shape())),
            _ => None,
        }
    }

    /// The value as a volume to write or to hand to a CPU operation: masks
    /// as uint8, label maps as they are, fields in their own dtype.
    pub fn to_volume(&mut self) -> Result<Arc<Volume>, PipelineError> {
        match self {
            Value::Image(f) | Value::Probability(f) => f.volume(),
            Value::Mask(m) => Ok(Arc::new(mask_volume(&m.mask, m.affine)?)),
            Value::Labels(v) => Ok(v.clone()),
            _ => Err(PipelineError::step(
                "output",
                format!("a {} is not a volume", self.ty().name()),
            )),
        }
    }
}

/// A mask as a uint8 volume (values 0 and 1) with the given affine.
pub fn mask_volume(mask: &Mask, affine: Affine) -> Result<Volume, PipelineError> {
    let d = mask.dims();
    let data: Vec<f32> = mask.as_slice().iter().map(|&v| v as f32).collect();
    Volume::from_nifti_vec([1, d[0], d[1], d[2]], data, affine, DType::U8)
        .map_err(|e| PipelineError::step("mask", e.to_string()))
}

/// A volume's voxels > 0.5 as a mask (first channel).
pub fn volume_mask(v: &Volume) -> Mask {
    let s = v.spatial_shape();
    let n = s.iter().product::<usize>();
    let data = v.nifti_slice();
    Mask::from_vec(s, data[..n].iter().map(|&x| (x > 0.5) as u8).collect())
}

/// The first volume (channel) of `v`, same geometry, dtype and scaling;
/// `v` itself, not a copy, when it has one volume only.
pub fn first_volume(v: &Volume) -> Result<std::borrow::Cow<'_, Volume>, PipelineError> {
    if v.channels() == 1 {
        return Ok(std::borrow::Cow::Borrowed(v));
    }
    let s = v.spatial_shape();
    let n = s.iter().product::<usize>();
    let data = v.nifti_slice()[..n].to_vec();
    let mut out = Volume::from_nifti_vec([1, s[0], s[1], s[2]], data, *v.affine(), v.dtype())
        .map_err(|e| PipelineError::step("first-volume", e.to_string()))?;
    out.set_disk_scaling(v.disk_scaling());
    Ok(std::borrow::Cow::Owned(out))
}

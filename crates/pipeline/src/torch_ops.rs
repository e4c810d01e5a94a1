//! Steps that run through libtorch, with the exact op sequence deepbet's
//! PyTorch code uses, so that results agree by construction.

use crate::PipelineError;

use tch::{Device, Kind, Tensor};

/// `F.interpolate(x[None, None], shape, mode='nearest-exact')[0, 0]` for an
/// `[x, y, z]` tensor: source index `floor((dst + 0.5) * in / out)`.
pub fn resize_nearest_exact(t: &Tensor, shape: [i64; 3]) -> Result<Tensor, PipelineError> {
    if t.size() == shape {
        // torch copies here too; the values are identical either way.
        return Ok(t.shallow_clone());
    }
    Ok(t.f_unsqueeze(0)?
        .f_unsqueeze(0)?
        .f_internal_upsample_nearest_exact3d(shape.as_slice(), None, None, None)?
        .f_squeeze_dim(0)?
        .f_squeeze_dim(0)?)
}

/// `x.quantile(q)` (linear interpolation over the flattened tensor).
pub fn quantile(t: &Tensor, q: f64) -> Result<Tensor, PipelineError> {
    Ok(t.f_quantile_scalar(q, None, false, "linear")?)
}

/// `(x.quantile(lo), x.quantile(hi))` for a finite tensor, as torch computes
/// them (aten `quantile_compute`, linear interpolation): rank = q * (n - 1)
/// in the input's dtype, the order statistics below and above it, then
/// `lerp` with weight rank - floor(rank). The order statistics come from a
/// selection in Rust (O(n)) instead of torch's full sort; rank, weight and
/// lerp stay torch ops on 0-d tensors, so the result is bit-identical.
pub fn quantile_pair(t: &Tensor, lo: f64, hi: f64) -> Result<(Tensor, Tensor), PipelineError> {
    let flat = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_flatten(0, -1)?;
    let mut v = Vec::<f32>::try_from(&flat.f_contiguous()?)?;
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        // torch's own path handles NaN (the result is NaN) and empty input.
        let a = quantile(t, lo)?;
        return Ok((a, quantile(t, hi)?));
    }
    let last = (v.len() - 1) as i64;
    let mut out = Vec::new();
    for q in [lo, hi] {
        let ranks = Tensor::f_scalar_tensor(q, (Kind::Float, Device::Cpu))?.f_mul_scalar(last)?;
        let below = ranks.f_to_kind(Kind::Int64)?;
        let weights = ranks.f_sub(&below)?;
        let above = ranks.f_ceil()?.f_to_kind(Kind::Int64)?;
        let (ib, ia) = (
            below.f_int64_value(&[])? as usize,
            above.f_int64_value(&[])? as usize,
        );
        let (_, &mut vb, rest) = v.select_nth_unstable_by(ib, f32::total_cmp);
        // The next order statistic is the smallest value right of the pivot.
        let va = if ia == ib {
            vb
        } else {
            rest.iter().copied().min_by(f32::total_cmp).unwrap_or(vb)
        };
        let vb = Tensor::f_scalar_tensor(vb as f64, (Kind::Float, Device::Cpu))?;
        let va = Tensor::f_scalar_tensor(va as f64, (Kind::Float, Device::Cpu))?;
        out.push(vb.f_lerp_tensor(&va, &weights)?.f_to_device(t.device())?);
    }
    let hi_t = out.pop().expect("two quantiles");
    Ok((out.pop().expect("two quantiles"), hi_t))
}

/// deepbet's `normalize(x, low, high)`: clamp `(x - low) / (high - low)` to
/// [0, 1], z-score (unbiased std, torch's default), then `scale * x + shift`.
pub fn normalize(
    t: &Tensor,
    low: &Tensor,
    high: &Tensor,
    scale: f64,
    shift: f64,
) -> Result<Tensor, PipelineError> {
    let x = t.f_sub(low)?.f_div(&high.f_sub(low)?)?;
    let x = x.f_clamp(0.0, 1.0)?;
    let x = x.f_sub(&x.f_mean(Kind::Float)?)?.f_div(&x.f_std(true)?)?;
    Ok(x.f_mul_scalar(scale)?.f_add_scalar(shift)?)
}

/// Mean over the three axes of the correlation between each voxel and its
/// next neighbour along that axis. f32 is enough: torch sums pairwise.
pub fn neighbour_correlation(t: &Tensor) -> Result<f64, PipelineError> {
    let c = t.f_sub(&t.f_mean(Kind::Float)?)?;
    let var = c.f_square()?.f_mean(Kind::Float)?.f_double_value(&[])?;
    if var <= 0.0 || !var.is_finite() {
        return Ok(1.0); // constant: the percentile step refuses it
    }
    let mut sum = 0.0;
    for axis in 0..3 {
        let n = c.size()[axis];
        let a = c.f_narrow(axis as i64, 0, n - 1)?;
        let b = c.f_narrow(axis as i64, 1, n - 1)?;
        sum += a.f_mul(&b)?.f_mean(Kind::Float)?.f_double_value(&[])? / var;
    }
    Ok(sum / 3.0)
}

/// A boolean `[x, y, z]` tensor as a [`crate::ops::Mask`] (NIfTI order).
pub fn tensor_to_mask(t: &Tensor) -> Result<crate::ops::Mask, PipelineError> {
    let size = t.size();
    let dims = [size[0] as usize, size[1] as usize, size[2] as usize];
    let flat = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Uint8)?
        .f_permute([2, 1, 0])?
        .f_contiguous()?
        .f_view([-1])?;
    let data = Vec::<u8>::try_from(&flat)?;
    Ok(crate::ops::Mask::from_vec(dims, data))
}

/// A mask as a `[x, y, z]` tensor of `kind` on `device`.
pub fn mask_to_tensor(
    m: &crate::ops::Mask,
    kind: Kind,
    device: Device,
) -> Result<Tensor, PipelineError> {
    let d = m.dims().map(|v| v as i64);
    let t = Tensor::f_from_slice(m.as_slice())?
        .f_view([d[2], d[1], d[0]])?
        .f_permute([2, 1, 0])?;
    Ok(t.f_to_kind(kind)?.f_to_device(device)?)
}

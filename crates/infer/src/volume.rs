//! Patch inference over a [`Volume`].

use deepneuro_volume::{DType, Volume};
use tch::Device;

use crate::{sliding_window, Forward, InferError, SlidingWindowOptions};

/// Runs `model` over the volume's `[c, x, y, z]` data as a `[1, c, x, y, z]`
/// batch on `device`: window by window with [`sliding_window`], or in one
/// forward pass over the whole volume when `opts.roi_size` is empty (the
/// default). The result has one channel per model output, the input's
/// affine, and f32 data.
pub fn predict_volume(
    model: &dyn Forward,
    volume: &Volume,
    opts: &SlidingWindowOptions,
    device: Device,
) -> Result<Volume, InferError> {
    let x = deepneuro_core::to_tensor(volume, device).f_unsqueeze(0)?;
    let y = if opts.roi_size.is_empty() && opts.center_crop.is_none() && opts.skip_empty.is_none() {
        // One window covering the whole volume divides by a weight map it
        // also multiplied by, so the model's output is the answer as is.
        let _guard = tch::no_grad_guard();
        let y = model.forward(&x)?;
        if y.dim() != 5 || y.size()[0] != 1 || y.size()[2..] != x.size()[2..] {
            return Err(InferError::OutputShape {
                input: x.size(),
                output: y.size(),
            });
        }
        y
    } else {
        sliding_window(model, &x, opts)?
    };
    Ok(deepneuro_core::volume_from_tensor(
        &y,
        *volume.affine(),
        DType::F32,
    )?)
}

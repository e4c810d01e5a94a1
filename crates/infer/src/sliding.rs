//! The sliding-window loop: gather windows into a batch, run the model,
//! add the weighted predictions into the output in place, divide by the
//! summed weights, crop the padding.

use tch::{Device, Kind, Tensor};

use crate::grid::{importance_map, Plan};
use crate::{Blend, Forward, InferError, SlidingWindowOptions};

/// A window: which image of the batch, and its start in grid coordinates.
struct Window<'a> {
    image: i64,
    start: &'a [i64],
}

/// Runs `model` over `input` (`[n, c, ...spatial]`, any number of spatial
/// axes) window by window and returns the stitched prediction `[n, k,
/// ...spatial]` on the output device, with MONAI's `sliding_window_inference`
/// semantics (see the crate docs and [`SlidingWindowOptions`]).
///
/// The model must return one prediction of the window's spatial size per
/// window of the batch; the output has the input's floating-point kind.
pub fn sliding_window(
    model: &dyn Forward,
    input: &Tensor,
    opts: &SlidingWindowOptions,
) -> Result<Tensor, InferError> {
    let sw_device = opts.sw_device.unwrap_or(input.device());
    let amp = opts.mixed_precision && sw_device.is_cuda();
    // One autocast region around the whole loop, as a `with torch.autocast()`
    // block around MONAI's: libtorch keeps the float16 copies of the weights
    // until the outermost region ends, so they are cast once per image rather
    // than once per batch (measured: 3.5% of the forward passes' time on an
    // H200). The loop's own operators are not on autocast's lists and keep
    // the input's kind; predictions are cast back to it.
    deepneuro_core::autocast(amp, || stitch(model, input, opts))
}

/// The loop of [`sliding_window`].
///
/// On the CPU the loop's own work (copying windows into the batch, adding
/// predictions into the output) is memory traffic, about 2% of a 3D
/// U-Net's forward passes at 4 windows per batch. It stays between the
/// forward passes on purpose: moving it onto a lowest-priority helper
/// thread that ran in the core time the forward passes leave idle took it
/// off this thread (of its ~80 ms, 11 ms stayed here with OpenMP's passive
/// waiting, 44-72 ms with its default spinning) but slowed the forward
/// passes by as much, since they share the memory bandwidth (a thread
/// streaming memory at `SCHED_IDLE` slowed them by 10%; 70 alternated
/// rounds with and 70 without the helper: no difference). Only less traffic
/// would help, and the ways to get it keep every prediction until its
/// voxels are complete: up to 8x the output's memory at overlap 0.5.
fn stitch(
    model: &dyn Forward,
    input: &Tensor,
    opts: &SlidingWindowOptions,
) -> Result<Tensor, InferError> {
    let plan = Plan::new(&input.size(), opts)?;
    let kind = input.kind();
    if !input.is_floating_point() {
        return Err(InferError::InputKind(kind));
    }
    let _guard = tch::no_grad_guard();
    let in_device = input.device();
    let sw_device = opts.sw_device.unwrap_or(in_device);
    let out_device = opts.output_device.unwrap_or(in_device);
    let batch = input.size()[0];

    // Padding copies the input, so it happens only where windows reach
    // beyond the image.
    let padded = if plan.needs_padding() {
        input.f_pad(
            plan.torch_padding().as_slice(),
            opts.padding_mode.torch_name(),
            opts.cval,
        )?
    } else {
        input.shallow_clone()
    };

    let all: Vec<Window> = (0..batch)
        .flat_map(|image| {
            plan.windows.iter().map(move |w| Window {
                image,
                start: w.as_slice(),
            })
        })
        .collect();
    let mut run = Vec::with_capacity(all.len());
    for w in &all {
        let empty = match opts.skip_empty {
            Some(value) => {
                let max = window(&padded, w, &plan.roi)?
                    .f_max()?
                    .f_double_value(&[])?;
                max <= f64::from(value)
            }
            None => false,
        };
        if !empty {
            run.push(w);
        }
    }

    // The importance map is built once; the count map (the summed weights
    // of all windows of one image, skipped ones included since they count
    // as predictions of zeros) does not depend on the model.
    let weights = importance_map(&plan.kept, opts.blend, kind, out_device)?;
    let count = count_map(&plan, opts.blend, &weights)?;
    let weighted = !matches!(opts.blend, Blend::Constant);

    let width = opts.sw_batch_size.min(run.len().max(1));
    let mut patch_shape = vec![width as i64, input.size()[1]];
    patch_shape.extend_from_slice(&plan.roi);
    // One batch buffer, reused: the model gets contiguous memory and never
    // a view of the input, so a model returning its input unchanged cannot
    // alias the accumulators.
    let buffer = Tensor::f_empty(patch_shape.as_slice(), (kind, sw_device))?;
    let mut output: Option<Tensor> = None;
    for chunk in run.chunks(width) {
        let m = chunk.len() as i64;
        let batch_in = if m == width as i64 {
            buffer.shallow_clone()
        } else {
            buffer.f_narrow(0, 0, m)?
        };
        for (i, w) in chunk.iter().enumerate() {
            batch_in
                .f_narrow(0, i as i64, 1)?
                .f_copy_(&window(&padded, w, &plan.roi)?)?;
        }
        let pred = predict(model, &batch_in, &plan, kind, out_device)?;
        let out = match &output {
            Some(o) => o,
            None => output.insert(Tensor::f_zeros(
                grid_shape(batch, pred.size()[1], &plan.grid).as_slice(),
                (kind, out_device),
            )?),
        };
        // A model whose number of output channels changes between batches
        // cannot be stitched: say so rather than fail to broadcast.
        if pred.size()[1] != out.size()[1] {
            return Err(InferError::OutputShape {
                input: batch_in.size(),
                output: pred.size(),
            });
        }
        for (i, w) in chunk.iter().enumerate() {
            let p = pred.f_narrow(0, i as i64, 1)?;
            let mut dst = region(out, w.image, w.start, &plan.kept)?;
            if weighted {
                let _ = dst.f_addcmul_(&p, &weights)?;
            } else {
                let _ = dst.f_add_(&p)?;
            }
        }
    }
    let mut output = match output {
        Some(o) => o,
        // Every window was skipped: the model still tells the number of
        // output channels, from one window, and the output stays zero.
        None => {
            let probe = window(&padded, &all[0], &plan.roi)?.f_to_device(sw_device)?;
            let k = predict(model, &probe, &plan, kind, out_device)?.size()[1];
            Tensor::f_zeros(
                grid_shape(batch, k, &plan.grid).as_slice(),
                (kind, out_device),
            )?
        }
    };
    let _ = output.f_div_(&count)?;
    drop(count);
    // Cropping the grid back to the image is a view, as in MONAI.
    for d in 0..plan.image.len() {
        output = output.f_narrow(d as i64 + 2, plan.pad_lo[d], plan.image[d])?;
    }
    Ok(output)
}

/// The summed weights of all windows of one image, `[1, 1, ...grid]`.
fn count_map(plan: &Plan, blend: Blend, weights: &Tensor) -> Result<Tensor, InferError> {
    if blend != Blend::Constant {
        let count = Tensor::f_zeros(
            grid_shape(1, 1, &plan.grid).as_slice(),
            (weights.kind(), weights.device()),
        )?;
        for start in &plan.windows {
            let _ = region(&count, 0, start, &plan.kept)?.f_add_(weights)?;
        }
        return Ok(count);
    }
    // With unit weights the windows' cartesian layout makes the count the
    // outer product of per-axis counts: one pass over the grid instead of
    // one add per window, and the same small integers as MONAI's sum.
    let mut count = Tensor::f_ones([1i64, 1], (weights.kind(), weights.device()))?;
    for (d, starts) in plan.axes.iter().enumerate() {
        let mut per_axis = vec![0f32; plan.grid[d] as usize];
        for s in starts {
            for c in &mut per_axis[*s as usize..(s + plan.kept[d]) as usize] {
                *c += 1.0;
            }
        }
        let mut shape = vec![1i64; d + 2];
        shape.push(plan.grid[d]);
        let axis = Tensor::from_slice(&per_axis)
            .f_view(shape.as_slice())?
            .f_to_kind(weights.kind())?
            .f_to_device(weights.device())?;
        count = count.f_unsqueeze(-1)?.f_mul(&axis)?;
    }
    Ok(count)
}

/// `[n, k, ...grid]`.
fn grid_shape(n: i64, k: i64, grid: &[i64]) -> Vec<i64> {
    let mut s = vec![n, k];
    s.extend_from_slice(grid);
    s
}

/// The model's input for window `w`: a `[1, c, ...roi]` view of the padded
/// input, whose window starts where the kept part's context starts.
fn window(padded: &Tensor, w: &Window, roi: &[i64]) -> Result<Tensor, InferError> {
    region(padded, w.image, w.start, roi)
}

/// The `[1, k, ...size]` view of image `image` of `t` starting at `start`.
fn region(t: &Tensor, image: i64, start: &[i64], size: &[i64]) -> Result<Tensor, InferError> {
    let mut v = t.f_narrow(0, image, 1)?;
    for (d, (s, n)) in start.iter().zip(size).enumerate() {
        v = v.f_narrow(d as i64 + 2, *s, *n)?;
    }
    Ok(v)
}

/// Runs the model on a batch of windows and returns the kept part of its
/// prediction, `[m, k, ...kept]`, on the output device in the input's kind.
fn predict(
    model: &dyn Forward,
    x: &Tensor,
    plan: &Plan,
    kind: Kind,
    out_device: Device,
) -> Result<Tensor, InferError> {
    let pred = model.forward(x)?;
    let size = pred.size();
    let ok = size.len() == x.dim() && size[0] == x.size()[0] && size[2..] == plan.roi[..];
    if !ok {
        return Err(InferError::OutputShape {
            input: x.size(),
            output: size,
        });
    }
    let mut pred = pred;
    for d in 0..plan.roi.len() {
        if plan.kept[d] != plan.roi[d] {
            pred = pred.f_narrow(d as i64 + 2, plan.margin[d], plan.kept[d])?;
        }
    }
    Ok(pred.f_to_device(out_device)?.f_to_kind(kind)?)
}

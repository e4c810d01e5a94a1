//! Where the windows go and how much each voxel of a window weighs, as in
//! MONAI 1.6.1 (`_get_scan_interval`, `dense_patch_slices`,
//! `compute_importance_map`).

use tch::{Device, Kind, Tensor};

use crate::{Blend, InferError, SlidingWindowOptions};

/// The geometry of one sliding-window run, all sizes per spatial axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The input's spatial size.
    pub image: Vec<i64>,
    /// The window the model sees.
    pub roi: Vec<i64>,
    /// The part of each prediction that is kept: the centre crop, or the
    /// whole window.
    pub kept: Vec<i64>,
    /// Where the kept part starts inside the window.
    pub margin: Vec<i64>,
    /// The output grid: the image, padded where it is smaller than `kept`.
    pub grid: Vec<i64>,
    /// Padding of the image into the grid, before and after.
    pub pad_lo: Vec<i64>,
    pub pad_hi: Vec<i64>,
    /// Window starts on each axis, in grid coordinates.
    pub axes: Vec<Vec<i64>>,
    /// Every window's start, last axis fastest (MONAI's order).
    pub windows: Vec<Vec<i64>>,
}

impl Plan {
    /// Validates the options against the input shape and lays out the
    /// windows.
    pub fn new(shape: &[i64], opts: &SlidingWindowOptions) -> Result<Plan, InferError> {
        if shape.len() < 3 {
            return Err(InferError::InputRank(shape.to_vec()));
        }
        if shape.contains(&0) {
            return Err(InferError::EmptyInput(shape.to_vec()));
        }
        let image = shape[2..].to_vec();
        let rank = image.len();
        if !opts.roi_size.is_empty() && opts.roi_size.len() != rank {
            return Err(InferError::RoiRank {
                roi: opts.roi_size.clone(),
                shape: shape.to_vec(),
            });
        }
        // Non-positive (or absent) sizes take the image's, as MONAI's
        // `fall_back_tuple` does.
        let roi: Vec<i64> = (0..rank)
            .map(|d| match opts.roi_size.get(d) {
                Some(&r) if r > 0 => r,
                _ => image[d],
            })
            .collect();
        let overlap = match opts.overlap.len() {
            1 => vec![opts.overlap[0]; rank],
            n if n == rank => opts.overlap.clone(),
            _ => return Err(InferError::Overlap(opts.overlap.clone())),
        };
        // The negated comparison also rejects NaN.
        if overlap.iter().any(|o| !(*o >= 0.0 && *o < 1.0)) {
            return Err(InferError::Overlap(opts.overlap.clone()));
        }
        if opts.sw_batch_size == 0 {
            return Err(InferError::BatchSize);
        }
        if let crate::Blend::Gaussian { sigma_scale } = opts.blend {
            if !(sigma_scale > 0.0 && sigma_scale.is_finite()) {
                return Err(InferError::SigmaScale(sigma_scale));
            }
        }
        let kept = match &opts.center_crop {
            None => roi.clone(),
            Some(c) => {
                let ok = c.len() == rank && c.iter().zip(&roi).all(|(c, r)| *c >= 1 && c <= r);
                if !ok {
                    return Err(InferError::CenterCrop {
                        crop: c.clone(),
                        roi,
                    });
                }
                c.clone()
            }
        };
        let margin: Vec<i64> = roi.iter().zip(&kept).map(|(r, k)| (r - k) / 2).collect();
        let grid: Vec<i64> = image.iter().zip(&kept).map(|(i, k)| *i.max(k)).collect();
        // MONAI puts the smaller half of the padding first.
        let pad_lo: Vec<i64> = grid.iter().zip(&image).map(|(g, i)| (g - i) / 2).collect();
        let pad_hi: Vec<i64> = (0..rank).map(|d| grid[d] - image[d] - pad_lo[d]).collect();
        let axes: Vec<Vec<i64>> = (0..rank)
            .map(|d| {
                let step = scan_interval(grid[d], kept[d], overlap[d]);
                axis_starts(grid[d], kept[d], step)
            })
            .collect();
        Ok(Plan {
            image,
            roi,
            kept,
            margin,
            grid,
            pad_lo,
            pad_hi,
            windows: cartesian(&axes),
            axes,
        })
    }

    /// Whether the input must be padded: the image is smaller than the kept
    /// part, or a centre crop needs context beyond the border.
    pub fn needs_padding(&self) -> bool {
        self.pad_lo.iter().chain(&self.pad_hi).any(|p| *p > 0) || self.roi != self.kept
    }

    /// Padding of the input in `F.pad` order (last axis first, before and
    /// after): into the grid, plus the context around the kept part.
    pub fn torch_padding(&self) -> Vec<i64> {
        (0..self.image.len())
            .rev()
            .flat_map(|d| {
                let after = self.roi[d] - self.kept[d] - self.margin[d];
                [self.pad_lo[d] + self.margin[d], self.pad_hi[d] + after]
            })
            .collect()
    }
}

/// How many windows [`crate::sliding_window`] lays over each image of an
/// input of `shape` (`[n, c, ...spatial]`) with `opts`, before skipping
/// empty ones: the model sees `n` times as many.
pub fn window_count(shape: &[i64], opts: &SlidingWindowOptions) -> Result<usize, InferError> {
    Ok(Plan::new(shape, opts)?.windows.len())
}

/// MONAI's `_get_scan_interval` for one axis: `int(size * (1 - overlap))`,
/// at least 1, or the whole window where it spans the (padded) image.
fn scan_interval(image: i64, window: i64, overlap: f64) -> i64 {
    if window == image {
        return window;
    }
    // Truncation as Python's `int()`: the product is positive.
    ((window as f64 * (1.0 - overlap)) as i64).max(1)
}

/// MONAI's `dense_patch_slices` for one axis: starts `step` apart until a
/// window reaches the end, the last one moved back to end at the border.
fn axis_starts(image: i64, window: i64, step: i64) -> Vec<i64> {
    let count = (0..(image + step - 1) / step)
        .find(|d| d * step + window >= image)
        .map_or(1, |d| d + 1);
    (0..count)
        .map(|i| {
            let s = i * step;
            s - (s + window - image).max(0)
        })
        .collect()
}

/// All combinations of per-axis starts, the last axis varying fastest
/// (`np.meshgrid(..., indexing="ij")` flattened).
fn cartesian(axes: &[Vec<i64>]) -> Vec<Vec<i64>> {
    axes.iter().fold(vec![Vec::new()], |acc, starts| {
        acc.iter()
            .flat_map(|prefix| {
                starts.iter().map(move |s| {
                    let mut w = prefix.clone();
                    w.push(*s);
                    w
                })
            })
            .collect()
    })
}

/// The weight of each voxel of a window of `size`, shaped `[1, 1, ...size]`,
/// as MONAI's `compute_importance_map`: ones, or the product of per-axis
/// Gaussians `exp(-x^2 / (2 sigma^2))` with `sigma = sigma_scale * size` and
/// `x` centred on the window, computed in f32 and clamped from below at its
/// minimum or 1e-3, whichever is larger, so that no voxel weighs zero.
pub fn importance_map(
    size: &[i64],
    blend: Blend,
    kind: Kind,
    device: Device,
) -> Result<Tensor, InferError> {
    let mut shape = vec![1, 1];
    shape.extend_from_slice(size);
    let map = match blend {
        Blend::Constant => Tensor::f_ones(&shape, (Kind::Float, Device::Cpu))?,
        Blend::Gaussian { sigma_scale } => {
            let mut map = Tensor::f_ones([1i64, 1], (Kind::Float, Device::Cpu))?;
            for (d, &n) in size.iter().enumerate() {
                let sigma = n as f64 * sigma_scale;
                let denom = (-2.0 * sigma * sigma) as f32;
                let first = -((n - 1) as f32) / 2.0;
                let values: Vec<f32> = (0..n)
                    .map(|i| {
                        let x = first + i as f32;
                        (x * x / denom).exp()
                    })
                    .collect();
                let mut axis_shape = vec![1i64; d + 2];
                axis_shape.push(n);
                let axis = Tensor::from_slice(&values).f_view(axis_shape.as_slice())?;
                map = map.f_unsqueeze(-1)?.f_mul(&axis)?;
            }
            let min = map.f_min()?.f_double_value(&[])?.max(1e-3);
            map.f_clamp_min(min)?
        }
    };
    Ok(map.f_to_kind(kind)?.f_to_device(device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_follow_monai() {
        // dense_patch_slices((37,), (16,), (12,)) -> starts 0, 12, 21.
        assert_eq!(axis_starts(37, 16, 12), vec![0, 12, 21]);
        assert_eq!(axis_starts(16, 16, 16), vec![0]);
        assert_eq!(axis_starts(160, 96, 48), vec![0, 48, 64]);
        assert_eq!(scan_interval(37, 16, 0.25), 12);
        assert_eq!(scan_interval(16, 16, 0.5), 16);
        assert_eq!(scan_interval(37, 1, 0.5), 1);
    }

    #[test]
    fn cartesian_is_last_axis_fastest() {
        let w = cartesian(&[vec![0, 1], vec![5, 6]]);
        assert_eq!(w, vec![vec![0, 5], vec![0, 6], vec![1, 5], vec![1, 6]]);
    }
}

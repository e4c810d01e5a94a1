//! Assembly: decode the sorted images of a series into one volume with an
//! exact affine, resampling onto a regular grid only when asked to.

use crate::geometry::{analyse, Geometry};
use crate::header::{guarded, open, Frame};
use crate::native::try_read_frame;
use crate::pixel::{decode_frame, Layout, Transform};
use crate::{DicomError, SeriesInfo};
use deepneuro_volume::{DType, Volume};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The largest volume accepted, so that a corrupt header cannot ask for an
/// allocation that aborts the process (16 GiB of f32).
pub(crate) const MAX_VOXELS: u64 = 1 << 32;

/// How to turn a series into a volume.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Accept missing slices and non-uniform spacing by resampling the
    /// stack linearly onto a regular grid (the median step); by default
    /// they are an error naming where the gap is.
    pub allow_gaps: bool,
    /// Apply RescaleSlope and RescaleIntercept (per image).
    pub rescale: bool,
    /// Turn MONOCHROME1 images (white = low) into MONOCHROME2 by inverting
    /// the stored values within their bit range.
    pub invert_monochrome1: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            allow_gaps: false,
            rescale: true,
            invert_monochrome1: true,
        }
    }
}

/// Reads a series into a volume: `[1, columns, rows, slices]`, slices in
/// increasing position along the slice normal, RAS affine.
pub fn load(series: &SeriesInfo, opts: &LoadOptions) -> Result<Volume, DicomError> {
    let frames = &series.frames;
    let geo = analyse(frames)?;
    if !geo.is_regular() && !opts.allow_gaps {
        let msg = geo.gap_message(&geo.gaps[0], frames);
        return Err(DicomError::geometry(
            &series.root,
            format!(
                "series {}: {msg}; pass --allow-gaps to resample onto a regular grid",
                series.key
            ),
        ));
    }
    if let Some(t) = geo.tilt_deg {
        tracing::warn!(
            "{}: series {}: gantry tilt of {t:.2} degrees; the affine keeps the shear",
            series.root.display(),
            series.key
        );
    }
    let (cols, rows) = (frames[0].cols as usize, frames[0].rows as usize);
    let plane = rows * cols;
    if plane as u64 * frames.len() as u64 > MAX_VOXELS {
        return Err(DicomError::geometry(
            &series.root,
            format!(
                "series {}: {cols} x {rows} x {} voxels is more than this reader accepts ({MAX_VOXELS})",
                series.key,
                frames.len()
            ),
        ));
    }
    let stack = decode_stack(frames, plane, opts)?;
    let dtype = guess_dtype(frames, opts, &stack);
    let (data, nz, step) = if geo.is_regular() {
        (stack, frames.len(), geo.mean_step())
    } else {
        for g in &geo.gaps {
            tracing::warn!(
                "{}: series {}: {}; resampled onto a regular grid",
                series.root.display(),
                series.key,
                geo.gap_message(g, frames)
            );
        }
        resample_regular(&stack, plane, &geo)
    };
    let affine = geo.affine(step);
    Volume::from_nifti_vec([1, cols, rows, nz], data, affine, dtype)
        .map_err(|e| DicomError::geometry(&series.root, format!("series {}: {e}", series.key)))
}

/// Decodes every image into one buffer, slice after slice in sorted order.
/// Files are read in parallel, each file once even when it holds many
/// frames.
fn decode_stack(
    frames: &[Frame],
    plane: usize,
    opts: &LoadOptions,
) -> Result<Vec<f32>, DicomError> {
    let transform = |f: &Frame| Transform {
        slope: if opts.rescale { f.slope } else { 1.0 },
        intercept: if opts.rescale { f.intercept } else { 0.0 },
        invert_monochrome1: opts.invert_monochrome1,
    };
    let mut data = vec![0f32; plane * frames.len()];
    // Native little-endian files are read directly, slice by slice; the
    // rest goes through the full parser below.
    let pending: Vec<usize> = data
        .par_chunks_mut(plane)
        .zip(frames.par_iter())
        .enumerate()
        .filter_map(
            |(slot, (out, f))| match try_read_frame(f, transform(f), out) {
                Ok(true) => None,
                Ok(false) => Some(Ok(slot)),
                Err(e) => Some(Err(e)),
            },
        )
        .collect::<Result<_, DicomError>>()?;
    if pending.is_empty() {
        return Ok(data);
    }
    let mut by_file: BTreeMap<&PathBuf, Vec<usize>> = BTreeMap::new();
    for slot in pending {
        by_file.entry(&frames[slot].path).or_default().push(slot);
    }
    let jobs: Vec<(&PathBuf, Vec<usize>)> = by_file.into_iter().collect();
    let decoded: Vec<Vec<(usize, Vec<f32>)>> = jobs
        .par_iter()
        .map(|(path, slots)| {
            guarded(path, || {
                let obj = open(path, false)?;
                let layout = Layout::of(&obj, path)?;
                if layout.rows * layout.cols != plane {
                    return Err(DicomError::PixelData {
                        path: path.to_path_buf(),
                        reason: "image size differs from the rest of the series".into(),
                    });
                }
                let mut out = Vec::with_capacity(slots.len());
                for slot in slots {
                    let f = &frames[*slot];
                    let mut buf = vec![0f32; plane];
                    decode_frame(&obj, path, &layout, f.frame, transform(f), &mut buf)?;
                    out.push((*slot, buf));
                }
                Ok(out)
            })
        })
        .collect::<Result<_, DicomError>>()?;
    for (slot, buf) in decoded.into_iter().flatten() {
        data[slot * plane..(slot + 1) * plane].copy_from_slice(&buf);
    }
    Ok(data)
}

/// The type a writer should use: with integer slopes and intercepts, the
/// smallest integer type holding every value the stored bits can take
/// after rescale, or, when that needs 32 bits, the actual values; float32
/// otherwise.
fn guess_dtype(frames: &[Frame], opts: &LoadOptions, data: &[f32]) -> DType {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for f in frames {
        let Some(layout) = f.layout else {
            return DType::F32;
        };
        let (slope, intercept) = if opts.rescale {
            (f.slope, f.intercept)
        } else {
            (1.0, 0.0)
        };
        if slope.fract() != 0.0 || intercept.fract() != 0.0 {
            return DType::F32;
        }
        let (a, b) = layout.stored_range();
        for v in [a as f64 * slope + intercept, b as f64 * slope + intercept] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let fits = |lo: f64, hi: f64| {
        [DType::U8, DType::I8, DType::I16, DType::U16, DType::I32]
            .into_iter()
            .find(|d| {
                let (a, b) = d.int_range().unwrap_or((0.0, 0.0));
                lo >= a && hi <= b
            })
    };
    match fits(lo, hi) {
        // The bits allow values beyond 16 bits once rescaled (CT's -1024
        // intercept on 16 stored bits): let the actual values decide, so
        // that a CT scan stays int16 when it fits.
        Some(DType::I32) | None => {
            let (lo, hi) = data
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
                    (l.min(*v), h.max(*v))
                });
            fits(lo as f64, hi as f64).unwrap_or(DType::F32)
        }
        Some(d) => d,
    }
}

/// Linear interpolation of the stack onto evenly spaced positions from the
/// first slice to the last, with the median step (rounded so that the last
/// slice lands exactly).
fn resample_regular(stack: &[f32], plane: usize, geo: &Geometry) -> (Vec<f32>, usize, f64) {
    let pos = &geo.positions;
    let (first, last) = (pos[0], pos[pos.len() - 1]);
    let nz = (((last - first) / geo.step).round() as usize).max(1) + 1;
    let step = (last - first) / (nz - 1) as f64;
    let mut out = vec![0f32; plane * nz];
    let mut k = 0;
    for j in 0..nz {
        let p = first + j as f64 * step;
        while k + 2 < pos.len() && pos[k + 1] < p {
            k += 1;
        }
        let (a, b) = (pos[k], pos[k + 1]);
        let w = ((p - a) / (b - a)).clamp(0.0, 1.0) as f32;
        let (s0, s1) = (
            &stack[k * plane..(k + 1) * plane],
            &stack[(k + 1) * plane..(k + 2) * plane],
        );
        for (o, (x, y)) in out[j * plane..(j + 1) * plane]
            .iter_mut()
            .zip(s0.iter().zip(s1))
        {
            *o = x + (y - x) * w;
        }
    }
    (out, nz, step)
}

//! NIfTI memory order (x fastest) to C order (z fastest), fast.
//!
//! Samples leave this crate in C order: HDF5 rows are C order on disk,
//! batches are C-contiguous `[batch, c, x, y, z]` (what libtorch expects),
//! and augmentations that slice or flip walk C-order arrays along their
//! contiguous last axis. Converting once at load time, with a cache-blocked
//! transpose, is far cheaper than letting every later step iterate a
//! NIfTI-order array with z as its innermost (most strided) axis.

use ndarray::Array4;
use rayon::prelude::*;

/// Tile edge of the blocked transpose: a 32x32 tile of f32 is 4 KiB of
/// reads and 4 KiB of writes, well inside L1.
const TILE: usize = 32;

/// `[c, x, y, z]` in C order from one NIfTI-order slice (x fastest, then
/// y, then z; `x * y * z` values) per channel.
pub(crate) fn nifti_to_c(channels: &[&[f32]], shape: [usize; 3]) -> Array4<f32> {
    let [x, y, z] = shape;
    let per = x * y * z;
    let c = channels.len();
    debug_assert!(channels.iter().all(|s| s.len() == per));
    let mut out = vec![0f32; c * per];
    if per > 0 {
        // Each task fills TILE consecutive x-planes of one channel, a
        // contiguous block of the output.
        let rows = TILE * y * z;
        out.par_chunks_mut(per)
            .zip(channels.par_iter())
            .for_each(|(dst, src)| {
                dst.par_chunks_mut(rows)
                    .enumerate()
                    .for_each(|(block, dst)| {
                        let i0 = block * TILE;
                        let ni = TILE.min(x - i0);
                        // tile[k][i]: TILE rows of x-runs, read contiguously
                        // from the source and written out along z.
                        let mut tile = [[0f32; TILE]; TILE];
                        for j in 0..y {
                            for k0 in (0..z).step_by(TILE) {
                                let nk = TILE.min(z - k0);
                                for (kk, row) in tile.iter_mut().enumerate().take(nk) {
                                    let s = x * j + x * y * (k0 + kk) + i0;
                                    row[..ni].copy_from_slice(&src[s..s + ni]);
                                }
                                for ii in 0..ni {
                                    let d = (ii * y + j) * z + k0;
                                    for (o, row) in dst[d..d + nk].iter_mut().zip(&tile) {
                                        *o = row[ii];
                                    }
                                }
                            }
                        }
                    });
            });
    }
    Array4::from_shape_vec((c, x, y, z), out).expect("the length is c * x * y * z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ShapeBuilder;

    #[test]
    fn equals_the_logical_order_of_the_nifti_view() {
        for shape in [[2, 5, 7, 3], [1, 40, 33, 70], [3, 1, 1, 1]] {
            let [c, x, y, z] = shape;
            let n = c * x * y * z;
            let src: Vec<f32> = (0..n).map(|v| v as f32).collect();
            let view = ndarray::ArrayView4::from_shape(
                (c, x, y, z).strides((x * y * z, 1, x, x * y)),
                &src,
            )
            .unwrap();
            let channels: Vec<&[f32]> = src.chunks(x * y * z).collect();
            let out = nifti_to_c(&channels, [x, y, z]);
            assert!(out.is_standard_layout());
            assert_eq!(out, view);
        }
    }
}

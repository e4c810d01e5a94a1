//! Trilinear sampling of the moving image with its gradient, the choice of
//! fixed sample points, and ITK's linear interpolation for resampling.

use super::pyramid::Image;
use nalgebra::{Matrix3, Vector3};
use rayon::prelude::*;

/// What the metrics need from the moving image of a level.
pub(crate) trait MovingSampler: Sync {
    /// Value and gradient at a continuous voxel index, or `None` outside.
    fn sample(&self, c: [f32; 3]) -> Option<[f32; 4]>;
    /// The matrix that converts sampled gradients to world (RAS mm) units.
    fn to_world(&self) -> Matrix3<f64>;
    /// Intensity range of the image.
    fn range(&self) -> (f32, f32);
}

/// The moving image of one level, sampled with the exact gradient of its
/// trilinear interpolant (in voxel units), computed from the same eight
/// voxels as the value: no gradient image is built.
pub(crate) struct Moving<'a> {
    pub dims: [usize; 3],
    pub data: &'a [f32],
    pub to_world: Matrix3<f64>,
    pub min: f32,
    pub max: f32,
}

impl<'a> Moving<'a> {
    pub fn new(img: &'a Image<'_>) -> Moving<'a> {
        let lin: Matrix3<f64> = img.affine.fixed_view::<3, 3>(0, 0).into_owned();
        let to_world = lin
            .try_inverse()
            .unwrap_or_else(Matrix3::identity)
            .transpose();
        let (min, max) = img
            .data
            .par_iter()
            .fold(
                || (f32::INFINITY, f32::NEG_INFINITY),
                |(a, b), v| (a.min(*v), b.max(*v)),
            )
            .reduce(
                || (f32::INFINITY, f32::NEG_INFINITY),
                |x, y| (x.0.min(y.0), x.1.max(y.1)),
            );
        Moving {
            dims: img.dims,
            data: &img.data,
            to_world,
            min,
            max,
        }
    }
}

impl MovingSampler for Moving<'_> {
    #[inline]
    fn sample(&self, c: [f32; 3]) -> Option<[f32; 4]> {
        let [nx, ny, _] = self.dims;
        let mut base = [0usize; 3];
        let mut t = [0.0f32; 3];
        for a in 0..3 {
            let n = self.dims[a];
            if !(c[a] >= 0.0 && c[a] <= (n - 1) as f32) {
                return None;
            }
            let i = (c[a] as usize).min(n - 2);
            base[a] = i;
            t[a] = c[a] - i as f32;
        }
        let at = (base[2] * ny + base[1]) * nx + base[0];
        let (sy, sz) = (nx, nx * ny);
        let d = self.data;
        let pair = |o: usize| (d[at + o], d[at + o + 1]);
        let (v000, v100) = pair(0);
        let (v010, v110) = pair(sy);
        let (v001, v101) = pair(sz);
        let (v011, v111) = pair(sy + sz);
        let [tx, ty, tz] = t;
        let (d00, d10, d01, d11) = (v100 - v000, v110 - v010, v101 - v001, v111 - v011);
        let x00 = v000 + tx * d00;
        let x10 = v010 + tx * d10;
        let x01 = v001 + tx * d01;
        let x11 = v011 + tx * d11;
        let y0 = x00 + ty * (x10 - x00);
        let y1 = x01 + ty * (x11 - x01);
        let gz = y1 - y0;
        let gy = (x10 - x00) + tz * ((x11 - x01) - (x10 - x00));
        let dy0 = d00 + ty * (d10 - d00);
        let dy1 = d01 + ty * (d11 - d01);
        let gx = dy0 + tz * (dy1 - dy0);
        Some([y0 + tz * gz, gx, gy, gz])
    }
    fn to_world(&self) -> Matrix3<f64> {
        self.to_world
    }
    fn range(&self) -> (f32, f32) {
        (self.min, self.max)
    }
}

/// The fixed sample points of one level: world positions relative to the
/// rotation centre (`r = x - c`) and fixed intensities.
pub(crate) struct Samples {
    pub r: Vec<[f32; 3]>,
    pub f: Vec<f32>,
}

/// SplitMix64: a tiny, well-mixed generator, so that the sample choice
/// depends on the seed only (never on the thread count).
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Chooses fixed voxels (inside `mask` when given) at random, each with the
/// probability that yields `fraction` of the candidates but at least
/// `min_samples` of them (or all when there are fewer), and a random point
/// within each chosen voxel.
pub(crate) fn select(
    fixed: &Image<'_>,
    mask: Option<&[bool]>,
    centre: Vector3<f64>,
    fraction: f64,
    min_samples: usize,
    seed: u64,
) -> Samples {
    let n = fixed.data.len();
    let candidates = mask.map_or(n, |m| m.iter().filter(|v| **v).count());
    let wanted = (fraction * candidates as f64).max(min_samples as f64);
    let p = (wanted / candidates.max(1) as f64).min(1.0);
    let mut rng = SplitMix::new(seed);
    // Choosing each candidate with probability p is the same as skipping a
    // geometrically distributed number of candidates between choices, which
    // costs one random number per sample instead of one per voxel.
    let log_q = (1.0 - p).ln();
    let gap = |rng: &mut SplitMix| -> usize {
        if p >= 1.0 {
            0
        } else {
            ((1.0 - rng.next_f64()).ln() / log_q).floor().min(n as f64) as usize
        }
    };
    let [nx, ny, _] = fixed.dims;
    let mut r = Vec::with_capacity((p * candidates as f64 * 1.05) as usize + 16);
    let mut f = Vec::with_capacity(r.capacity());
    let mut skip = gap(&mut rng);
    let mut idx = 0;
    while idx < n {
        if let Some(m) = mask {
            if !m[idx] {
                idx += 1;
                continue;
            }
            if skip > 0 {
                skip -= 1;
                idx += 1;
                continue;
            }
        } else if skip > 0 {
            idx += skip;
            skip = 0;
            continue;
        }
        let (i, j, k) = (idx % nx, (idx / nx) % ny, idx / (nx * ny));
        // A random point within the voxel, with the fixed intensity
        // interpolated there: samples on the fixed grid would see the fixed
        // image unblurred but the moving one blurred by interpolation, which
        // biases mutual information towards shrinking or stretching.
        let ijk = [i, j, k].map(|c| c as f64 + rng.next_f64() - 0.5);
        let v = trilinear_itk(&fixed.data, fixed.dims, ijk).unwrap_or(fixed.data[idx]);
        let w = fixed.world(ijk);
        r.push([0, 1, 2].map(|a| (w[a] - centre[a]) as f32));
        f.push(v);
        skip = gap(&mut rng);
        idx += 1;
    }
    Samples { r, f }
}

/// ITK's linear interpolation for resampling: a point is inside when every
/// continuous index lies in `[-0.5, n - 0.5)`, and the half voxel beyond the
/// outer voxel centres repeats the edge value.
#[inline]
pub(crate) fn trilinear_itk(data: &[f32], dims: [usize; 3], c: [f64; 3]) -> Option<f32> {
    let mut i0 = [0usize; 3];
    let mut i1 = [0usize; 3];
    let mut t = [0.0f64; 3];
    for a in 0..3 {
        let n = dims[a];
        if !(c[a] >= -0.5 && c[a] < n as f64 - 0.5) {
            return None;
        }
        let x = c[a].clamp(0.0, (n - 1) as f64);
        let i = (x as usize).min(n.saturating_sub(2));
        i0[a] = i;
        i1[a] = (i + 1).min(n - 1);
        t[a] = x - i as f64;
    }
    let [nx, ny, _] = dims;
    let at = |x: usize, y: usize, z: usize| data[(z * ny + y) * nx + x] as f64;
    let lerp = |a: f64, b: f64, w: f64| a + w * (b - a);
    let x00 = lerp(at(i0[0], i0[1], i0[2]), at(i1[0], i0[1], i0[2]), t[0]);
    let x10 = lerp(at(i0[0], i1[1], i0[2]), at(i1[0], i1[1], i0[2]), t[0]);
    let x01 = lerp(at(i0[0], i0[1], i1[2]), at(i1[0], i0[1], i1[2]), t[0]);
    let x11 = lerp(at(i0[0], i1[1], i1[2]), at(i1[0], i1[1], i1[2]), t[0]);
    let y0 = lerp(x00, x10, t[1]);
    let y1 = lerp(x01, x11, t[1]);
    Some(lerp(y0, y1, t[2]) as f32)
}

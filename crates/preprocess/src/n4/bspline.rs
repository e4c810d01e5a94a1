//! Uniform tensor-product B-splines on a control-point lattice: the
//! single-level scattered-data approximation of Lee, Wolberg and Shin
//! (1997) that ITK's `BSplineScatteredDataPointSetToImageFilter` uses for
//! N4, evaluation, and dyadic refinement.
//!
//! The data points of N4 lie on a regular grid, so every B-spline weight is
//! a product of three per-axis weights; those are computed once per axis
//! position ([`AxisWeights`]) instead of once per point.

use rayon::prelude::*;

/// Points handled by one rayon task when scattering into the lattice; each
/// task owns its accumulators, so the chunk must amortise their allocation.
const FIT_CHUNK: usize = 8192;

/// The centred B-spline of degree `order` (support `[-(order+1)/2,
/// (order+1)/2]`), by the usual recursion on the degree.
fn centred_bspline(order: usize, x: f64) -> f64 {
    if order == 0 {
        return if (-0.5..0.5).contains(&x) { 1.0 } else { 0.0 };
    }
    let h = (order as f64 + 1.0) / 2.0;
    if x <= -h || x >= h {
        return 0.0;
    }
    ((x + h) * centred_bspline(order - 1, x + 0.5) + (h - x) * centred_bspline(order - 1, x - 0.5))
        / order as f64
}

/// The weights of the `order + 1` control points `span..=span + order` at
/// the local coordinate `t` in `[0, 1]` of the span. Control point `span +
/// k` is centred at `span + k - (order - 1) / 2` in span units, as in ITK.
pub(crate) fn span_weights(order: usize, t: f64, out: &mut [f64]) {
    let shift = (order as f64 - 1.0) / 2.0;
    for (k, w) in out.iter_mut().enumerate() {
        *w = centred_bspline(order, t - k as f64 + shift);
    }
}

/// The B-spline weights of every position along one axis: the first
/// control point touched and the `order + 1` weights.
#[derive(Debug, Clone)]
pub(crate) struct AxisWeights {
    /// `order + 1`.
    pub k: usize,
    pub first: Vec<usize>,
    pub w: Vec<f64>,
}

impl AxisWeights {
    /// Weights for the parametric coordinates `params` (each in `[0,
    /// spans]`) of a lattice with `spans` spans.
    pub fn new(order: usize, spans: usize, params: impl Iterator<Item = f64>) -> AxisWeights {
        let k = order + 1;
        let mut first = Vec::new();
        let mut w = Vec::new();
        let mut buf = vec![0.0; k];
        for p in params {
            let p = p.clamp(0.0, spans as f64);
            // The last span is closed at its end so that p == spans is
            // evaluated there rather than in a span that does not exist.
            let span = (p.floor() as usize).min(spans - 1);
            span_weights(order, p - span as f64, &mut buf);
            first.push(span);
            w.extend_from_slice(&buf);
        }
        AxisWeights { k, first, w }
    }

    /// The weights of position `i`.
    #[inline]
    pub fn at(&self, i: usize) -> (usize, &[f64]) {
        (self.first[i], &self.w[i * self.k..(i + 1) * self.k])
    }
}

/// Control points in x-fastest order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lattice {
    pub dims: [usize; 3],
    pub data: Vec<f64>,
}

impl Lattice {
    pub fn zeros(dims: [usize; 3]) -> Lattice {
        Lattice {
            dims,
            data: vec![0.0; dims.iter().product()],
        }
    }

    /// Adds another lattice of the same shape.
    pub fn add(&mut self, other: &Lattice) {
        debug_assert_eq!(self.dims, other.dims);
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }

    /// The value at grid point `idx` of the axes whose weights are `ax`.
    #[inline]
    pub fn eval_at(&self, ax: &[AxisWeights; 3], idx: [usize; 3]) -> f64 {
        let (x0, wx) = ax[0].at(idx[0]);
        let (y0, wy) = ax[1].at(idx[1]);
        let (z0, wz) = ax[2].at(idx[2]);
        let [dx, dy, _] = self.dims;
        let mut sum = 0.0;
        for (cz, &vz) in wz.iter().enumerate() {
            for (cy, &vy) in wy.iter().enumerate() {
                let base = ((z0 + cz) * dy + y0 + cy) * dx + x0;
                let row = &self.data[base..base + wx.len()];
                let s: f64 = row.iter().zip(wx).map(|(c, w)| c * w).sum();
                sum += vz * vy * s;
            }
        }
        sum
    }

    /// The value at every grid point of `ax` (x fastest), as f32, computed
    /// separably: contract z, then y, then x.
    pub fn eval_grid(&self, ax: &[AxisWeights; 3], n: [usize; 3]) -> Vec<f32> {
        let [dx, dy, _] = self.dims;
        let mut out = vec![0f32; n[0] * n[1] * n[2]];
        out.par_chunks_mut(n[0] * n[1])
            .enumerate()
            .for_each(|(z, slab)| {
                let (z0, wz) = ax[2].at(z);
                let mut plane = vec![0.0; dx * dy];
                for (cz, &vz) in wz.iter().enumerate() {
                    let src = &self.data[(z0 + cz) * dx * dy..(z0 + cz + 1) * dx * dy];
                    for (p, s) in plane.iter_mut().zip(src) {
                        *p += vz * s;
                    }
                }
                let mut line = vec![0.0; dx];
                for (y, row) in slab.chunks_mut(n[0]).enumerate() {
                    let (y0, wy) = ax[1].at(y);
                    line.iter_mut().for_each(|v| *v = 0.0);
                    for (cy, &vy) in wy.iter().enumerate() {
                        let src = &plane[(y0 + cy) * dx..(y0 + cy + 1) * dx];
                        for (l, s) in line.iter_mut().zip(src) {
                            *l += vy * s;
                        }
                    }
                    for (x, o) in row.iter_mut().enumerate() {
                        let (x0, wx) = ax[0].at(x);
                        let v: f64 = line[x0..x0 + wx.len()]
                            .iter()
                            .zip(wx)
                            .map(|(c, w)| c * w)
                            .sum();
                        *o = v as f32;
                    }
                }
            });
        out
    }

    /// The lattice with twice as many spans along every axis that
    /// represents exactly the same spline (B-spline subdivision: a coarse
    /// basis function is a binomial combination of `order + 2` fine ones).
    pub fn refined(&self, order: usize) -> Lattice {
        let mut cur = self.clone();
        for axis in 0..3 {
            cur = cur.refined_along(axis, order);
        }
        cur
    }

    fn refined_along(&self, axis: usize, order: usize) -> Lattice {
        let n = self.dims[axis];
        let fine_n = 2 * n - order;
        let mut dims = self.dims;
        dims[axis] = fine_n;
        let mut out = Lattice::zeros(dims);
        let scale = 0.5f64.powi(order as i32);
        let coeff: Vec<f64> = (0..=order + 1)
            .map(|j| binomial(order + 1, j) * scale)
            .collect();
        let stride_in = self.dims[..axis].iter().product::<usize>();
        let stride_out = dims[..axis].iter().product::<usize>();
        let outer = self.dims[axis + 1..].iter().product::<usize>();
        for o in 0..outer {
            for inner in 0..stride_in {
                let src = |c: usize| self.data[(o * n + c) * stride_in + inner];
                for c in 0..n {
                    let v = src(c);
                    // Fine control point 2c - order + j receives coefficient
                    // j of coarse point c; those outside the lattice have no
                    // support on the domain.
                    for (j, cf) in coeff.iter().enumerate() {
                        let f = (2 * c + j) as isize - order as isize;
                        if f >= 0 && (f as usize) < fine_n {
                            out.data[(o * fine_n + f as usize) * stride_out + inner] += cf * v;
                        }
                    }
                }
            }
        }
        out
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// One B-spline approximation of `values` at the grid points `points`
/// (ITK's single-level fit with unit point weights): every point spreads
/// the coefficients that would reproduce it alone, and each control point
/// takes the average of those proposals weighted by the squared B-spline
/// weights.
pub(crate) fn fit(
    points: &[[u32; 3]],
    values: &[f64],
    ax: &[AxisWeights; 3],
    dims: [usize; 3],
) -> Lattice {
    let n = dims.iter().product::<usize>();
    let [dx, dy, _] = dims;
    let (delta, omega) = points
        .par_chunks(FIT_CHUNK)
        .zip(values.par_chunks(FIT_CHUNK))
        .fold(
            || (vec![0.0; n], vec![0.0; n]),
            |(mut delta, mut omega), (pts, vals)| {
                let k = ax[0].k;
                let mut sq = [vec![0.0; k], vec![0.0; k], vec![0.0; k]];
                let mut cu = [vec![0.0; k], vec![0.0; k], vec![0.0; k]];
                for (p, &v) in pts.iter().zip(vals) {
                    let mut first = [0usize; 3];
                    let mut w2sum = 1.0;
                    for d in 0..3 {
                        let (f, w) = ax[d].at(p[d] as usize);
                        first[d] = f;
                        let mut s = 0.0;
                        for (i, &wi) in w.iter().enumerate() {
                            sq[d][i] = wi * wi;
                            cu[d][i] = wi * wi * wi;
                            s += wi * wi;
                        }
                        w2sum *= s;
                    }
                    let c = v / w2sum;
                    for cz in 0..k {
                        for cy in 0..k {
                            let a2 = sq[2][cz] * sq[1][cy];
                            let a3 = c * cu[2][cz] * cu[1][cy];
                            let base = ((first[2] + cz) * dy + first[1] + cy) * dx + first[0];
                            for cx in 0..k {
                                omega[base + cx] += a2 * sq[0][cx];
                                delta[base + cx] += a3 * cu[0][cx];
                            }
                        }
                    }
                }
                (delta, omega)
            },
        )
        .reduce(
            || (vec![0.0; n], vec![0.0; n]),
            |(mut d1, mut o1), (d2, o2)| {
                d1.iter_mut().zip(&d2).for_each(|(a, b)| *a += b);
                o1.iter_mut().zip(&o2).for_each(|(a, b)| *a += b);
                (d1, o1)
            },
        );
    let data = delta
        .iter()
        .zip(&omega)
        .map(|(d, o)| {
            let v = d / o;
            // Control points that no data point reaches stay at zero.
            if *o > 0.0 && v.is_finite() {
                v
            } else {
                0.0
            }
        })
        .collect();
    Lattice { dims, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_weights_match_the_closed_form() {
        let mut w = [0.0; 4];
        for &t in &[0.0, 0.25, 0.5, 0.9, 1.0] {
            span_weights(3, t, &mut w);
            let s = 1.0 - t;
            let want = [
                s * s * s / 6.0,
                (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0,
                (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0,
                t * t * t / 6.0,
            ];
            for (a, b) in w.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "t={t}: {w:?}");
            }
        }
    }

    #[test]
    fn refinement_preserves_the_spline() {
        for order in 1..=4 {
            let dims = [order + 2, order + 1, order + 3];
            let mut lat = Lattice::zeros(dims);
            for (i, v) in lat.data.iter_mut().enumerate() {
                *v = ((i * 37 % 11) as f64).sin();
            }
            let fine = lat.refined(order);
            let n = [9usize, 7, 8];
            let axes = |l: &Lattice| -> [AxisWeights; 3] {
                std::array::from_fn(|d| {
                    let spans = l.dims[d] - order;
                    AxisWeights::new(
                        order,
                        spans,
                        (0..n[d]).map(move |i| i as f64 * spans as f64 / (n[d] - 1) as f64),
                    )
                })
            };
            let a = lat.eval_grid(&axes(&lat), n);
            let b = fine.eval_grid(&axes(&fine), n);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "order {order}: {x} vs {y}");
            }
            let ax = axes(&lat);
            let direct = lat.eval_at(&ax, [3, 2, 5]);
            let grid = a[3 + n[0] * (2 + n[1] * 5)] as f64;
            assert!((direct - grid).abs() < 1e-5);
        }
    }
}

//! The per-pixel sampling table of a rotation: scipy's rotation matrix and
//! coordinates, bit for bit, turned into input taps and weights once per
//! plane geometry and shared by every plane that has it.

use crate::spline::{first_tap, mirror, weights};

/// Cosine and sine of an angle in degrees, computed as scipy's
/// `special.cosdg`/`special.sindg` do (Cephes: reduction to an octant of 45
/// degrees, then a minimax polynomial for sine or cosine), so the rotation
/// matrix is bit-identical to scipy's and exact at multiples of 90 degrees.
/// Bit-identical matters: at 45 degrees whole diagonals of pixels sit on
/// exact rounding ties, which the last bit of the matrix decides.
pub(crate) fn cos_sin_degrees(angle: f64) -> (f64, f64) {
    // Cephes' published coefficients (S. L. Moshier), highest power first.
    #[allow(clippy::excessive_precision)]
    const SIN: [f64; 6] = [
        1.58962301572218447952e-10,
        -2.50507477628503540135e-8,
        2.75573136213856773549e-6,
        -1.98412698295895384658e-4,
        8.33333333332211858862e-3,
        -1.66666666666666307295e-1,
    ];
    #[allow(clippy::excessive_precision)]
    const COS: [f64; 7] = [
        1.13678171382044553091e-11,
        -2.08758833757683644217e-9,
        2.75573155429816611547e-7,
        -2.48015872936186303776e-5,
        1.38888888888806666760e-3,
        -4.16666666666666348141e-2,
        4.99999999999999999798e-1,
    ];
    #[allow(clippy::excessive_precision)]
    const RAD_PER_DEG: f64 = 1.74532925199432957692e-2;
    let horner = |c: &[f64], x: f64| c.iter().fold(0.0, |acc, &k| acc * x + k);
    let x = angle.abs();
    if x > 1.0e14 {
        // Cephes gives up on such angles (total loss of precision).
        return (0.0, 0.0);
    }
    // The octant index modulo 16, moved to the nearest even octant so the
    // remainder lies in [-45, 45] degrees.
    let mut octants = (x / 45.0).floor();
    let sixteens = (octants * 0.0625).floor();
    let mut j = (octants - sixteens * 16.0) as i32;
    if j & 1 == 1 {
        j += 1;
        octants += 1.0;
    }
    j &= 7;
    let (mut sin_sign, mut cos_sign) = (if angle < 0.0 { -1.0 } else { 1.0 }, 1.0);
    if j > 3 {
        j -= 4;
        sin_sign = -sin_sign;
        cos_sign = -cos_sign;
    }
    if j > 1 {
        cos_sign = -cos_sign;
    }
    let z = (x - octants * 45.0) * RAD_PER_DEG;
    let zz = z * z;
    let sin_poly = z + z * (zz * horner(&SIN, zz));
    let cos_poly = 1.0 - zz * horner(&COS, zz);
    // Odd quarter turns swap the roles of sine and cosine.
    let (s, c) = if j == 1 || j == 2 {
        (cos_poly, sin_poly)
    } else {
        (sin_poly, cos_poly)
    };
    (cos_sign * c, sin_sign * s)
}

/// The taps and weights of one output pixel (order 3).
#[derive(Clone, Copy)]
pub(crate) struct Taps {
    pub(crate) ia: [u32; 4],
    pub(crate) wa: [f64; 4],
    pub(crate) ib: [u32; 4],
    pub(crate) wb: [f64; 4],
}

/// The two-by-two taps of one output pixel (order 1): the four input
/// indices in scipy's tap order and the first weight along each axis (the
/// second is `1 - w`, as scipy computes it).
#[derive(Clone, Copy)]
pub(crate) struct Linear {
    pub(crate) idx: [u32; 4],
    pub(crate) wa: f64,
    pub(crate) wb: f64,
}

/// Marks an output pixel that takes `cval`.
pub(crate) const CVAL: u32 = u32::MAX;

/// Per-pixel sampling, compact for the common orders: the table is read
/// once per plane, so its size sets the speed.
pub(crate) enum Kernel {
    Nearest(Vec<u32>),
    Linear(Vec<Linear>),
    Cubic(Vec<Option<Taps>>),
}

/// The pixel mapping of one plane geometry, shared by every plane (channel
/// and slice) of every group with that order.
pub(crate) struct Table {
    pub(crate) na: usize,
    pub(crate) nb: usize,
    pub(crate) order: usize,
    pub(crate) kernel: Kernel,
}

impl Table {
    pub(crate) fn new(na: usize, nb: usize, angle: f64, order: usize) -> Table {
        let (c, s) = cos_sin_degrees(angle);
        let ca = (na as f64 - 1.0) / 2.0;
        let cb = (nb as f64 - 1.0) / 2.0;
        // offset = in_centre - R @ out_centre. numpy's 2x2 matmul rounds the
        // second product, then fuses the first product with the sum (its
        // SIMD kernel on FMA hardware); mul_add gives that bit for bit, and
        // at 45 degrees the last bit decides whole diagonals of ties.
        let off_a = ca - c.mul_add(ca, s * cb);
        let off_b = cb - (-s).mul_add(ca, c * cb);
        let mut taps = Vec::with_capacity(na * nb);
        for oa in 0..na {
            for ob in 0..nb {
                let (oa, ob) = (oa as f64, ob as f64);
                // scipy starts each coordinate from the offset, then adds
                // the products in axis order; the same order gives the same bits.
                let xa = (off_a + oa * c) + ob * s;
                let xb = (off_b + oa * -s) + ob * c;
                taps.push(pixel_taps(xa, na, xb, nb, order));
            }
        }
        let at = |a: u32, b: u32| a * nb as u32 + b;
        let kernel = match order {
            0 => Kernel::Nearest(
                taps.iter()
                    .map(|t| t.map_or(CVAL, |t| at(t.ia[0], t.ib[0])))
                    .collect(),
            ),
            1 => Kernel::Linear(
                taps.iter()
                    .map(|t| match t {
                        None => Linear {
                            idx: [CVAL; 4],
                            wa: 0.0,
                            wb: 0.0,
                        },
                        Some(t) => Linear {
                            idx: [
                                at(t.ia[0], t.ib[0]),
                                at(t.ia[0], t.ib[1]),
                                at(t.ia[1], t.ib[0]),
                                at(t.ia[1], t.ib[1]),
                            ],
                            wa: t.wa[0],
                            wb: t.wb[0],
                        },
                    })
                    .collect(),
            ),
            _ => Kernel::Cubic(taps),
        };
        Table {
            na,
            nb,
            order,
            kernel,
        }
    }
}

fn axis_taps(x: f64, n: usize, order: usize) -> Option<([u32; 4], [f64; 4])> {
    // mode='constant': any coordinate outside [0, n - 1] gives cval (NaN too).
    if !(x >= 0.0 && x <= n as f64 - 1.0) {
        return None;
    }
    let start = first_tap(x, order);
    let mut idx = [0u32; 4];
    for (k, i) in idx.iter_mut().enumerate().take(order + 1) {
        *i = mirror(start + k as i64, n) as u32;
    }
    let mut w = [0.0; 4];
    weights(x, order, &mut w);
    Some((idx, w))
}

fn pixel_taps(xa: f64, na: usize, xb: f64, nb: usize, order: usize) -> Option<Taps> {
    let (ia, wa) = axis_taps(xa, na, order)?;
    let (ib, wb) = axis_taps(xb, nb, order)?;
    Some(Taps { ia, wa, ib, wb })
}

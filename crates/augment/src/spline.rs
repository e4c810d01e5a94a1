//! B-spline pieces of scipy.ndimage's interpolation, written from its
//! documented behaviour (`ni_splines.c`, `ni_interpolation.c`): the
//! interpolation weights, the mirror-extended index mapping of taps near an
//! edge, and the cubic prefilter (Unser et al. 1991) with whole-sample
//! mirror boundary conditions, which scipy uses for `mode='constant'`.

/// The pole of the cubic B-spline prefilter, `sqrt(3) - 2`.
const CUBIC_POLE: f64 = -0.267_949_192_431_122_7;

/// The first tap of an `order` spline at coordinate `x`
/// (`floor(x) - order / 2` for odd orders, `floor(x + 0.5) - order / 2` for even).
pub(crate) fn first_tap(x: f64, order: usize) -> i64 {
    let base = if order % 2 == 1 { x } else { x + 0.5 };
    base.floor() as i64 - (order / 2) as i64
}

/// The `order + 1` interpolation weights at coordinate `x` (orders 0, 1, 3);
/// the last weight is one minus the others, as scipy computes it.
pub(crate) fn weights(x: f64, order: usize, w: &mut [f64; 4]) {
    let d = x - if order % 2 == 1 {
        x.floor()
    } else {
        (x + 0.5).floor()
    };
    match order {
        0 => {}
        1 => w[0] = 1.0 - d,
        _ => {
            let (y, z) = (d, 1.0 - d);
            w[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
            w[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
            w[0] = z * z * z / 6.0;
        }
    }
    w[order] = 1.0;
    for i in 0..order {
        w[order] -= w[i];
    }
}

/// Maps a tap index outside `0..len` into it by whole-sample mirroring
/// (`-1 -> 1`, `len -> len - 2`), as scipy does for taps near an edge.
pub(crate) fn mirror(idx: i64, len: usize) -> usize {
    let len = len as i64;
    if len <= 1 {
        return 0;
    }
    let s2 = 2 * len - 2;
    let mut i = idx;
    if i < 0 {
        i += s2 * (-i / s2);
        i = if i <= 1 - len { i + s2 } else { -i };
    } else if i >= len {
        i -= s2 * (i / s2);
        if i >= len {
            i = s2 - i;
        }
    }
    i.clamp(0, len - 1) as usize
}

/// Cubic B-spline prefilter of one line, in place (no-op for length < 2).
pub(crate) fn prefilter_line(c: &mut [f64]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = CUBIC_POLE;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    for v in c.iter_mut() {
        *v *= gain;
    }
    // Causal initial value for a mirror-symmetric extension, summed over the
    // whole line.
    let z_n_1 = z.powi((n - 1) as i32);
    c[0] += z_n_1 * c[n - 1];
    let mut z_i = z;
    for i in 1..n - 1 {
        c[0] += z_i * (c[i] + z_n_1 * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] /= 1.0 - z_n_1 * z_n_1;
    for i in 1..n {
        c[i] += z * c[i - 1];
    }
    c[n - 1] = (z * c[n - 2] + c[n - 1]) * z / (z * z - 1.0);
    for i in (0..n - 1).rev() {
        c[i] = z * (c[i + 1] - c[i]);
    }
}

/// Cubic prefilter of a row-major `rows x cols` plane along both axes
/// (rows first, as scipy filters axis 0 then axis 1).
pub(crate) fn prefilter_plane(plane: &mut [f64], rows: usize, cols: usize, line: &mut Vec<f64>) {
    if rows > 1 {
        line.resize(rows, 0.0);
        for j in 0..cols {
            for (i, l) in line.iter_mut().enumerate() {
                *l = plane[i * cols + j];
            }
            prefilter_line(line);
            for (i, l) in line.iter().enumerate() {
                plane[i * cols + j] = *l;
            }
        }
    }
    if cols > 1 {
        for row in plane.chunks_exact_mut(cols) {
            prefilter_line(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_mirror_maps_edges() {
        let mut w = [0.0; 4];
        for &x in &[0.0, 0.25, 3.5, 7.999] {
            for order in [0usize, 1, 3] {
                weights(x, order, &mut w);
                let s: f64 = w[..=order].iter().sum();
                assert!((s - 1.0).abs() < 1e-12, "order {order} at {x}: {s}");
            }
        }
        assert_eq!(mirror(-1, 5), 1);
        assert_eq!(mirror(5, 5), 3);
        assert_eq!(mirror(-7, 5), 1);
        assert_eq!(mirror(3, 1), 0);
    }

    #[test]
    fn prefilter_of_a_constant_line_is_that_constant() {
        // The B-spline coefficients of a constant signal equal it, since the
        // cubic kernel's samples (1/6, 4/6, 1/6) sum to one.
        let mut c = vec![2.5; 9];
        prefilter_line(&mut c);
        for v in c {
            assert!((v - 2.5).abs() < 1e-12, "{v}");
        }
    }
}

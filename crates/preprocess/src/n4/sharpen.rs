//! Histogram sharpening of N4 (Tustison et al. 2010, after Sled's N3): the
//! histogram of the log intensities is modelled as the true histogram
//! blurred by a Gaussian (the bias field's spread); a Wiener filter undoes
//! the blur and every voxel moves to the expected true log intensity given
//! its observed one, E(u|v).
//!
//! The steps, paddings and constants follow ITK's
//! `N4BiasFieldCorrectionImageFilter::SharpenImage`.

use std::f64::consts::PI;

/// Sharpening parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SharpenParams {
    pub bins: usize,
    pub fwhm: f64,
    pub noise: f64,
}

/// Writes the sharpened value of every entry of `values` into `out`.
pub(crate) fn sharpen(values: &[f64], out: &mut [f64], p: SharpenParams) {
    Mapping::new(values, p).apply(values, out);
}

/// The sharpening map E(u|v) estimated from a histogram: expected true log
/// intensity at evenly spaced observed log intensities.
pub(crate) struct Mapping {
    lo: f64,
    slope: f64,
    /// E at `lo + n * slope`; empty when every sample has one intensity,
    /// which leaves nothing to sharpen.
    e: Vec<f64>,
}

impl Mapping {
    /// Sharpened values of `values` (any samples of the same image).
    pub fn apply(&self, values: &[f64], out: &mut [f64]) {
        if self.e.is_empty() {
            out.copy_from_slice(values);
            return;
        }
        let bins = self.e.len();
        let e = &self.e;
        for (o, &v) in out.iter_mut().zip(values) {
            let c = ((v - self.lo) / self.slope).max(0.0);
            let i = c.floor() as usize;
            *o = if i + 1 < bins {
                e[i] + (e[i + 1] - e[i]) * (c - i as f64)
            } else {
                e[bins - 1]
            };
        }
    }

    /// The map estimated from the histogram of `values`.
    pub fn new(values: &[f64], p: SharpenParams) -> Mapping {
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let bins = p.bins;
        let slope = (hi - lo) / (bins - 1) as f64;
        if slope.is_nan() || slope <= 0.0 {
            // A single intensity has nothing to sharpen.
            return Mapping {
                lo,
                slope,
                e: Vec::new(),
            };
        }

        // Triangular Parzen windowing into the histogram.
        let mut hist = vec![0.0; bins];
        for &v in values {
            let c = (v - lo) / slope;
            let i = (c.floor() as usize).min(bins - 1);
            let off = c - i as f64;
            if i + 1 < bins {
                hist[i] += 1.0 - off;
                hist[i + 1] += off;
            } else {
                hist[i] += 1.0;
            }
        }

        // Zero-pad to the power of two above twice the number of bins so that
        // the circular convolutions below do not wrap around.
        let exponent = (bins as f64).log2().ceil() as u32 + 1;
        let size = 1usize << exponent;
        let offset = (size - bins) / 2;
        let fft = Fft::new(size);

        let mut vf = vec![C::default(); size];
        for (n, h) in hist.iter().enumerate() {
            vf[n + offset].re = *h;
        }
        fft.forward(&mut vf);

        // The Gaussian of the bias field, in bins, centred on bin 0 of the
        // circular domain and normalised to unit area.
        let scaled_fwhm = p.fwhm / slope;
        let exp_factor = 4.0 * 2f64.ln() / (scaled_fwhm * scaled_fwhm);
        let scale = 2.0 * (2f64.ln() / PI).sqrt() / scaled_fwhm;
        let mut ff = vec![C::default(); size];
        for (n, f) in ff.iter_mut().enumerate() {
            let d = n.min(size - n) as f64;
            f.re = scale * (-d * d * exp_factor).exp();
        }
        fft.forward(&mut ff);

        // Wiener deconvolution of the histogram; the kernel is real and even,
        // so its transform is real.
        let mut u: Vec<C> = vf
            .iter()
            .zip(&ff)
            .map(|(v, f)| {
                let g = f.re / (f.re * f.re + p.noise);
                C {
                    re: v.re * g,
                    im: v.im * g,
                }
            })
            .collect();
        fft.inverse(&mut u);
        let u: Vec<f64> = u.iter().map(|c| c.re.max(0.0)).collect();

        // E(u|v): the blurred first moment over the blurred zeroth moment.
        let centre = |n: usize| lo + (n as f64 - offset as f64) * slope;
        let mut num: Vec<C> = u
            .iter()
            .enumerate()
            .map(|(n, &x)| C {
                re: centre(n) * x,
                im: 0.0,
            })
            .collect();
        let mut den: Vec<C> = u.iter().map(|&x| C { re: x, im: 0.0 }).collect();
        for buf in [&mut num, &mut den] {
            fft.forward(buf);
            for (b, f) in buf.iter_mut().zip(&ff) {
                b.re *= f.re;
                b.im *= f.re;
            }
            fft.inverse(buf);
        }
        let e: Vec<f64> = (offset..offset + bins)
            .map(|n| {
                if den[n].re != 0.0 {
                    num[n].re / den[n].re
                } else {
                    0.0
                }
            })
            .collect();

        Mapping { lo, slope, e }
    }
}

/// A complex number, enough for the FFT below.
#[derive(Debug, Clone, Copy, Default)]
struct C {
    re: f64,
    im: f64,
}

/// An iterative radix-2 FFT of a fixed power-of-two size; the inverse is
/// normalised by 1/n.
struct Fft {
    n: usize,
    twiddles: Vec<C>,
}

impl Fft {
    fn new(n: usize) -> Fft {
        debug_assert!(n.is_power_of_two());
        let twiddles = (0..n / 2)
            .map(|k| {
                let a = -2.0 * PI * k as f64 / n as f64;
                C {
                    re: a.cos(),
                    im: a.sin(),
                }
            })
            .collect();
        Fft { n, twiddles }
    }

    fn forward(&self, x: &mut [C]) {
        self.transform(x, false);
    }

    fn inverse(&self, x: &mut [C]) {
        self.transform(x, true);
        let s = 1.0 / self.n as f64;
        for c in x.iter_mut() {
            c.re *= s;
            c.im *= s;
        }
    }

    fn transform(&self, x: &mut [C], inverse: bool) {
        let n = self.n;
        let bits = n.trailing_zeros();
        for i in 0..n {
            let j = i.reverse_bits() >> (usize::BITS - bits);
            if j > i {
                x.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let step = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..len / 2 {
                    let mut w = self.twiddles[k * step];
                    if inverse {
                        w.im = -w.im;
                    }
                    let a = x[start + k];
                    let b = x[start + k + len / 2];
                    let t = C {
                        re: b.re * w.re - b.im * w.im,
                        im: b.re * w.im + b.im * w.re,
                    };
                    x[start + k] = C {
                        re: a.re + t.re,
                        im: a.im + t.im,
                    };
                    x[start + k + len / 2] = C {
                        re: a.re - t.re,
                        im: a.im - t.im,
                    };
                }
            }
            len <<= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_matches_the_direct_transform() {
        let n = 16;
        let x: Vec<C> = (0..n)
            .map(|i| C {
                re: (i as f64 * 0.7).sin(),
                im: (i as f64 * 0.3).cos(),
            })
            .collect();
        let mut y = x.clone();
        let fft = Fft::new(n);
        fft.forward(&mut y);
        for (k, yk) in y.iter().enumerate() {
            let (mut re, mut im) = (0.0, 0.0);
            for (j, xj) in x.iter().enumerate() {
                let a = -2.0 * PI * (j * k) as f64 / n as f64;
                re += xj.re * a.cos() - xj.im * a.sin();
                im += xj.re * a.sin() + xj.im * a.cos();
            }
            assert!((yk.re - re).abs() < 1e-9 && (yk.im - im).abs() < 1e-9);
        }
        fft.inverse(&mut y);
        for (a, b) in x.iter().zip(&y) {
            assert!((a.re - b.re).abs() < 1e-12 && (a.im - b.im).abs() < 1e-12);
        }
    }

    #[test]
    fn sharpening_narrows_a_blurred_two_peak_histogram() {
        // Two tissue classes whose intensities were smeared by a field.
        let values: Vec<f64> = (0..4000)
            .map(|i| {
                let class = if i % 2 == 0 { 0.0 } else { 1.0 };
                class + 0.08 * ((i as f64 * 0.618).fract() - 0.5)
            })
            .collect();
        let mut out = vec![0.0; values.len()];
        let p = SharpenParams {
            bins: 200,
            fwhm: 0.15,
            noise: 0.01,
        };
        sharpen(&values, &mut out, p);
        let spread = |v: &[f64], class: usize| {
            let xs: Vec<f64> = v.iter().skip(class).step_by(2).copied().collect();
            xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                - xs.iter().cloned().fold(f64::INFINITY, f64::min)
        };
        assert!(spread(&out, 0) < spread(&values, 0));
        assert!(spread(&out, 1) < spread(&values, 1));
    }
}

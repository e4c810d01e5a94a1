//! A PNG quick-look: three orthogonal slices through the mask's centre with
//! its outline in colour. PNG is written by hand (zlib + CRC), it needs no
//! more than that.

use crate::ops::Mask;
use deepneuro_volume::Volume;
use std::io::Write;

const OUTLINE: [u8; 3] = [255, 40, 40];

/// RGB image, row-major, top row first.
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// `image` and `mask` share a grid; both are shown on their canonical (RAS)
/// grid so that up is superior/anterior whatever the file's voxel order.
pub fn render(image: &Volume, mask: &Volume) -> Rgb {
    let (img, _) = image.to_canonical();
    let (msk, _) = mask.to_canonical();
    let d = img.spatial_shape();
    let vals = img.channel(0);
    let m = Mask::from_vec(
        d,
        msk.nifti_slice().iter().map(|&v| (v > 0.5) as u8).collect(),
    );
    let (lo, hi) = match vals.as_slice_memory_order() {
        Some(v) => window(v),
        None => window(&vals.iter().copied().collect::<Vec<_>>()),
    };
    let gray = |v: f32| -> u8 {
        if !v.is_finite() || hi <= lo {
            0
        } else {
            (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0) as u8
        }
    };
    let c = centre(&m);
    // (horizontal axis, vertical axis, fixed axis) for sagittal, coronal, axial.
    let views = [(1usize, 2usize, 0usize), (0, 2, 1), (0, 1, 2)];
    let height = views.iter().map(|v| d[v.1]).max().unwrap_or(1);
    let width: usize = views.iter().map(|v| d[v.0]).sum();
    let mut px = vec![0u8; width * height * 3];
    let mut x0 = 0;
    for (h, v, f) in views {
        for row in 0..d[v] {
            for col in 0..d[h] {
                let mut ijk = [0usize; 3];
                ijk[h] = col;
                ijk[v] = d[v] - 1 - row; // superior/anterior up
                ijk[f] = c[f];
                let g = gray(vals[[ijk[0], ijk[1], ijk[2]]]);
                let edge = m.get(ijk[0], ijk[1], ijk[2]) && {
                    let mut out = false;
                    for (ax, delta) in [(h, -1i64), (h, 1), (v, -1), (v, 1)] {
                        let mut q = ijk.map(|x| x as i64);
                        q[ax] += delta;
                        if q[ax] < 0
                            || q[ax] >= d[ax] as i64
                            || !m.get(q[0] as usize, q[1] as usize, q[2] as usize)
                        {
                            out = true;
                        }
                    }
                    out
                };
                let rgb = if edge { OUTLINE } else { [g, g, g] };
                let o = (row * width + x0 + col) * 3;
                px[o..o + 3].copy_from_slice(&rgb);
            }
        }
        x0 += d[h];
    }
    Rgb {
        width,
        height,
        pixels: px,
    }
}

/// The display window: the 1st and 99th percentiles of the finite voxels
/// (the values at sorted positions floor((n-1)q)), 0 when there are none.
/// Found by a radix selection on the values' order-preserving bit patterns
/// (two counting passes over the volume, no copy): sorting a 1 mm head took
/// ~0.35 s and `select_nth_unstable` ~0.17 s, most of the time a case spent
/// writing its outputs.
fn window(values: &[f32]) -> (f32, f32) {
    let finite = || values.iter().copied().filter(|v| v.is_finite());
    let n = finite().count();
    if n == 0 {
        return (0.0, 0.0);
    }
    let ranks = [0.01, 0.99].map(|q| ((n - 1) as f64 * q) as usize);
    // Pass 1: which bin of the high 16 bits holds each rank.
    let mut high = vec![0usize; 1 << 16];
    for v in finite() {
        high[(order_key(v) >> 16) as usize] += 1;
    }
    let locate = |counts: &[usize], rank: usize| {
        let mut below = 0;
        for (bin, &c) in counts.iter().enumerate() {
            if rank < below + c {
                return (bin, rank - below);
            }
            below += c;
        }
        unreachable!("rank {rank} < total count {below}")
    };
    let found = ranks.map(|r| locate(&high, r));
    // Pass 2: within those bins, which low 16 bits.
    let mut low = [vec![0usize; 1 << 16], vec![0usize; 1 << 16]];
    for v in finite() {
        let k = order_key(v);
        for (i, &(bin, _)) in found.iter().enumerate() {
            if (k >> 16) as usize == bin {
                low[i][(k & 0xffff) as usize] += 1;
            }
        }
    }
    let pick = |i: usize| {
        let (bin, rest) = found[i];
        let (lo16, _) = locate(&low[i], rest);
        from_order_key(((bin as u32) << 16) | lo16 as u32)
    };
    (pick(0), pick(1))
}

/// A u32 that sorts as `f32::total_cmp` sorts the floats.
fn order_key(v: f32) -> u32 {
    let b = v.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k })
}

fn centre(m: &Mask) -> [usize; 3] {
    let d = m.dims();
    let (mut s, mut n) = ([0f64; 3], 0f64);
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                if m.get(x, y, z) {
                    s[0] += x as f64;
                    s[1] += y as f64;
                    s[2] += z as f64;
                    n += 1.0;
                }
            }
        }
    }
    if n == 0.0 {
        return d.map(|v| v / 2);
    }
    [0, 1, 2].map(|a| ((s[a] / n).round() as usize).min(d[a] - 1))
}

/// Encodes 8-bit RGB as PNG (filter 0 on every row).
pub fn encode_png(img: &Rgb, out: &mut dyn Write) -> std::io::Result<()> {
    fn chunk(out: &mut dyn Write, kind: &[u8; 4], data: &[u8]) -> std::io::Result<()> {
        out.write_all(&(data.len() as u32).to_be_bytes())?;
        let mut h = crc32fast::Hasher::new();
        h.update(kind);
        h.update(data);
        out.write_all(kind)?;
        out.write_all(data)?;
        out.write_all(&h.finalize().to_be_bytes())
    }
    out.write_all(b"\x89PNG\r\n\x1a\n")?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(img.width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(img.height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(out, b"IHDR", &ihdr)?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    for row in img.pixels.chunks(img.width * 3) {
        z.write_all(&[0])?;
        z.write_all(row)?;
    }
    chunk(out, b"IDAT", &z.finish()?)?;
    chunk(out, b"IEND", &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepneuro_volume::Affine;
    use ndarray::Array3;

    #[test]
    fn window_equals_sorted_percentiles() {
        // Reference: numpy's sort order picked at floor((n-1)q), written out
        // by sorting here; NaN and infinities are left out of the window.
        for n in [1usize, 2, 3, 99, 100, 101, 1000, 12345] {
            let mut rng = 0x2545_f491_4f6c_dd1du64;
            let mut vals: Vec<f32> = (0..n)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    // Repeats, both signs, -0.0 and 0.0, fractions.
                    ((rng % 2001) as f32 - 1000.0) / [1.0, 7.0, -3.0][(rng % 3) as usize]
                })
                .collect();
            let mut sorted = vals.clone();
            sorted.sort_by(f32::total_cmp);
            let pick = |q: f64| sorted[((n - 1) as f64 * q) as usize];
            vals.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
            assert_eq!(window(&vals), (pick(0.01), pick(0.99)), "n = {n}");
        }
        assert_eq!(window(&[f32::NAN]), (0.0, 0.0));
    }

    #[test]
    fn png_has_signature_and_outline() {
        let img = Volume::from_array3(
            Array3::from_shape_fn((6, 5, 4), |(x, _, _)| x as f32),
            Affine::identity(),
        )
        .unwrap();
        let m = Volume::from_array3(
            Array3::from_shape_fn((6, 5, 4), |(x, y, z)| {
                ((1..5).contains(&x) && (1..4).contains(&y) && (1..3).contains(&z)) as u8 as f32
            }),
            Affine::identity(),
        )
        .unwrap();
        let rgb = render(&img, &m);
        assert_eq!((rgb.width, rgb.height), (5 + 6 + 6, 5));
        assert!(rgb.pixels.chunks(3).any(|p| p == OUTLINE));
        let mut buf = Vec::new();
        encode_png(&rgb, &mut buf).unwrap();
        assert_eq!(&buf[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&buf[buf.len() - 8..buf.len() - 4], b"IEND");
    }
}

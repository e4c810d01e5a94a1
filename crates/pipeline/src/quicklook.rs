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
    // Window: 1st..99th percentile of finite voxels.
    let mut finite: Vec<f32> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| {
        finite
            .get(((finite.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (lo, hi) = (pick(0.01), pick(0.99));
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

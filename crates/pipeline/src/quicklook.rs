//! A PNG quick-look: three orthogonal slices (sagittal, coronal, axial)
//! through the centre of the labelled voxels, side by side, with the outline
//! of each label region in the label's colour. Each panel is resampled to
//! square pixels, so that a scan with thick slices keeps its physical
//! proportions instead of being squashed along the slice axis.

use deepneuro_volume::Volume;
use ndarray::ArrayView3;
use std::io::Write;

/// The outline colour of [`render`]'s mask.
const OUTLINE: [u8; 3] = [255, 40, 40];

/// The colours of labels that a [`Colours`] table leaves out: label `l`
/// takes entry `(l - 1) % 8`, so label 1 is red as [`render`]'s mask is.
const PALETTE: [[u8; 3]; 8] = [
    OUTLINE,
    [40, 210, 40],
    [60, 130, 255],
    [255, 210, 0],
    [0, 220, 220],
    [230, 60, 230],
    [255, 140, 0],
    [170, 110, 255],
];

/// The longest side a panel may have, in pixels: panels of larger volumes
/// are scaled down uniformly, which keeps the PNG a quick look.
const MAX_SIDE: usize = 512;

/// (horizontal axis, vertical axis, fixed axis) of the sagittal, coronal and
/// axial panels, as canonical (RAS) voxel axes.
const VIEWS: [View; 3] = [(1, 2, 0), (0, 2, 1), (0, 1, 2)];

/// A panel's (horizontal axis, vertical axis, fixed axis).
type View = (usize, usize, usize);

/// RGB image, row-major, top row first.
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// A colour per label value (label 0 is background and never drawn).
pub struct Colours(pub Vec<(u32, [u8; 3])>);

impl Colours {
    /// The table's first colour for `label`, else the default palette's.
    fn of(&self, label: u32) -> [u8; 3] {
        match self.0.iter().find(|(l, _)| *l == label) {
            Some((_, c)) => *c,
            None => PALETTE[label.saturating_sub(1) as usize % PALETTE.len()],
        }
    }
}

/// `image` and `mask` share a grid; mask voxels above 0.5 are outlined in
/// red. A thin call of [`render_labels`] with the mask as label 1.
pub fn render(image: &Volume, mask: &Volume) -> Rgb {
    let colours = Colours(vec![(1, OUTLINE)]);
    draw(image, mask, |v| u32::from(v > 0.5), &colours)
}

/// `image` and `labels` share a grid (shape and affine); `labels` holds
/// integer label values, each label region is outlined in its colour from
/// `colours`. Both are shown on their canonical (RAS) grid so that up is
/// superior/anterior whatever the file's voxel order; the slices go through
/// the centre of all labelled voxels, or the volume's centre when there is
/// none. Only the first channel of either volume is shown.
pub fn render_labels(image: &Volume, labels: &Volume, colours: &Colours) -> Rgb {
    draw(image, labels, label_value, colours)
}

/// The label a voxel value stands for: the nearest integer for values of
/// 0.5 and above (saturating at `u32::MAX`), 0 (background) for smaller
/// values and NaN.
fn label_value(v: f32) -> u32 {
    if v >= 0.5 {
        v.round() as u32
    } else {
        0
    }
}

fn draw(image: &Volume, labels: &Volume, label_of: impl Fn(f32) -> u32, colours: &Colours) -> Rgb {
    let (img, _) = image.to_canonical();
    let (lab, _) = labels.to_canonical();
    let scene = Scene::new(&img, &lab, label_of);
    let px = pixel_counts(img.spatial_shape(), img.spacing());
    let panels = VIEWS.map(|view| scene.panel(view, px));
    side_by_side(&panels, colours)
}

/// How many pixels each canonical axis spans so that a pixel is square in
/// mm. The pixel is the smallest voxel spacing, so no axis loses
/// resolution, or larger where the longest side would exceed [`MAX_SIDE`].
/// Spacings that are zero or not finite (a degenerate affine) count as the
/// smallest valid one, or 1 mm when none is valid.
fn pixel_counts(dims: [usize; 3], spacing: [f64; 3]) -> [usize; 3] {
    let valid = |s: f64| s.is_finite() && s > 0.0;
    let smallest = spacing
        .into_iter()
        .filter(|&s| valid(s))
        .fold(f64::INFINITY, f64::min);
    let smallest = if smallest.is_finite() { smallest } else { 1.0 };
    let spacing = spacing.map(|s| if valid(s) { s } else { smallest });
    let extent = [0, 1, 2].map(|a| dims[a] as f64 * spacing[a]);
    let longest = extent.into_iter().fold(0.0, f64::max);
    let pixel = smallest.max(longest / MAX_SIDE as f64);
    // Float-to-int casts saturate and send NaN to 0, hence the clamp.
    extent.map(|e| ((e / pixel).round() as usize).clamp(1, MAX_SIDE))
}

/// Where one pixel of a panel samples one voxel axis: the two voxels around
/// the pixel's centre and the weight of the second, for bilinear grey
/// levels, and the voxel that contains the pixel's centre, for labels.
struct Taps {
    lo: usize,
    hi: usize,
    frac: f32,
    nearest: usize,
}

impl Taps {
    /// Pixel `p` of `pixels` spread evenly over `voxels` voxels. When the
    /// counts are equal, pixel `p` is voxel `p` with weight exactly 0 on its
    /// neighbour, so isotropic volumes show their voxels unchanged.
    fn new(p: usize, pixels: usize, voxels: usize) -> Taps {
        let last = voxels.saturating_sub(1);
        let centre = (p as f64 + 0.5) * voxels as f64 / pixels as f64;
        let c = (centre - 0.5).clamp(0.0, last as f64);
        let lo = c.floor() as usize;
        Taps {
            lo,
            hi: (lo + 1).min(last),
            frac: (c - lo as f64) as f32,
            nearest: (centre as usize).min(last),
        }
    }
}

/// The two volumes the panels are cut from, on the canonical grid, with the
/// grey-level window and the voxel the three slices go through.
struct Scene<'a, F> {
    grey: ArrayView3<'a, f32>,
    labels: ArrayView3<'a, f32>,
    label_of: F,
    window: (f32, f32),
    centre: [usize; 3],
}

/// One panel's pixels, top row first: grey levels and labels.
struct Panel {
    width: usize,
    height: usize,
    grey: Vec<u8>,
    labels: Vec<u32>,
}

impl<'a, F: Fn(f32) -> u32> Scene<'a, F> {
    fn new(img: &'a Volume, lab: &'a Volume, label_of: F) -> Self {
        let grey = img.channel(0);
        let labels = lab.channel(0);
        let window = match grey.as_slice_memory_order() {
            Some(v) => window(v),
            None => window(&grey.iter().copied().collect::<Vec<_>>()),
        };
        let centre = centre(lab, &label_of, img.spatial_shape());
        Scene {
            grey,
            labels,
            label_of,
            window,
            centre,
        }
    }

    /// The voxel's display level in [0, 1]; 0 for NaN, infinities, voxels
    /// outside the grid and an empty window. The ratio itself is NaN when
    /// it overflows (values near `f32::MAX`): the `>=` test sends that to 0
    /// too, so every level is finite and a zero interpolation weight stays
    /// zero.
    fn shade(&self, ijk: [usize; 3]) -> f32 {
        let (lo, hi) = self.window;
        match self.grey.get(ijk) {
            Some(&v) if v.is_finite() && hi > lo => {
                let t = (v - lo) / (hi - lo);
                if t >= 0.0 {
                    t.min(1.0)
                } else {
                    0.0
                }
            }
            _ => 0.0,
        }
    }

    /// The voxel's label; 0 outside the label grid, which can differ from
    /// the image's when a caller passes mismatched volumes.
    fn label(&self, ijk: [usize; 3]) -> u32 {
        self.labels.get(ijk).map_or(0, |&v| (self.label_of)(v))
    }

    /// The slice through the centre across `view`'s horizontal and vertical
    /// axes, `px` pixels along each axis, superior/anterior up.
    fn panel(&self, view: View, px: [usize; 3]) -> Panel {
        let (h, v, _) = view;
        let d = self.grey.dim();
        let d = [d.0, d.1, d.2];
        let (width, height) = (px[h], px[v]);
        let cols: Vec<Taps> = (0..width).map(|c| Taps::new(c, width, d[h])).collect();
        // Row 0 is the top: the far end of the vertical axis.
        let rows: Vec<Taps> = (0..height)
            .map(|r| Taps::new(height - 1 - r, height, d[v]))
            .collect();
        let (grey, labels) = rows
            .iter()
            .flat_map(|r| cols.iter().map(move |c| self.sample(view, c, r)))
            .unzip();
        Panel {
            width,
            height,
            grey,
            labels,
        }
    }

    /// The grey level and label of the pixel that samples columns `c` and
    /// rows `r` of `view`. Grey levels are interpolated bilinearly between
    /// display levels, so NaN voxels show black without spreading NaN;
    /// labels are nearest-neighbour, so no label value is invented.
    fn sample(&self, (h, v, f): View, c: &Taps, r: &Taps) -> (u8, u32) {
        let at = |a: usize, b: usize| {
            let mut ijk = [0; 3];
            (ijk[h], ijk[v], ijk[f]) = (a, b, self.centre[f]);
            ijk
        };
        let line = |b: usize| {
            let (s0, s1) = (self.shade(at(c.lo, b)), self.shade(at(c.hi, b)));
            s0 * (1.0 - c.frac) + s1 * c.frac
        };
        let s = line(r.lo) * (1.0 - r.frac) + line(r.hi) * r.frac;
        ((s * 255.0) as u8, self.label(at(c.nearest, r.nearest)))
    }
}

impl Panel {
    /// Whether pixel (x, y) lies on the outline of its label's region: it is
    /// labelled, and it lies on the panel's border or one of its four
    /// neighbours has another label.
    fn on_outline(&self, x: usize, y: usize) -> bool {
        let l = self.labels[y * self.width + x];
        if l == 0 {
            return false;
        }
        let differs = |x: usize, y: usize| self.labels[y * self.width + x] != l;
        x == 0
            || y == 0
            || x + 1 == self.width
            || y + 1 == self.height
            || differs(x - 1, y)
            || differs(x + 1, y)
            || differs(x, y - 1)
            || differs(x, y + 1)
    }

    fn colour(&self, x: usize, y: usize, colours: &Colours) -> [u8; 3] {
        if self.on_outline(x, y) {
            colours.of(self.labels[y * self.width + x])
        } else {
            let g = self.grey[y * self.width + x];
            [g, g, g]
        }
    }
}

/// The panels left to right, top-aligned, black below the shorter ones.
fn side_by_side(panels: &[Panel], colours: &Colours) -> Rgb {
    let width: usize = panels.iter().map(|p| p.width).sum();
    let height = panels.iter().map(|p| p.height).max().unwrap_or(0);
    let mut pixels = vec![0u8; width * height * 3];
    let mut x0 = 0;
    for p in panels {
        for y in 0..p.height {
            for x in 0..p.width {
                let o = (y * width + x0 + x) * 3;
                pixels[o..o + 3].copy_from_slice(&p.colour(x, y, colours));
            }
        }
        x0 += p.width;
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

/// Rows one under the other, left-aligned on a black background (rows of
/// images on different grids may differ in width).
pub fn stack_rows(rows: &[Rgb]) -> Rgb {
    let width = rows.iter().map(|r| r.width).max().unwrap_or(0);
    let height = rows.iter().map(|r| r.height).sum();
    let mut pixels = vec![0u8; width * height * 3];
    let mut y0 = 0;
    for r in rows {
        for y in 0..r.height {
            let src = &r.pixels[y * r.width * 3..(y + 1) * r.width * 3];
            let o = (y0 + y) * width * 3;
            pixels[o..o + src.len()].copy_from_slice(src);
        }
        y0 += r.height;
    }
    Rgb {
        width,
        height,
        pixels,
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

/// The voxel nearest the mean position of all labelled voxels, within the
/// image's `dims`; the image's centre when no voxel is labelled.
fn centre(lab: &Volume, label_of: &impl Fn(f32) -> u32, dims: [usize; 3]) -> [usize; 3] {
    let [nx, ny, nz] = lab.spatial_shape();
    let voxels = lab.nifti_slice();
    let first = &voxels[..(nx * ny * nz).min(voxels.len())];
    let (mut s, mut n) = ([0f64; 3], 0f64);
    // The first channel in NIfTI order: x fastest, then y, then z. The
    // `max(1)`s only keep `chunks` valid, a volume is never empty.
    for (z, plane) in first.chunks((nx * ny).max(1)).enumerate() {
        for (y, row) in plane.chunks(nx.max(1)).enumerate() {
            for (x, &v) in row.iter().enumerate() {
                if label_of(v) != 0 {
                    s[0] += x as f64;
                    s[1] += y as f64;
                    s[2] += z as f64;
                    n += 1.0;
                }
            }
        }
    }
    if n == 0.0 {
        return dims.map(|v| v / 2);
    }
    [0, 1, 2].map(|a| ((s[a] / n).round() as usize).min(dims[a].saturating_sub(1)))
}

/// Encodes 8-bit RGB as PNG. An `img` without pixels, or whose `pixels` do
/// not hold `width * height` RGB triples, is an error, not a panic.
pub fn encode_png(img: &Rgb, out: &mut dyn Write) -> std::io::Result<()> {
    let side = |n: usize| {
        u32::try_from(n)
            .map_err(|_| std::io::Error::other(format!("{n} pixels is too large for PNG")))
    };
    let mut encoder = png::Encoder::new(out, side(img.width)?, side(img.height)?);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&img.pixels)?;
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stack_left_aligned_with_black_padding() {
        let row = |w: usize, h: usize, v: u8| Rgb {
            width: w,
            height: h,
            pixels: vec![v; w * h * 3],
        };
        let out = stack_rows(&[row(3, 2, 10), row(2, 1, 20)]);
        assert_eq!((out.width, out.height), (3, 3));
        let px = |x: usize, y: usize| out.pixels[(y * 3 + x) * 3];
        assert_eq!(
            [px(0, 0), px(2, 1), px(0, 2), px(1, 2), px(2, 2)],
            [10, 10, 20, 20, 0]
        );
    }
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

    /// A one-channel volume of shape `d` with a diagonal affine of `spacing`.
    fn volume(d: [usize; 3], spacing: [f64; 3], f: impl Fn(usize, usize, usize) -> f32) -> Volume {
        let [sx, sy, sz] = spacing;
        let affine = Affine::from_diagonal(&nalgebra::Vector4::new(sx, sy, sz, 1.0));
        let data = Array3::from_shape_fn((d[0], d[1], d[2]), |(x, y, z)| f(x, y, z));
        Volume::from_array3(data, affine).unwrap()
    }

    fn pixel(rgb: &Rgb, x: usize, y: usize) -> [u8; 3] {
        let o = (y * rgb.width + x) * 3;
        [rgb.pixels[o], rgb.pixels[o + 1], rgb.pixels[o + 2]]
    }

    fn count(rgb: &Rgb, colour: [u8; 3]) -> usize {
        rgb.pixels.chunks(3).filter(|p| *p == colour).count()
    }

    /// The (width, height) in pixels of each run of columns that holds
    /// `colour`: one per panel for a box inside the volume.
    fn boxes(rgb: &Rgb, colour: [u8; 3]) -> Vec<(usize, usize)> {
        let has = |x: usize, y: usize| pixel(rgb, x, y) == colour;
        let mut found = Vec::new();
        let mut x = 0;
        while x < rgb.width {
            let start = x;
            while x < rgb.width && (0..rgb.height).any(|y| has(x, y)) {
                x += 1;
            }
            if x == start {
                x += 1;
                continue;
            }
            let rows: Vec<usize> = (0..rgb.height)
                .filter(|&y| (start..x).any(|c| has(c, y)))
                .collect();
            found.push((x - start, rows[rows.len() - 1] + 1 - rows[0]));
        }
        found
    }

    /// A box of `value` over voxels `lo..hi` along each axis, 0 elsewhere.
    fn cuboid(lo: [usize; 3], hi: [usize; 3], value: f32) -> impl Fn(usize, usize, usize) -> f32 {
        move |x, y, z| {
            let inside = [x, y, z]
                .iter()
                .enumerate()
                .all(|(a, &i)| (lo[a]..hi[a]).contains(&i));
            if inside {
                value
            } else {
                0.0
            }
        }
    }

    #[test]
    fn anisotropic_panels_keep_physical_aspect() {
        // 40 x 30 x 40 mm in 1 x 1 x 5 mm voxels, with a 20 mm cube outlined:
        // every panel must show the cube square and the panels their extent
        // (sagittal 30 x 40, coronal 40 x 40, axial 40 x 30 pixels). The
        // hand-written renderer drew the cube 20 x 4 px in two panels.
        let (d, spacing) = ([40, 30, 8], [1.0, 1.0, 5.0]);
        let img = volume(d, spacing, |x, y, z| (x + y + z) as f32);
        let mask = volume(d, spacing, cuboid([10, 5, 2], [30, 25, 6], 1.0));
        let rgb = render(&img, &mask);
        let found = boxes(&rgb, OUTLINE);
        assert_eq!(found.len(), 3, "{found:?}");
        for (w, h) in found {
            assert!(w.abs_diff(h) <= 1, "a 20 x 20 mm square drawn {w} x {h} px");
        }
        assert_eq!((rgb.width, rgb.height), (30 + 40 + 40, 40));
    }

    #[test]
    fn png_decodes_to_the_rendered_pixels() {
        let d = [9, 7, 3];
        let img = volume(d, [0.8, 1.0, 2.4], |x, y, z| {
            (x * 7 + y * 3 + z * 11) as f32
        });
        let labels = volume(d, [0.8, 1.0, 2.4], cuboid([2, 2, 1], [7, 5, 2], 2.0));
        let rgb = render_labels(&img, &labels, &Colours(vec![(2, [1, 2, 3])]));
        let mut buf = Vec::new();
        encode_png(&rgb, &mut buf).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(buf))
            .read_info()
            .unwrap();
        let mut decoded = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut decoded).unwrap();
        assert_eq!(
            (info.width as usize, info.height as usize),
            (rgb.width, rgb.height)
        );
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Rgb, png::BitDepth::Eight)
        );
        assert_eq!(&decoded[..info.buffer_size()], &rgb.pixels[..]);
        assert_eq!(rgb.pixels.len(), rgb.width * rgb.height * 3);
    }

    #[test]
    fn two_labels_are_outlined_in_their_colours() {
        // Two 6-voxel cubes side by side along x; the slices go through the
        // middle of both, so the coronal and axial panels each show both
        // squares' 20-pixel outlines and the sagittal one, between them, none.
        let d = [18, 10, 10];
        let img = volume(d, [1.0; 3], |x, y, _| (x + y) as f32);
        let one = cuboid([2, 2, 2], [8, 8, 8], 1.0);
        let two = cuboid([10, 2, 2], [16, 8, 8], 2.0);
        let labels = volume(d, [1.0; 3], |x, y, z| one(x, y, z) + two(x, y, z));
        let (green, blue) = ([0, 255, 0], [0, 0, 255]);
        let rgb = render_labels(&img, &labels, &Colours(vec![(1, green), (2, blue)]));
        assert_eq!((count(&rgb, green), count(&rgb, blue)), (40, 40));
        assert_eq!(boxes(&rgb, green), [(6, 6), (6, 6)]);
        assert_eq!(boxes(&rgb, blue), [(6, 6), (6, 6)]);
        // Labels left out of the table take the default palette.
        let rgb = render_labels(&img, &labels, &Colours(Vec::new()));
        assert_eq!((count(&rgb, PALETTE[0]), count(&rgb, PALETTE[1])), (40, 40));
    }

    #[test]
    fn default_palette_cycles_and_the_table_wins() {
        let c = Colours(vec![(3, [9, 9, 9]), (3, [8, 8, 8])]);
        assert_eq!(c.of(1), OUTLINE);
        assert_eq!(c.of(3), [9, 9, 9]);
        assert_eq!(c.of(2), PALETTE[1]);
        assert_eq!(c.of(9), PALETTE[0]);
        assert_eq!(
            c.of(u32::MAX),
            PALETTE[(u32::MAX as usize - 1) % PALETTE.len()]
        );
    }

    #[test]
    fn isotropic_data_keeps_one_pixel_per_voxel() {
        // The skull-strip sample head (116 x 150 x 155 at 1.5 mm) keeps its
        // quick-look's size: one pixel per voxel, as before the resampling.
        assert_eq!(pixel_counts([116, 150, 155], [1.5; 3]), [116, 150, 155]);
        let d = [12, 9, 14];
        let img = volume(d, [1.5; 3], |x, y, z| {
            ((x * 31 + y * 17 + z * 5) % 50) as f32
        });
        let mask = volume(d, [1.5; 3], cuboid([3, 2, 4], [9, 7, 10], 1.0));
        let rgb = render(&img, &mask);
        assert_eq!((rgb.width, rgb.height), (9 + 12 + 12, 14));
        // Grey pixels are the voxels themselves: the axial panel (x right,
        // y up) at the centre slice z = 7 shows voxel (x, 8 - row, 7).
        let (lo, hi) = window(&img.nifti_slice());
        for row in 0..9 {
            for x in 0..12 {
                let p = pixel(&rgb, 9 + 12 + x, row);
                if p != OUTLINE {
                    let v = img.channel(0)[[x, 8 - row, 7]];
                    let g = (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0) as u8;
                    assert_eq!(p, [g, g, g], "x {x} row {row}");
                }
            }
        }
    }

    #[test]
    fn large_volumes_are_scaled_down_uniformly() {
        // 512 x 150 x 50 mm: the pixel grows from 0.5 mm to 1 mm.
        assert_eq!(
            pixel_counts([1024, 300, 10], [0.5, 0.5, 5.0]),
            [512, 150, 50]
        );
        // A degenerate spacing counts as the smallest valid one.
        assert_eq!(
            pixel_counts([10, 20, 30], [2.0, 0.0, f64::NAN]),
            [10, 20, 30]
        );
        assert_eq!(pixel_counts([10, 20, 30], [0.0; 3]), [10, 20, 30]);
        // Extreme ratios clamp to 1..=MAX_SIDE pixels.
        assert_eq!(pixel_counts([4, 4, 4], [1e-300, 1.0, 1e300]), [1, 1, 512]);
    }

    #[test]
    fn odd_inputs_give_an_image_not_a_panic() {
        let nan = |_, _, _| f32::NAN;
        let degenerate = Affine::new(
            0.0, 0.0, 0.0, 1.0, //
            0.0, 2.0, 0.0, 2.0, //
            0.0, 0.0, 0.0, 3.0, //
            0.0, 0.0, 0.0, 1.0,
        );
        let cases = [
            (
                volume([1, 1, 1], [1.0; 3], nan),
                volume([1, 1, 1], [1.0; 3], nan),
            ),
            (
                volume([1, 1, 1], [1.0; 3], |_, _, _| 1.0),
                volume([1, 1, 1], [1.0; 3], |_, _, _| 1.0),
            ),
            (
                volume([5, 1, 3], [1.0, 3.0, 0.5], |x, _, z| (x * z) as f32),
                volume([5, 1, 3], [1.0, 3.0, 0.5], |_, _, _| 7.0),
            ),
            (
                volume([6, 5, 4], [1.0; 3], |x, y, _| {
                    [f32::NAN, f32::INFINITY, -3e38, 3e38][(x + y) % 4]
                }),
                volume([6, 5, 4], [1.0; 3], |x, _, _| {
                    [f32::NAN, -3.0, 1e10, f32::INFINITY, 0.4, 2.0][x]
                }),
            ),
            (
                volume([6, 5, 4], [1.0; 3], |x, _, _| x as f32),
                volume([3, 9, 2], [4.0, 1.0, 9.0], |_, _, _| 1.0),
            ),
            (
                volume([6, 5, 4], [1.0; 3], |x, _, _| x as f32),
                volume([6, 5, 4], [1.0; 3], |_, _, _| 0.0),
            ),
            (
                Volume::from_array3(Array3::from_elem((3, 4, 5), 1.0), degenerate).unwrap(),
                Volume::from_array3(Array3::from_elem((3, 4, 5), 1.0), degenerate).unwrap(),
            ),
        ];
        for (i, (img, labels)) in cases.iter().enumerate() {
            for rgb in [
                render(img, labels),
                render_labels(img, labels, &Colours(Vec::new())),
            ] {
                assert!(rgb.width > 0 && rgb.height > 0, "case {i}");
                assert_eq!(rgb.pixels.len(), rgb.width * rgb.height * 3, "case {i}");
                encode_png(&rgb, &mut Vec::new()).unwrap();
            }
        }
        // Inconsistent images are errors.
        let bad = [(0, 0, 0), (2, 2, 11), (1, 1, 4)];
        for (width, height, n) in bad {
            let rgb = Rgb {
                width,
                height,
                pixels: vec![0; n],
            };
            assert!(
                encode_png(&rgb, &mut Vec::new()).is_err(),
                "{width} x {height}, {n} bytes"
            );
        }
    }

    #[test]
    fn png_has_signature_and_outline() {
        let img = volume([6, 5, 4], [1.0; 3], |x, _, _| x as f32);
        let m = volume([6, 5, 4], [1.0; 3], cuboid([1, 1, 1], [5, 4, 3], 1.0));
        let rgb = render(&img, &m);
        assert_eq!((rgb.width, rgb.height), (5 + 6 + 6, 5));
        assert!(rgb.pixels.chunks(3).any(|p| p == OUTLINE));
        let mut buf = Vec::new();
        encode_png(&rgb, &mut buf).unwrap();
        assert_eq!(&buf[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&buf[buf.len() - 8..buf.len() - 4], b"IEND");
    }
}

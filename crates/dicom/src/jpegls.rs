//! A JPEG-LS decoder (ITU-T T.87) for single-component images, lossless
//! and near-lossless, 2 to 16 bits: written here because no pure-Rust
//! decoder is available and CharLS needs a C++ toolchain with CMake.
//!
//! The structure follows the standard: context modelling on the three
//! local gradients, median edge prediction with bias correction, adaptive
//! Golomb coding, and run mode for flat regions.

/// Decodes one JPEG-LS codestream of `width` x `height` samples (as the
/// DICOM header says, checked before any work) into samples, row-major.
pub(crate) fn decode(data: &[u8], width: usize, height: usize) -> Result<Vec<u16>, String> {
    let (header, scan_start) = parse_markers(data)?;
    if header.width != width || header.height != height {
        return Err(format!(
            "the codestream is {}x{}, the header says {width}x{height}",
            header.width, header.height
        ));
    }
    let mut dec = Decoder::new(&header, &data[scan_start..])?;
    dec.decode_image()
}

/// What the frame and scan headers say.
#[derive(Clone, Debug)]
struct Header {
    precision: u32,
    width: usize,
    height: usize,
    near: i32,
    maxval: i32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i32,
}

fn be16(d: &[u8], i: usize) -> Result<usize, String> {
    d.get(i..i + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .ok_or_else(|| "JPEG-LS stream is truncated".to_string())
}

/// Walks the markers up to the first scan; returns the header and the
/// offset of the entropy-coded data.
fn parse_markers(d: &[u8]) -> Result<(Header, usize), String> {
    if d.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err("no JPEG start-of-image marker".into());
    }
    let mut h = Header {
        precision: 0,
        width: 0,
        height: 0,
        near: 0,
        maxval: 0,
        t1: 0,
        t2: 0,
        t3: 0,
        reset: 0,
    };
    let mut i = 2;
    let mut have_frame = false;
    loop {
        // Skip fill bytes before a marker.
        while d.get(i) == Some(&0xFF) && d.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if d.get(i) != Some(&0xFF) {
            return Err(format!("expected a marker at byte {i}"));
        }
        let marker = *d.get(i + 1).ok_or("JPEG-LS stream is truncated")?;
        let len = be16(d, i + 2)?;
        let seg = d
            .get(i + 4..i + 2 + len)
            .ok_or("JPEG-LS marker segment is truncated")?;
        match marker {
            0xF7 => {
                // SOF55: precision, lines, samples per line, components.
                if seg.len() < 6 {
                    return Err("short JPEG-LS frame header".into());
                }
                h.precision = seg[0] as u32;
                h.height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
                h.width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
                if seg[5] != 1 {
                    return Err(format!("{} components (only grayscale is decoded)", seg[5]));
                }
                have_frame = true;
            }
            0xF8 => {
                // LSE: preset coding parameters (id 1); others unsupported.
                if seg.first() == Some(&1) && seg.len() >= 11 {
                    let v = |k: usize| u16::from_be_bytes([seg[1 + 2 * k], seg[2 + 2 * k]]) as i32;
                    h.maxval = v(0);
                    h.t1 = v(1);
                    h.t2 = v(2);
                    h.t3 = v(3);
                    h.reset = v(4);
                } else {
                    return Err("JPEG-LS mapping tables are not supported".into());
                }
            }
            0xDA => {
                if !have_frame {
                    return Err("JPEG-LS scan before frame header".into());
                }
                // SOS: Ns, (Ci, Tmi), NEAR, ILV, Al/Ah.
                let ns = *seg.first().ok_or("short scan header")? as usize;
                let near = *seg.get(1 + 2 * ns).ok_or("short scan header")?;
                let al = *seg.get(3 + 2 * ns).ok_or("short scan header")?;
                if seg.get(2) != Some(&0) {
                    return Err("JPEG-LS mapping tables are not supported".into());
                }
                if al & 0x0F != 0 {
                    return Err("JPEG-LS point transform is not supported".into());
                }
                h.near = near as i32;
                return Ok((h, i + 2 + len));
            }
            0xD9 => return Err("JPEG-LS stream has no scan".into()),
            _ => {}
        }
        i += 2 + len;
    }
}

/// Reads bits MSB first; after a 0xFF byte the next byte carries only
/// seven data bits (its top bit is a stuffed zero), and 0xFF followed by a
/// byte with the top bit set is a marker that ends the data.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    prev_ff: bool,
}

impl<'a> Bits<'a> {
    fn fill(&mut self) {
        while self.n <= 56 {
            match self.data.get(self.pos) {
                Some(&b) if !(self.prev_ff && b & 0x80 != 0) => {
                    if self.prev_ff {
                        self.acc |= (b as u64) << (57 - self.n);
                        self.n += 7;
                    } else {
                        self.acc |= (b as u64) << (56 - self.n);
                        self.n += 8;
                    }
                    self.prev_ff = b == 0xFF;
                    self.pos += 1;
                }
                // The end of the data or a marker: zeros follow, which a
                // valid stream never consumes.
                _ => self.n += 8,
            }
        }
    }

    fn bit(&mut self) -> u32 {
        if self.n == 0 {
            self.fill();
        }
        let b = (self.acc >> 63) as u32;
        self.acc <<= 1;
        self.n -= 1;
        b
    }

    fn bits(&mut self, k: u32) -> i32 {
        if k == 0 {
            return 0;
        }
        if self.n < k {
            self.fill();
        }
        let v = (self.acc >> (64 - k)) as i32;
        self.acc <<= k;
        self.n -= k;
        v
    }

    /// Number of zero bits before the next one bit (which is consumed).
    fn zeros(&mut self, max: i32) -> Result<i32, String> {
        let mut z = 0;
        while self.bit() == 0 {
            z += 1;
            if z > max {
                return Err("JPEG-LS Golomb code is too long (corrupt data)".into());
            }
        }
        Ok(z)
    }
}

const J: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];

struct Decoder<'a> {
    bits: Bits<'a>,
    w: usize,
    h: usize,
    near: i32,
    maxval: i32,
    range: i32,
    qbpp: u32,
    limit: i32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i32,
    a: [i32; 367],
    b: [i32; 367],
    c: [i32; 367],
    n: [i32; 367],
    nn: [i32; 2],
    run_index: usize,
}

fn log2_ceil(v: i32) -> u32 {
    let mut k = 0;
    while (1i64 << k) < v as i64 {
        k += 1;
    }
    k
}

impl<'a> Decoder<'a> {
    fn new(h: &Header, data: &'a [u8]) -> Result<Self, String> {
        if !(2..=16).contains(&h.precision) || h.width == 0 || h.height == 0 {
            return Err(format!(
                "JPEG-LS image of {} bits, {}x{} is not supported",
                h.precision, h.width, h.height
            ));
        }
        let maxval = if h.maxval > 0 {
            h.maxval
        } else {
            (1i32 << h.precision) - 1
        };
        let near = h.near;
        if near < 0 || near > (maxval / 2).min(255) {
            return Err(format!("JPEG-LS NEAR {near} is out of range"));
        }
        let range = (maxval + 2 * near) / (2 * near + 1) + 1;
        let qbpp = log2_ceil(range);
        let bpp = log2_ceil(maxval + 1).max(2);
        let limit = 2 * (bpp as i32 + bpp.max(8) as i32);
        let clamp = |v: i32, lo: i32, hi: i32| if v > hi || v < lo { lo } else { v };
        let (d1, d2, d3) = if maxval >= 128 {
            // T.87 C.2.4.1.1 with the basic thresholds 3, 7 and 21.
            let f = (maxval.min(4095) + 128) / 256;
            let t1 = clamp(f + 2 + 3 * near, near + 1, maxval);
            let t2 = clamp(f * (7 - 3) + 3 + 5 * near, t1, maxval);
            let t3 = clamp(f * (21 - 4) + 4 + 7 * near, t2, maxval);
            (t1, t2, t3)
        } else {
            let f = 256 / (maxval + 1);
            let t1 = clamp((3 / f).max(2) + 3 * near, near + 1, maxval);
            let t2 = clamp((7 / f).max(3) + 5 * near, t1, maxval);
            let t3 = clamp((21 / f).max(4) + 7 * near, t2, maxval);
            (t1, t2, t3)
        };
        let pick = |given: i32, default: i32| if given > 0 { given } else { default };
        let a_init = ((range + 32) / 64).max(2);
        Ok(Decoder {
            bits: Bits {
                data,
                pos: 0,
                acc: 0,
                n: 0,
                prev_ff: false,
            },
            w: h.width,
            h: h.height,
            near,
            maxval,
            range,
            qbpp,
            limit,
            t1: pick(h.t1, d1),
            t2: pick(h.t2, d2),
            t3: pick(h.t3, d3),
            reset: pick(h.reset, 64),
            a: [a_init; 367],
            b: [0; 367],
            c: [0; 367],
            n: [1; 367],
            nn: [0; 2],
            run_index: 0,
        })
    }

    fn quantize(&self, d: i32) -> i32 {
        let near = self.near;
        if d <= -self.t3 {
            -4
        } else if d <= -self.t2 {
            -3
        } else if d <= -self.t1 {
            -2
        } else if d < -near {
            -1
        } else if d <= near {
            0
        } else if d < self.t1 {
            1
        } else if d < self.t2 {
            2
        } else if d < self.t3 {
            3
        } else {
            4
        }
    }

    fn reconstruct(&self, px: i32, err: i32) -> i32 {
        // i64: a corrupt stream can decode errors far beyond the range.
        let near = self.near as i64;
        let mut v = px as i64 + err as i64 * (2 * near + 1);
        let span = self.range as i64 * (2 * near + 1);
        if v < -near {
            v += span;
        } else if v > self.maxval as i64 + near {
            v -= span;
        }
        v.clamp(0, self.maxval as i64) as i32
    }

    fn golomb(&mut self, k: u32, limit: i32) -> Result<i32, String> {
        let high = self.bits.zeros(limit)?;
        if high >= limit - (self.qbpp as i32 + 1) {
            return Ok(self.bits.bits(self.qbpp) + 1);
        }
        Ok((high << k) + self.bits.bits(k))
    }

    fn decode_image(&mut self) -> Result<Vec<u16>, String> {
        let w = self.w;
        // Two line buffers with one pixel of padding on each side.
        let mut prev = vec![0i32; w + 2];
        let mut cur = vec![0i32; w + 2];
        let mut out = Vec::with_capacity(w * self.h);
        for _ in 0..self.h {
            prev[w + 1] = prev[w];
            cur[0] = prev[1];
            self.decode_line(&prev, &mut cur)?;
            out.extend(cur[1..=w].iter().map(|v| *v as u16));
            std::mem::swap(&mut prev, &mut cur);
        }
        Ok(out)
    }

    fn decode_line(&mut self, prev: &[i32], cur: &mut [i32]) -> Result<(), String> {
        let w = self.w;
        let mut i = 1;
        let mut rb = prev[0];
        let mut rd = prev[1];
        while i <= w {
            let ra = cur[i - 1];
            let rc = rb;
            rb = rd;
            rd = prev[i + 1];
            let q1 = self.quantize(rd - rb);
            let q2 = self.quantize(rb - rc);
            let q3 = self.quantize(rc - ra);
            let qs = (q1 * 9 + q2) * 9 + q3;
            if qs != 0 {
                cur[i] = self.regular(qs, ra, rb, rc)?;
                i += 1;
            } else {
                i += self.run(prev, cur, i)?;
                rb = prev[i - 1];
                rd = prev[i.min(w + 1)];
            }
        }
        Ok(())
    }

    fn regular(&mut self, qs: i32, ra: i32, rb: i32, rc: i32) -> Result<i32, String> {
        let sign = if qs < 0 { -1 } else { 1 };
        let q = (qs * sign) as usize;
        let px = if rc >= ra.max(rb) {
            ra.min(rb)
        } else if rc <= ra.min(rb) {
            ra.max(rb)
        } else {
            ra + rb - rc
        };
        let px = (px + sign * self.c[q]).clamp(0, self.maxval);
        let mut k = 0;
        while ((self.n[q] as i64) << k) < self.a[q] as i64 {
            k += 1;
            if k > 24 {
                return Err("JPEG-LS context is corrupt".into());
            }
        }
        let m = self.golomb(k, self.limit)?;
        let mut err = if m & 1 == 1 { -((m + 1) >> 1) } else { m >> 1 };
        if k == 0 && self.near == 0 && 2 * self.b[q] as i64 + self.n[q] as i64 - 1 < 0 {
            err = -err - 1;
        }
        self.update(q, err);
        Ok(self.reconstruct(px, sign * err))
    }

    fn update(&mut self, q: usize, err: i32) {
        self.b[q] = self.b[q].saturating_add(err.saturating_mul(2 * self.near + 1));
        self.a[q] = self.a[q].saturating_add(err.saturating_abs());
        if self.n[q] == self.reset {
            self.a[q] >>= 1;
            self.b[q] >>= 1;
            self.n[q] >>= 1;
        }
        self.n[q] += 1;
        if self.b[q] as i64 + self.n[q] as i64 <= 0 {
            self.b[q] += self.n[q];
            if self.b[q] <= -self.n[q] {
                self.b[q] = -self.n[q] + 1;
            }
            if self.c[q] > -128 {
                self.c[q] -= 1;
            }
        } else if self.b[q] > 0 {
            self.b[q] -= self.n[q];
            if self.b[q] > 0 {
                self.b[q] = 0;
            }
            if self.c[q] < 127 {
                self.c[q] += 1;
            }
        }
    }

    /// Run mode from position `start` (1-based in the padded line);
    /// returns how many pixels it decoded.
    fn run(&mut self, prev: &[i32], cur: &mut [i32], start: usize) -> Result<usize, String> {
        let w = self.w;
        let ra = cur[start - 1];
        let left = w + 1 - start;
        let mut len = 0usize;
        while self.bits.bit() == 1 {
            let full = 1usize << J[self.run_index];
            let count = full.min(left - len);
            len += count;
            if count == full && self.run_index < 31 {
                self.run_index += 1;
            }
            if len == left {
                break;
            }
        }
        if len != left {
            len += self.bits.bits(J[self.run_index]) as usize;
        }
        if len > left {
            return Err("JPEG-LS run is longer than the line (corrupt data)".into());
        }
        for v in &mut cur[start..start + len] {
            *v = ra;
        }
        let end = start + len;
        if end == w + 1 {
            return Ok(len);
        }
        let rb = prev[end];
        cur[end] = self.interruption(ra, rb)?;
        self.run_index = self.run_index.saturating_sub(1);
        Ok(len + 1)
    }

    fn interruption(&mut self, ra: i32, rb: i32) -> Result<i32, String> {
        let ri = ((ra - rb).abs() <= self.near) as usize;
        let q = 365 + ri;
        let temp = if ri == 0 {
            self.a[q]
        } else {
            self.a[q].saturating_add(self.n[q] >> 1)
        };
        let mut k = 0;
        while ((self.n[q] as i64) << k) < temp as i64 {
            k += 1;
            if k > 24 {
                return Err("JPEG-LS context is corrupt".into());
            }
        }
        let limit = self.limit - J[self.run_index] as i32 - 1;
        let em = self.golomb(k, limit)?;
        let t = em + ri as i32;
        let map = t & 1 == 1;
        let abs = (t + map as i32) / 2;
        let err = if (k != 0 || 2 * self.nn[ri] as i64 >= self.n[q] as i64) == map {
            -abs
        } else {
            abs
        };
        if err < 0 {
            self.nn[ri] += 1;
        }
        self.a[q] = self.a[q].saturating_add((em + 1 - ri as i32) >> 1);
        if self.n[q] == self.reset {
            self.a[q] >>= 1;
            self.n[q] >>= 1;
            self.nn[ri] >>= 1;
        }
        self.n[q] += 1;
        Ok(if ri == 1 {
            self.reconstruct(ra, err)
        } else {
            let s = if rb - ra < 0 { -1 } else { 1 };
            self.reconstruct(rb, err * s)
        })
    }
}

use crate::ops::BBox;

/// A binary `[x, y, z]` mask stored in NIfTI order (x fastest), one byte
/// per voxel (0 or 1), the layout of [`deepneuro_volume::Volume`] channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    dims: [usize; 3],
    data: Vec<u8>,
}

impl Mask {
    pub fn zeros(dims: [usize; 3]) -> Mask {
        Mask {
            dims,
            data: vec![0; dims.iter().product()],
        }
    }

    /// `data` in NIfTI order; any non-zero byte counts as foreground.
    pub fn from_vec(dims: [usize; 3], data: Vec<u8>) -> Mask {
        assert_eq!(data.len(), dims.iter().product::<usize>(), "mask length");
        let data = data.into_iter().map(|v| (v != 0) as u8).collect();
        Mask { dims, data }
    }

    pub fn from_fn(dims: [usize; 3], f: impl Fn(usize, usize, usize) -> bool) -> Mask {
        let mut m = Mask::zeros(dims);
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    let i = m.index(x, y, z);
                    m.data[i] = f(x, y, z) as u8;
                }
            }
        }
        m
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.data
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    #[inline]
    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        x + self.dims[0] * (y + self.dims[1] * z)
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize, z: usize) -> bool {
        self.data[self.index(x, y, z)] != 0
    }

    pub fn set(&mut self, x: usize, y: usize, z: usize, v: bool) {
        let i = self.index(x, y, z);
        self.data[i] = v as u8;
    }

    pub fn count(&self) -> usize {
        self.data.iter().map(|&v| v as usize).sum()
    }

    /// The sub-mask inside `b`.
    pub fn crop(&self, b: &BBox) -> Mask {
        let d = b.dims();
        let mut out = Mask::zeros(d);
        for z in 0..d[2] {
            for y in 0..d[1] {
                let src = self.index(b.lo[0], b.lo[1] + y, b.lo[2] + z);
                let dst = out.index(0, y, z);
                out.data[dst..dst + d[0]].copy_from_slice(&self.data[src..src + d[0]]);
            }
        }
        out
    }

    /// Writes `part` (of `b`'s size) into the region `b`.
    pub fn paste(&mut self, b: &BBox, part: &Mask) {
        let d = b.dims();
        assert_eq!(part.dims, d, "paste size");
        for z in 0..d[2] {
            for y in 0..d[1] {
                let dst = self.index(b.lo[0], b.lo[1] + y, b.lo[2] + z);
                let src = part.index(0, y, z);
                self.data[dst..dst + d[0]].copy_from_slice(&part.data[src..src + d[0]]);
            }
        }
    }

    /// Dice overlap with `other` (1 when both are empty).
    pub fn dice(&self, other: &Mask) -> f64 {
        assert_eq!(self.dims, other.dims, "dice of masks of different shape");
        let (mut a, mut b, mut both) = (0usize, 0usize, 0usize);
        for (&p, &q) in self.data.iter().zip(&other.data) {
            a += p as usize;
            b += q as usize;
            both += (p & q) as usize;
        }
        if a + b == 0 {
            1.0
        } else {
            2.0 * both as f64 / (a + b) as f64
        }
    }
}

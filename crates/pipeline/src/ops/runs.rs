//! Runs (maximal stretches along x of voxels with one value) joined by a
//! union-find: connected components and hole filling on a whole-head mask
//! then cost a pass over the bytes plus work per run, instead of a flood
//! fill that visits every voxel's 6 or 26 neighbours (~0.1 s per step on a
//! 1 mm head, a fifth of a case on a GPU).

use crate::ops::Mask;

/// The runs of voxels equal to `value`, row by row in memory order (rows
/// are (y, z) lines, z outermost), each `[x0, x1)`.
pub(crate) struct Runs {
    dims: [usize; 3],
    pub spans: Vec<[u32; 2]>,
    /// `spans[row_start[r]..row_start[r + 1]]` are row r's runs, r = y + ny z.
    row_start: Vec<usize>,
}

impl Runs {
    pub fn of(mask: &Mask, value: u8) -> Runs {
        let dims = mask.dims();
        let data = mask.as_slice();
        let mut spans = Vec::new();
        let mut row_start = Vec::with_capacity(dims[1] * dims[2] + 1);
        for r in 0..dims[1] * dims[2] {
            let row = &data[r * dims[0]..(r + 1) * dims[0]];
            row_start.push(spans.len());
            let mut x = 0;
            while x < row.len() {
                if (row[x] != 0) as u8 != value {
                    x += 1;
                    continue;
                }
                let x0 = x;
                while x < row.len() && (row[x] != 0) as u8 == value {
                    x += 1;
                }
                spans.push([x0 as u32, x as u32]);
            }
        }
        row_start.push(spans.len());
        Runs {
            dims,
            spans,
            row_start,
        }
    }

    pub fn row(&self, y: usize, z: usize) -> std::ops::Range<usize> {
        let r = y + self.dims[1] * z;
        self.row_start[r]..self.row_start[r + 1]
    }

    /// Calls `join(i, j)` for every pair of runs that touch, once per pair:
    /// with `diagonal`, runs in the 8 neighbouring rows that overlap or meet
    /// corner to corner (26-connectivity); without, runs in the rows above
    /// and behind that share an x (6-connectivity).
    pub fn for_each_touching(&self, diagonal: bool, mut join: impl FnMut(usize, usize)) {
        let [_, ny, nz] = self.dims;
        // Only rows earlier in memory order: every pair is seen once.
        let earlier: &[(isize, isize)] = if diagonal {
            &[(-1, -1), (0, -1), (1, -1), (-1, 0)]
        } else {
            &[(0, -1), (-1, 0)]
        };
        let reach = diagonal as u32;
        for z in 0..nz {
            for y in 0..ny {
                let here = self.row(y, z);
                if here.is_empty() {
                    continue;
                }
                for &(dy, dz) in earlier {
                    let (oy, oz) = (y as isize + dy, z as isize + dz);
                    if oy < 0 || oz < 0 || oy >= ny as isize {
                        continue;
                    }
                    let other = self.row(oy as usize, oz as usize);
                    // Both rows are sorted by x: walk them together.
                    let (mut i, mut j) = (here.start, other.start);
                    while i < here.end && j < other.end {
                        let [a0, a1] = self.spans[i];
                        let [b0, b1] = self.spans[j];
                        if b0 < a1 + reach && a0 < b1 + reach {
                            join(i, j);
                        }
                        if a1 < b1 {
                            i += 1;
                        } else {
                            j += 1;
                        }
                    }
                }
            }
        }
    }

    /// Sets to 1 the voxels of every run `i` with `pick(i)` in `out` (a
    /// buffer of the mask's shape, NIfTI order).
    pub fn paint(&self, out: &mut [u8], mut pick: impl FnMut(usize) -> bool) {
        for row in 0..self.row_start.len() - 1 {
            let base = row * self.dims[0];
            for i in self.row_start[row]..self.row_start[row + 1] {
                if pick(i) {
                    let [x0, x1] = self.spans[i];
                    out[base + x0 as usize..base + x1 as usize].fill(1);
                }
            }
        }
    }
}

/// Union-find over run indices; the root of a set is its smallest index,
/// i.e. its run that comes first in memory order.
pub(crate) struct Sets(Vec<u32>);

impl Sets {
    pub fn new(n: usize) -> Sets {
        Sets((0..n as u32).collect())
    }

    pub fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] as usize != i {
            // Path halving.
            let grand = self.0[self.0[i] as usize];
            self.0[i] = grand;
            i = grand as usize;
        }
        i
    }

    pub fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.0[hi] = lo as u32;
    }
}

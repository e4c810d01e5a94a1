//! Reading a row's chunks straight from the file, in parallel.
//!
//! The HDF5 library serialises every call behind one global lock, so rows
//! read through it decompress one at a time however many prefetch workers
//! there are. For the layout this crate writes (one chunk per case and
//! channel, float32 little-endian, shuffle and deflate), the chunk
//! addresses are looked up once at open time; a row is then read with
//! positional reads of those byte ranges and inflated with libdeflate,
//! without the lock. Files with any other layout, filters, or too many
//! chunks to index cheaply use the HDF5 path.

use hdf5::filters::Filter;
use hdf5::types::{FloatSize, TypeDescriptor};
use libdeflate_sys as sys;
use ndarray::{s, Array4};
use rayon::prelude::*;
use std::path::Path;

/// Above this many chunks the index is not built: HDF5 1.10 finds the
/// chunk at an index by walking the chunk index from its start, so building
/// the table costs O(chunks^2) (about a second at this size).
const MAX_INDEXED_CHUNKS: usize = 8192;

/// Where each chunk of one group dataset lies in the file.
#[derive(Debug)]
pub(crate) struct DirectChunks {
    file: std::fs::File,
    /// The pipeline position of the shuffle and deflate filters.
    shuffle: Option<usize>,
    deflate: Option<usize>,
    channels: usize,
    spatial: [usize; 3],
    /// `(address, stored size, filter mask)` of chunk `row * channels + c`.
    table: Vec<Option<(u64, u64, u32)>>,
}

impl DirectChunks {
    /// The chunk table of `ds`, or `None` when the dataset is not in the
    /// layout this reader handles (then the HDF5 path is used).
    pub fn build(path: &Path, ds: &hdf5::Dataset) -> Option<DirectChunks> {
        let shape = ds.shape();
        let [n, c, x, y, z] = <[usize; 5]>::try_from(shape).ok()?;
        if ds.chunk()? != [1, 1, x, y, z] {
            return None;
        }
        let dtype = ds.dtype().ok()?;
        if dtype.to_descriptor().ok()? != TypeDescriptor::Float(FloatSize::U4)
            || dtype.byte_order() != hdf5::datatype::ByteOrder::LittleEndian
        {
            return None;
        }
        let (mut shuffle, mut deflate) = (None, None);
        for (pos, f) in ds.filters().iter().enumerate() {
            match f {
                Filter::Shuffle if shuffle.is_none() && deflate.is_none() => shuffle = Some(pos),
                Filter::Deflate(_) if deflate.is_none() => deflate = Some(pos),
                _ => return None,
            }
        }
        let count = n.checked_mul(c)?;
        if count > MAX_INDEXED_CHUNKS || ds.num_chunks()? != count {
            return None;
        }
        let mut table = vec![None; count];
        for i in 0..count {
            let info = ds.chunk_info(i)?;
            let (row, ch) = (info.offset[0] as usize, info.offset[1] as usize);
            if row >= n || ch >= c {
                return None;
            }
            table[row * c + ch] = Some((info.addr, info.size, info.filter_mask));
        }
        Some(DirectChunks {
            file: std::fs::File::open(path).ok()?,
            shuffle,
            deflate,
            channels: c,
            spatial: [x, y, z],
            table,
        })
    }

    /// Row `row` cropped to `valid`, `[c, x, y, z]` in C order.
    pub fn read(&self, row: usize, valid: [usize; 3]) -> Result<Array4<f32>, String> {
        let [x, y, z] = self.spatial;
        let per = x * y * z;
        let mut out = vec![0f32; self.channels * per];
        out.par_chunks_mut(per)
            .enumerate()
            .try_for_each(|(ch, dst)| self.read_chunk(row * self.channels + ch, dst))?;
        let full =
            Array4::from_shape_vec((self.channels, x, y, z), out).map_err(|e| e.to_string())?;
        if valid == self.spatial {
            return Ok(full);
        }
        let [vx, vy, vz] = valid;
        Ok(full.slice(s![.., ..vx, ..vy, ..vz]).to_owned())
    }

    fn read_chunk(&self, index: usize, dst: &mut [f32]) -> Result<(), String> {
        let (addr, size, mask) = self.table[index].ok_or("the chunk was never written")?;
        let mut stored = vec![0u8; usize::try_from(size).map_err(|e| e.to_string())?];
        read_at(&self.file, &mut stored, addr).map_err(|e| format!("chunk at byte {addr}: {e}"))?;
        let active = |pos: Option<usize>| pos.is_some_and(|p| mask & (1 << p) == 0);
        let bytes = dst.len() * 4;
        let raw = if active(self.deflate) {
            inflate(&stored, bytes)?
        } else {
            stored
        };
        if raw.len() != bytes {
            return Err(format!(
                "a chunk holds {} bytes, expected {bytes}",
                raw.len()
            ));
        }
        if active(self.shuffle) {
            // HDF5's shuffle stores byte 0 of every element, then byte 1, ...
            let n = dst.len();
            for (i, v) in dst.iter_mut().enumerate() {
                *v = f32::from_le_bytes([raw[i], raw[n + i], raw[2 * n + i], raw[3 * n + i]]);
            }
        } else {
            for (v, b) in dst.iter_mut().zip(raw.chunks_exact(4)) {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset).and_then(|n| {
        if n == buf.len() {
            Ok(())
        } else {
            Err(std::io::ErrorKind::UnexpectedEof.into())
        }
    })
}

/// Inflates a zlib stream (HDF5's deflate filter) of exactly `len` bytes.
fn inflate(input: &[u8], len: usize) -> Result<Vec<u8>, String> {
    struct Decompressor(*mut sys::libdeflate_decompressor);
    impl Drop for Decompressor {
        fn drop(&mut self) {
            // SAFETY: the pointer came from libdeflate_alloc_decompressor and is freed once.
            unsafe { sys::libdeflate_free_decompressor(self.0) }
        }
    }
    // SAFETY: plain allocation; null is checked below.
    let d = Decompressor(unsafe { sys::libdeflate_alloc_decompressor() });
    if d.0.is_null() {
        return Err("out of memory".to_string());
    }
    let mut out = vec![0u8; len];
    // SAFETY: both buffers are valid for the lengths given; with a null
    // `actual_out_nbytes_ret` libdeflate succeeds only when it fills the
    // output exactly.
    let rc = unsafe {
        sys::libdeflate_zlib_decompress(
            d.0,
            input.as_ptr().cast(),
            input.len(),
            out.as_mut_ptr().cast(),
            len,
            std::ptr::null_mut(),
        )
    };
    if rc == sys::libdeflate_result_LIBDEFLATE_SUCCESS {
        Ok(out)
    } else {
        Err(format!(
            "corrupt deflate data in a chunk (libdeflate code {rc})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{H5Reader, H5Writer};
    use crate::spec::GroupSpec;
    use deepneuro_augment::Sample;
    use ndarray::{s, Array4, Ix4};
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// The direct reader gives what the HDF5 library gives, with and without
    /// filters, for noise (incompressible) and for padded rows.
    #[test]
    fn direct_reads_equal_the_hdf5_library() {
        let tmp = tempfile::tempdir().unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for (level, fit) in [(0u8, None), (1, None), (4, Some([9, 8, 7]))] {
            let out = tmp.path().join(format!("d{level}.h5"));
            let groups = vec![GroupSpec {
                name: "input".to_string(),
                channels: vec!["a".to_string(), "b".to_string()],
            }];
            let mut w = H5Writer::create(&out, groups, fit, level).unwrap();
            for row in 0..3 {
                let shape = if fit.is_some() {
                    (2, 6 + row, 8, 5)
                } else {
                    (2, 6, 8, 5)
                };
                let data = Array4::from_shape_simple_fn(shape, || {
                    if rng.random_bool(0.5) {
                        0.0
                    } else {
                        rng.random::<f32>() * 1e3
                    }
                });
                let mut map = BTreeMap::new();
                map.insert("input".to_string(), data);
                let sample = Sample {
                    case: format!("c{row}"),
                    groups: map,
                    affine: deepneuro_volume::Affine::identity(),
                };
                w.append(&sample.case, &sample).unwrap();
            }
            w.finish().unwrap();
            let r = H5Reader::open(&out).unwrap();
            assert!(
                r.direct[0].is_some(),
                "level {level}: the direct path applies"
            );
            for row in 0..3 {
                let [x, y, z] = r.shapes[row];
                let want = r.datasets()[0]
                    .read_slice::<f32, _, Ix4>(s![row, .., ..x, ..y, ..z])
                    .unwrap();
                let got = r.read(row, 0).unwrap();
                assert_eq!(got, want, "level {level}, row {row}");
            }
        }
    }
}

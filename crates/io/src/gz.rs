//! Whole-buffer gzip. Decompression goes through libdeflate, several times
//! faster than zlib's streaming interface (volumes are read whole anyway);
//! compression runs deflate on all allowed cores.

use crate::IoError;
use libdeflate_sys as sys;
use std::path::Path;

/// Largest output we agree to inflate, a guard against decompression bombs.
const MAX_OUTPUT: usize = 64 << 30;

pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

struct Decompressor(*mut sys::libdeflate_decompressor);

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_decompressor and is freed once.
        unsafe { sys::libdeflate_free_decompressor(self.0) }
    }
}

/// Inflates every gzip member of `input` (concatenated members, as bgzip
/// and pigz may write, are joined), naming `path` in errors.
pub fn decompress(path: &Path, input: &[u8]) -> Result<Vec<u8>, IoError> {
    let gz_err = |reason: &str| IoError::Gzip {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if !is_gzip(input) {
        return Err(gz_err("missing gzip magic bytes"));
    }
    // SAFETY: plain allocation; null is checked below.
    let d = Decompressor(unsafe { sys::libdeflate_alloc_decompressor() });
    if d.0.is_null() {
        return Err(gz_err("out of memory"));
    }
    // The trailer of the last member holds its size modulo 2^32: a good first
    // guess for the common single-member file.
    let n = input.len();
    let isize_hint = if n >= 18 {
        u32::from_le_bytes([input[n - 4], input[n - 3], input[n - 2], input[n - 1]]) as usize
    } else {
        0
    };
    // The trailer is untrusted: deflate cannot expand more than 1032-fold, so
    // a larger claim is a lie and must not drive the first allocation.
    let first_guess = isize_hint.min(n.saturating_mul(1032));
    let mut out: Vec<u8> = Vec::with_capacity(first_guess.max(n * 2).max(1024));
    let mut pos = 0usize;
    while pos < n {
        if input[pos..].iter().all(|&b| b == 0) {
            break; // Zero padding after the last member, as some tape tools leave.
        }
        if !is_gzip(&input[pos..]) {
            return Err(gz_err("trailing garbage after the gzip stream"));
        }
        loop {
            let avail = out.capacity() - out.len();
            let mut used_in = 0usize;
            let mut produced = 0usize;
            // SAFETY: input range is in bounds; the output pointer addresses
            // `avail` bytes of spare capacity that libdeflate only writes.
            let rc = unsafe {
                sys::libdeflate_gzip_decompress_ex(
                    d.0,
                    input[pos..].as_ptr().cast(),
                    n - pos,
                    out.as_mut_ptr().add(out.len()).cast(),
                    avail,
                    &mut used_in,
                    &mut produced,
                )
            };
            match rc {
                sys::libdeflate_result_LIBDEFLATE_SUCCESS => {
                    // SAFETY: libdeflate initialised `produced` bytes.
                    unsafe { out.set_len(out.len() + produced) };
                    pos += used_in;
                    break;
                }
                sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => {
                    let want = (out.capacity() * 2).max(1 << 20);
                    if want > MAX_OUTPUT {
                        return Err(gz_err("decompressed size exceeds 64 GiB"));
                    }
                    out.reserve_exact(want - out.len());
                }
                _ => return Err(gz_err("truncated or corrupt deflate stream")),
            }
        }
    }
    Ok(out)
}

/// Below this size one thread compresses faster than splitting the work.
const PARALLEL_MIN: usize = 1 << 20;

/// Compresses `data` as one gzip member at zlib `level` (nibabel writes
/// level 1). Large buffers are split into chunks compressed on all allowed
/// cores, each chunk a fresh raw deflate stream ended by a sync flush (the
/// last one by a final block), as pigz does: the concatenation is one valid
/// deflate stream, so every gzip reader sees an ordinary single-member file.
pub fn compress(data: &[u8], level: u32) -> Vec<u8> {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads().max(1);
    let chunk = if data.len() < PARALLEL_MIN {
        data.len().max(1)
    } else {
        data.len().div_ceil(threads * 2).max(PARALLEL_MIN / 2)
    };
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![data]
    } else {
        data.chunks(chunk).collect()
    };
    let last = chunks.len() - 1;
    let parts: Vec<(Vec<u8>, crc32fast::Hasher)> = chunks
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut z = flate2::Compress::new(flate2::Compression::new(level.min(9)), false);
            let mut out = Vec::with_capacity(c.len() / 2 + 1024);
            let flush = if i == last {
                flate2::FlushCompress::Finish
            } else {
                flate2::FlushCompress::Sync
            };
            loop {
                let done_in = z.total_in() as usize;
                let status = z
                    .compress_vec(&c[done_in..], &mut out, flush)
                    .expect("deflate on an in-memory buffer cannot fail");
                let finished = match flush {
                    flate2::FlushCompress::Finish => status == flate2::Status::StreamEnd,
                    // A sync flush is complete once all input is consumed and
                    // the output buffer was not filled to the brim.
                    _ => z.total_in() as usize == c.len() && out.len() < out.capacity(),
                };
                if finished {
                    break;
                }
                out.reserve(out.capacity().max(4096));
            }
            let mut crc = crc32fast::Hasher::new();
            crc.update(c);
            (out, crc)
        })
        .collect();
    let total: usize = parts.iter().map(|p| p.0.len()).sum();
    let mut out = Vec::with_capacity(total + 18);
    // Header: magic, deflate, no flags, no mtime (reproducible output), fastest, OS unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
    let mut crc = crc32fast::Hasher::new();
    for (bytes, part_crc) in parts {
        out.extend_from_slice(&bytes);
        crc.combine(&part_crc);
    }
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

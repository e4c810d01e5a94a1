//! Whole-buffer gzip through libdeflate, which decompresses and compresses
//! several times faster than zlib's streaming interface; volumes are read
//! whole anyway.

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

/// Compresses `data` as one gzip member. Level 1 matches nibabel's default
/// (`compresslevel=1`); libdeflate's level 1 is faster and no larger.
pub fn compress(data: &[u8], level: i32) -> Vec<u8> {
    let lvl = libdeflater::CompressionLvl::new(level).unwrap_or_default();
    let mut c = libdeflater::Compressor::new(lvl);
    let mut out = vec![0u8; c.gzip_compress_bound(data.len())];
    let n = c
        .gzip_compress(data, &mut out)
        .expect("the output buffer has the bound libdeflate asked for");
    out.truncate(n);
    out
}

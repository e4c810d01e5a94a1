//! Large voxel buffers backed by transparent huge pages where the kernel
//! offers them on request (`madvise` mode, the Debian default). A brain
//! volume as f32 is tens of megabytes: with 4 KiB pages, faulting it in
//! costs more than decompressing it. numpy does the same for large arrays.

/// A zero-filled `Vec<f32>` of length `n`.
pub fn huge_vec(n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    advise_huge_pages(v.as_mut_ptr().cast(), n * std::mem::size_of::<f32>());
    v.resize(n, 0.0);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 2 * HUGE {
        return;
    }
    // Only whole huge pages inside the allocation can be advised.
    let start = (ptr as usize).div_ceil(HUGE) * HUGE;
    let end = (ptr as usize + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside memory this process owns; the
        // advice only changes how the kernel backs it, never its contents.
        // Failure (no THP support) is harmless, so the result is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *mut u8, _len: usize) {}

//! Loading libtorch's CUDA half only when it can be used.
//!
//! `libtorch_cuda.so` and the CUDA libraries it pulls in (cuBLAS, cuDNN,
//! NCCL, ...) cost about 0.13 s of every process start and exit on a machine
//! without a GPU, a tenth of a one-case skull-strip run. Nothing in our code
//! references its symbols: its static initialisers register the CUDA kernels
//! and the CUDA hooks with libtorch's registries. So it is not linked;
//! [`load_cuda`] opens it with `dlopen` when the NVIDIA driver library is
//! present, and does so before libtorch is first asked about CUDA (libtorch
//! caches its CUDA hooks on first use: asked earlier, CUDA would stay off for
//! the life of the process). Every function of this crate that answers a CUDA
//! question calls it first; binaries call it at start-up as well.

use std::ffi::CString;
use std::sync::OnceLock;

/// What [`load_cuda`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CudaLoad {
    /// `libtorch_cuda.so` is loaded: CUDA devices are usable if present.
    Loaded,
    /// No NVIDIA driver (`libcuda.so.1`) on this machine: CUDA cannot work,
    /// so libtorch's CUDA half stays unloaded.
    NoDriver,
    /// `DEEPNEURO_CUDA=0` asked for CPU only.
    Disabled,
    /// This libtorch has no CUDA half.
    NotBuilt,
    /// The driver is there but `libtorch_cuda.so` failed to load (the
    /// dynamic loader's message); CUDA is unavailable.
    Failed(String),
}

static STATE: OnceLock<CudaLoad> = OnceLock::new();

fn dlopen(name: &str, flags: libc::c_int) -> Result<*mut libc::c_void, String> {
    let c = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: dlopen with a valid C string; the handle is kept for the life
    // of the process (libtorch's registries point into the library).
    let h = unsafe { libc::dlopen(c.as_ptr(), flags) };
    if h.is_null() {
        // SAFETY: dlerror returns a thread-local C string or null.
        let msg = unsafe { libc::dlerror() };
        let msg = if msg.is_null() {
            "unknown dlopen error".to_string()
        } else {
            unsafe { std::ffi::CStr::from_ptr(msg) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(msg);
    }
    Ok(h)
}

/// Loads `libtorch_cuda.so` once if the NVIDIA driver is present (or
/// `DEEPNEURO_CUDA=1` forces the attempt); `DEEPNEURO_CUDA=0` never loads it.
/// The library is found through the binary's rpath or `LD_LIBRARY_PATH`.
pub fn load_cuda() -> &'static CudaLoad {
    STATE.get_or_init(|| {
        let force = std::env::var("DEEPNEURO_CUDA").ok();
        match force.as_deref() {
            Some("0") => return CudaLoad::Disabled,
            Some("1") => {}
            _ => {
                if dlopen("libcuda.so.1", libc::RTLD_LAZY | libc::RTLD_LOCAL).is_err() {
                    return CudaLoad::NoDriver;
                }
            }
        }
        if !crate::LIBTORCH_HAS_CUDA {
            return CudaLoad::NotBuilt;
        }
        match dlopen("libtorch_cuda.so", libc::RTLD_NOW | libc::RTLD_GLOBAL) {
            Ok(_) => CudaLoad::Loaded,
            Err(e) => CudaLoad::Failed(e),
        }
    })
}

/// Ends the process now with `code`, after flushing stdout and stderr,
/// without running C++ static destructors: libtorch's tear-down (it
/// deregisters thousands of operator kernels one by one) costs about 0.06 s
/// of every short run and has nothing to save. Call it only when every
/// output is written and closed.
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process; no Rust state is observed afterwards.
    unsafe { libc::_exit(code) }
}

/// Keeps freed memory in the process for reuse instead of returning it to
/// the kernel. A forward pass allocates and frees activation tensors of tens
/// to hundreds of MB layer by layer; glibc serves each from a fresh `mmap`
/// and unmaps it on free, so every layer pays page faults and zeroing again
/// (measured: 1.2 s of system time in a 1.8 s skull-strip run, 0.45 s with
/// this). Peak memory is unchanged: the same blocks are reused. Call it at
/// start-up, before large allocations; `DEEPNEURO_MALLOC=system` keeps
/// glibc's defaults.
pub fn tune_allocator() {
    if std::env::var("DEEPNEURO_MALLOC").as_deref() == Ok("system") {
        return;
    }
    // SAFETY: mallopt only changes allocator parameters.
    unsafe {
        // Large blocks come from the heap (and return to its free lists)...
        libc::mallopt(libc::M_MMAP_MAX, 0);
        // ...which is never trimmed back to the kernel between cases.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

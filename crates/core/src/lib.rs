//! The one crate that links libtorch (through `tch`).
//!
//! It turns [`Volume`]s into tensors and back, picks the compute device, and
//! reports what the linked libtorch can do. Crates that only handle volumes,
//! formats and image operations never depend on it, so they build and test
//! without libtorch (ARCHITECTURE.md; CI checks it with `cargo tree`).

mod autocast;
mod cuda;
mod device;
pub mod logging;
mod tensor;

pub use autocast::autocast;
pub use cuda::{exit_now, load_cuda, tune_allocator, CudaLoad};
pub use device::{cpu_threads, describe_runtime, parse_device, DeviceError, RuntimeInfo};
pub use tch;
pub use tensor::{as_tensor, to_tensor, volume_from_tensor, BorrowedTensor, TensorError};

use deepneuro_volume::Volume;

/// The libtorch version this build links, e.g. `2.11.0+cu130`.
pub const LIBTORCH_VERSION: &str = env!("DEEPNEURO_LIBTORCH_VERSION");

/// Whether the linked libtorch ships `libtorch_cuda.so` (see [`load_cuda`]).
pub const LIBTORCH_HAS_CUDA: bool = cfg!(libtorch_cuda);

/// The first line of a libtorch message, trimmed: libtorch appends a C++
/// backtrace after it, and library errors stay one line.
pub fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Convenience re-export so callers need not name the volume crate.
pub type CoreVolume = Volume;

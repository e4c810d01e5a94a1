//! Automatic mixed precision that also reaches into TorchScript models.
//!
//! `tch::autocast` turns on libtorch's eager autocast, which casts the
//! inputs of each operator as it is dispatched. TorchScript graphs have
//! their own autocast pass (for `with torch.autocast(...)` blocks written in
//! the script), and while that JIT mode is on (libtorch's default) eager
//! autocast does not reliably reach into a scripted graph: measured on an
//! H200 (scripts/bench/gpu_autocast_probe.py), MONAI's scripted UNet ran
//! wholly in float32 under autocast, silently, in PyTorch and here alike,
//! while a lone scripted Conv3d was cast. With the JIT mode off both ran in
//! float16, as the eager UNet does. [`autocast`] switches the JIT mode off
//! once, before it enables autocast for `f`; only scripts that write their
//! own autocast blocks depend on that mode, and those blocks then defer to
//! the eager setting.

use std::sync::OnceLock;

/// The mangled name of `bool torch::jit::setAutocastMode(bool)`
/// (`torch/csrc/jit/passes/autocast.h`, exported by `libtorch_cpu.so`).
const SET_JIT_AUTOCAST_MODE: &[u8] = b"_ZN5torch3jit15setAutocastModeEb\0";

static JIT_MODE_OFF: OnceLock<bool> = OnceLock::new();

/// Turns libtorch's JIT autocast mode off for the rest of the process (on
/// the first call); returns whether the function was found. It is looked up
/// at run time so that a libtorch without it (older or newer) degrades to
/// float32 rather than failing to load.
fn jit_autocast_mode_off() -> bool {
    *JIT_MODE_OFF.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name; the
        // symbol, when present, is `bool setAutocastMode(bool)` (the C++
        // calling convention of a free function with a bool argument and
        // result is the C one on the platforms libtorch ships for).
        let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, SET_JIT_AUTOCAST_MODE.as_ptr().cast()) };
        if f.is_null() {
            return false;
        }
        let set: extern "C" fn(bool) -> bool = unsafe { std::mem::transmute(f) };
        set(false);
        true
    })
}

/// Runs `f` with CUDA autocast (float16 where PyTorch's autocast lists say
/// so) when `enabled`, for deepneuro networks and TorchScript models alike;
/// when not enabled, simply runs `f`.
pub fn autocast<T>(enabled: bool, f: impl FnOnce() -> T) -> T {
    if enabled {
        // Without the switch scripted models may stay float32: still correct.
        let _ = jit_autocast_mode_off();
    }
    tch::autocast(enabled, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libtorch's own `torch::jit::autocastEnabled()`, read back.
    fn jit_mode() -> bool {
        let name = b"_ZN5torch3jit15autocastEnabledEv\0";
        // SAFETY: as above; the symbol is `bool autocastEnabled()`.
        let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast()) };
        assert!(!f.is_null(), "torch::jit::autocastEnabled not found");
        let get: extern "C" fn() -> bool = unsafe { std::mem::transmute(f) };
        get()
    }

    /// The linked libtorch has the switch under the mangled name we look up,
    /// and it takes effect (a libtorch that renamed it would leave scripted
    /// models in float32 under mixed precision: this test says so first).
    #[test]
    fn jit_autocast_mode_is_found_and_switched_off() {
        assert!(jit_mode(), "libtorch starts with the JIT autocast mode on");
        assert!(jit_autocast_mode_off());
        assert!(!jit_mode());
        // autocast(false, ..) runs the closure and leaves the mode alone.
        assert_eq!(autocast(false, || 7), 7);
    }
}

use serde::Serialize;
use tch::Device;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("unknown device '{0}': use auto, cpu, cuda or cuda:N")]
    Unknown(String),
    #[error("device '{requested}' requested but {reason}")]
    Unavailable { requested: String, reason: String },
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N`. `auto` is CUDA device 0 when
/// libtorch sees one, else the CPU.
pub fn parse_device(spec: &str) -> Result<Device, DeviceError> {
    let spec = spec.trim().to_ascii_lowercase();
    if spec != "cpu" {
        crate::load_cuda();
    }
    let count = || tch::Cuda::device_count();
    match spec.as_str() {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        _ => {
            let index = match spec.strip_prefix("cuda") {
                Some("") => 0,
                Some(rest) => rest
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| DeviceError::Unknown(spec.clone()))?,
                None => return Err(DeviceError::Unknown(spec)),
            };
            let n = count();
            if (index as i64) < n {
                Ok(Device::Cuda(index))
            } else {
                Err(DeviceError::Unavailable {
                    requested: spec,
                    reason: if n == 0 {
                        "libtorch sees no CUDA device".to_string()
                    } else {
                        format!("libtorch sees only {n} CUDA device(s)")
                    },
                })
            }
        }
    }
}

/// The number of CPUs this process may run on: the affinity mask and the
/// cgroup CPU quota (containers, Slurm), not the host's core count.
pub fn cpu_threads() -> usize {
    let affinity = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu.max")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace();
            let q = it.next()?.parse::<f64>().ok()?;
            let p = it.next()?.parse::<f64>().ok()?;
            Some((q / p).ceil().max(1.0) as usize)
        });
    quota.map_or(affinity, |q| q.min(affinity))
}

/// What the linked libtorch offers, for `--version` and `doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    pub libtorch: String,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub cuda_devices: i64,
    pub cpu_threads: usize,
}

pub fn describe_runtime() -> RuntimeInfo {
    crate::load_cuda();
    RuntimeInfo {
        libtorch: crate::LIBTORCH_VERSION.to_string(),
        cuda_available: tch::Cuda::is_available(),
        cudnn_available: tch::Cuda::cudnn_is_available(),
        cuda_devices: tch::Cuda::device_count(),
        cpu_threads: cpu_threads(),
    }
}

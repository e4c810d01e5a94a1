//! `deepneuro doctor`: checks an install and says what to fix.

use crate::exit::{Code, Failure};
use deepneuro_registry::{Cache, Registry};
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
    /// What to do when the check failed.
    fix: Option<String>,
}

fn check_libtorch() -> Check {
    let t = deepneuro_core::tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
    let sum = t.sum(deepneuro_core::tch::Kind::Float).double_value(&[]);
    Check {
        name: "libtorch",
        ok: sum == 6.0,
        detail: format!(
            "libtorch {} loads and computes on the CPU ({} threads)",
            deepneuro_core::LIBTORCH_VERSION,
            deepneuro_core::cpu_threads()
        ),
        fix: (sum != 6.0).then(|| "reinstall: make setup".to_string()),
    }
}

fn gpu_memory() -> Vec<String> {
    // libtorch does not report device memory; nvidia-smi does when present.
    std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,memory.free",
            "--format=csv,noheader",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn check_cuda() -> Check {
    use deepneuro_core::CudaLoad;
    let load = deepneuro_core::load_cuda();
    let n = deepneuro_core::tch::Cuda::device_count();
    // A driver without a loadable libtorch_cuda is a broken install.
    if let CudaLoad::Failed(e) = load {
        return Check {
            name: "cuda",
            ok: false,
            detail: format!("an NVIDIA driver is present but libtorch_cuda.so did not load: {e}"),
            fix: Some(
                "reinstall torch 2.11.0 (make setup) or put its torch/lib on LD_LIBRARY_PATH"
                    .to_string(),
            ),
        };
    }
    let detail = if n > 0 {
        let mem = gpu_memory();
        format!(
            "{n} CUDA device(s){}",
            if mem.is_empty() {
                String::new()
            } else {
                format!(": {}", mem.join("; "))
            }
        )
    } else {
        let why = match load {
            CudaLoad::NoDriver => " (no NVIDIA driver)",
            CudaLoad::Disabled => " (DEEPNEURO_CUDA=0)",
            CudaLoad::NotBuilt => " (this libtorch has no CUDA)",
            _ => "",
        };
        format!("no CUDA device{why}: models run on the CPU")
    };
    // A missing GPU is not a failure: every module runs on the CPU.
    Check {
        name: "cuda",
        ok: true,
        detail,
        fix: None,
    }
}

fn check_cache(cache: &Cache) -> Check {
    let dir = cache.root();
    let probe = std::fs::create_dir_all(dir).and_then(|_| {
        let p = dir.join(format!(".doctor-{}", std::process::id()));
        std::fs::write(&p, b"ok")?;
        std::fs::remove_file(p)
    });
    match probe {
        Ok(()) => Check {
            name: "cache",
            ok: true,
            detail: format!("{} is writable", dir.display()),
            fix: None,
        },
        Err(e) => Check {
            name: "cache",
            ok: false,
            detail: format!("{} is not writable: {e}", dir.display()),
            fix: Some("set DEEPNEURO_HOME to a writable folder".to_string()),
        },
    }
}

fn check_models(cache: &Cache) -> Check {
    let registry = match Registry::load_default(None) {
        Ok(r) => r,
        Err(e) => {
            return Check {
                name: "models",
                ok: false,
                detail: e.to_string(),
                fix: Some("fix or unset DEEPNEURO_MODELS".to_string()),
            }
        }
    };
    let (cached, missing): (Vec<_>, Vec<_>) =
        registry.models.iter().partition(|m| cache.is_cached(m));
    let names = |v: &[&deepneuro_registry::ModelEntry]| {
        v.iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Missing weights are not a broken install: modules fetch them on first
    // use. The fix line says how to get them ahead of time (or air-gapped).
    Check {
        name: "models",
        ok: true,
        detail: format!(
            "cached: [{}], not cached: [{}]",
            names(&cached),
            names(&missing)
        ),
        fix: (!missing.is_empty())
            .then(|| "deepneuro models fetch (or: deepneuro models import <wheel>)".to_string()),
    }
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let cache = Cache::from_env()?;
    let checks = vec![
        check_libtorch(),
        check_cuda(),
        check_cache(&cache),
        check_models(&cache),
    ];
    let healthy = checks.iter().all(|c| c.ok);
    if args.json {
        let out = serde_json::json!({ "healthy": healthy, "checks": checks });
        super::print_json(&out);
    } else {
        for c in &checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            println!("[{mark}] {:<9} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("       fix: {fix}");
            }
        }
    }
    if healthy {
        Ok(())
    } else {
        Err(Failure::new(
            Code::Unhealthy,
            "doctor found problems (see above)",
        ))
    }
}

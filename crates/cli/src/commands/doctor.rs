//! `deepneuro doctor`: checks an install and says what to fix.

use crate::exit::{Code, Failure};
use serde::Serialize;
use std::path::PathBuf;

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

/// The cache folder for models: `$DEEPNEURO_HOME`, else the XDG cache.
pub fn cache_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("DEEPNEURO_HOME") {
        return PathBuf::from(home);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("deepneuro")
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
        .args(["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader"])
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
    let n = deepneuro_core::tch::Cuda::device_count();
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
        "no CUDA device: models run on the CPU".to_string()
    };
    // A missing GPU is not a failure: every module runs on the CPU.
    Check {
        name: "cuda",
        ok: true,
        detail,
        fix: None,
    }
}

fn check_cache() -> Check {
    let dir = cache_dir();
    let probe = std::fs::create_dir_all(&dir).and_then(|_| {
        let f = tempfile_in(&dir)?;
        std::fs::remove_file(f)
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

fn tempfile_in(dir: &std::path::Path) -> std::io::Result<PathBuf> {
    let p = dir.join(format!(".doctor-{}", std::process::id()));
    std::fs::write(&p, b"ok")?;
    Ok(p)
}

fn check_models() -> Check {
    let dir = cache_dir().join("models");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    Check {
        name: "models",
        ok: true,
        detail: if names.is_empty() {
            format!("no model cached in {}", dir.display())
        } else {
            format!("cached: {}", names.join(", "))
        },
        fix: None,
    }
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let checks = vec![check_libtorch(), check_cuda(), check_cache(), check_models()];
    let healthy = checks.iter().all(|c| c.ok);
    if args.json {
        let out = serde_json::json!({ "healthy": healthy, "checks": checks });
        println!("{}", serde_json::to_string_pretty(&out).expect("plain data"));
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
        Err(Failure::new(Code::Unhealthy, "doctor found problems (see above)"))
    }
}

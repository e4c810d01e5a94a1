//! External tools as optional steps: ANTs (`N4BiasFieldCorrection`,
//! `antsRegistration`) and 3D Slicer's CLI modules (`N4ITKBiasFieldCorrection`,
//! `BRAINSFit`).
//!
//! DeepNeuro skipped a step silently when 3D Slicer was missing; here a
//! missing program is always [`PreprocessError::ToolMissing`] naming it, and a
//! program that fails is [`PreprocessError::ToolFailed`] with the last lines
//! of its stderr. Tools write into a private temporary folder; the outputs
//! are moved into place only when the tool succeeded, so a failed run leaves
//! nothing behind.

use crate::PreprocessError;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An external program this module can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// ANTs' `N4BiasFieldCorrection`.
    AntsN4,
    /// ANTs' `antsRegistration`.
    AntsRegistration,
    /// 3D Slicer's `N4ITKBiasFieldCorrection` CLI module.
    SlicerN4,
    /// 3D Slicer's `BRAINSFit` CLI module.
    SlicerBrainsFit,
}

impl Tool {
    /// The executable's file name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::AntsN4 => "N4BiasFieldCorrection",
            Tool::AntsRegistration => "antsRegistration",
            Tool::SlicerN4 => "N4ITKBiasFieldCorrection",
            Tool::SlicerBrainsFit => "BRAINSFit",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Tool::AntsN4 | Tool::AntsRegistration => {
                "install ANTs (https://github.com/ANTsX/ANTs) and put its bin folder on PATH, \
                 or use the native step"
            }
            Tool::SlicerN4 | Tool::SlicerBrainsFit => {
                "put 3D Slicer's cli-modules folder on PATH or in DEEPNEURO_SLICER_CLI, \
                 or use the native step"
            }
        }
    }

    /// Finds the program: on PATH, and for Slicer modules also in the
    /// folder named by `DEEPNEURO_SLICER_CLI` (Slicer keeps them outside PATH).
    pub fn locate(self) -> Result<PathBuf, PreprocessError> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if matches!(self, Tool::SlicerN4 | Tool::SlicerBrainsFit) {
            if let Some(d) = std::env::var_os("DEEPNEURO_SLICER_CLI") {
                dirs.push(PathBuf::from(d));
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        dirs.iter()
            .map(|d| d.join(self.program()))
            .find(|p| is_executable(p))
            .ok_or_else(|| PreprocessError::ToolMissing {
                tool: self.program().to_string(),
                hint: self.hint().to_string(),
            })
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Settings of an external N4 run, named like the tools' own options.
#[derive(Clone, Debug)]
pub struct ExternalN4 {
    pub shrink_factor: usize,
    pub iterations: Vec<usize>,
    pub convergence_threshold: f64,
    /// B-spline mesh at the first level (control points minus the order).
    pub spline_mesh: usize,
}

impl Default for ExternalN4 {
    fn default() -> Self {
        ExternalN4 {
            shrink_factor: 4,
            iterations: vec![50, 50, 50, 50],
            convergence_threshold: 0.001,
            spline_mesh: 1,
        }
    }
}

/// The transform model of an external registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalTransform {
    Rigid,
    Affine,
}

/// What an external registration produced, moved into place.
#[derive(Clone, Debug)]
pub struct ExternalRegistration {
    /// The moving image on the fixed grid.
    pub warped: PathBuf,
    /// The transform file the tool wrote (ITK `.mat` for ANTs, `.h5`/`.tfm`
    /// for BRAINSFit), fixed to moving in ITK's convention.
    pub transform: PathBuf,
}

/// Bias-corrects `input` into `output` with ANTs or Slicer; `field`, when
/// given, receives the estimated bias field.
pub fn n4(
    tool: Tool,
    input: &Path,
    output: &Path,
    mask: Option<&Path>,
    field: Option<&Path>,
    opts: &ExternalN4,
) -> Result<(), PreprocessError> {
    let exe = tool.locate()?;
    let work = workdir(output)?;
    let out_tmp = work.path().join(file_name(output));
    let field_tmp = field.map(|f| work.path().join(format!("field-{}", file_name(f))));
    let iters = opts
        .iterations
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>();
    let mut cmd = Command::new(&exe);
    match tool {
        Tool::AntsN4 => {
            cmd.arg("-d").arg("3").arg("-i").arg(input);
            let o = match &field_tmp {
                Some(f) => bracket(&[out_tmp.as_os_str(), f.as_os_str()]),
                None => out_tmp.clone().into_os_string(),
            };
            cmd.arg("-o").arg(o);
            cmd.arg("-s").arg(opts.shrink_factor.to_string());
            cmd.arg("-c").arg(format!(
                "[{},{}]",
                iters.join("x"),
                opts.convergence_threshold
            ));
            if let Some(m) = mask {
                cmd.arg("-x").arg(m);
            }
        }
        Tool::SlicerN4 => {
            cmd.arg("--inputimage").arg(input);
            cmd.arg("--outputimage").arg(&out_tmp);
            cmd.arg("--shrinkfactor")
                .arg(opts.shrink_factor.to_string());
            cmd.arg("--iterations").arg(iters.join(","));
            cmd.arg("--convergencethreshold")
                .arg(opts.convergence_threshold.to_string());
            if let Some(m) = mask {
                cmd.arg("--maskimage").arg(m);
            }
            if let Some(f) = &field_tmp {
                cmd.arg("--outputbiasfield").arg(f);
            }
        }
        _ => {
            return Err(PreprocessError::BadParameter {
                name: "tool",
                reason: format!("{} does not do bias field correction", tool.program()),
            })
        }
    }
    run(tool, cmd)?;
    move_into_place(&out_tmp, output, tool)?;
    if let (Some(tmp), Some(dst)) = (&field_tmp, field) {
        move_into_place(tmp, dst, tool)?;
    }
    Ok(())
}

/// Registers `moving` onto `fixed` with ANTs or BRAINSFit (Mattes mutual
/// information, centre-of-mass or moments initialisation, three levels),
/// writing `<prefix>warped.nii.gz` and the tool's transform file.
pub fn register(
    tool: Tool,
    fixed: &Path,
    moving: &Path,
    out_prefix: &Path,
    kind: ExternalTransform,
) -> Result<ExternalRegistration, PreprocessError> {
    let exe = tool.locate()?;
    let work = workdir(out_prefix)?;
    let stem = file_name(out_prefix);
    let warped_tmp = work.path().join(format!("{stem}warped.nii.gz"));
    let mut cmd = Command::new(&exe);
    let tfm_name = match tool {
        Tool::AntsRegistration => {
            let prefix = work.path().join(&stem);
            let (t, step) = match kind {
                ExternalTransform::Rigid => ("Rigid", 0.1),
                ExternalTransform::Affine => ("Affine", 0.1),
            };
            cmd.arg("--dimensionality").arg("3");
            cmd.arg("--float").arg("1");
            cmd.arg("--output")
                .arg(bracket(&[prefix.as_os_str(), warped_tmp.as_os_str()]));
            cmd.arg("--interpolation").arg("Linear");
            cmd.arg("--initial-moving-transform").arg(bracket(&[
                fixed.as_os_str(),
                moving.as_os_str(),
                OsStr::new("1"),
            ]));
            cmd.arg("--transform").arg(format!("{t}[{step}]"));
            let mut metric = OsString::from("MI[");
            metric.push(fixed);
            metric.push(",");
            metric.push(moving);
            metric.push(",1,32,Regular,0.25]");
            cmd.arg("--metric").arg(metric);
            cmd.arg("--convergence").arg("[1000x500x250,1e-6,10]");
            cmd.arg("--shrink-factors").arg("4x2x1");
            cmd.arg("--smoothing-sigmas").arg("2x1x0vox");
            format!("{stem}0GenericAffine.mat")
        }
        Tool::SlicerBrainsFit => {
            let tfm = format!("{stem}transform.h5");
            cmd.arg("--fixedVolume").arg(fixed);
            cmd.arg("--movingVolume").arg(moving);
            cmd.arg("--outputVolume").arg(&warped_tmp);
            cmd.arg("--outputTransform").arg(work.path().join(&tfm));
            cmd.arg("--transformType").arg(match kind {
                ExternalTransform::Rigid => "Rigid",
                ExternalTransform::Affine => "Rigid,ScaleVersor3D,Affine",
            });
            cmd.arg("--initializeTransformMode").arg("useMomentsAlign");
            cmd.arg("--samplingPercentage").arg("0.02");
            tfm
        }
        _ => {
            return Err(PreprocessError::BadParameter {
                name: "tool",
                reason: format!("{} does not register images", tool.program()),
            })
        }
    };
    run(tool, cmd)?;
    let dir = out_prefix.parent().unwrap_or(Path::new("."));
    let warped = dir.join(format!("{stem}warped.nii.gz"));
    let transform = dir.join(&tfm_name);
    move_into_place(&work.path().join(&tfm_name), &transform, tool)?;
    move_into_place(&warped_tmp, &warped, tool)?;
    Ok(ExternalRegistration { warped, transform })
}

fn bracket(parts: &[&OsStr]) -> OsString {
    let mut s = OsString::from("[");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push(",");
        }
        s.push(p);
    }
    s.push("]");
    s
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A private folder beside the output, so the final rename stays on one
/// file system.
fn workdir(output: &Path) -> Result<tempfile::TempDir, PreprocessError> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".deepneuro-tool-")
        .tempdir_in(dir)
        .map_err(|e| {
            PreprocessError::Io(deepneuro_io::IoError::Unwritable {
                path: output.to_path_buf(),
                reason: e.to_string(),
            })
        })
}

fn run(tool: Tool, mut cmd: Command) -> Result<(), PreprocessError> {
    tracing::info!("running {:?}", cmd);
    let out = cmd.output().map_err(|e| PreprocessError::ToolFailed {
        tool: tool.program().to_string(),
        status: "could not start".to_string(),
        stderr: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(3)
        .collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(PreprocessError::ToolFailed {
        tool: tool.program().to_string(),
        status: out.status.to_string(),
        stderr: tail.join(" | "),
    })
}

fn move_into_place(tmp: &Path, dst: &Path, tool: Tool) -> Result<(), PreprocessError> {
    if !tmp.exists() {
        return Err(PreprocessError::ToolFailed {
            tool: tool.program().to_string(),
            status: "exit status 0".to_string(),
            stderr: format!("it did not write {}", file_name(tmp)),
        });
    }
    std::fs::rename(tmp, dst).map_err(|e| {
        PreprocessError::Io(deepneuro_io::IoError::Unwritable {
            path: dst.to_path_buf(),
            reason: e.to_string(),
        })
    })
}

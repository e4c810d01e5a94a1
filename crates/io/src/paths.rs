//! Whether two paths name one file, so a command can refuse an output that
//! would overwrite one of its inputs before it reads or writes anything.

use std::fs;
use std::path::{Path, PathBuf};

/// Whether `a` and `b` name the same file.
///
/// True when both exist and are one file (the same device and inode, which
/// covers hard links and bind mounts), or when their paths are equal once
/// symlinks, `.` and `..` are resolved (`x` and `./x`, a symlink and its
/// target, `d/../x` and `x`). A path that does not exist yet (an output not
/// written so far) is resolved through its folder, so two outputs that would
/// land on one file compare equal as well.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
                return true;
            }
        }
        #[cfg(not(unix))]
        let _ = (ma, mb);
    }
    resolve(a) == resolve(b)
}

/// Whether `path` lies inside the folder `dir` (at any depth), symlinks
/// resolved as in [`same_file`]; a folder is not inside itself.
pub fn is_inside(dir: &Path, path: &Path) -> bool {
    let (dir, path) = (resolve(dir), resolve(path));
    path != dir && path.starts_with(&dir)
}

/// The path with symlinks, `.` and `..` resolved: the canonical path when it
/// exists, else the canonical folder joined with the file name. Where the
/// folder does not exist either, only `.` components and the current folder
/// are dealt with, which is all a path that cannot be opened needs.
fn resolve(p: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(p) {
        return c;
    }
    if let (Some(parent), Some(name)) = (p.parent(), p.file_name()) {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(c) = fs::canonicalize(parent) {
            return c.join(name);
        }
    }
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = d.join("a.nii");
        fs::write(&a, "a").unwrap();
        fs::write(d.join("b.nii"), "b").unwrap();
        fs::create_dir(d.join("sub")).unwrap();
        assert!(same_file(&a, &a));
        assert!(same_file(&a, &d.join(".").join("a.nii")));
        assert!(same_file(&a, &d.join("sub/../a.nii")));
        assert!(!same_file(&a, &d.join("b.nii")));

        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&a, d.join("link.nii")).unwrap();
            assert!(same_file(&a, &d.join("link.nii")));
            assert!(same_file(&d.join("link.nii"), &a));
            std::os::unix::fs::symlink(d, d.join("again")).unwrap();
            assert!(same_file(&a, &d.join("again/a.nii")));
        }
        fs::hard_link(&a, d.join("hard.nii")).unwrap();
        assert!(same_file(&a, &d.join("hard.nii")));
    }

    #[test]
    fn paths_not_written_yet() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = d.join("out.nii.gz");
        assert!(same_file(&out, &d.join("./out.nii.gz")));
        assert!(!same_file(&out, &d.join("other.nii.gz")));
        assert!(!same_file(&out, &d.join("a.nii")));
        // A folder that does not exist: compared as written, `.` dropped.
        let missing = d.join("missing");
        assert!(same_file(&missing.join("x"), &missing.join("./x")));
        assert!(!same_file(&missing.join("x"), &missing.join("y")));
    }

    #[test]
    fn inside_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("dicom")).unwrap();
        fs::write(d.join("dicom/IM1"), "x").unwrap();
        assert!(is_inside(&d.join("dicom"), &d.join("dicom/IM1")));
        assert!(is_inside(
            &d.join("dicom"),
            &d.join("dicom/../dicom/new.dcm")
        ));
        assert!(!is_inside(&d.join("dicom"), &d.join("dicom")));
        assert!(!is_inside(&d.join("dicom"), &d.join("dicom2")));
        assert!(!is_inside(&d.join("dicom"), &d.join("out.nii")));
    }
}

//! ARCHITECTURE.md's code map is a contract: every crate under `crates/`
//! is in it, and no crate it marks as not linking libtorch has `torch-sys`
//! among its normal or build dependencies (`cargo tree`).

use std::path::Path;
use std::process::Command;

/// (crate name, path, links libtorch) rows of the code map.
fn code_map(root: &Path) -> Vec<(String, String, bool)> {
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let name = cells[0]
                .trim_start_matches("| ")
                .trim_matches('`')
                .to_string();
            let path = cells[1].trim_matches('`').to_string();
            let links = cells.last().unwrap().trim_end_matches(" |").trim();
            (name, path, links != "no")
        })
        .collect()
}

#[test]
fn every_crate_is_in_the_code_map() {
    let root = deepneuro_testkit::workspace_root();
    let map = code_map(&root);
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let path = format!("crates/{}", entry.unwrap().file_name().to_string_lossy());
        assert!(
            map.iter().any(|(_, p, _)| *p == path),
            "{path} is missing from ARCHITECTURE.md's code map"
        );
    }
}

#[test]
fn crates_marked_libtorch_free_do_not_link_it() {
    let root = deepneuro_testkit::workspace_root();
    let free: Vec<String> = code_map(&root)
        .into_iter()
        .filter(|(_, _, links)| !links)
        .map(|(name, _, _)| name)
        .collect();
    assert!(free.len() >= 8, "{free:?}");
    for name in &free {
        let out = Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "-e",
                "normal,build",
                "--prefix",
                "none",
                "-p",
                name,
            ])
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo tree -p {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            !tree.lines().any(|l| l.starts_with("torch-sys ")),
            "{name} is marked libtorch-free in ARCHITECTURE.md but depends on torch-sys"
        );
    }
}

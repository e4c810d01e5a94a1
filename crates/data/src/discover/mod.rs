//! Case discovery from a folder or a CSV case list.

pub(crate) mod csv;
pub(crate) mod folder;

use crate::spec::{GroupSpec, Skipped};
use std::path::PathBuf;

/// What discovery found: the groups, the usable cases (sorted by id) with
/// one file per channel of each group, and the cases left out.
#[derive(Debug)]
pub(crate) struct Discovered {
    pub groups: Vec<GroupSpec>,
    pub cases: Vec<(String, Vec<Vec<PathBuf>>)>,
    pub skipped: Vec<Skipped>,
}

//! Training data for deepneuro: cases and data groups ([`DataCollection`])
//! from a folder, a CSV case list or an HDF5 dataset; HDF5 datasets written
//! by [`collect`] and described by [`describe`]; seeded, prefetched batches
//! ([`Batches`]). No libtorch.
//!
//! # Sources
//!
//! * **A folder** with one subfolder per case and, per data group, one
//!   filename pattern per channel: the BraTS layout works with
//!   `input = ["*_flair.nii.gz", "*_t1.nii.gz", "*_t1ce.nii.gz", "*_t2.nii.gz"]`,
//!   `ground_truth = ["*_seg.nii.gz"]`.
//! * **A CSV case list**: a header with a `case` column and one column per
//!   channel file named `group:channel` (`input:flair`) or just `group`;
//!   paths are relative to the CSV's folder.
//! * **An HDF5 dataset** written by [`collect`] (layout: [`h5`] and the
//!   crate README).
//!
//! A case with a missing or ambiguous file (a pattern that matches no file
//! or several) is listed in [`DataCollection::skipped`] with the reason and
//! left out; discovery goes on. Cases are sorted by id.
//!
//! # Samples
//!
//! Loading a case gives a `deepneuro_augment::Sample`: per group a
//! `[channel, x, y, z]` array in C order (z fastest, as HDF5 rows and
//! libtorch tensors) with the channels in pattern (column) order, and the
//! affine of the case's first channel. Channels on different grids
//! are an error unless [`GridPolicy::Resample`] is chosen.

mod batch;
mod collect;
mod collection;
mod discover;
mod error;
pub mod h5;
mod layout;
mod load;
mod pool;
mod seed;
mod spec;

pub use batch::{Batch, BatchOptions, Batches, Pairing};
pub use collect::{collect, CollectOptions, CollectReport};
pub use collection::{Case, CaseInfo, DataCollection};
pub use error::DataError;
pub use h5::{describe, H5GroupInfo, H5Info};
pub use spec::{channel_name, CollectionOptions, GridPolicy, GroupSpec, Skipped};

/// The BraTS groups: `input` = FLAIR, T1, T1ce, T2 and `ground_truth` =
/// the segmentation, as filename patterns of the BraTS folder layout.
pub fn brats_groups() -> Vec<(String, Vec<String>)> {
    vec![
        (
            "input".to_string(),
            [
                "*_flair.nii.gz",
                "*_t1.nii.gz",
                "*_t1ce.nii.gz",
                "*_t2.nii.gz",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ("ground_truth".to_string(), vec!["*_seg.nii.gz".to_string()]),
    ]
}

//! `deepneuro collect`: a collection (optionally augmented) written as one
//! HDF5 dataset.

use crate::collection::DataCollection;
use crate::h5::H5Writer;
use crate::pool::{work, Ordered};
use crate::seed::{derive, COLLECT};
use crate::spec::{CollectionOptions, Skipped};
use crate::DataError;
use deepneuro_augment::{Augmentation, Compose, Sample};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of [`collect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectOptions {
    /// How cases are found and loaded.
    pub collection: CollectionOptions,
    /// A fixed spatial shape for every row: smaller cases are zero-padded
    /// and larger ones cropped, at the high end of each axis. `None`: every
    /// row must have the first row's shape (others are skipped and reported).
    pub fit: Option<[usize; 3]>,
    /// Deflate level 1 to 9 (after the shuffle filter), 0 for none.
    pub compression: u8,
    /// Seed of the augmentation (case `i` draws from `(seed, i)`).
    pub seed: u64,
    /// Threads loading and augmenting cases while the file is written
    /// (0: all on the calling thread).
    pub workers: usize,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            collection: CollectionOptions::default(),
            fit: None,
            compression: 1,
            seed: 0,
            workers: 2,
        }
    }
}

/// What [`collect`] did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CollectReport {
    /// The HDF5 file written.
    pub output: PathBuf,
    /// Source cases written (each as one row, or several with patches).
    pub cases_written: usize,
    /// Rows written.
    pub rows: usize,
    /// Cases left out by discovery or while loading and writing, with why.
    pub skipped: Vec<Skipped>,
    /// Each group's dataset shape `[rows, channels, x, y, z]`.
    pub shapes: BTreeMap<String, Vec<usize>>,
    /// Wall time.
    pub seconds: f64,
}

/// Collects the cases of `source` (a folder, a CSV case list or an HDF5
/// dataset; see [`DataCollection::open`] for `groups`) into the HDF5 file
/// `out`, applying `augment` to each case first when given (patch
/// extraction makes several rows per case, named by the augmentation).
/// A case that cannot be read, augmented or fitted is skipped and reported;
/// the file is written as `<out>.part` and renamed only when complete.
/// `progress(done, total)` is called after each case.
pub fn collect(
    source: &Path,
    groups: &[(String, Vec<String>)],
    augment: Option<&Compose>,
    out: &Path,
    opts: &CollectOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<CollectReport, DataError> {
    let start = Instant::now();
    let collection = DataCollection::open(source, groups, &opts.collection)?;
    let mut writer = H5Writer::create(
        out,
        collection.groups().to_vec(),
        opts.fit,
        opts.compression,
    )?;
    let mut skipped: Vec<Skipped> = collection.skipped().to_vec();
    let n = collection.len();
    let mut written = 0usize;

    let prepare = |i: usize| -> Result<Vec<Sample>, DataError> {
        let sample = collection.load(i)?;
        match augment {
            None => Ok(vec![sample]),
            Some(aug) => {
                let case = sample.case.clone();
                let mut rng = deepneuro_augment::rng(derive(opts.seed, &[COLLECT, i as u64]));
                aug.apply(sample, &mut rng)
                    .map_err(|source| DataError::Augment {
                        case,
                        source: Box::new(source),
                    })
            }
        }
    };
    let mut consume = |i: usize, item: Result<Vec<Sample>, DataError>| -> Result<(), DataError> {
        let id = collection.cases()[i].id().to_string();
        match item {
            Ok(samples) => {
                // A case goes in whole or not at all.
                let problem = if samples.is_empty() {
                    Some("the augmentation produced no sample".to_string())
                } else {
                    samples.iter().find_map(|s| writer.check(s))
                };
                match problem {
                    Some(reason) => skipped.push(Skipped { case: id, reason }),
                    None => {
                        for s in &samples {
                            writer.append(&s.case, s)?;
                        }
                        written += 1;
                    }
                }
            }
            Err(e) if e.is_output_error() => return Err(e),
            Err(e) => skipped.push(Skipped {
                case: id,
                reason: e.to_string(),
            }),
        }
        progress(i + 1, n);
        Ok(())
    };

    if opts.workers == 0 {
        for i in 0..n {
            consume(i, prepare(i))?;
        }
    } else {
        std::thread::scope(|scope| -> Result<(), DataError> {
            let (mut ordered, ends) = Ordered::new(n, 2 * opts.workers);
            for _ in 0..opts.workers {
                let ends = ends.clone();
                let prepare = &prepare;
                scope.spawn(move || work(ends, prepare));
            }
            drop(ends);
            while let Some((i, item)) = ordered.next() {
                if let Err(e) = consume(i, item) {
                    ordered.close();
                    return Err(e);
                }
            }
            Ok(())
        })?;
    }

    if writer.rows() == 0 {
        return Err(DataError::NoCases {
            path: source.to_path_buf(),
            skipped: skipped.len(),
        });
    }
    let rows = writer.rows();
    let shapes = writer.finish()?.into_iter().collect();
    skipped.sort_by(|a, b| a.case.cmp(&b.case));
    Ok(CollectReport {
        output: out.to_path_buf(),
        cases_written: written,
        rows,
        skipped,
        shapes,
        seconds: start.elapsed().as_secs_f64(),
    })
}

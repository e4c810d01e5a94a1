//! Seeded batches with background prefetch.
//!
//! The stream of one run is `epochs` passes over the collection. Pass `e`
//! visits the cases in an order drawn from `(seed, e)` (one order per group
//! when unpaired); item `k` of pass `e` is loaded and augmented with a
//! generator seeded from `(seed, e, k)`. Worker threads compute items in
//! any order and the consumer puts them back in index order, so a seed
//! gives the same batches with any number of workers and any timing. The
//! samples an item yields (several for patch extraction) are flattened into
//! one stream of rows, cut into batches of `batch_size`; a batch never
//! spans two epochs (the last one of an epoch may be short, or dropped).

mod plan;

use crate::collection::DataCollection;
use crate::pool::{work, Ordered, WorkerEnds};
use crate::seed::{derive, ORDER};
use crate::DataError;
use deepneuro_augment::Augmentation;
use ndarray::Array5;
use plan::{Plan, Row};
use rand::seq::SliceRandom;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How the groups of one batch row are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pairing {
    /// Every group of a row comes from the same case (supervised training).
    #[default]
    Paired,
    /// Each group's case is drawn independently (unpaired GAN training):
    /// every group runs through its own shuffled pass over the cases.
    Unpaired,
}

/// Options of [`Batches`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Rows per batch.
    pub batch_size: usize,
    /// Shuffle the cases each epoch (otherwise case order, every epoch).
    pub shuffle: bool,
    /// The seed of every random choice (case order and augmentation).
    pub seed: u64,
    /// Passes over the collection.
    pub epochs: usize,
    /// Background threads loading and augmenting cases; 0 loads on the
    /// consumer's thread.
    pub workers: usize,
    /// Cases handed to the workers ahead of the consumer (at least
    /// `workers`): the bound on memory held in flight.
    pub prefetch: usize,
    /// Paired or unpaired groups.
    pub pairing: Pairing,
    /// Drop the short last batch of each epoch.
    pub drop_last: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            batch_size: 4,
            shuffle: true,
            seed: 0,
            epochs: 1,
            workers: 2,
            prefetch: 4,
            pairing: Pairing::Paired,
            drop_last: false,
        }
    }
}

/// One batch: per group, the rows stacked as `[batch, c, x, y, z]` in C
/// order, and the case id of every row.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The epoch the rows come from.
    pub epoch: usize,
    /// Per group, `[batch, c, x, y, z]`.
    pub groups: BTreeMap<String, Array5<f32>>,
    /// Per group, the case of each row (the same for every group when
    /// paired; patches carry the augmentation's `#p<i>` suffix).
    pub case_ids: BTreeMap<String, Vec<String>>,
}

impl Batch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.case_ids.values().next().map_or(0, |v| v.len())
    }

    /// True for a batch without rows (never yielded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

enum Source {
    Pool {
        ordered: Ordered<Vec<Row>>,
        threads: Vec<JoinHandle<()>>,
    },
    Inline {
        plan: Arc<Plan>,
        next: usize,
        total: usize,
    },
}

/// An iterator of [`Batch`]es (see the module docs). An item that fails
/// (an unreadable case, a failed augmentation) is yielded as an error and
/// the iteration goes on with the next items.
pub struct Batches {
    source: Source,
    items_per_epoch: usize,
    batch_size: usize,
    drop_last: bool,
    groups: Vec<String>,
    /// Rows received and not yet batched, tagged with their epoch.
    buffer: VecDeque<(usize, Row)>,
    /// Items received so far (ok or not).
    consumed: usize,
    finished: bool,
}

impl Batches {
    /// Starts the workers over `collection`. `augment` (e.g. a
    /// `deepneuro_augment::Compose`) runs on each loaded case; `None` passes
    /// cases through.
    pub fn new(
        collection: Arc<DataCollection>,
        augment: Option<Arc<dyn Augmentation>>,
        opts: &BatchOptions,
    ) -> Result<Batches, DataError> {
        if opts.batch_size == 0 {
            return Err(DataError::BadOption {
                name: "batch_size",
                reason: "must be at least 1".to_string(),
            });
        }
        if opts.epochs == 0 {
            return Err(DataError::BadOption {
                name: "epochs",
                reason: "must be at least 1".to_string(),
            });
        }
        let n = collection.len();
        let lanes = match opts.pairing {
            Pairing::Paired => 1,
            Pairing::Unpaired => collection.groups().len(),
        };
        let orders = (0..opts.epochs)
            .map(|e| {
                (0..lanes)
                    .map(|g| {
                        let mut order: Vec<usize> = (0..n).collect();
                        if opts.shuffle {
                            let seed = derive(opts.seed, &[ORDER, e as u64, g as u64]);
                            order.shuffle(&mut deepneuro_augment::rng(seed));
                        }
                        order
                    })
                    .collect()
            })
            .collect();
        let groups = collection.groups().iter().map(|g| g.name.clone()).collect();
        let plan = Arc::new(Plan {
            collection,
            augment,
            orders,
            seed: opts.seed,
        });
        let total = n * opts.epochs;
        let source = if opts.workers == 0 {
            Source::Inline {
                plan,
                next: 0,
                total,
            }
        } else {
            let (ordered, ends) = Ordered::new(total, opts.prefetch.max(opts.workers));
            let threads = (0..opts.workers)
                .map(|w| spawn_worker(w, ends.clone(), plan.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            Source::Pool { ordered, threads }
        };
        Ok(Batches {
            source,
            items_per_epoch: n,
            batch_size: opts.batch_size,
            drop_last: opts.drop_last,
            groups,
            buffer: VecDeque::new(),
            consumed: 0,
            finished: false,
        })
    }

    /// Items (cases, or case draws when unpaired) per epoch.
    pub fn items_per_epoch(&self) -> usize {
        self.items_per_epoch
    }

    fn next_item(&mut self) -> Option<(usize, Result<Vec<Row>, DataError>)> {
        match &mut self.source {
            Source::Pool { ordered, .. } => ordered.next(),
            Source::Inline { plan, next, total } => {
                if *next >= *total {
                    return None;
                }
                *next += 1;
                Some((*next - 1, plan.item(*next - 1)))
            }
        }
    }

    /// How many buffered rows form the next batch, if one is complete: a
    /// full batch, or the rest of an epoch whose items have all arrived.
    fn ready(&self) -> Option<usize> {
        let epoch = self.buffer.front()?.0;
        let same = self.buffer.iter().take_while(|r| r.0 == epoch).count();
        if same >= self.batch_size {
            return Some(self.batch_size);
        }
        let epoch_done = self.finished || self.consumed >= (epoch + 1) * self.items_per_epoch;
        epoch_done.then_some(same)
    }

    fn stack(&mut self, rows: usize) -> Result<Batch, DataError> {
        let taken: Vec<(usize, Row)> = self.buffer.drain(..rows).collect();
        let epoch = taken[0].0;
        let mut groups = BTreeMap::new();
        let mut case_ids = BTreeMap::new();
        for name in &self.groups {
            let (_, first) = &taken[0].1[name];
            let (c, x, y, z) = first.dim();
            let mut data: Vec<f32> = Vec::with_capacity(rows * c * x * y * z);
            let mut ids = Vec::with_capacity(rows);
            for (_, row) in &taken {
                let (case, arr) = &row[name];
                if arr.dim() != (c, x, y, z) {
                    return Err(DataError::ShapeMismatch {
                        case: case.clone(),
                        group: name.clone(),
                        found: arr.shape().to_vec(),
                        expected: vec![c, x, y, z],
                    });
                }
                // Rows are C-contiguous (see `to_row`): one block copy each.
                match arr.as_slice() {
                    Some(block) => data.extend_from_slice(block),
                    None => data.extend(arr.iter().copied()),
                }
                ids.push(case.clone());
            }
            let out = Array5::from_shape_vec((rows, c, x, y, z), data).map_err(|e| {
                DataError::ShapeMismatch {
                    case: ids.first().cloned().unwrap_or_default(),
                    group: format!("{name} ({e})"),
                    found: vec![rows, c, x, y, z],
                    expected: vec![rows, c, x, y, z],
                }
            })?;
            groups.insert(name.clone(), out);
            case_ids.insert(name.clone(), ids);
        }
        Ok(Batch {
            epoch,
            groups,
            case_ids,
        })
    }
}

fn spawn_worker(
    w: usize,
    ends: WorkerEnds<Vec<Row>>,
    plan: Arc<Plan>,
) -> Result<JoinHandle<()>, DataError> {
    std::thread::Builder::new()
        .name(format!("deepneuro-data-{w}"))
        .spawn(move || work(ends, |j| plan.item(j)))
        .map_err(|e| DataError::Worker {
            reason: format!("cannot start a worker thread: {e}"),
        })
}

impl Iterator for Batches {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(rows) = self.ready() {
                if rows < self.batch_size && self.drop_last {
                    self.buffer.drain(..rows);
                    continue;
                }
                return Some(self.stack(rows));
            }
            if self.finished {
                return None;
            }
            match self.next_item() {
                None => self.finished = true,
                Some((j, item)) => {
                    self.consumed = j + 1;
                    let epoch = j / self.items_per_epoch;
                    match item {
                        Ok(rows) => self.buffer.extend(rows.into_iter().map(|r| (epoch, r))),
                        Err(e) => return Some(Err(e)),
                    }
                }
            }
        }
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        if let Source::Pool { ordered, threads } = &mut self.source {
            // Closing the job channel lets each worker finish its current
            // item and exit; joining keeps no thread behind the iterator.
            ordered.close();
            for t in threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

//! An ordered worker pool: N threads compute items by index, the consumer
//! receives them in index order, whatever the threads' timing.
//!
//! The consumer hands out job indices itself, at most `window` ahead of the
//! next index it needs, so memory stays bounded even when one item is slow
//! (a large case) and the other threads would otherwise run far ahead.

use crate::DataError;
use crossbeam_channel::{Receiver, Sender};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

type Outcome<T> = (usize, Result<T, DataError>);

/// The consumer side of the pool.
pub(crate) struct Ordered<T> {
    jobs: Option<Sender<usize>>,
    /// A receiving end of the job queue, used only to take back the jobs
    /// not started yet when the pool closes.
    unstarted: Receiver<usize>,
    results: Receiver<Outcome<T>>,
    pending: BTreeMap<usize, Result<T, DataError>>,
    next: usize,
    issued: usize,
    total: usize,
    window: usize,
}

/// What each worker thread needs: where to take job indices from and where
/// to put results.
pub(crate) struct WorkerEnds<T> {
    pub jobs: Receiver<usize>,
    pub results: Sender<Outcome<T>>,
}

impl<T> Clone for WorkerEnds<T> {
    fn clone(&self) -> Self {
        WorkerEnds {
            jobs: self.jobs.clone(),
            results: self.results.clone(),
        }
    }
}

impl<T> Ordered<T> {
    /// A pool for `total` items with at most `window` (at least 1) items
    /// handed out but not yet consumed. Spawn the workers with the returned
    /// ends and [`work`].
    pub fn new(total: usize, window: usize) -> (Ordered<T>, WorkerEnds<T>) {
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        let (res_tx, res_rx) = crossbeam_channel::unbounded();
        let ordered = Ordered {
            jobs: Some(jobs_tx),
            unstarted: jobs_rx.clone(),
            results: res_rx,
            pending: BTreeMap::new(),
            next: 0,
            issued: 0,
            total,
            window: window.max(1),
        };
        (
            ordered,
            WorkerEnds {
                jobs: jobs_rx,
                results: res_tx,
            },
        )
    }

    /// The next item in index order with its index, or `None` after the last.
    pub fn next(&mut self) -> Option<(usize, Result<T, DataError>)> {
        if self.next >= self.total {
            self.close();
            return None;
        }
        if let Some(jobs) = &self.jobs {
            while self.issued < self.total && self.issued < self.next + self.window {
                if jobs.send(self.issued).is_err() {
                    break;
                }
                self.issued += 1;
            }
        }
        loop {
            if let Some(item) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some((self.next - 1, item));
            }
            match self.results.recv() {
                Ok((i, item)) => {
                    self.pending.insert(i, item);
                }
                Err(_) => {
                    // Every worker is gone: report once and end.
                    let i = self.next;
                    self.next = self.total;
                    self.close();
                    return Some((
                        i,
                        Err(DataError::Worker {
                            reason: "every worker thread has stopped".to_string(),
                        }),
                    ));
                }
            }
        }
    }

    /// Stops handing out jobs and withdraws the ones not started; workers
    /// end after their current item.
    pub fn close(&mut self) {
        self.jobs = None;
        while self.unstarted.try_recv().is_ok() {}
    }
}

/// A worker's loop: computes `f(index)` for each job until the consumer
/// closes the pool. A panic becomes an error item, so the consumer never
/// waits for an index that will not come.
pub(crate) fn work<T, F>(ends: WorkerEnds<T>, f: F)
where
    F: Fn(usize) -> Result<T, DataError>,
{
    while let Ok(i) = ends.jobs.recv() {
        let out = catch_unwind(AssertUnwindSafe(|| f(i))).unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a worker panicked".to_string());
            Err(DataError::Worker { reason })
        });
        if ends.results.send((i, out)).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_whatever_the_timing() {
        let (mut pool, ends) = Ordered::<usize>::new(50, 4);
        std::thread::scope(|s| {
            for w in 0..3 {
                let ends = ends.clone();
                s.spawn(move || {
                    work(ends, |i| {
                        // Uneven work so that the threads finish out of order.
                        std::thread::sleep(std::time::Duration::from_micros(
                            ((i * 7 + w) % 5) as u64 * 200,
                        ));
                        if i == 13 {
                            panic!("boom");
                        }
                        Ok(i * 2)
                    })
                });
            }
            drop(ends);
            let mut seen = Vec::new();
            while let Some((i, r)) = pool.next() {
                match r {
                    Ok(v) => assert_eq!(v, i * 2),
                    Err(e) => assert!(i == 13 && e.to_string().contains("boom"), "{e}"),
                }
                seen.push(i);
            }
            assert_eq!(seen, (0..50).collect::<Vec<_>>());
        });
    }
}

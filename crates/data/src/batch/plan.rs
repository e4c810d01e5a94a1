//! One item of the stream: a case (or, unpaired, one case per group)
//! loaded and augmented with a seed derived from its position.

use crate::collection::DataCollection;
use crate::seed::{derive, ITEM};
use crate::DataError;
use deepneuro_augment::{Augmentation, Sample};
use ndarray::Array4;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One row: per group, the case id and its `[c, x, y, z]` array.
pub(super) type Row = BTreeMap<String, (String, Array4<f32>)>;

/// What the workers share.
pub(super) struct Plan {
    pub collection: Arc<DataCollection>,
    pub augment: Option<Arc<dyn Augmentation>>,
    /// `orders[e][g][k]`: the case of item `k` of epoch `e` for group `g`
    /// (one order, index 0, when paired).
    pub orders: Vec<Vec<Vec<usize>>>,
    pub seed: u64,
}

impl Plan {
    pub(super) fn item(&self, j: usize) -> Result<Vec<Row>, DataError> {
        let n = self.collection.len();
        let (e, k) = (j / n, j % n);
        let order = &self.orders[e];
        let names: Vec<&str> = self
            .collection
            .groups()
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        if order.len() == 1 {
            let all: Vec<usize> = (0..names.len()).collect();
            let sample = self.collection.load_groups(order[0][k], &all)?;
            let outs = self.augment(sample, derive(self.seed, &[ITEM, e as u64, k as u64]))?;
            return outs.into_iter().map(|s| to_row(s, &names)).collect();
        }
        let mut per_group: Vec<Vec<Row>> = Vec::with_capacity(names.len());
        for (g, name) in names.iter().enumerate() {
            let sample = self.collection.load_groups(order[g][k], &[g])?;
            let seed = derive(self.seed, &[ITEM, e as u64, k as u64, g as u64]);
            let outs = self.augment(sample, seed)?;
            per_group.push(
                outs.into_iter()
                    .map(|s| to_row(s, &[name]))
                    .collect::<Result<_, _>>()?,
            );
        }
        let counts: Vec<usize> = per_group.iter().map(|v| v.len()).collect();
        if counts.iter().any(|&c| c != counts[0]) {
            return Err(DataError::BadOption {
                name: "augmentation",
                reason: format!(
                    "unpaired groups yield different sample counts {counts:?} for item {k} of epoch {e}"
                ),
            });
        }
        let mut rows: Vec<Row> = vec![Row::new(); counts[0]];
        for group_rows in per_group {
            for (row, part) in rows.iter_mut().zip(group_rows) {
                row.extend(part);
            }
        }
        Ok(rows)
    }

    fn augment(&self, sample: Sample, seed: u64) -> Result<Vec<Sample>, DataError> {
        match &self.augment {
            None => Ok(vec![sample]),
            Some(aug) => {
                let case = sample.case.clone();
                let mut rng = deepneuro_augment::rng(seed);
                aug.apply(sample, &mut rng)
                    .map_err(|source| DataError::Augment {
                        case,
                        source: Box::new(source),
                    })
            }
        }
    }
}

/// The groups `names` of an augmented sample, each made C-contiguous here
/// on the worker thread so that the consumer only copies whole blocks.
fn to_row(mut s: Sample, names: &[&str]) -> Result<Row, DataError> {
    let mut row = Row::new();
    for &name in names {
        let arr = s.groups.remove(name).ok_or_else(|| DataError::BadOption {
            name: "augmentation",
            reason: format!("case {}: the augmentation dropped group {name}", s.case),
        })?;
        let arr = if arr.is_standard_layout() {
            arr
        } else {
            arr.as_standard_layout().into_owned()
        };
        row.insert(name.to_string(), (s.case.clone(), arr));
    }
    Ok(row)
}

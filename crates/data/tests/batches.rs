//! Seeded batches with prefetch threads: determinism, epochs, pairing,
//! patches.

mod common;

use common::{brats, phantoms, GOOD};
use deepneuro_augment::Augmentation;
use deepneuro_data::{Batch, BatchOptions, Batches, CollectionOptions, DataCollection, Pairing};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

fn collection() -> Arc<DataCollection> {
    static C: OnceLock<Arc<DataCollection>> = OnceLock::new();
    C.get_or_init(|| {
        Arc::new(
            DataCollection::from_folder(phantoms(), &brats(), &CollectionOptions::default())
                .unwrap(),
        )
    })
    .clone()
}

fn run(opts: &BatchOptions, aug: Option<&str>) -> Vec<Batch> {
    let aug = aug.map(|s| Arc::new(deepneuro_augment::parse(s).unwrap()) as Arc<dyn Augmentation>);
    Batches::new(collection(), aug, opts)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .expect("batches")
}

fn ids(batches: &[Batch], group: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.case_ids[group].clone())
        .collect()
}

const AUG: &str = "patches(size=24x24x24,count=2,label=ground_truth,label_fraction=0.5); \
                   flip(axes=0,p=0.5); scale(min=0.9,max=1.1,groups=input); shift(min=-0.1,max=0.1,groups=input)";

#[test]
fn same_seed_same_batches_with_any_worker_count() {
    let base = BatchOptions {
        batch_size: 3,
        seed: 42,
        epochs: 2,
        workers: 4,
        prefetch: 6,
        ..BatchOptions::default()
    };
    let a = run(&base, Some(AUG));
    let b = run(&base, Some(AUG));
    let inline = run(
        &BatchOptions {
            workers: 0,
            ..base.clone()
        },
        Some(AUG),
    );
    // 4 cases x 2 patches = 8 rows per epoch: batches of 3, 3, 2 per epoch.
    let sizes: Vec<usize> = a.iter().map(|b| b.len()).collect();
    assert_eq!(sizes, [3, 3, 2, 3, 3, 2]);
    for other in [&b, &inline] {
        assert_eq!(a.len(), other.len());
        for (x, y) in a.iter().zip(other.iter()) {
            assert_eq!(x.case_ids, y.case_ids);
            assert_eq!(x.epoch, y.epoch);
            assert_eq!(x.groups, y.groups, "batch contents differ for one seed");
        }
    }
    let input = &a[0].groups["input"];
    assert_eq!(input.shape(), [3, 4, 24, 24, 24]);
    assert!(input.is_standard_layout());
    assert_eq!(a[0].groups["ground_truth"].shape(), [3, 1, 24, 24, 24]);
    // Paired: every group's row comes from the same case.
    assert_eq!(ids(&a, "input"), ids(&a, "ground_truth"));

    let c = run(
        &BatchOptions {
            seed: 43,
            ..base.clone()
        },
        Some(AUG),
    );
    assert_ne!(
        ids(&a, "input"),
        ids(&c, "input"),
        "another seed should change the order"
    );
}

#[test]
fn every_case_once_per_epoch_when_paired() {
    let opts = BatchOptions {
        batch_size: 3,
        seed: 5,
        epochs: 3,
        workers: 2,
        ..BatchOptions::default()
    };
    let batches = run(&opts, None);
    let sizes: Vec<usize> = batches.iter().map(|b| b.len()).collect();
    assert_eq!(sizes, [3, 1, 3, 1, 3, 1]);
    let mut orders = Vec::new();
    for epoch in 0..3 {
        let seen: Vec<String> = batches
            .iter()
            .filter(|b| b.epoch == epoch)
            .flat_map(|b| b.case_ids["input"].clone())
            .collect();
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, GOOD, "epoch {epoch}");
        orders.push(seen);
    }
    assert!(
        orders[0] != orders[1] || orders[1] != orders[2],
        "epochs should reshuffle"
    );
    // Whole cases come through unchanged.
    assert_eq!(batches[0].groups["input"].shape(), [3, 4, 80, 96, 80]);
    let first = &batches[0].case_ids["input"][0];
    let i = GOOD.iter().position(|c| c == first).unwrap();
    let direct = collection().load(i).unwrap();
    assert_eq!(
        batches[0].groups["ground_truth"].index_axis(ndarray::Axis(0), 0),
        direct.groups["ground_truth"]
    );

    let dropped = run(
        &BatchOptions {
            drop_last: true,
            ..opts.clone()
        },
        None,
    );
    assert_eq!(
        dropped.iter().map(|b| b.len()).collect::<Vec<_>>(),
        [3, 3, 3]
    );
    let unshuffled = run(
        &BatchOptions {
            shuffle: false,
            epochs: 1,
            ..opts
        },
        None,
    );
    assert_eq!(ids(&unshuffled, "input"), GOOD);
}

#[test]
fn unpaired_groups_are_drawn_independently() {
    let opts = BatchOptions {
        batch_size: 2,
        seed: 9,
        epochs: 4,
        workers: 3,
        pairing: Pairing::Unpaired,
        ..BatchOptions::default()
    };
    let batches = run(&opts, Some("patches(size=16x16x16,count=1)"));
    let input = ids(&batches, "input");
    let gt = ids(&batches, "ground_truth");
    assert_eq!(input.len(), 16);
    // Each group still sees every case once per epoch...
    for chunk in input.chunks(4).chain(gt.chunks(4)) {
        let set: BTreeSet<&str> = chunk.iter().map(|s| s.split('#').next().unwrap()).collect();
        assert_eq!(set.len(), 4, "{chunk:?}");
    }
    // ...but rows pair different cases.
    let mismatched = input
        .iter()
        .zip(&gt)
        .filter(|(a, b)| a.split('#').next() != b.split('#').next())
        .count();
    assert!(
        mismatched >= 4,
        "only {mismatched} of 16 rows pair different cases"
    );
    // And the draw is still a function of the seed.
    let again = run(&opts, Some("patches(size=16x16x16,count=1)"));
    assert_eq!(ids(&again, "ground_truth"), gt);
    assert_eq!(again[3].groups, batches[3].groups);
}

#[test]
fn dropping_the_iterator_early_stops_the_workers() {
    let opts = BatchOptions {
        batch_size: 1,
        epochs: 50,
        workers: 2,
        ..BatchOptions::default()
    };
    let mut it = Batches::new(collection(), None, &opts).unwrap();
    assert_eq!(it.items_per_epoch(), 4);
    assert!(it.next().unwrap().is_ok());
    // Dropping joins the workers after their current item, not 200 items.
    drop(it);
    let bad = BatchOptions {
        batch_size: 0,
        ..BatchOptions::default()
    };
    assert!(Batches::new(collection(), None, &bad).is_err());
}

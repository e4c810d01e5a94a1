use crate::Ornt;
use thiserror::Error;

/// Errors raised when a volume is built or transformed with inconsistent geometry.
#[derive(Debug, Error)]
pub enum VolumeError {
    #[error("data has {len} elements but shape {shape:?} needs {expected}")]
    DataLength {
        shape: [usize; 4],
        len: usize,
        expected: usize,
    },
    #[error("affine is not finite or its last row is not [0, 0, 0, 1]: {0:?}")]
    BadAffine(Box<[[f64; 4]; 4]>),
    #[error("shape {0:?} has a zero-length axis")]
    EmptyShape([usize; 4]),
    #[error("orientation {0:?} is not a permutation of the three spatial axes")]
    BadOrientation(Ornt),
}

//! The crate's error type: one line each, naming the case, group or spec.

/// Why an augmentation could not be parsed or applied.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// The command-line form or a configuration value is invalid.
    #[error("bad augmentation spec {spec:?}: {reason}")]
    BadSpec {
        /// The offending op (or field) as written.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A group the augmentation needs is not in the sample.
    #[error("case {case:?}: group {group:?} is missing")]
    GroupMissing {
        /// The case name.
        case: String,
        /// The missing group.
        group: String,
    },
    /// Groups that must share a grid have different spatial shapes.
    #[error("case {case:?}: groups have different spatial shapes: {shapes}")]
    ShapeMismatch {
        /// The case name.
        case: String,
        /// Each group with its `[x, y, z]` shape.
        shapes: String,
    },
    /// A patch does not fit in the volume and padding is off.
    #[error(
        "case {case:?}: patch size {patch:?} is larger than the volume {shape:?} (use pad=true to pad)"
    )]
    PatchTooLarge {
        /// The case name.
        case: String,
        /// The patch size `[x, y, z]`.
        patch: [usize; 3],
        /// The volume's spatial shape `[x, y, z]`.
        shape: [usize; 3],
    },
    /// No voxel satisfies a patch-centre criterion.
    #[error("case {case:?}: no voxel can centre a patch for the criterion {criterion}")]
    NoCandidate {
        /// The case name.
        case: String,
        /// The criterion, e.g. `label ground_truth`.
        criterion: String,
    },
    /// The sample cannot take this augmentation (e.g. groups would end on different grids).
    #[error("case {case:?}: {reason}")]
    Unsupported {
        /// The case name.
        case: String,
        /// Why.
        reason: String,
    },
}

impl AugmentError {
    /// A [`AugmentError::BadSpec`] for a configuration value.
    pub(crate) fn spec(spec: impl Into<String>, reason: impl Into<String>) -> Self {
        AugmentError::BadSpec {
            spec: spec.into(),
            reason: reason.into(),
        }
    }
}

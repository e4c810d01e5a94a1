//! Which NRRD axes are spatial, and the RAS voxel-to-world affine they
//! define; and, for writing, the LPS directions and origin of an affine.
//!
//! NRRD lists axes fastest first. Up to three of them are spatial; at most
//! one other axis (a `list`, `vector`, time or colour axis) becomes the
//! channel axis of the [`Volume`](deepneuro_volume::Volume). The spatial
//! axes keep their file order as x, y, z, so a 2D image gets z of length 1.

use super::header::{Header, Space};
use super::Fail;
use deepneuro_volume::Affine;
use nalgebra::Vector3;

/// How the file's axes map onto a volume.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// File axes that are x, y (and z), in file order.
    pub spatial: Vec<usize>,
    /// The file axis that is the channel axis, if there is one.
    pub channel: Option<usize>,
    /// `[channel, x, y, z]`.
    pub shape: [usize; 4],
    pub affine: Affine,
}

/// Kinds that name a spatial (domain) axis.
fn kind_is_spatial(kind: &str) -> Option<bool> {
    match kind {
        "domain" | "space" => Some(true),
        // Kinds that say nothing either way.
        "???" | "none" | "" => None,
        // Every other kind (list, vector, time, RGB-color, 3D-matrix, ...)
        // describes the values at a place, not a place.
        _ => Some(false),
    }
}

/// Decides, per axis, whether it is spatial. Space directions decide when
/// present (`none` marks a non-spatial axis); otherwise kinds, then NaN
/// spacings; an axis still undecided is spatial unless that would make
/// four spatial axes, when the last undecided one becomes the channel axis,
/// as NIfTI's fourth dimension does.
fn classify(h: &Header) -> Result<(Vec<usize>, Option<usize>), Fail> {
    let n = h.sizes.len();
    let mut flags: Vec<Option<bool>> = match &h.space_directions {
        Some(dirs) => dirs.iter().map(|d| Some(d.is_some())).collect(),
        None => (0..n)
            .map(|a| {
                let by_kind = h.kinds.as_ref().and_then(|k| kind_is_spatial(&k[a]));
                let by_spacing = h.spacings.as_ref().map(|s| !s[a].is_nan());
                by_kind.or(by_spacing)
            })
            .collect(),
    };
    let spatial_or_open = flags.iter().filter(|f| **f != Some(false)).count();
    if spatial_or_open > 3 {
        if let Some(last_open) = flags.iter().rposition(|f| f.is_none()) {
            flags[last_open] = Some(false);
        }
    }
    let spatial: Vec<usize> = (0..n).filter(|&a| flags[a] != Some(false)).collect();
    let other: Vec<usize> = (0..n).filter(|&a| flags[a] == Some(false)).collect();
    let dims = || h.sizes.iter().map(|&s| s as i64).collect::<Vec<_>>();
    if other.len() > 1 {
        return Err(Fail::Dims(
            dims(),
            format!("axes {other:?} are all non-spatial; at most one channel axis is supported"),
        ));
    }
    if !(2..=3).contains(&spatial.len()) {
        return Err(Fail::Dims(
            dims(),
            format!("{} spatial axes; 2 or 3 are supported", spatial.len()),
        ));
    }
    Ok((spatial, other.first().copied()))
}

/// Works out the layout and the RAS affine of a parsed header.
pub fn layout(h: &Header) -> Result<Layout, Fail> {
    let (spatial, channel) = classify(h)?;
    let mut shape = [1usize; 4];
    if let Some(c) = channel {
        shape[0] = h.sizes[c];
    }
    for (i, &a) in spatial.iter().enumerate() {
        shape[i + 1] = h.sizes[a];
    }
    // Columns in the file's own space first.
    let mut cols: Vec<Vector3<f64>> = spatial
        .iter()
        .enumerate()
        .map(|(i, &a)| match &h.space_directions {
            // `classify` kept only axes whose direction is a vector.
            Some(dirs) => dirs[a].map(Vector3::from).unwrap_or_else(Vector3::zeros),
            None => {
                let s = h.spacings.as_ref().map_or(1.0, |s| s[a]);
                let s = if s.is_finite() { s } else { 1.0 };
                let mut v = Vector3::zeros();
                v[i] = s;
                v
            }
        })
        .collect();
    let mut origin = Vector3::from(h.space_origin.unwrap_or([0.0; 3]));
    // LPS and LAS differ from RAS by the sign of their first one or two
    // world axes.
    let flip = match h.space {
        Space::Lps => [-1.0, -1.0, 1.0],
        Space::Las => [-1.0, 1.0, 1.0],
        Space::Ras => [1.0, 1.0, 1.0],
    };
    for v in cols.iter_mut().chain(std::iter::once(&mut origin)) {
        for r in 0..3 {
            v[r] *= flip[r];
        }
    }
    if cols.len() == 2 {
        // A 2D image has no third direction; the unit normal of its plane
        // (right-handed in RAS) keeps the affine invertible.
        let normal = cols[0].cross(&cols[1]);
        let norm = normal.norm();
        cols.push(if norm > 0.0 && norm.is_finite() {
            normal / norm
        } else {
            Vector3::new(0.0, 0.0, 1.0)
        });
    }
    let mut affine = Affine::identity();
    for (j, col) in cols.iter().enumerate() {
        for r in 0..3 {
            affine[(r, j)] = col[r];
        }
    }
    for r in 0..3 {
        affine[(r, 3)] = origin[r];
    }
    if affine.iter().any(|v| !v.is_finite()) {
        return Err(Fail::bad(
            "space directions or origin are not finite".into(),
        ));
    }
    Ok(Layout {
        spatial,
        channel,
        shape,
        affine,
    })
}

/// The LPS space directions (one per voxel axis) and origin of a RAS affine.
pub fn lps_geometry(affine: &Affine) -> ([[f64; 3]; 3], [f64; 3]) {
    let flip = [-1.0, -1.0, 1.0];
    let dirs = [0, 1, 2].map(|j| [0, 1, 2].map(|r| flip[r] * affine[(r, j)]));
    let origin = [0, 1, 2].map(|r| flip[r] * affine[(r, 3)]);
    (dirs, origin)
}

#[cfg(test)]
mod tests {
    use super::super::header::parse;
    use super::*;

    fn header(extra: &str, dim: usize, sizes: &str) -> Header {
        let text = format!(
            "NRRD0004\ntype: uchar\ndimension: {dim}\nsizes: {sizes}\nencoding: raw\n{extra}\n"
        );
        parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn lps_flips_first_two_rows() {
        let h = header(
            "space: left-posterior-superior\nspace directions: (2,0,0) (0,3,0) (0,0,4)\n\
             space origin: (10,20,30)\n",
            3,
            "2 3 4",
        );
        let l = layout(&h).unwrap();
        assert_eq!(l.shape, [1, 2, 3, 4]);
        assert_eq!(l.affine[(0, 0)], -2.0);
        assert_eq!(l.affine[(1, 1)], -3.0);
        assert_eq!(l.affine[(2, 2)], 4.0);
        assert_eq!(l.affine[(0, 3)], -10.0);
        assert_eq!(l.affine[(1, 3)], -20.0);
        assert_eq!(l.affine[(2, 3)], 30.0);
    }

    #[test]
    fn vector_axis_first_is_channel() {
        let h = header(
            "space: RAS\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\n",
            4,
            "3 5 6 7",
        );
        let l = layout(&h).unwrap();
        assert_eq!(l.channel, Some(0));
        assert_eq!(l.spatial, vec![1, 2, 3]);
        assert_eq!(l.shape, [3, 5, 6, 7]);
    }

    #[test]
    fn no_geometry_fourth_axis_is_channel() {
        let h = header("", 4, "5 6 7 2");
        let l = layout(&h).unwrap();
        assert_eq!(l.channel, Some(3));
        assert_eq!(l.shape, [2, 5, 6, 7]);
    }

    #[test]
    fn two_channel_axes_rejected() {
        let h = header("kinds: list domain domain list\n", 4, "2 5 6 2");
        assert!(matches!(layout(&h), Err(Fail::Dims(..))));
    }
}

//! The ops of the command-line form: one builder per op name, and the
//! merging of adjacent rotations.

use crate::parse::{bad, count, Args, Op};
use crate::{
    AugmentError, ChannelDropout, Downsample, Flip, Groups, Patches, Rotate, Rotate90, Scale,
    Shift, ShiftUnits,
};

pub(crate) fn parse_op(text: &str) -> Result<Op, AugmentError> {
    let (name, inner) = match text.find('(') {
        Some(i) => {
            let Some(inner) = text[i + 1..].strip_suffix(')') else {
                return Err(bad(text, "missing ')' at the end".into()));
            };
            if inner.contains(['(', ')']) {
                return Err(bad(text, "unbalanced parentheses".into()));
            }
            (text[..i].trim(), inner)
        }
        None if text.contains(')') => return Err(bad(text, "unbalanced parentheses".into())),
        None => (text, ""),
    };
    const COMMON: [&str; 2] = ["groups", "p"];
    let keys = |extra: &[&'static str]| -> Vec<&'static str> {
        COMMON.iter().chain(extra).copied().collect()
    };
    let op: Op = match name {
        "flip" => {
            let a = Args::new(text, name, inner, &keys(&["axes"]))?;
            Op::Other(Box::new(Flip {
                axes: a.axes("axes", &[0])?,
                p: a.probability(0.5)?,
                groups: a.groups()?,
            }))
        }
        "rotate90" => {
            let a = Args::new(text, name, inner, &keys(&["axes", "k"]))?;
            let k = match a.get("k") {
                None => None,
                Some(v) => Some(
                    v.parse::<i64>()
                        .map_err(|_| bad(text, format!("bad whole number {v:?} for k")))?,
                ),
            };
            Op::Other(Box::new(Rotate90 {
                axes: a.plane("axes")?,
                k,
                p: a.probability(1.0)?,
                groups: a.groups()?,
            }))
        }
        "rotate" => Op::Rotate(rotate(text, name, inner, &keys(&["degrees", "angle", "axes", "order", "cval", "nearest"]))?),
        "scale" | "shift" => {
            let extra: &[&str] = if name == "shift" {
                &["min", "max", "per_channel", "units"]
            } else {
                &["min", "max", "per_channel"]
            };
            let a = Args::new(text, name, inner, &keys(extra))?;
            let (dmin, dmax) = if name == "shift" { (-0.1, 0.1) } else { (0.9, 1.1) };
            let (min, max) = (a.f64("min", dmin)?, a.f64("max", dmax)?);
            if min > max {
                return Err(bad(text, format!("min={min} is larger than max={max}")));
            }
            let (per_channel, groups, p) = (a.bool("per_channel", false)?, a.groups()?, a.probability(1.0)?);
            if name == "scale" {
                Op::Other(Box::new(Scale { min, max, per_channel, groups, p }))
            } else {
                let units = match a.get("units") {
                    None | Some("std") => ShiftUnits::Std,
                    Some("absolute") => ShiftUnits::Absolute,
                    Some(v) => return Err(bad(text, format!("bad units {v:?} (std or absolute)"))),
                };
                Op::Other(Box::new(Shift { min, max, units, per_channel, groups, p }))
            }
        }
        "patches" => Op::Other(Box::new(patches(text, name, inner)?)),
        "channel_dropout" => {
            let a = Args::new(text, name, inner, &keys(&["value", "channel"]))?;
            let channel = a.get("channel").map(|v| count(text, "channel", v)).transpose()?;
            Op::Other(Box::new(ChannelDropout {
                p: a.probability(0.5)?,
                value: a.f64("value", 0.0)? as f32,
                channel,
                groups: a.groups()?,
            }))
        }
        "downsample" => {
            let a = Args::new(text, name, inner, &keys(&["factor", "axes", "upsample"]))?;
            let factor = a.usize("factor", 2)?;
            if factor == 0 {
                return Err(bad(text, "factor=0 must be at least 1".into()));
            }
            Op::Other(Box::new(Downsample {
                factor,
                axes: a.axes("axes", &[2])?,
                upsample: a.bool("upsample", false)?,
                p: a.probability(1.0)?,
                groups: a.groups()?,
            }))
        }
        "" => return Err(bad(text, "missing op name".into())),
        other => {
            return Err(bad(
                text,
                format!("unknown op {other:?} (flip, rotate90, rotate, scale, shift, patches, channel_dropout, downsample)"),
            ))
        }
    };
    Ok(op)
}

fn rotate(text: &str, name: &str, inner: &str, known: &[&str]) -> Result<Rotate, AugmentError> {
    let a = Args::new(text, name, inner, known)?;
    let degrees = a.f64("degrees", 15.0)?;
    if degrees < 0.0 {
        return Err(bad(text, format!("degrees={degrees} must be >= 0")));
    }
    let order = a.usize("order", 1)?;
    if ![0, 1, 3].contains(&order) {
        return Err(bad(text, format!("order={order} is not 0, 1 or 3")));
    }
    let group_order = a
        .list("nearest")?
        .unwrap_or_default()
        .into_iter()
        .map(|g| (g, 0))
        .collect();
    Ok(Rotate {
        degrees,
        angle: a.opt_f64("angle")?,
        axes: a.plane("axes")?,
        order,
        group_order,
        cval: a.f64("cval", 0.0)? as f32,
        p: a.probability(1.0)?,
        groups: a.groups()?,
    })
}

fn patches(text: &str, name: &str, inner: &str) -> Result<Patches, AugmentError> {
    let known = [
        "groups",
        "size",
        "count",
        "label",
        "label_fraction",
        "mask",
        "mask_fraction",
        "pad",
        "cval",
        "fallback",
        "shuffle",
    ];
    let a = Args::new(text, name, inner, &known)?;
    let size = match a.get("size") {
        None => Patches::default().size,
        Some(v) => {
            let n = v
                .split('x')
                .map(|s| count(text, "size", s.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            match n[..] {
                [c] => [c, c, c],
                [x, y] => [x, y, 1],
                [x, y, z] => [x, y, z],
                _ => return Err(bad(text, format!("size {v:?} is not N, XxY or XxYxZ"))),
            }
        }
    };
    let count_ = a.usize("count", 1)?;
    let (label_fraction, mask_fraction) =
        (a.f64("label_fraction", 0.0)?, a.f64("mask_fraction", 0.0)?);
    let label = a.get("label").map(str::to_string);
    let mask = a.get("mask").map(|m| match m {
        "nonzero" => "input".to_string(),
        m => m.strip_prefix("nonzero:").unwrap_or(m).trim().to_string(),
    });
    let patches = Patches {
        size,
        count: count_,
        label,
        label_fraction,
        mask,
        mask_fraction,
        pad: a.bool("pad", false)?,
        cval: a.f64("cval", 0.0)? as f32,
        fallback: a.bool("fallback", false)?,
        shuffle: a.bool("shuffle", false)?,
        groups: a.groups()?,
    };
    // The same checks as at apply time, reported with the op's text.
    patches.check().map_err(|e| match e {
        AugmentError::BadSpec { reason, .. } => bad(text, reason),
        other => other,
    })?;
    Ok(patches)
}

/// One rotation for two adjacent ones that differ only in their (disjoint,
/// explicit) groups and orders, so both draw the same angle.
pub(crate) fn merge_rotations(a: &Rotate, b: &Rotate) -> Option<Rotate> {
    let (Groups::Only(ga), Groups::Only(gb)) = (&a.groups, &b.groups) else {
        return None;
    };
    let sorted = |r: &Rotate| [r.axes[0].min(r.axes[1]), r.axes[0].max(r.axes[1])];
    let same = a.degrees == b.degrees
        && a.angle == b.angle
        && sorted(a) == sorted(b)
        && a.cval == b.cval
        && a.p == b.p;
    if !same || ga.iter().any(|g| gb.contains(g)) {
        return None;
    }
    let mut merged = a.clone();
    let mut groups = ga.clone();
    for (r, gs) in [(a, ga), (b, gb)] {
        for g in gs {
            let order = r.group_order.get(g).copied().unwrap_or(r.order);
            merged.group_order.insert(g.clone(), order);
        }
    }
    groups.extend(gb.iter().cloned());
    merged.groups = Groups::Only(groups);
    Some(merged)
}

//! The command-line form of a chain of augmentations (grammar in the crate docs).

use crate::parse_ops::{merge_rotations, parse_op};
use crate::{AugmentError, Augmentation, Compose, Groups, Rotate};

/// Parses the command-line form, documented in the crate docs, e.g.
/// `"flip(axes=0,p=0.5); rotate90(axes=0-1); scale(min=0.9,max=1.1,groups=input)"`.
///
/// Errors are one line, quoting the offending op and naming the problem
/// (unknown op, unknown or repeated key, bad number); parsing never panics.
pub fn parse(spec: &str) -> Result<Compose, AugmentError> {
    let mut ops: Vec<Op> = Vec::new();
    for raw in spec.split(';') {
        let text = raw.trim();
        if text.is_empty() {
            continue;
        }
        let op = parse_op(text)?;
        // Adjacent rotations of disjoint groups share one random angle.
        if let (Op::Rotate(next), Some(Op::Rotate(prev))) = (&op, ops.last_mut()) {
            if let Some(merged) = merge_rotations(prev, next) {
                *prev = merged;
                continue;
            }
        }
        ops.push(op);
    }
    Ok(Compose(
        ops.into_iter()
            .map(|op| match op {
                Op::Rotate(r) => Box::new(r) as Box<dyn Augmentation>,
                Op::Other(b) => b,
            })
            .collect(),
    ))
}

pub(crate) enum Op {
    Rotate(Rotate),
    Other(Box<dyn Augmentation>),
}

/// The `key=value` arguments of one op, checked against the keys it takes.
pub(crate) struct Args<'a> {
    op: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Args<'a> {
    pub(crate) fn new(
        op: &'a str,
        name: &str,
        inner: &'a str,
        known: &[&str],
    ) -> Result<Self, AugmentError> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if !inner.trim().is_empty() {
            for piece in inner.split(',') {
                let Some((k, v)) = piece.split_once('=') else {
                    return Err(bad(
                        op,
                        format!("argument {:?} is not key=value", piece.trim()),
                    ));
                };
                let (k, v) = (k.trim(), v.trim());
                if !known.contains(&k) {
                    return Err(bad(
                        op,
                        format!(
                            "unknown key {k:?} for {name} (it takes {})",
                            known.join(", ")
                        ),
                    ));
                }
                if pairs.iter().any(|(pk, _)| *pk == k) {
                    return Err(bad(op, format!("key {k:?} given twice")));
                }
                if v.is_empty() {
                    return Err(bad(op, format!("key {k:?} has no value")));
                }
                pairs.push((k, v));
            }
        }
        Ok(Args { op, pairs })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    pub(crate) fn f64(&self, key: &str, default: f64) -> Result<f64, AugmentError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => self.number(key, v),
        }
    }

    pub(crate) fn number(&self, key: &str, v: &str) -> Result<f64, AugmentError> {
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(bad(self.op, format!("bad number {v:?} for {key}"))),
        }
    }

    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>, AugmentError> {
        self.get(key).map(|v| self.number(key, v)).transpose()
    }

    pub(crate) fn usize(&self, key: &str, default: usize) -> Result<usize, AugmentError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => count(self.op, key, v),
        }
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool, AugmentError> {
        match self.get(key) {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(v) => Err(bad(
                self.op,
                format!("bad boolean {v:?} for {key} (true or false)"),
            )),
        }
    }

    pub(crate) fn axes(&self, key: &str, default: &[usize]) -> Result<Vec<usize>, AugmentError> {
        let Some(v) = self.get(key) else {
            return Ok(default.to_vec());
        };
        let axes = v
            .split('-')
            .map(|a| count(self.op, key, a.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(a) = axes.iter().find(|&&a| a > 2) {
            return Err(bad(
                self.op,
                format!("axis {a} in {key}={v:?} is not 0, 1 or 2"),
            ));
        }
        Ok(axes)
    }

    pub(crate) fn plane(&self, key: &str) -> Result<[usize; 2], AugmentError> {
        match self.axes(key, &[0, 1])?[..] {
            [a, b] if a != b => Ok([a, b]),
            _ => Err(bad(
                self.op,
                format!("{key} must be two different axes, e.g. {key}=0-1"),
            )),
        }
    }

    pub(crate) fn list(&self, key: &str) -> Result<Option<Vec<String>>, AugmentError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let items: Vec<String> = v.split('+').map(|s| s.trim().to_string()).collect();
        if items.iter().any(|s| s.is_empty()) {
            return Err(bad(self.op, format!("empty name in {key}={v:?}")));
        }
        Ok(Some(items))
    }

    pub(crate) fn groups(&self) -> Result<Groups, AugmentError> {
        Ok(self.list("groups")?.map_or(Groups::All, Groups::Only))
    }

    pub(crate) fn probability(&self, default: f64) -> Result<f64, AugmentError> {
        let p = self.f64("p", default)?;
        if !(0.0..=1.0).contains(&p) {
            return Err(bad(self.op, format!("p={p} is not in [0, 1]")));
        }
        Ok(p)
    }
}

pub(crate) fn bad(op: &str, reason: String) -> AugmentError {
    AugmentError::spec(op, reason)
}

pub(crate) fn count(op: &str, key: &str, v: &str) -> Result<usize, AugmentError> {
    v.parse::<usize>()
        .map_err(|_| bad(op, format!("bad whole number {v:?} for {key}")))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

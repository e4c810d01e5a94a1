//! The text header of an NRRD file: splitting it into fields, then turning
//! the fields this crate uses into typed values.
//!
//! Field names are matched without regard to case and with either spelling
//! the format allows (`data file` / `datafile`, `byte skip` / `byteskip`,
//! ...). Key/value pairs (`key:=value`) and comments (`#`) carry nothing
//! this crate needs, so they are skipped.

use super::Fail;
use deepneuro_volume::DType;

/// How the voxel bytes are stored after the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Raw,
    Gzip,
    Ascii,
}

/// The coordinate system named by the `space` field (or implied by its
/// absence), reduced to what the conversion to RAS needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Left-posterior-superior, and the spaces ITK (so 3D Slicer) reads as
    /// LPS: `scanner-xyz`, `3D-right-handed`, a bare `space dimension`, or
    /// no space at all.
    Lps,
    Ras,
    Las,
}

/// The fields of a header that this crate uses, checked and typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub dtype: DType,
    /// Per axis, fastest first, as the file lists them.
    pub sizes: Vec<usize>,
    pub encoding: Encoding,
    pub big_endian: bool,
    pub space: Space,
    /// Per axis; `None` for an axis written as `none` (not spatial).
    pub space_directions: Option<Vec<Option<[f64; 3]>>>,
    pub space_origin: Option<[f64; 3]>,
    /// Per axis, lower-case.
    pub kinds: Option<Vec<String>>,
    /// Per axis; NaN where the file wrote `nan` (a non-spatial axis).
    pub spacings: Option<Vec<f64>>,
    pub line_skip: usize,
    /// Bytes to skip before the data; -1 means "the data are the last
    /// bytes", as the format allows.
    pub byte_skip: i64,
    /// The detached data file named by `data file`, if any.
    pub data_file: Option<String>,
    /// Offset of the first byte after the blank line that ends the header;
    /// `None` when the text ends without one (a detached header may).
    pub data_offset: Option<usize>,
}

/// The raw `field: value` lines of a header, names lower-cased.
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The value of the first of `names` present.
    fn get(&self, names: &[&str]) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits the header text into fields, returning them with the offset of
/// the data (just past the blank line), if the header has one.
fn split_fields(bytes: &[u8]) -> Result<(Fields, Option<usize>), Fail> {
    let mut pos = 0usize;
    let mut line_no = 0usize;
    let mut fields: Vec<(String, String)> = Vec::new();
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| pos + i);
        let raw = &bytes[pos..end];
        let next = (end + 1).min(bytes.len());
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        line_no += 1;
        pos = next;
        if line_no == 1 {
            check_magic(raw)?;
            continue;
        }
        if raw.first() == Some(&b'#') {
            continue;
        }
        let line = std::str::from_utf8(raw)
            .map_err(|_| Fail::bad(format!("header line {line_no} is not ASCII text")))?;
        // Trailing white space is not part of a value, and a line of only
        // white space ends the header as an empty one does.
        let line = line.trim_end();
        if line.is_empty() {
            return Ok((Fields(fields), Some(next)));
        }
        let Some(colon) = line.find(':') else {
            return Err(Fail::bad(format!(
                "header line {line_no} is neither a field nor a comment: {line:?}"
            )));
        };
        if line[colon + 1..].starts_with('=') {
            continue; // A key/value pair: free-form metadata.
        }
        let name = line[..colon].trim().to_ascii_lowercase();
        let value = line[colon + 1..].trim().to_string();
        if fields.iter().any(|(k, _)| *k == name) {
            return Err(Fail::bad(format!("field {name:?} appears twice")));
        }
        fields.push((name, value));
    }
    Ok((Fields(fields), None))
}

fn check_magic(line: &[u8]) -> Result<(), Fail> {
    let ok = line.len() == 8
        && line.starts_with(b"NRRD")
        && line[4..].iter().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Fail::bad(
            "the file does not start with the NRRD magic line (NRRD000x)".into(),
        ))
    }
}

/// The element type of a `type` value, in any spelling NRRD or teem accept.
pub fn parse_type(value: &str) -> Result<DType, Fail> {
    let norm: String = value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    Ok(match norm.as_str() {
        "signed char" | "int8" | "int8_t" => DType::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => DType::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
            DType::I16
        }
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => DType::U16,
        "int" | "signed int" | "int32" | "int32_t" => DType::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => DType::U32,
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t" => DType::I64,
        "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => {
            DType::U64
        }
        "float" => DType::F32,
        "double" => DType::F64,
        _ => return Err(Fail::Datatype(format!("NRRD type {value:?}"))),
    })
}

fn parse_encoding(value: &str) -> Result<Encoding, Fail> {
    match value.to_ascii_lowercase().as_str() {
        "raw" => Ok(Encoding::Raw),
        "gzip" | "gz" => Ok(Encoding::Gzip),
        "ascii" | "text" | "txt" => Ok(Encoding::Ascii),
        other => Err(Fail::bad(format!(
            "encoding {other:?} is not supported (raw, gzip and ascii are)"
        ))),
    }
}

/// The space and its dimension (the length of direction vectors).
fn parse_space(fields: &Fields) -> Result<(Space, usize), Fail> {
    let dim_field = match fields.get(&["space dimension"]) {
        Some(v) => Some(parse_int(v, "space dimension")?),
        None => None,
    };
    let Some(name) = fields.get(&["space"]) else {
        return match dim_field {
            None | Some(3) => Ok((Space::Lps, 3)),
            Some(2) => Ok((Space::Lps, 2)),
            Some(n) => Err(Fail::bad(format!(
                "space dimension {n} is not supported (2 or 3 are)"
            ))),
        };
    };
    let space = match name.to_ascii_lowercase().as_str() {
        "left-posterior-superior" | "lps" => Space::Lps,
        "right-anterior-superior" | "ras" => Space::Ras,
        "left-anterior-superior" | "las" => Space::Las,
        // ITK, and through it 3D Slicer, leave coordinates in these spaces
        // untouched in their LPS world; reading them the same way puts
        // every voxel where those viewers show it.
        "scanner-xyz" | "3d-right-handed" => Space::Lps,
        other => {
            return Err(Fail::bad(format!(
                "space {other:?} is not supported (LPS, RAS, LAS, scanner-xyz and \
                 3D-right-handed are; time spaces and left-handed spaces are not)"
            )))
        }
    };
    if let Some(n) = dim_field {
        if n != 3 {
            return Err(Fail::bad(format!(
                "space {name:?} is three-dimensional but space dimension is {n}"
            )));
        }
    }
    Ok((space, 3))
}

fn parse_int(value: &str, what: &str) -> Result<i64, Fail> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| Fail::bad(format!("{what} {value:?} is not an integer")))
}

fn parse_float(token: &str, what: &str) -> Result<f64, Fail> {
    token
        .trim()
        .parse::<f64>()
        .map_err(|_| Fail::bad(format!("{what}: {token:?} is not a number")))
}

/// One `(a,b,c)` vector of `n` components, padded with zeros to three.
fn parse_vector(text: &str, n: usize, what: &str) -> Result<[f64; 3], Fail> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| Fail::bad(format!("{what}: {text:?} is not a vector (x,y,z)")))?;
    let parts: Vec<&str> = inner.split(',').collect();
    if parts.len() != n {
        return Err(Fail::bad(format!(
            "{what}: {text:?} has {} components, the space has {n}",
            parts.len()
        )));
    }
    let mut v = [0.0; 3];
    for (slot, part) in v.iter_mut().zip(&parts) {
        *slot = parse_float(part, what)?;
        if !slot.is_finite() {
            return Err(Fail::bad(format!("{what}: {text:?} is not finite")));
        }
    }
    Ok(v)
}

/// A list of vectors and `none`s, e.g. `none (1,0,0) (0, 1, 0)`. Vectors
/// may hold spaces, so the text is scanned rather than split.
fn parse_vector_list(text: &str, n: usize, what: &str) -> Result<Vec<Option<[f64; 3]>>, Fail> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('(') {
            let close = rest
                .find(')')
                .ok_or_else(|| Fail::bad(format!("{what}: unclosed '(' in {text:?}")))?;
            out.push(Some(parse_vector(&rest[..=close], n, what)?));
            rest = &rest[close + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            if !word.eq_ignore_ascii_case("none") {
                return Err(Fail::bad(format!(
                    "{what}: {word:?} is neither a vector nor none"
                )));
            }
            out.push(None);
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

/// Checks that a per-axis field lists one entry per axis.
fn per_axis<T>(values: Vec<T>, dimension: usize, what: &str) -> Result<Vec<T>, Fail> {
    if values.len() != dimension {
        return Err(Fail::bad(format!(
            "{what} lists {} axes, dimension is {dimension}",
            values.len()
        )));
    }
    Ok(values)
}

/// Parses and checks the header at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Header, Fail> {
    let (fields, data_offset) = split_fields(bytes)?;
    // Only a detached header may end without the blank line; anywhere else
    // a missing one means the file was cut short inside its header, which
    // says more than whichever field came out incomplete.
    if data_offset.is_none() && fields.get(&["data file", "datafile"]).is_none() {
        return Err(Fail::bad(
            "the header ends without the blank line that precedes the data (file cut short?)"
                .into(),
        ));
    }
    let required = |names: &[&str]| {
        fields
            .get(names)
            .ok_or_else(|| Fail::bad(format!("required field {:?} is missing", names[0])))
    };
    let dtype = parse_type(required(&["type"])?)?;
    let dim_text = required(&["dimension"])?;
    let dimension = parse_int(dim_text, "dimension")?;
    let sizes_text = required(&["sizes"])?;
    let sizes_raw: Vec<i64> = sizes_text
        .split_whitespace()
        .map(|s| parse_int(s, "sizes"))
        .collect::<Result<_, _>>()?;
    if !(2..=4).contains(&dimension) {
        return Err(Fail::Dims(
            sizes_raw,
            format!("dimension {dimension} is not supported (2, 3 or 4 are)"),
        ));
    }
    let dimension = dimension as usize;
    if sizes_raw.len() != dimension || sizes_raw.iter().any(|&s| s < 1) {
        return Err(Fail::Dims(
            sizes_raw,
            format!("sizes must be {dimension} positive integers"),
        ));
    }
    let sizes: Vec<usize> = sizes_raw.iter().map(|&s| s as usize).collect();
    if sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .is_none()
    {
        return Err(Fail::Dims(sizes_raw, "the voxel count overflows".into()));
    }
    let encoding = parse_encoding(required(&["encoding"])?)?;
    let big_endian = match fields.get(&["endian"]).map(str::to_ascii_lowercase) {
        Some(e) if e == "big" => true,
        Some(e) if e == "little" => false,
        Some(e) => return Err(Fail::bad(format!("endian {e:?} is neither little nor big"))),
        // The byte order only matters for multi-byte binary data; there
        // the format requires it rather than guessing.
        None if dtype.size() > 1 && encoding != Encoding::Ascii => {
            return Err(Fail::bad(
                "required field \"endian\" is missing for a multi-byte type".into(),
            ))
        }
        None => false,
    };
    let (space, space_dim) = parse_space(&fields)?;
    let space_directions = match fields.get(&["space directions"]) {
        Some(t) => Some(per_axis(
            parse_vector_list(t, space_dim, "space directions")?,
            dimension,
            "space directions",
        )?),
        None => None,
    };
    let space_origin = match fields.get(&["space origin"]) {
        Some(t) => Some(parse_vector(t.trim(), space_dim, "space origin")?),
        None => None,
    };
    let kinds = match fields.get(&["kinds"]) {
        Some(t) => Some(per_axis(
            t.split_whitespace().map(str::to_ascii_lowercase).collect(),
            dimension,
            "kinds",
        )?),
        None => None,
    };
    let spacings = match fields.get(&["spacings"]) {
        Some(t) => Some(per_axis(
            t.split_whitespace()
                .map(|s| parse_float(s, "spacings"))
                .collect::<Result<_, _>>()?,
            dimension,
            "spacings",
        )?),
        None => None,
    };
    let line_skip = match fields.get(&["line skip", "lineskip"]) {
        Some(t) => usize::try_from(parse_int(t, "line skip")?)
            .map_err(|_| Fail::bad("line skip is negative".into()))?,
        None => 0,
    };
    let byte_skip = match fields.get(&["byte skip", "byteskip"]) {
        Some(t) => parse_int(t, "byte skip")?,
        None => 0,
    };
    if byte_skip < -1 {
        return Err(Fail::bad(format!("byte skip {byte_skip} is below -1")));
    }
    let data_file = fields
        .get(&["data file", "datafile"])
        .map(|s| s.to_string());
    if let Some(name) = &data_file {
        let words: Vec<&str> = name.split_whitespace().collect();
        let multi = words.first() == Some(&"LIST") || (name.contains('%') && words.len() >= 4);
        if multi {
            return Err(Fail::bad(format!(
                "data split over several files ({name:?}) is not supported"
            )));
        }
    }
    Ok(Header {
        dtype,
        sizes,
        encoding,
        big_endian,
        space,
        space_directions,
        space_origin,
        kinds,
        spacings,
        line_skip,
        byte_skip,
        data_file,
        data_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "NRRD0004\n# comment\ntype: short\ndimension: 3\nsizes: 2 3 4\n\
        encoding: raw\nendian: big\nspace: RAS\n\
        space directions: (1, 0,0) (0,2,0) (0,0,3)\nspace origin: (1,2,3)\nmy key:=a: b\n\n";

    #[test]
    fn parses_fields() {
        let h = parse(BASE.as_bytes()).unwrap();
        assert_eq!(h.dtype, DType::I16);
        assert_eq!(h.sizes, vec![2, 3, 4]);
        assert!(h.big_endian);
        assert_eq!(h.space, Space::Ras);
        assert_eq!(h.space_origin, Some([1.0, 2.0, 3.0]));
        assert_eq!(h.data_offset, Some(BASE.len()));
        let dirs = h.space_directions.unwrap();
        assert_eq!(dirs[1], Some([0.0, 2.0, 0.0]));
    }

    #[test]
    fn none_directions_and_type_spellings() {
        let l = parse_vector_list("none (1,0,0)  (0, 1, 0)", 3, "d").unwrap();
        assert_eq!(l, vec![None, Some([1., 0., 0.]), Some([0., 1., 0.])]);
        assert_eq!(parse_type("unsigned  long long int").unwrap(), DType::U64);
        assert_eq!(parse_type("UCHAR").unwrap(), DType::U8);
        assert!(matches!(parse_type("block"), Err(Fail::Datatype(_))));
    }

    #[test]
    fn rejects_duplicates_and_bad_magic() {
        let dup = BASE.replace("encoding: raw\n", "encoding: raw\nencoding: raw\n");
        assert!(matches!(parse(dup.as_bytes()), Err(Fail::Bad(_))));
        assert!(matches!(parse(b"NRRX0004\n\n"), Err(Fail::Bad(_))));
    }
}

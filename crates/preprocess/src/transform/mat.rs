//! The MATLAB v4 binary transform files (`.mat`) that ITK and ANTs write.
//!
//! ITK (through vnl) writes each transform as two column vectors: one named
//! after the transform class holding its parameters, then one named `fixed`
//! holding its fixed parameters. Each vector has a 20-byte header of five
//! 32-bit integers (type, rows, columns, imaginary flag, name length), the
//! NUL-terminated name and the data. The type is the sum of a byte order
//! (0 little, 1000 big endian), a storage order (0 or 100) and a precision
//! (0 double, 10 single).

use super::Entry;

/// One vector of the file.
struct Var {
    name: String,
    data: Vec<f64>,
}

/// Reads the next vector at `*pos`; `Ok(None)` at the end of the file.
fn read_var(bytes: &[u8], pos: &mut usize) -> Result<Option<Var>, String> {
    if *pos == bytes.len() {
        return Ok(None);
    }
    let not_itk = "neither an ITK text transform file nor a MATLAB v4 .mat";
    let header = bytes.get(*pos..*pos + 20).ok_or(if *pos == 0 {
        not_itk
    } else {
        "truncated MATLAB header"
    })?;
    let word = |i: usize, big: bool| {
        let b: [u8; 4] = header[4 * i..4 * i + 4].try_into().expect("4 bytes");
        if big {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        }
    };
    // The type word itself is stored in the file's byte order: a value that
    // is not a valid v4 type read one way is read the other way.
    let valid = |t: i32| (0..=1100).contains(&t) && t % 10 == 0;
    let big = if valid(word(0, false)) {
        word(0, false) >= 1000
    } else if valid(word(0, true)) {
        true
    } else {
        return Err(not_itk.into());
    };
    let mtype = word(0, big);
    let [rows, cols, imag, namlen] = [1, 2, 3, 4].map(|i| word(i, big));
    let precision = (mtype % 100) / 10;
    let item = match precision {
        0 => 8usize,
        1 => 4,
        _ => return Err(format!("unsupported MATLAB precision code {precision}")),
    };
    if rows < 0 || cols != 1 || imag != 0 || !(1..=1024).contains(&namlen) {
        return Err(format!(
            "unsupported MATLAB variable ({rows}x{cols}, imaginary {imag}, name length {namlen}): ITK stores real column vectors"
        ));
    }
    let rows = rows as usize;
    let name_start = *pos + 20;
    let name_end = name_start + namlen as usize;
    let name_bytes = bytes.get(name_start..name_end).ok_or("truncated name")?;
    let name =
        String::from_utf8_lossy(name_bytes.split(|b| *b == 0).next().unwrap_or(&[])).into_owned();
    let data_end = rows
        .checked_mul(item)
        .and_then(|n| n.checked_add(name_end))
        .ok_or("impossible vector size")?;
    let raw = bytes
        .get(name_end..data_end)
        .ok_or_else(|| format!("{name}: truncated data"))?;
    let data = raw
        .chunks_exact(item)
        .map(|c| match (item, big) {
            (8, false) => f64::from_le_bytes(c.try_into().expect("8 bytes")),
            (8, true) => f64::from_be_bytes(c.try_into().expect("8 bytes")),
            (_, false) => f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
            (_, true) => f32::from_be_bytes(c.try_into().expect("4 bytes")) as f64,
        })
        .collect::<Vec<f64>>();
    if data.iter().any(|v| !v.is_finite()) {
        return Err(format!("{name}: non-finite values"));
    }
    *pos = data_end;
    Ok(Some(Var { name, data }))
}

/// Splits a `.mat` transform file into its transforms.
pub(super) fn mat_entries(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut pos = 0;
    let mut out = Vec::new();
    while let Some(params) = read_var(bytes, &mut pos)? {
        let fixed = read_var(bytes, &mut pos)?
            .ok_or_else(|| format!("{}: no fixed parameters follow", params.name))?;
        if fixed.name != "fixed" {
            return Err(format!(
                "{}: expected the vector `fixed` next, found {:?}",
                params.name, fixed.name
            ));
        }
        out.push(Entry {
            name: params.name,
            params: params.data,
            fixed: fixed.data,
        });
    }
    Ok(out)
}

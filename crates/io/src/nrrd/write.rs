//! NRRD writing.
//!
//! Files are always written in LPS, the space ITK and 3D Slicer use
//! natively, with little-endian data. A volume with several channels gets
//! its channel axis listed first, with kind `list` and direction `none`:
//! ITK (and so Slicer) reads only that layout as a multi-component image,
//! and Slicer writes its sequences the same way; pynrrd reads any layout.
//! This costs one interleaving pass, because volumes keep the channel as
//! their slowest axis in memory.

use super::data::{encode, fits};
use super::geometry::lps_geometry;
use crate::{gz, write_atomic, IoError};
use deepneuro_volume::{DType, Volume};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How the voxel bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    /// gzip, as pynrrd and Slicer write by default.
    #[default]
    Gzip,
    /// Uncompressed bytes: fastest to write and to read again.
    Raw,
}

/// Choices for [`write_with`]. The default writes the volume's own dtype
/// as gzip at level 1 (libdeflate's fastest, as for NIfTI).
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub encoding: Encoding,
    /// zlib compression level, 0 to 9.
    pub compression_level: u32,
    /// On-disk type; `None` keeps [`Volume::dtype`]. NRRD has no slope and
    /// intercept, so an integer type that cannot hold the values exactly
    /// (fractions, out of range, NaN) is replaced by float, and the header
    /// says so in a comment.
    pub dtype: Option<DType>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            encoding: Encoding::Gzip,
            compression_level: 1,
            dtype: None,
        }
    }
}

/// Writes `volume` with default options (attached `.nrrd` or detached
/// `.nhdr`, chosen from the name).
pub fn write(volume: &Volume, path: &Path) -> Result<(), IoError> {
    write_with(volume, path, &WriteOptions::default())
}

/// Writes `volume` to `path` through a temporary file renamed into place.
///
/// A name ending in `.nhdr` gets a detached header and a data file beside
/// it named after it (`x.nhdr` -> `x.raw.gz` or `x.raw`), written first;
/// if the header then cannot be written, the data file is removed again.
pub fn write_with(volume: &Volume, path: &Path, opts: &WriteOptions) -> Result<(), IoError> {
    let wanted = opts.dtype.unwrap_or(volume.dtype());
    let values = volume.nifti_slice();
    let dtype = if fits(&values, wanted) {
        wanted
    } else {
        DType::F32
    };
    let file_order = channel_first(&values, volume.channels());
    let mut payload = Vec::new();
    encode(&file_order, dtype, &mut payload);
    drop(file_order);
    if opts.encoding == Encoding::Gzip {
        payload = gz::compress(&payload, opts.compression_level);
    }
    let detached = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".nhdr"))
        .unwrap_or(false);
    if !detached {
        let text = header_text(volume, dtype, wanted, opts.encoding, None);
        return write_atomic(path, |w| {
            w.write_all(text.as_bytes())?;
            w.write_all(&payload)
        });
    }
    let data_path = data_file_for(path, opts.encoding);
    let data_name = data_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = header_text(volume, dtype, wanted, opts.encoding, Some(&data_name));
    write_atomic(&data_path, |w| w.write_all(&payload))?;
    let result = write_atomic(path, |w| w.write_all(text.as_bytes()));
    if result.is_err() {
        // A data file without its header is useless and would be mistaken
        // for a finished output.
        let _ = std::fs::remove_file(&data_path);
    }
    result
}

/// `x.nhdr` -> `x.raw.gz` (gzip) or `x.raw` (raw), in the same folder.
fn data_file_for(header: &Path, encoding: Encoding) -> PathBuf {
    let stem = header
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = match encoding {
        Encoding::Gzip => "raw.gz",
        Encoding::Raw => "raw",
    };
    header.with_file_name(format!("{stem}.{ext}"))
}

/// Interleaves channels so that the channel varies fastest, the file
/// order of a channel axis listed first; a single channel is unchanged.
fn channel_first(values: &[f32], channels: usize) -> std::borrow::Cow<'_, [f32]> {
    if channels <= 1 {
        return std::borrow::Cow::Borrowed(values);
    }
    let voxels = values.len() / channels;
    let mut out = Vec::with_capacity(values.len());
    for v in 0..voxels {
        out.extend((0..channels).map(|c| values[c * voxels + v]));
    }
    std::borrow::Cow::Owned(out)
}

/// teem's canonical name of each type, which every NRRD reader knows.
fn type_name(dtype: DType) -> &'static str {
    match dtype {
        DType::I8 => "signed char",
        DType::U8 => "unsigned char",
        DType::I16 => "short",
        DType::U16 => "unsigned short",
        DType::I32 => "int",
        DType::U32 => "unsigned int",
        DType::I64 => "long long int",
        DType::U64 => "unsigned long long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// Formats a vector so that it reads back to the same f64 (Rust prints
/// the shortest string that round-trips).
fn vector(v: [f64; 3]) -> String {
    format!("({},{},{})", v[0], v[1], v[2])
}

fn header_text(
    volume: &Volume,
    dtype: DType,
    wanted: DType,
    encoding: Encoding,
    data_file: Option<&str>,
) -> String {
    let [c, x, y, z] = volume.shape();
    let (dirs, origin) = lps_geometry(volume.affine());
    let multi = c > 1;
    let mut t = String::from("NRRD0004\n");
    // Writing to a String cannot fail, hence the ignored results below.
    let _ = writeln!(t, "# Written by deepneuro {}.", env!("CARGO_PKG_VERSION"));
    if dtype != wanted {
        let _ = writeln!(
            t,
            "# The values do not fit {wanted} exactly (NRRD has no scaling), so they are stored as float."
        );
    }
    let _ = writeln!(t, "type: {}", type_name(dtype));
    let _ = writeln!(t, "dimension: {}", if multi { 4 } else { 3 });
    t.push_str("space: left-posterior-superior\n");
    let dir_text = dirs.map(vector).join(" ");
    if multi {
        let _ = writeln!(t, "sizes: {c} {x} {y} {z}");
        let _ = writeln!(t, "space directions: none {dir_text}");
        t.push_str("kinds: list domain domain domain\n");
    } else {
        let _ = writeln!(t, "sizes: {x} {y} {z}");
        let _ = writeln!(t, "space directions: {dir_text}");
        t.push_str("kinds: domain domain domain\n");
    }
    if dtype.size() > 1 {
        t.push_str("endian: little\n");
    }
    let _ = writeln!(
        t,
        "encoding: {}",
        match encoding {
            Encoding::Gzip => "gzip",
            Encoding::Raw => "raw",
        }
    );
    let _ = writeln!(t, "space origin: {}", vector(origin));
    if let Some(name) = data_file {
        let _ = writeln!(t, "data file: {name}");
    }
    t.push('\n');
    t
}

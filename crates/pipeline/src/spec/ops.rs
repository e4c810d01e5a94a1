//! The table of step operations: for each op, its keys, what each key
//! holds (a value it reads or writes and that value's types, a number, a
//! choice, ...) and a line of help. Checking a spec, renaming values for a
//! sub-pipeline and the reference in pipelines/README.md all read this one
//! table, so an op's keys are declared once.

use super::Ty;

/// What one key of a step holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Key {
    /// The name of a value the step reads, of one of these types.
    Read(&'static [Ty]),
    /// A list of value names, each of one of these types.
    ReadList(&'static [Ty]),
    /// The name of the value the step writes.
    Write(Out),
    /// A number, or `"$param"`.
    Num,
    /// A whole number, or `"$param"`.
    Int,
    Bool,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A list of numbers.
    NumList,
    /// A list of whole numbers.
    IntList,
    /// A model name of `models.toml`.
    Model,
    /// A module name or spec path (the `module` op).
    Module,
    /// A table of names to names or numbers (the `module` op's mappings).
    Table,
}

/// The type of a written value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Out {
    Fixed(Ty),
    /// The type of the value named by this read key.
    SameAs(&'static str),
}

/// One key of an op: name, holder, whether required, help.
#[derive(Clone, Copy, Debug)]
pub struct KeyDef {
    pub name: &'static str,
    pub key: Key,
    pub required: bool,
    pub help: &'static str,
}

/// One step operation.
#[derive(Clone, Copy, Debug)]
pub struct OpDef {
    pub name: &'static str,
    pub help: &'static str,
    pub keys: &'static [KeyDef],
}

impl OpDef {
    pub fn key(&self, name: &str) -> Option<&KeyDef> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The key whose value an omitted `out` defaults to (the op's first
    /// read key), for ops that change a value in place.
    pub fn primary(&self) -> Option<&'static str> {
        self.keys
            .iter()
            .find(|k| matches!(k.key, Key::Read(_)))
            .map(|k| k.name)
    }
}

const fn req(name: &'static str, key: Key, help: &'static str) -> KeyDef {
    KeyDef {
        name,
        key,
        required: true,
        help,
    }
}

const fn opt(name: &'static str, key: Key, help: &'static str) -> KeyDef {
    KeyDef {
        name,
        key,
        required: false,
        help,
    }
}

use Ty::{BBox, Image, Labels, Mask, Probability, Range, Transform};

const SPATIAL: &[Ty] = &[Image, Mask, Probability, Labels];
const IMAGE: &[Ty] = &[Image];
const MASK: &[Ty] = &[Mask];

/// `out`: optional where the op changes its first read value in place.
const fn out_same(of: &'static str) -> KeyDef {
    opt(
        "out",
        Key::Write(Out::SameAs(of)),
        "name of the result (default: replace the value read)",
    )
}

const fn out_new(ty: Ty) -> KeyDef {
    req("out", Key::Write(Out::Fixed(ty)), "name of the result")
}

pub const OPS: &[OpDef] = &[
    OpDef {
        name: "first-volume",
        help: "Keep the first volume of a 4D image (with a warning).",
        keys: &[req("image", Key::Read(IMAGE), "the image"), out_same("image")],
    },
    OpDef {
        name: "reorient",
        help: "Reorient to the closest canonical RAS grid (nibabel's as_closest_canonical): axes are only permuted and flipped.",
        keys: &[req("image", Key::Read(SPATIAL), "the value"), out_same("image")],
    },
    OpDef {
        name: "nan-to-num",
        help: "Replace NaN by 0 and +-inf by the largest finite float (torch.nan_to_num).",
        keys: &[req("image", Key::Read(IMAGE), "the image"), out_same("image")],
    },
    OpDef {
        name: "resize",
        help: "Resize to the model's input shape (models.toml `shape`, `resize`) or to `shape`, nearest-exact; the affine keeps the field of view.",
        keys: &[
            req("image", Key::Read(&[Image, Probability]), "the image"),
            opt("model", Key::Model, "take the shape from this model's input"),
            opt("shape", Key::IntList, "the shape [x, y, z]"),
            out_same("image"),
        ],
    },
    OpDef {
        name: "check-structure",
        help: "Refuse an image without spatial structure (pure noise, exit 12): the mean correlation of neighbouring voxels must reach `min_correlation` (head MRIs: above 0.8; noise: about 0).",
        keys: &[
            req("image", Key::Read(IMAGE), "the image"),
            req("min_correlation", Key::Num, "the lowest acceptable correlation"),
        ],
    },
    OpDef {
        name: "percentiles",
        help: "Two percentiles of an image, for a model's percentile normalisation: the model's (models.toml) or `percentiles`.",
        keys: &[
            req("image", Key::Read(IMAGE), "the image"),
            opt("model", Key::Model, "take the percentiles from this model's normalisation"),
            opt("percentiles", Key::NumList, "[low, high], 0-100"),
            out_new(Range),
        ],
    },
    OpDef {
        name: "predict",
        help: "Run a model of models.toml (TorchScript, or a deepneuro U-Net) on an image (one channel per modality: see `stack`), normalised as models.toml says; whole volume or sliding window; the result is one probability channel per kept output channel.",
        keys: &[
            req("image", Key::Read(IMAGE), "the model input; its channels are the model's input channels"),
            req("model", Key::Model, "the model"),
            opt("range", Key::Read(&[Range]), "percentiles for `percentile-zscore` normalisation"),
            opt("crop", Key::Read(&[BBox, Mask]), "predict inside this box (or a mask's bounding box) only; zero outside"),
            opt("resize", Key::Bool, "resize the (cropped) input to the model's input shape and the result back (default false)"),
            opt("channels", Key::IntList, "output channels to keep (default: all)"),
            opt("patch", Key::IntList, "sliding window: patch size [x, y, z] (default: models.toml `inference.patch`, else the whole volume)"),
            opt("overlap", Key::Num, "sliding window: overlap in [0, 1) (default 0.5)"),
            opt("blend", Key::Choice(&["constant", "gaussian"]), "sliding window: blending (default gaussian)"),
            opt("batch", Key::Int, "sliding window: patches per forward pass (default 1)"),
            opt("model_input", Key::Write(Out::Fixed(Image)), "also keep the normalised model input under this name"),
            out_new(Probability),
        ],
    },
    OpDef {
        name: "threshold",
        help: "mask = value > threshold, for one channel.",
        keys: &[
            req("prob", Key::Read(&[Probability, Image]), "the probability map"),
            req("value", Key::Num, "the threshold"),
            opt("channel", Key::Int, "the channel (default 0)"),
            out_new(Mask),
        ],
    },
    OpDef {
        name: "largest-component",
        help: "Keep the largest connected component; an empty mask is exit 12 unless `allow_empty`.",
        keys: &[
            req("mask", Key::Read(MASK), "the mask"),
            opt("connectivity", Key::Choice(&["6", "26"]), "neighbourhood (default 26)"),
            opt("within", Key::Read(&[BBox]), "work inside this box only"),
            opt("allow_empty", Key::Bool, "an empty mask is a valid result (default false)"),
            out_same("mask"),
        ],
    },
    OpDef {
        name: "bbox",
        help: "Bounding box of a mask with a margin (a fraction of its size per side), expressed on the grid of `onto` (same field of view, any shape).",
        keys: &[
            req("mask", Key::Read(MASK), "the mask"),
            opt("onto", Key::Read(SPATIAL), "the grid of the box (default: the mask's)"),
            opt("margin", Key::Num, "fraction of the box size added on each side (default 0)"),
            opt("min_fraction", Key::Num, "ignore slices with less than this fraction of the foreground (default 0)"),
            out_new(BBox),
        ],
    },
    OpDef {
        name: "crop",
        help: "Crop a value to a bounding box (or a mask's bounding box) on its grid; the affine keeps each voxel's place in the world.",
        keys: &[
            req("value", Key::Read(SPATIAL), "the value to crop"),
            req("box", Key::Read(&[BBox, Mask]), "the box, or a mask whose bounding box to take"),
            out_same("value"),
        ],
    },
    OpDef {
        name: "fill-holes",
        help: "Fill the holes of a mask (background not connected to the border).",
        keys: &[
            req("mask", Key::Read(MASK), "the mask"),
            opt("within", Key::Read(&[BBox]), "work inside this box only"),
            out_same("mask"),
        ],
    },
    OpDef {
        name: "grow",
        help: "Dilate (positive) or erode (negative) a mask by N voxels, 6-connectivity.",
        keys: &[
            req("mask", Key::Read(MASK), "the mask"),
            req("voxels", Key::Int, "voxels to grow by"),
            out_same("mask"),
        ],
    },
    OpDef {
        name: "n4",
        help: "N4 bias field correction (deepneuro-preprocess, as ANTs/SimpleITK).",
        keys: &[
            req("image", Key::Read(IMAGE), "the image"),
            opt("mask", Key::Read(MASK), "fit inside this mask"),
            opt("shrink_factor", Key::Int, "fit on a copy shrunk by this factor (default 4)"),
            opt("iterations", Key::IntList, "iterations per fitting level (default [50, 50, 50, 50])"),
            out_same("image"),
        ],
    },
    OpDef {
        name: "register",
        help: "Rigid or affine registration of `moving` onto `fixed` (Mattes mutual information or NCC); the result maps fixed world to moving world, for `resample`.",
        keys: &[
            req("moving", Key::Read(IMAGE), "the image to align"),
            req("fixed", Key::Read(IMAGE), "the reference image"),
            opt("fixed_mask", Key::Read(MASK), "sample the metric inside this mask"),
            opt("transform", Key::Choice(&["rigid", "affine"]), "degrees of freedom (default rigid)"),
            opt("metric", Key::Choice(&["mattes", "ncc"]), "similarity (default mattes)"),
            opt("min_similarity", Key::Num, "refuse the case (exit 16) when the final similarity is lower: mutual information in nats (mattes) or NCC^2 (ncc)"),
            out_new(Transform),
        ],
    },
    OpDef {
        name: "resample",
        help: "Resample a value onto the grid of another (an input's, say), optionally through a transform; exact (a reordering) when the grids differ only by axis order and direction.",
        keys: &[
            req("value", Key::Read(SPATIAL), "the value to resample"),
            opt("onto", Key::Read(SPATIAL), "the value whose grid to take (this or `spacing`)"),
            opt("spacing", Key::NumList, "[x, y, z] mm: the value's own field of view and axes with this voxel size (this or `onto`)"),
            opt("transform", Key::Read(&[Transform]), "from `register`: onto's world to value's world"),
            opt("invert", Key::Bool, "resample through the inverse of `transform` (a result on the fixed image's grid back onto the moving image's)"),
            opt("interpolation", Key::Choice(&["auto", "nearest", "linear", "bspline"]), "auto: nearest for masks and label maps, linear otherwise"),
            out_same("value"),
        ],
    },
    OpDef {
        name: "apply-mask",
        help: "Set the voxels outside a mask (same grid) to 0.",
        keys: &[
            req("image", Key::Read(&[Image, Probability]), "the image"),
            req("mask", Key::Read(MASK), "the mask"),
            out_same("image"),
        ],
    },
    OpDef {
        name: "zscore",
        help: "Z-score each channel: over every voxel, the non-zero ones, or a mask's.",
        keys: &[
            req("image", Key::Read(IMAGE), "the image"),
            opt("mask", Key::Read(MASK), "statistics inside this mask"),
            opt("nonzero", Key::Bool, "statistics over the non-zero voxels (default false)"),
            out_same("image"),
        ],
    },
    OpDef {
        name: "clip-percentiles",
        help: "Clip each channel to two percentiles (of every voxel, or of a mask's), optionally rescaled to a range.",
        keys: &[
            req("image", Key::Read(IMAGE), "the image"),
            req("percentiles", Key::NumList, "[low, high], 0-100"),
            opt("mask", Key::Read(MASK), "percentiles of the voxels inside this mask"),
            opt("rescale", Key::NumList, "[a, b]: map the clipped range onto it"),
            out_same("image"),
        ],
    },
    OpDef {
        name: "stack",
        help: "Stack values of one grid as channels; with `model`, images in the order of its models.toml `modalities` (matched to each input's `contrast`).",
        keys: &[
            req("images", Key::ReadList(&[Image, Mask, Probability]), "the images (a mask or probability map is one more channel)"),
            opt("model", Key::Model, "order the channels as this model's modalities"),
            out_new(Image),
        ],
    },
    OpDef {
        name: "remove-small",
        help: "Remove connected components (26-connectivity) smaller than a volume in mm^3.",
        keys: &[
            req("mask", Key::Read(MASK), "the mask"),
            req("min_mm3", Key::Num, "the smallest component kept, mm^3"),
            out_same("mask"),
        ],
    },
    OpDef {
        name: "merge-labels",
        help: "Merge masks of one grid into a label map: mask i gets label i (later masks win).",
        keys: &[
            req("masks", Key::ReadList(MASK), "the masks"),
            req("labels", Key::IntList, "the label of each mask (1-255)"),
            out_new(Labels),
        ],
    },
    OpDef {
        name: "nonzero",
        help: "The mask of the non-zero voxels of an image (BraTS data: the brain of a skull-stripped image).",
        keys: &[req("image", Key::Read(IMAGE), "the image"), out_new(Mask)],
    },
    OpDef {
        name: "module",
        help: "Run another module's spec as part of this one: `inputs` maps its inputs to values here, `outputs` maps its outputs (by output name) to new names here, `params` sets its parameters.",
        keys: &[
            req("module", Key::Module, "a built-in module name, or a spec path relative to this spec"),
            req("inputs", Key::Table, "{ its_input = \"value here\" }"),
            req("outputs", Key::Table, "{ its_output = \"new name here\" }"),
            opt("params", Key::Table, "{ its_param = number }"),
        ],
    },
];

pub fn find(name: &str) -> Option<&'static OpDef> {
    OPS.iter().find(|o| o.name == name)
}

/// The op reference of pipelines/README.md, generated from this table (a
/// test checks that the README holds exactly this text).
pub fn reference_markdown() -> String {
    let mut out = String::new();
    for op in OPS {
        out.push_str(&format!("#### `{}`\n\n{}\n\n", op.name, op.help));
        out.push_str("| key | holds | required | meaning |\n| --- | --- | --- | --- |\n");
        for k in op.keys {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                k.name,
                describe(k.key),
                if k.required { "yes" } else { "no" },
                k.help.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}

fn types(t: &[Ty]) -> String {
    t.iter().map(|t| t.name()).collect::<Vec<_>>().join(" or ")
}

fn describe(k: Key) -> String {
    match k {
        Key::Read(t) => format!("reads a {}", types(t)),
        Key::ReadList(t) => format!("reads a list of {}", types(t)),
        Key::Write(Out::Fixed(t)) => format!("writes a {}", t.name()),
        Key::Write(Out::SameAs(k)) => format!("writes the type of `{k}`"),
        Key::Num => "number or `\"$param\"`".into(),
        Key::Int => "whole number or `\"$param\"`".into(),
        Key::Bool => "`true` / `false`".into(),
        Key::Choice(c) => c
            .iter()
            .map(|x| format!("`{x}`"))
            .collect::<Vec<_>>()
            .join(", "),
        Key::NumList => "list of numbers".into(),
        Key::IntList => "list of whole numbers".into(),
        Key::Model => "model name (models.toml)".into(),
        Key::Module => "module name or spec path".into(),
        Key::Table => "table".into(),
    }
}

"""Dice of predicted tumour label maps against the truth of BraTS-layout cases.

Usage:
  gbm_dice.py TRUTH_DIR PRED_DIR [--pred-pattern '{case}_tumour.nii.gz'] [--pred-labels deepneuro|brats]
              [--json] [--min-median-wt 0.90] [--min-median-et 0.80] [--min-wt 0.80]

Every folder `TRUTH_DIR/<case>/` holding `<case>_seg.nii.gz` is one case. Its prediction is the
file named by --pred-pattern (`{case}` is replaced by the case id), looked up as
`PRED_DIR/<file>` and then `PRED_DIR/<case>/<file>`. The prediction must be a label map on the
truth's grid (same shape, affines equal within 1e-3 mm; nothing is resampled).

Labels:
  truth       BraTS: 1 necrosis, 2 oedema, 4 enhancing (2017-2021) or 3 enhancing (2023, detected
              when the truths hold 3 and no 4).
  prediction  deepneuro (default): 1 whole tumour without enhancement, 2 enhancing tumour;
              brats: the BraTS labels, enhancing 4, or 3 when the prediction holds 3 and no 4.
Whole tumour (WT) = any label > 0; enhancing tumour (ET) = the enhancing label. Dice of two empty
sets is 1.

Prints a table (per case: Dice WT, Dice ET, and WT/ET volumes in cm^3 of truth and prediction)
and a summary line (median WT Dice, median ET Dice, min WT Dice), or with --json one JSON
object. The --min-* options (off unless given) make it exit 1 with a one-line reason on stderr
when a threshold is not met. A missing prediction, a grid mismatch or no case at all exits 2.
"""

import argparse
import json
import os
import sys

import nibabel as nib
import numpy as np


def die(message):
    """Input errors exit 2, so they are never mistaken for a missed threshold (exit 1)."""
    print(message, file=sys.stderr)
    sys.exit(2)


def dice(a, b):
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def find_cases(truth_dir):
    cases = []
    for name in sorted(os.listdir(truth_dir)):
        if os.path.isfile(os.path.join(truth_dir, name, f"{name}_seg.nii.gz")):
            cases.append(name)
    return cases


def find_prediction(pred_dir, pattern, case):
    file = pattern.replace("{case}", case)
    for path in (os.path.join(pred_dir, file), os.path.join(pred_dir, case, file)):
        if os.path.isfile(path):
            return path
    return None


def load_labels(path):
    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    # A float label map (some writers store labels as float32) is rounded, not truncated.
    if not np.issubdtype(data.dtype, np.integer):
        data = np.rint(data)
    return data.astype(np.int16), img.affine


def enhancing_label(values, default):
    """4 for BraTS 2017-2021, 3 for BraTS 2023; `default` when neither is present."""
    if 4 in values:
        return 4
    if 3 in values:
        return 3
    return default


def evaluate(args):
    cases = find_cases(args.truth_dir)
    if not cases:
        die(f"error: no case folder with <case>_seg.nii.gz in {args.truth_dir}")
    truths = {}
    for case in cases:
        truths[case] = load_labels(os.path.join(args.truth_dir, case, f"{case}_seg.nii.gz"))
    # The truth's enhancing label is decided once for the whole set: a case without enhancement
    # says nothing about the convention, and mixing conventions in one set would be a mistake.
    seen = set()
    for data, _ in truths.values():
        seen.update(int(v) for v in np.unique(data))
    truth_et = 3 if (3 in seen and 4 not in seen) else 4
    rows = []
    for case in cases:
        truth, t_aff = truths[case]
        path = find_prediction(args.pred_dir, args.pred_pattern, case)
        if path is None:
            die(
                f"error: no prediction for {case}: {args.pred_pattern.replace('{case}', case)} "
                f"in {args.pred_dir} or {os.path.join(args.pred_dir, case)}"
            )
        pred, p_aff = load_labels(path)
        if pred.shape != truth.shape:
            die(f"error: {path}: shape {pred.shape} is not the truth's {truth.shape}")
        if not np.allclose(p_aff, t_aff, atol=1e-3, rtol=0):
            die(f"error: {path}: affine {p_aff.tolist()} is not the truth's {t_aff.tolist()}")
        if args.pred_labels == "brats":
            pred_et = pred == enhancing_label(set(int(v) for v in np.unique(pred)), truth_et)
        else:
            pred_et = pred == 2
        truth_wt, pred_wt = truth > 0, pred > 0
        truth_et_mask = truth == truth_et
        voxel_cm3 = abs(float(np.linalg.det(t_aff[:3, :3]))) / 1000.0
        rows.append(
            {
                "case": case,
                "dice_wt": dice(truth_wt, pred_wt),
                "dice_et": dice(truth_et_mask, pred_et),
                "wt_truth_cm3": int(truth_wt.sum()) * voxel_cm3,
                "wt_pred_cm3": int(pred_wt.sum()) * voxel_cm3,
                "et_truth_cm3": int(truth_et_mask.sum()) * voxel_cm3,
                "et_pred_cm3": int(pred_et.sum()) * voxel_cm3,
                "prediction": path,
            }
        )
    wt = np.array([r["dice_wt"] for r in rows])
    et = np.array([r["dice_et"] for r in rows])
    summary = {
        "n": len(rows),
        "median_dice_wt": float(np.median(wt)),
        "median_dice_et": float(np.median(et)),
        "min_dice_wt": float(wt.min()),
        "truth_enhancing_label": truth_et,
        "pred_labels": args.pred_labels,
    }
    return rows, summary


def failures(summary, args):
    out = []
    if args.min_median_wt is not None and summary["median_dice_wt"] < args.min_median_wt:
        out.append(f"median WT Dice {summary['median_dice_wt']:.4f} < {args.min_median_wt}")
    if args.min_median_et is not None and summary["median_dice_et"] < args.min_median_et:
        out.append(f"median ET Dice {summary['median_dice_et']:.4f} < {args.min_median_et}")
    if args.min_wt is not None and summary["min_dice_wt"] < args.min_wt:
        out.append(f"min WT Dice {summary['min_dice_wt']:.4f} < {args.min_wt}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("truth_dir")
    ap.add_argument("pred_dir")
    ap.add_argument("--pred-pattern", default="{case}_tumour.nii.gz")
    ap.add_argument("--pred-labels", choices=("deepneuro", "brats"), default="deepneuro")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--min-median-wt", type=float)
    ap.add_argument("--min-median-et", type=float)
    ap.add_argument("--min-wt", type=float)
    args = ap.parse_args()
    rows, summary = evaluate(args)
    failed = failures(summary, args)
    summary["pass"] = not failed
    if args.json:
        print(json.dumps({"cases": rows, "summary": summary, "failures": failed}))
    else:
        head = f"{'case':<24} {'dice_wt':>8} {'dice_et':>8} {'wt_truth':>9} {'wt_pred':>9} {'et_truth':>9} {'et_pred':>9}"
        print(head)
        for r in rows:
            print(
                f"{r['case']:<24} {r['dice_wt']:8.4f} {r['dice_et']:8.4f} {r['wt_truth_cm3']:9.2f} "
                f"{r['wt_pred_cm3']:9.2f} {r['et_truth_cm3']:9.2f} {r['et_pred_cm3']:9.2f}"
            )
        print(
            f"summary: n={summary['n']} median_dice_wt={summary['median_dice_wt']:.4f} "
            f"median_dice_et={summary['median_dice_et']:.4f} min_dice_wt={summary['min_dice_wt']:.4f} "
            "(volumes in cm^3)"
        )
    if failed:
        print("FAIL: " + "; ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

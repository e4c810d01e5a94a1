//! Unit tests of the command-line form.

use rand::Rng as _;

use crate::parse;

#[test]
fn accepts_the_documented_grammar() {
    let spec = "flip(axes=0,p=0.5); rotate90(axes=0-1,p=0.5); \
        rotate(degrees=15,axes=0-1,order=1,groups=input); rotate(degrees=15,axes=0-1,order=0,groups=ground_truth); \
        scale(min=0.9,max=1.1,groups=input); shift(min=-0.1,max=0.1,groups=input); \
        patches(size=64x64x64,count=8,label=ground_truth,label_fraction=0.7,mask=brain,mask_fraction=0.3); \
        channel_dropout(p=0.2,value=0,groups=input); downsample(factor=2,axes=2);";
    let c = parse(spec).unwrap();
    let names: Vec<&str> = c.0.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "flip",
            "rotate90",
            "rotate",
            "scale",
            "shift",
            "patches",
            "channel_dropout",
            "downsample"
        ]
    );
    // The two rotations became one, with per-group orders.
    let merged = format!("{:?}", c.0[2]);
    assert!(
        merged.contains(r#"group_order: {"ground_truth": 0, "input": 1}"#),
        "{merged}"
    );
    assert!(
        merged.contains(r#"Only(["input", "ground_truth"])"#),
        "{merged}"
    );

    let c = parse(" flip ; patches( size = 32x32 , mask = nonzero , mask_fraction=1 , pad=yes )")
        .unwrap();
    let p = format!("{:?}", c.0[1]);
    assert!(
        p.contains("size: [32, 32, 1]") && p.contains(r#"mask: Some("input")"#),
        "{p}"
    );
    let c = parse("patches(size=16,mask=nonzero:t1,mask_fraction=0.5)").unwrap();
    let p = format!("{:?}", c.0[0]);
    assert!(
        p.contains("size: [16, 16, 16]") && p.contains(r#"mask: Some("t1")"#),
        "{p}"
    );
    let c = parse("rotate(angle=-30,nearest=seg+mask,order=3,cval=-1)").unwrap();
    let r = format!("{:?}", c.0[0]);
    assert!(
        r.contains("angle: Some(-30.0)") && r.contains(r#""mask": 0, "seg": 0"#),
        "{r}"
    );
    assert!(parse("").unwrap().0.is_empty());
    // Rotations of overlapping or implicit groups stay separate.
    assert_eq!(
        parse("rotate(groups=a); rotate(groups=a)").unwrap().0.len(),
        2
    );
    assert_eq!(parse("rotate; rotate(groups=b)").unwrap().0.len(), 2);
    assert_eq!(
        parse("rotate(groups=a); rotate(degrees=5,groups=b)")
            .unwrap()
            .0
            .len(),
        2
    );
}

/// Random strings built from the grammar's pieces and stray characters
/// never panic, and every error is one line.
#[test]
fn random_strings_never_panic() {
    let pieces = [
        "flip",
        "rotate90",
        "rotate",
        "scale",
        "shift",
        "patches",
        "channel_dropout",
        "downsample",
        "(",
        ")",
        ",",
        ";",
        "=",
        "axes",
        "p",
        "k",
        "degrees",
        "angle",
        "order",
        "groups",
        "size",
        "count",
        "label",
        "mask",
        "label_fraction",
        "mask_fraction",
        "nonzero",
        "nonzero:",
        "pad",
        "true",
        "0",
        "1",
        "2",
        "3",
        "-",
        "+",
        "x",
        "0.5",
        "1e308",
        "1e999",
        "NaN",
        "inf",
        "-7",
        "18446744073709551616",
        " ",
        "\n",
        "é",
        "\u{0}",
        "factor",
        "upsample",
        "units",
        "std",
        "min",
        "max",
        "per_channel",
        "cval",
        "nearest",
    ];
    let mut r = crate::rng(1234);
    for _ in 0..20_000 {
        let n = r.random_range(0..14);
        let s: String = (0..n)
            .map(|_| {
                if r.random_bool(0.1) {
                    char::from(r.random_range(32u8..127)).to_string()
                } else {
                    pieces[r.random_range(0..pieces.len())].to_string()
                }
            })
            .collect();
        if let Err(e) = parse(&s) {
            assert!(!e.to_string().contains('\n'), "{s:?}: {e}");
        }
    }
}

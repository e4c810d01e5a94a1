//! Volume <-> tensor conversion and a 3D convolution on real libtorch.

use deepneuro_core::{as_tensor, to_tensor, volume_from_tensor};
use deepneuro_volume::{Affine, DType, Volume};
use tch::{Device, Kind, Tensor};

fn volume() -> Volume {
    let data = ndarray::Array4::from_shape_fn((2, 7, 5, 3), |(c, x, y, z)| {
        (c * 1000 + x * 100 + y * 10 + z) as f32
    });
    let mut aff = Affine::identity();
    aff[(0, 0)] = -1.5;
    aff[(1, 3)] = 12.0;
    Volume::new(data, aff, DType::I16).unwrap()
}

#[test]
fn round_trip_is_exact_and_zero_copy() {
    let v = volume();
    let t = as_tensor(&v);
    assert_eq!(t.size(), vec![2, 7, 5, 3]);
    assert_eq!(t.data_ptr() as *const f32, v.data().as_ptr(), "no copy");
    // Element [c, x, y, z] of the tensor is the volume's [c, x, y, z].
    for (c, x, y, z) in [(0, 0, 0, 0), (1, 6, 4, 2), (0, 3, 1, 2), (1, 2, 4, 0)] {
        let got = t.double_value(&[c, x, y, z]) as f32;
        assert_eq!(
            got,
            v.data()[[c as usize, x as usize, y as usize, z as usize]]
        );
    }
    let back = volume_from_tensor(&t, *v.affine(), v.dtype()).unwrap();
    assert_eq!(back, v);
    let owned = to_tensor(&v, Device::Cpu);
    let back = volume_from_tensor(&owned.unsqueeze(0), *v.affine(), v.dtype()).unwrap();
    assert_eq!(back, v);
}

#[test]
fn conv3d_runs_on_a_volume() {
    tch::manual_seed(0);
    let v = volume();
    let input = as_tensor(&v).unsqueeze(0); // [1, c, x, y, z]
                                            // A kernel that sums a 3x3x3 neighbourhood of channel 0 only.
    let w = Tensor::zeros([1, 2, 3, 3, 3], (Kind::Float, Device::Cpu));
    let _ = w.get(0).get(0).fill_(1.0);
    let out = input.conv3d(&w, None::<Tensor>, [1, 1, 1], [1, 1, 1], [1, 1, 1], 1);
    assert_eq!(out.size(), vec![1, 1, 7, 5, 3]);
    // Interior voxel (3, 2, 1): the sum over x 2..=4, y 1..=3, z 0..=2 of
    // x*100 + y*10 + z, computed here independently of libtorch.
    let mut expected = 0.0;
    for x in 2..=4 {
        for y in 1..=3 {
            for z in 0..=2 {
                expected += (x * 100 + y * 10 + z) as f64;
            }
        }
    }
    assert_eq!(out.double_value(&[0, 0, 3, 2, 1]), expected);
    let vol = volume_from_tensor(&out.squeeze_dim(0), *v.affine(), DType::F32).unwrap();
    assert_eq!(vol.shape(), [1, 7, 5, 3]);
    assert_eq!(vol.data()[[0, 3, 2, 1]] as f64, expected);
}

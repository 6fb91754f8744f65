//! The plaintext network computed directly: naive convolution, pooling and matrix products on
//! `C×H×W` arrays. It shares nothing with the packings, so it is the independent reference the
//! slot interpreter and the encrypted runs are checked against.

use std::collections::HashMap;

use super::network::{LayerKind, Network, Source};
use super::weights::Params;

/// Weights zeroed by sub-block pruning: layer index → mask over the weight tensor (true =
/// pruned).
pub type PruneMasks = HashMap<usize, Vec<bool>>;

/// Runs the network on one input (`C·H·W` values, channel-major) and returns every layer's
/// output; the last is the network output.
pub fn forward_all(
    net: &Network,
    params: &Params,
    pruned: &PruneMasks,
    input: &[f64],
) -> Vec<Vec<f64>> {
    let shapes = net.shapes().expect("checked network");
    let in_shapes = net.input_shapes().expect("checked network");
    let mut outs: Vec<Vec<f64>> = Vec::with_capacity(net.layers.len());
    let named = |outs: &[Vec<f64>], name: &str| -> Vec<f64> {
        net.layer_index(name)
            .map_or_else(|| input.to_vec(), |j| outs[j].clone())
    };
    for (li, layer) in net.layers.iter().enumerate() {
        let out_shape = shapes[li];
        let shape = in_shapes[li];
        let cur: &[f64] = match net.source(li) {
            Source::Input => input,
            Source::Layer(j) => &outs[j],
        };
        let next = match &layer.kind {
            LayerKind::Conv {
                out,
                kernel,
                stride,
                pad,
                groups,
                ..
            } => {
                let (w, bias) = params.affine(li);
                let mask = pruned.get(&li);
                let (cin, h, wd) = (shape.c, shape.h, shape.w);
                let (oh, ow) = (out_shape.h, out_shape.w);
                let cin_g = cin / groups;
                let cout_g = out / groups;
                let k = *kernel;
                let mut y = vec![0.0; out * oh * ow];
                for o in 0..*out {
                    let g = o / cout_g;
                    for il in 0..cin_g {
                        let i = g * cin_g + il;
                        for di in 0..k {
                            for dj in 0..k {
                                let widx = ((o * cin_g + il) * k + di) * k + dj;
                                if mask.is_some_and(|m| m[widx]) {
                                    continue;
                                }
                                let wv = w.get(widx);
                                for oy in 0..oh {
                                    let iy = (oy * stride + di) as isize - *pad as isize;
                                    if iy < 0 || iy >= h as isize {
                                        continue;
                                    }
                                    for ox in 0..ow {
                                        let ix = (ox * stride + dj) as isize - *pad as isize;
                                        if ix < 0 || ix >= wd as isize {
                                            continue;
                                        }
                                        y[(o * oh + oy) * ow + ox] +=
                                            wv * cur[(i * h + iy as usize) * wd + ix as usize];
                                    }
                                }
                            }
                        }
                    }
                    for v in &mut y[o * oh * ow..(o + 1) * oh * ow] {
                        *v += bias[o];
                    }
                }
                y
            }
            LayerKind::Linear { out, .. } => {
                let (w, bias) = params.affine(li);
                let m = cur.len();
                (0..*out)
                    .map(|j| bias[j] + (0..m).map(|e| w.get(j * m + e) * cur[e]).sum::<f64>())
                    .collect()
            }
            LayerKind::AvgPool { kernel } => {
                let k = *kernel;
                let (oh, ow) = (out_shape.h, out_shape.w);
                let mut y = vec![0.0; shape.c * oh * ow];
                for c in 0..shape.c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut s = 0.0;
                            for di in 0..k {
                                for dj in 0..k {
                                    s += cur[(c * shape.h + oy * k + di) * shape.w + ox * k + dj];
                                }
                            }
                            y[(c * oh + oy) * ow + ox] = s / (k * k) as f64;
                        }
                    }
                }
                y
            }
            LayerKind::GlobalAvgPool => {
                let hw = shape.h * shape.w;
                cur.chunks(hw)
                    .map(|c| c.iter().sum::<f64>() / hw as f64)
                    .collect()
            }
            LayerKind::Poly { .. } | LayerKind::Relu { .. } => {
                cur.iter().map(|&x| params.activate(li, x)).collect()
            }
            LayerKind::BatchNorm { .. } => {
                let (scale, shift) = params.batchnorm_affine(li);
                let hw = shape.h * shape.w;
                cur.iter()
                    .enumerate()
                    .map(|(i, &x)| scale[i / hw] * x + shift[i / hw])
                    .collect()
            }
            LayerKind::Flatten => cur.to_vec(),
            LayerKind::Residual { from } => {
                let other = named(&outs, from);
                cur.iter().zip(&other).map(|(a, b)| a + b).collect()
            }
            LayerKind::Concat { from } => {
                let mut y = cur.to_vec();
                for f in from {
                    y.extend(named(&outs, f));
                }
                y
            }
            LayerKind::Downsample { out } => {
                let (oh, ow) = (shape.h.div_ceil(2), shape.w.div_ceil(2));
                let offset = (out - shape.c) / 2;
                let mut y = vec![0.0; out * oh * ow];
                for c in 0..shape.c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            y[((c + offset) * oh + oy) * ow + ox] =
                                cur[(c * shape.h + 2 * oy) * shape.w + 2 * ox];
                        }
                    }
                }
                y
            }
        };
        outs.push(next);
    }
    outs
}

/// The network output for one input.
pub fn forward(net: &Network, params: &Params, pruned: &PruneMasks, input: &[f64]) -> Vec<f64> {
    forward_all(net, params, pruned, input)
        .pop()
        .unwrap_or_else(|| input.to_vec())
}

/// The largest |a − b| over paired logits, NaN if any difference is NaN (a NaN logit must
/// never look like "no error", which `f64::max` would make it).
pub fn max_abs_error(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, nan_max)
}

/// `max` that propagates NaN (unlike `f64::max`, which drops it).
pub fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Index of the largest value (the predicted class).
pub fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NaN logit is an infinitely bad error, never "no error" (f64::max drops NaN).
    #[test]
    fn a_nan_logit_makes_the_error_nan() {
        assert_eq!(max_abs_error(&[1.0, -2.0], &[1.5, -2.0]), 0.5);
        assert!(max_abs_error(&[1.0, f64::NAN], &[1.0, 0.0]).is_nan());
        assert!(max_abs_error(&[f64::NAN, 1.0], &[0.0, 9.0]).is_nan());
        assert!([0.0, f64::NAN, 3.0].into_iter().fold(0.0, nan_max).is_nan());
    }
}

//! Coefficient merging (HEMET, Lou & Jiang, ICML 2021): an activation `c0 + c1·x + a·x²`
//! becomes `a·(x·(x + c1/a) + c0/a)`, and the factor `a` moves into the weights of the layers
//! that read it, so the activation costs one level (one ciphertext product) instead of two
//! (the product, then the multiply by `a`, as a generic power-basis evaluator and HEMET's
//! unmerged code do it).
//!
//! The factor passes through the layers that are linear per channel and carry no weights —
//! average and global pooling, flatten, channel concatenation — and lands in the next conv or
//! linear layer's weights, scaling each input channel by its factor. An activation is merged
//! only when every path from it ends in such a weighted layer: a residual add, a batch norm,
//! another activation or the network output keep it as it is. Batch norm needs no pass of its
//! own (every packing folds it into the conv before it). The multiplexed packing also merges
//! the masks of concatenations whose parts come straight from convs (`concats_in_place` in
//! [`super::multiplexed`]); its other masks follow rotations that mix channels, so no earlier
//! plaintext multiply can take them (README, "HEMET").

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::network::{LayerKind, Network, Source};
use super::weights::{LayerParams, Params, Tensor};
use super::{NnError, Shape};

/// One merged activation: its leading coefficient and the weighted layers that absorb it.
#[derive(Clone, Debug, PartialEq)]
pub struct MergedActivation {
    pub layer: usize,
    pub coefficient: f64,
    pub into: Vec<usize>,
}

/// The parameters after merging: merged activations are monic (leading coefficient 1) and
/// the layers reading them scaled, so that `forward(net, &merge.params)` equals
/// `forward(net, params)` up to rounding.
#[derive(Clone, Debug)]
pub struct Merge {
    pub params: Params,
    pub activations: Vec<MergedActivation>,
}

impl Merge {
    /// Whether activation `layer` was merged (it is monic and costs one level).
    pub fn is_merged(&self, layer: usize) -> bool {
        self.activations.iter().any(|a| a.layer == layer)
    }

    /// The merged activation layers.
    pub fn layers(&self) -> BTreeSet<usize> {
        self.activations.iter().map(|a| a.layer).collect()
    }
}

/// Where a layer's output goes: the layers reading it (as chain input, residual or concat
/// operand).
pub(super) fn readers(net: &Network) -> HashMap<usize, Vec<usize>> {
    let mut out: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, l) in net.layers.iter().enumerate() {
        let mut from: Vec<usize> = match net.source(i) {
            Source::Layer(j) => vec![j],
            Source::Input => Vec::new(),
        };
        let named: Vec<&String> = match &l.kind {
            LayerKind::Residual { from } => vec![from],
            LayerKind::Concat { from } => from.iter().collect(),
            _ => Vec::new(),
        };
        from.extend(named.into_iter().filter_map(|n| net.layer_index(n)));
        for j in from {
            out.entry(j).or_default().push(i);
        }
    }
    out
}

/// The weighted layers that absorb a factor on layer `j`'s output, or `None` if some path
/// from it reaches a layer that cannot (or the network output).
fn absorbers(net: &Network, readers: &HashMap<usize, Vec<usize>>, j: usize) -> Option<Vec<usize>> {
    let mut found = Vec::new();
    let mut todo = vec![j];
    while let Some(t) = todo.pop() {
        let next = readers.get(&t)?;
        for &r in next {
            match net.layers[r].kind {
                LayerKind::Conv { .. } | LayerKind::Linear { .. } => found.push(r),
                LayerKind::AvgPool { .. }
                | LayerKind::GlobalAvgPool
                | LayerKind::Flatten
                | LayerKind::Concat { .. } => todo.push(r),
                _ => return None,
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    Some(found)
}

/// Merges the leading coefficient of every quadratic (or affine) activation whose output only
/// weighted layers read, through per-channel linear layers, into those layers' weights.
pub fn merge_coefficients(net: &Network, params: &Params) -> Result<Merge, NnError> {
    let inputs = net.input_shapes()?;
    let outputs = net.shapes()?;
    let readers = readers(net);
    let mut out = params.clone();
    let mut activations = Vec::new();
    // the factor each consumer must multiply each channel of layer j's output by
    let mut factor: Vec<Option<Vec<f64>>> = vec![None; net.layers.len()];
    let pending = |factor: &[Option<Vec<f64>>], j: usize| -> Option<Vec<f64>> {
        match net.source(j) {
            Source::Layer(i) => factor[i].clone(),
            Source::Input => None,
        }
    };
    for (li, layer) in net.layers.iter().enumerate() {
        let shape: Shape = outputs[li];
        let input = pending(&factor, li);
        match &layer.kind {
            LayerKind::Poly { .. } | LayerKind::Relu { .. } => {
                debug_assert!(input.is_none(), "a factor reached an activation");
                let Some(coefficients) = params.polynomial(li) else {
                    continue;
                };
                let degree = coefficients.iter().rposition(|&c| c != 0.0).unwrap_or(0);
                if !(1..=2).contains(&degree) {
                    continue;
                }
                let Some(into) = absorbers(net, &readers, li) else {
                    continue;
                };
                let a = coefficients[degree];
                let monic: Vec<f64> = coefficients[..=degree].iter().map(|c| c / a).collect();
                out.layers[li] = LayerParams::Poly {
                    coefficients: monic,
                };
                factor[li] = Some(vec![a; shape.c]);
                activations.push(MergedActivation {
                    layer: li,
                    coefficient: a,
                    into,
                });
            }
            LayerKind::AvgPool { .. } | LayerKind::GlobalAvgPool => factor[li] = input,
            LayerKind::Flatten => {
                let per = inputs[li].h * inputs[li].w;
                factor[li] = input.map(|f| (0..shape.c).map(|e| f[e / per]).collect::<Vec<f64>>());
            }
            LayerKind::Concat { from } => {
                let mut parts = vec![(input, inputs[li].c)];
                for name in from {
                    let j = net.layer_index(name).expect("checked network");
                    parts.push((factor[j].clone(), outputs[j].c));
                }
                if parts.iter().any(|(f, _)| f.is_some()) {
                    let joined = parts
                        .into_iter()
                        .flat_map(|(f, c)| f.unwrap_or_else(|| vec![1.0; c]))
                        .collect();
                    factor[li] = Some(joined);
                }
            }
            LayerKind::Conv {
                out: cout, groups, ..
            } => {
                if let Some(f) = input {
                    let per_group_in = inputs[li].c / groups;
                    let per_group_out = cout / groups;
                    scale_inputs(
                        &mut out.layers[li],
                        |o, i| f[(o / per_group_out) * per_group_in + i],
                        per_group_in,
                    );
                }
            }
            LayerKind::Linear { .. } => {
                if let Some(f) = input {
                    scale_inputs(&mut out.layers[li], |_, i| f[i], inputs[li].c);
                }
            }
            _ => debug_assert!(
                input.is_none(),
                "a factor reached a layer that cannot take it"
            ),
        }
    }
    Ok(Merge {
        params: out,
        activations,
    })
}

/// Multiplies the weights of an affine layer `[out, in_per_out, ...]` (each output's
/// `in_per_out` input channels, `len / (out · in_per_out)` taps each) by `f(o, i)`.
fn scale_inputs(layer: &mut LayerParams, f: impl Fn(usize, usize) -> f64, in_per_out: usize) {
    let LayerParams::Affine { weight, bias } = layer else {
        unreachable!("conv and linear layers are affine")
    };
    let outs = bias.len();
    let taps = weight.len() / (outs * in_per_out);
    let scaled: Vec<f64> = (0..weight.len())
        .map(|k| {
            let (o, i) = (k / (in_per_out * taps), k / taps % in_per_out);
            weight.get(k) * f(o, i)
        })
        .collect();
    *weight = Tensor::Exact(Arc::from(scaled));
}

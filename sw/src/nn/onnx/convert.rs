//! A checked ONNX [`Model`] → a hesim [`Network`] and its [`Params`].
//!
//! The network description is a chain of layers with residual adds, so the graph must be
//! one: every layer reads the previous layer's output, an `Add` of two computed tensors is a
//! residual from an earlier layer. Element-wise `Add` and `Mul` nodes on one tensor (by
//! scalar constants, or of the tensor by itself) are fused into one polynomial activation —
//! the form `torch.onnx.export` gives a learned `α·x² + β·x + c` activation; an `Add` or
//! `Mul` by a per-channel constant right after a conv or linear layer is folded into its
//! weights and bias.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{Model, Node, OnnxError, Op, Problem};
use crate::nn::network::{Layer, LayerKind, Network, Shape};
use crate::nn::weights::{LayerParams, Params, Tensor};

/// An imported network, its parameters (the initializers) and what the import changed.
#[derive(Clone, Debug)]
pub struct Imported {
    pub network: Network,
    pub params: Params,
    /// One line per fusion or folding of element-wise nodes, for the user (the ReLU
    /// substitutes are the network's own [`Network::substitutions`]).
    pub notes: Vec<String>,
}

/// Highest polynomial degree the network description's activation layer holds.
const MAX_POLY_DEGREE: usize = 2;

/// Highest degree a fused polynomial may reach while it is being built (each `Mul` of a
/// tensor by itself doubles it; the cap keeps the coefficient lists small).
const MAX_FUSED_DEGREE: usize = 64;

/// What a tensor of the graph is, in terms of the layers built so far.
#[derive(Clone, Debug)]
enum Value {
    /// The output of layer `i`, or the network input (`None`).
    Layer(Option<usize>),
    /// `Σ cₖ·xᵏ` of a layer output (or the input), not yet a layer; `nodes` made it.
    Poly {
        of: Option<usize>,
        coefficients: Vec<f64>,
        nodes: Vec<String>,
    },
}

struct Builder<'a> {
    model: &'a Model,
    layers: Vec<Layer>,
    params: Vec<LayerParams>,
    values: HashMap<String, Value>,
    /// How many nodes read each tensor (folding a constant into a layer needs it to be 1).
    readers: HashMap<&'a str, usize>,
    notes: Vec<String>,
}

/// Converts a checked model; errors name the node that does not fit.
pub fn to_network(model: &Model) -> Result<Imported, OnnxError> {
    let fail = |problem| OnnxError {
        source_name: model.source.clone(),
        problem,
    };
    let mut readers: HashMap<&str, usize> = HashMap::new();
    for t in model.nodes.iter().flat_map(|n| n.inputs.iter().flatten()) {
        *readers.entry(t.as_str()).or_default() += 1;
    }
    let mut b = Builder {
        model,
        layers: Vec::new(),
        params: Vec::new(),
        values: HashMap::from([(model.input.clone(), Value::Layer(None))]),
        readers,
        notes: Vec::new(),
    };
    for node in &model.nodes {
        b.node(node).map_err(fail)?;
    }
    let last = model
        .nodes
        .last()
        .expect("a graph with an output has a node");
    b.current(&model.output, last).map_err(fail)?;
    let input = match model.input_shape.as_slice() {
        &[_, c, h, w] => Shape::new(c, h, w),
        &[_, k] => Shape::new(k, 1, 1),
        _ => unreachable!("input rank checked when decoded"),
    };
    let name = Path::new(&model.source)
        .file_stem()
        .map_or_else(|| model.graph_name.clone(), |s| s.to_string_lossy().into());
    let network = Network::new(name, input, b.layers).map_err(|e| {
        fail(Problem::Graph {
            message: format!("the imported network does not check: {e}"),
        })
    })?;
    Ok(Imported {
        params: Params {
            layers: b.params,
            source: model.source.clone(),
        },
        network,
        notes: b.notes,
    })
}

impl<'a> Builder<'a> {
    fn problem(node: &Node, message: String) -> Problem {
        Problem::Node {
            node: node.name.clone(),
            op_type: node.op_type.clone(),
            message,
        }
    }

    fn last(&self) -> Option<usize> {
        self.layers.len().checked_sub(1)
    }

    fn push(&mut self, name: &str, kind: LayerKind, params: LayerParams) -> usize {
        let mut unique = name.to_owned();
        let mut k = 1;
        while self.layers.iter().any(|l| l.name == unique) {
            k += 1;
            unique = format!("{name}_{k}");
        }
        self.layers.push(Layer { name: unique, kind });
        self.params.push(params);
        self.layers.len() - 1
    }

    fn value(&self, tensor: &str) -> &Value {
        self.values
            .get(tensor)
            .expect("nodes are visited in topological order")
    }

    /// Makes `tensor` the current layer output (materialising a pending polynomial), or
    /// explains why the graph is not a chain there.
    fn current(&mut self, tensor: &str, node: &Node) -> Result<(), Problem> {
        let last = self.last();
        match self.value(tensor).clone() {
            Value::Layer(i) if i == last => Ok(()),
            Value::Poly {
                of,
                coefficients,
                nodes,
            } if of == last => {
                if coefficients.len() > MAX_POLY_DEGREE + 1 {
                    return Err(Self::problem(
                        node,
                        format!(
                            "the polynomial built by {} has degree {}; hesim's activation layer \
                             holds degree ≤ {MAX_POLY_DEGREE}",
                            nodes.join(", "),
                            coefficients.len() - 1
                        ),
                    ));
                }
                let is_identity = coefficients.len() == 2 && coefficients == [0.0, 1.0];
                if !is_identity {
                    let name = nodes.last().expect("a polynomial has a node").clone();
                    self.notes.push(format!(
                        "{name}: element-wise nodes {} fused into the polynomial {}",
                        nodes.join(", "),
                        poly_text(&coefficients)
                    ));
                    let mut c = [0.0; 3];
                    c[..coefficients.len()].copy_from_slice(&coefficients);
                    let i = self.push(
                        &name,
                        LayerKind::Poly {
                            coefficients: coefficients.clone(),
                        },
                        LayerParams::Poly { coefficients: c },
                    );
                    self.values.insert(tensor.to_owned(), Value::Layer(Some(i)));
                }
                Ok(())
            }
            _ => Err(Self::problem(
                node,
                format!(
                    "reads `{tensor}`, which is not the previous layer's output: hesim's network \
                     description is a chain of layers with residual adds, and this graph \
                     branches here"
                ),
            )),
        }
    }

    fn node(&mut self, node: &'a Node) -> Result<(), Problem> {
        let model = self.model;
        let input = |i: usize| node.inputs.get(i).and_then(Option::as_deref);
        let x = input(0).expect("every operator has a first input");
        let out_shape = model.shape(&node.output).expect("inferred");
        let bad = |message: String| Self::problem(node, message);
        let value = match &node.op {
            Op::Add | Op::Mul => return self.elementwise(node),
            Op::Conv {
                kernel,
                strides,
                pads,
                group,
            } => {
                self.current(x, node)?;
                let [kh, kw] = *kernel;
                let weight = model.constant(input(1).expect("weight")).expect("checked");
                let (kh, kw) = if kh == 0 {
                    (weight.dims[2], weight.dims[3])
                } else {
                    (kh, kw)
                };
                if kh != kw || strides[0] != strides[1] || pads.iter().any(|&p| p != pads[0]) {
                    return Err(bad(format!(
                        "kernel {kh}×{kw}, strides {strides:?}, pads {pads:?}: hesim's conv \
                         layer has a square kernel, one stride and equal pads on all sides"
                    )));
                }
                let out = weight.dims[0];
                let bias = input(2).map(|b| model.constant(b).expect("checked").values.clone());
                let kind = LayerKind::Conv {
                    out,
                    kernel: kh,
                    stride: strides[0],
                    pad: pads[0],
                    groups: *group,
                    bias: bias.is_some(),
                };
                let params = affine(&weight.values, 1.0, bias.unwrap_or_else(|| vec![0.0; out]));
                self.push(&node.name, kind, params)
            }
            Op::Gemm {
                alpha,
                beta,
                trans_b,
            } => {
                self.current(x, node)?;
                let b = model.constant(input(1).expect("weight")).expect("checked");
                let weight = if *trans_b {
                    b.values.clone()
                } else {
                    transpose(&b.values, b.dims[0], b.dims[1])
                };
                let out = out_shape[1];
                let bias = match input(2) {
                    Some(c) => {
                        let c = model.constant(c).expect("checked");
                        channel_vector(&c.values, out)
                            .ok_or_else(|| bad(format!("bias of shape {:?}", c.dims)))?
                            .into_iter()
                            .map(|v| beta * v)
                            .collect()
                    }
                    None => vec![0.0; out],
                };
                self.linear(node, out, &weight, *alpha, bias, input(2).is_some())?
            }
            Op::MatMul => {
                self.current(x, node)?;
                let b = model.constant(input(1).expect("weight")).expect("checked");
                let weight = transpose(&b.values, b.dims[0], b.dims[1]);
                let out = b.dims[1];
                self.linear(node, out, &weight, 1.0, vec![0.0; out], false)?
            }
            Op::AveragePool {
                kernel,
                strides,
                pads,
                ..
            } => {
                self.current(x, node)?;
                if kernel[0] != kernel[1] || *strides != *kernel || pads.iter().any(|&p| p != 0) {
                    return Err(bad(format!(
                        "kernel {kernel:?}, strides {strides:?}, pads {pads:?}: hesim's average \
                         pooling has a square kernel, stride = kernel and no padding"
                    )));
                }
                self.push(
                    &node.name,
                    LayerKind::AvgPool { kernel: kernel[0] },
                    LayerParams::None,
                )
            }
            Op::GlobalAveragePool => {
                self.current(x, node)?;
                let s = model.shape(x).expect("inferred");
                if s[2] != s[3] {
                    return Err(bad(format!(
                        "global pooling of a {}×{} map: hesim's average pooling is square",
                        s[2], s[3]
                    )));
                }
                self.push(
                    &node.name,
                    LayerKind::AvgPool { kernel: s[2] },
                    LayerParams::None,
                )
            }
            Op::BatchNormalization { epsilon } => {
                self.current(x, node)?;
                let v = |i: usize| {
                    model
                        .constant(input(i).expect("required"))
                        .expect("checked")
                        .values
                        .clone()
                };
                let params = LayerParams::BatchNorm {
                    gamma: v(1),
                    beta: v(2),
                    mean: v(3),
                    var: v(4),
                    eps: *epsilon,
                };
                self.push(&node.name, LayerKind::BatchNorm { eps: *epsilon }, params)
            }
            Op::Relu => {
                self.current(x, node)?;
                let params = LayerParams::Poly {
                    coefficients: crate::nn::network::relu_polynomial(),
                };
                self.push(&node.name, LayerKind::Relu, params)
            }
            Op::Flatten | Op::Reshape => {
                self.current(x, node)?;
                let s = model.shape(x).expect("inferred");
                if out_shape.len() != 2 || out_shape[0] != 1 {
                    return Err(bad(format!(
                        "reshapes {s:?} to {out_shape:?}: hesim imports reshapes that flatten \
                         to 1×N only"
                    )));
                }
                if s.len() == 2 {
                    // Already flat: nothing to do.
                    self.values
                        .insert(node.output.clone(), self.value(x).clone());
                    return Ok(());
                }
                self.push(&node.name, LayerKind::Flatten, LayerParams::None)
            }
            Op::Concat { .. } => {
                return Err(bad(
                    "Concat joins branches, which hesim's chain network description cannot \
                     express yet"
                        .into(),
                ));
            }
        };
        self.values
            .insert(node.output.clone(), Value::Layer(Some(value)));
        Ok(())
    }

    fn linear(
        &mut self,
        node: &Node,
        out: usize,
        weight: &[f64],
        scale: f64,
        bias: Vec<f64>,
        has_bias: bool,
    ) -> Result<usize, Problem> {
        let s = self
            .model
            .shape(node.inputs[0].as_deref().expect("input"))
            .expect("inferred");
        if s[0] != 1 {
            return Err(Self::problem(
                node,
                format!("input has shape {s:?}: hesim imports one row (batch 1)"),
            ));
        }
        Ok(self.push(
            &node.name,
            LayerKind::Linear {
                out,
                bias: has_bias,
            },
            affine(weight, scale, bias),
        ))
    }

    /// `Add` / `Mul`: polynomial fusion, constant folding into the previous layer, or a
    /// residual.
    fn elementwise(&mut self, node: &'a Node) -> Result<(), Problem> {
        let model = self.model;
        let is_mul = matches!(node.op, Op::Mul);
        let [Some(a), Some(b)] = [0, 1].map(|i| node.inputs[i].as_deref()) else {
            unreachable!("Add and Mul have two inputs")
        };
        let bad = |message: String| Self::problem(node, message);
        let result = match (model.constant(a), model.constant(b)) {
            (None, None) => {
                let (pa, pb) = (self.poly_of(a), self.poly_of(b));
                if pa.0 == pb.0 {
                    if is_mul && pa.1.len() + pb.1.len() - 2 > MAX_FUSED_DEGREE {
                        return Err(bad(format!(
                            "the polynomial activation would pass degree {MAX_FUSED_DEGREE}"
                        )));
                    }
                    let coefficients = if is_mul {
                        poly_mul(&pa.1, &pb.1)
                    } else {
                        poly_add(&pa.1, &pb.1)
                    };
                    let mut nodes = pa.2;
                    for n in pb.2 {
                        if !nodes.contains(&n) {
                            nodes.push(n);
                        }
                    }
                    nodes.push(node.name.clone());
                    Value::Poly {
                        of: pa.0,
                        coefficients,
                        nodes,
                    }
                } else if is_mul {
                    return Err(bad(format!(
                        "multiplies two different tensors (`{a}` and `{b}`): hesim imports Mul by \
                         a constant, or of a tensor by itself in a polynomial activation"
                    )));
                } else {
                    return self.residual(node, a, b);
                }
            }
            (Some(c), None) | (None, Some(c)) => {
                let t = if model.constant(a).is_some() { b } else { a };
                if c.values.iter().all(|&v| v == c.values[0]) {
                    let (of, p, mut nodes) = self.poly_of(t);
                    let k = c.values[0];
                    let coefficients = if is_mul {
                        p.iter().map(|v| v * k).collect()
                    } else {
                        poly_add(&p, &[k])
                    };
                    nodes.push(node.name.clone());
                    Value::Poly {
                        of,
                        coefficients,
                        nodes,
                    }
                } else {
                    self.fold_into_layer(node, t, c)?
                }
            }
            (Some(_), Some(_)) => unreachable!("refused when decoded"),
        };
        self.values.insert(node.output.clone(), result);
        Ok(())
    }

    /// The tensor as a polynomial of a layer output: (layer, coefficients, nodes).
    fn poly_of(&self, tensor: &str) -> (Option<usize>, Vec<f64>, Vec<String>) {
        match self.value(tensor) {
            Value::Layer(i) => (*i, vec![0.0, 1.0], Vec::new()),
            Value::Poly {
                of,
                coefficients,
                nodes,
            } => (*of, coefficients.clone(), nodes.clone()),
        }
    }

    /// A per-channel constant added to or multiplying the output of the conv or linear layer
    /// just built, read by nothing else: folded into that layer's weights and bias.
    fn fold_into_layer(
        &mut self,
        node: &Node,
        tensor: &str,
        c: &super::Constant,
    ) -> Result<Value, Problem> {
        let model = self.model;
        let shape = model.shape(tensor).expect("inferred");
        let channels = shape[1];
        let last = self.last();
        let foldable = matches!(self.value(tensor), Value::Layer(i) if *i == last)
            && last.is_some_and(|l| {
                matches!(
                    self.layers[l].kind,
                    LayerKind::Conv { .. } | LayerKind::Linear { .. }
                )
            })
            && self.readers.get(tensor) == Some(&1);
        // The constant must vary along channels only: shape […, C, 1, 1] or [C] for a row.
        let per_channel = per_channel(&c.dims, shape).then(|| channel_vector(&c.values, channels));
        let (Some(l), Some(Some(vector))) = (last.filter(|_| foldable), per_channel) else {
            return Err(Self::problem(
                node,
                format!(
                    "{} `{tensor}` by a constant of shape {:?} that is not one number: hesim \
                     folds per-channel constants only into the conv, Gemm or MatMul layer that \
                     directly produced the tensor",
                    if matches!(node.op, Op::Mul) {
                        "multiplies"
                    } else {
                        "adds to"
                    },
                    c.dims
                ),
            ));
        };
        let LayerParams::Affine { weight, bias } = &mut self.params[l] else {
            unreachable!("conv and linear layers have affine parameters")
        };
        if matches!(node.op, Op::Mul) {
            let per_out = weight.len() / channels;
            let scaled: Vec<f32> = (0..weight.len())
                .map(|i| (weight.get(i) * vector[i / per_out]) as f32)
                .collect();
            *weight = Tensor::Stored(Arc::from(scaled));
            bias.iter_mut().zip(&vector).for_each(|(b, s)| *b *= s);
        } else {
            bias.iter_mut().zip(&vector).for_each(|(b, s)| *b += s);
            match &mut self.layers[l].kind {
                LayerKind::Conv { bias, .. } | LayerKind::Linear { bias, .. } => *bias = true,
                _ => unreachable!("checked above"),
            }
        }
        self.notes.push(format!(
            "{}: per-channel {} folded into layer `{}`",
            node.name,
            if matches!(node.op, Op::Mul) {
                "scale"
            } else {
                "bias"
            },
            self.layers[l].name
        ));
        Ok(Value::Layer(Some(l)))
    }

    /// `a + b` of two computed tensors: one is the current layer output, the other an
    /// earlier layer's.
    fn residual(&mut self, node: &Node, a: &str, b: &str) -> Result<(), Problem> {
        let last = self.last();
        let is_current = |t: &str| match self.value(t) {
            Value::Layer(i) => *i == last,
            Value::Poly { of, .. } => *of == last,
        };
        let (current, earlier) = if is_current(a) { (a, b) } else { (b, a) };
        self.current(current, node)?;
        let Value::Layer(Some(from)) = *self.value(earlier) else {
            return Err(Self::problem(
                node,
                format!(
                    "adds `{a}` and `{b}`: a residual adds the output of an earlier layer (not the \
                     network input or a pending activation) to the previous layer's output"
                ),
            ));
        };
        let from = self.layers[from].name.clone();
        let i = self.push(&node.name, LayerKind::Residual { from }, LayerParams::None);
        self.values
            .insert(node.output.clone(), Value::Layer(Some(i)));
        Ok(())
    }
}

/// Whether a constant of shape `c` is constant except along axis 1 of a tensor of shape `t`.
fn per_channel(c: &[usize], t: &[usize]) -> bool {
    let offset = t.len() - c.len();
    c.iter()
        .enumerate()
        .all(|(i, &d)| d == 1 || i + offset == 1)
}

/// A constant's values as one value per channel (a single value repeated).
fn channel_vector(values: &[f64], channels: usize) -> Option<Vec<f64>> {
    match values.len() {
        1 => Some(vec![values[0]; channels]),
        n if n == channels => Some(values.to_vec()),
        _ => None,
    }
}

fn affine(weight: &[f64], scale: f64, bias: Vec<f64>) -> LayerParams {
    let weight: Vec<f32> = weight.iter().map(|&w| (scale * w) as f32).collect();
    LayerParams::Affine {
        weight: Tensor::Stored(Arc::from(weight)),
        bias,
    }
}

/// A row-major `rows × cols` matrix transposed.
fn transpose(values: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols * rows)
        .map(|i| values[(i % rows) * cols + i / rows])
        .collect()
}

fn poly_add(a: &[f64], b: &[f64]) -> Vec<f64> {
    (0..a.len().max(b.len()))
        .map(|i| a.get(i).unwrap_or(&0.0) + b.get(i).unwrap_or(&0.0))
        .collect()
}

fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            c[i + j] += x * y;
        }
    }
    c
}

fn poly_text(c: &[f64]) -> String {
    let mut text = String::new();
    for (k, &v) in c.iter().enumerate().rev().filter(|&(_, &v)| v != 0.0) {
        let sign = if v < 0.0 { "−" } else { "+" };
        text += &match (text.is_empty(), v < 0.0) {
            (true, false) => String::new(),
            (true, true) => "−".to_owned(),
            (false, _) => format!(" {sign} "),
        };
        text += &match k {
            0 => format!("{:.6}", v.abs()),
            1 => format!("{:.6}·x", v.abs()),
            _ => format!("{:.6}·x^{k}", v.abs()),
        };
    }
    if text.is_empty() { "0".into() } else { text }
}

//! A checked ONNX [`Model`] → a hesim [`Network`] (the graph IR: layers with named edges)
//! and its [`Params`].
//!
//! Each supported node becomes one layer reading the layer that produced its input.
//! Element-wise `Add` and `Mul` nodes on one tensor (by scalar constants, or of the tensor
//! by itself) are fused into one polynomial activation — the form `torch.onnx.export` gives
//! a learned `α·x² + β·x + c` activation; an `Add` or `Mul` by a per-channel constant right
//! after a conv or linear layer is folded into its weights and bias; an `Add` of two
//! computed tensors is a residual, `Concat` a channel concatenation, `Relu` the chosen named
//! approximation.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{Constant, Model, Node, OnnxError, Op, Problem};
use crate::nn::ReluApprox;
use crate::nn::network::{INPUT, Layer, LayerKind, MAX_POLY_COEFFICIENTS, Network, Shape, Source};
use crate::nn::weights::{LayerParams, Params, Tensor, relu_params};

/// An imported network, its parameters (the initializers) and what the import changed.
#[derive(Clone, Debug)]
pub struct Imported {
    pub network: Network,
    pub params: Params,
    /// One line per fusion or folding of element-wise nodes, for the user (the ReLU
    /// substitutes are the network's own [`Network::substitutions`]).
    pub notes: Vec<String>,
}

/// What a tensor of the graph is, in terms of the layers built so far.
#[derive(Clone, Debug)]
enum Value {
    /// The network input or a layer's output.
    Tensor(Source),
    /// `Σ cₖ·xᵏ` of a tensor, not yet a layer; `nodes` made it.
    Poly {
        of: Source,
        coefficients: Vec<f64>,
        nodes: Vec<String>,
    },
}

struct Builder<'a> {
    model: &'a Model,
    relu: &'a ReluApprox,
    layers: Vec<Layer>,
    params: Vec<LayerParams>,
    values: HashMap<String, Value>,
    /// How many nodes read each tensor (folding a constant into a layer needs it to be 1).
    readers: HashMap<&'a str, usize>,
    notes: Vec<String>,
}

/// Converts a checked model, each `Relu` becoming `relu`; errors name the node that does
/// not fit.
pub fn to_network(model: &Model, relu: &ReluApprox) -> Result<Imported, OnnxError> {
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
        relu,
        layers: Vec::new(),
        params: Vec::new(),
        values: HashMap::from([(model.input.clone(), Value::Tensor(Source::Input))]),
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
    let output = b.materialize(&model.output, last).map_err(fail)?;
    if output != Source::Layer(b.layers.len().wrapping_sub(1)) {
        return Err(fail(Problem::Graph {
            message: format!(
                "the graph output `{}` is not computed by a layer of its own",
                model.output
            ),
        }));
    }
    let input = match model.input_shape[..] {
        [_, c, h, w] => Shape::new(c, h, w),
        [_, k] => Shape::new(k, 1, 1),
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

    /// The edge name of a tensor source.
    fn source_name(&self, source: Source) -> String {
        match source {
            Source::Input => INPUT.to_owned(),
            Source::Layer(i) => self.layers[i].name.clone(),
        }
    }

    /// Appends a layer reading `input`, named after `name` (made unique).
    fn push(&mut self, name: &str, kind: LayerKind, params: LayerParams, input: Source) -> Source {
        let mut unique = name.to_owned();
        let mut k = 1;
        while unique == INPUT || self.layers.iter().any(|l| l.name == unique) {
            k += 1;
            unique = format!("{name}_{k}");
        }
        let previous = match self.layers.len() {
            0 => Source::Input,
            n => Source::Layer(n - 1),
        };
        let input = (input != previous).then(|| self.source_name(input));
        self.layers.push(Layer {
            name: unique,
            kind,
            input,
        });
        self.params.push(params);
        Source::Layer(self.layers.len() - 1)
    }

    fn value(&self, tensor: &str) -> &Value {
        self.values
            .get(tensor)
            .expect("nodes are visited in topological order")
    }

    /// The layer (or input) holding `tensor`, making a pending polynomial a layer first.
    fn materialize(&mut self, tensor: &str, node: &Node) -> Result<Source, Problem> {
        let (of, coefficients, nodes) = match self.value(tensor) {
            Value::Tensor(s) => return Ok(*s),
            Value::Poly {
                of,
                coefficients,
                nodes,
            } => (*of, coefficients.clone(), nodes.clone()),
        };
        if coefficients == [0.0, 1.0] {
            return Ok(of);
        }
        if coefficients.len() > MAX_POLY_COEFFICIENTS {
            return Err(Self::problem(
                node,
                format!(
                    "the polynomial built by {} has degree {}; hesim's activation layer holds \
                     degree ≤ {}",
                    nodes.join(", "),
                    coefficients.len() - 1,
                    MAX_POLY_COEFFICIENTS - 1
                ),
            ));
        }
        let name = nodes.last().expect("a polynomial has a node").clone();
        self.notes.push(format!(
            "{name}: element-wise nodes {} fused into the polynomial {}",
            nodes.join(", "),
            poly_text(&coefficients)
        ));
        let kind = LayerKind::Poly {
            coefficients: coefficients.clone(),
        };
        let layer = self.push(&name, kind, LayerParams::Poly { coefficients }, of);
        self.values.insert(tensor.to_owned(), Value::Tensor(layer));
        Ok(layer)
    }

    fn node(&mut self, node: &'a Node) -> Result<(), Problem> {
        let model = self.model;
        let input = |i: usize| node.inputs.get(i).and_then(Option::as_deref);
        let x = input(0).expect("every operator has a first input");
        let constant = |i: usize| input(i).map(|t| model.constant(t).expect("checked"));
        let out_shape = model.shape(&node.output).expect("inferred");
        let bad = |message: String| Self::problem(node, message);
        let (kind, params) = match &node.op {
            Op::Add | Op::Mul => return self.elementwise(node),
            Op::Concat { .. } => return self.concat(node),
            Op::Conv {
                kernel,
                strides,
                pads,
                group,
            } => {
                let weight = constant(1).expect("required");
                let [kh, kw] = match kernel {
                    [0, 0] => [weight.dims[2], weight.dims[3]],
                    k => *k,
                };
                if kh != kw || strides[0] != strides[1] || pads.iter().any(|&p| p != pads[0]) {
                    return Err(bad(format!(
                        "kernel {kh}×{kw}, strides {strides:?}, pads {pads:?}: hesim's conv \
                         layer has a square kernel, one stride and equal pads on all sides"
                    )));
                }
                let out = weight.dims[0];
                let bias = constant(2).map(|b| b.values.clone());
                let kind = LayerKind::Conv {
                    out,
                    kernel: kh,
                    stride: strides[0],
                    pad: pads[0],
                    groups: *group,
                    bias: bias.is_some(),
                };
                let params = affine(&weight.values, 1.0, bias.unwrap_or_else(|| vec![0.0; out]));
                (kind, params)
            }
            Op::Gemm {
                alpha,
                beta,
                trans_b,
            } => {
                let b = constant(1).expect("required");
                let weight = if *trans_b {
                    b.values.clone()
                } else {
                    transpose(&b.values, b.dims[0], b.dims[1])
                };
                let out = out_shape[1];
                let bias: Option<Vec<f64>> = match constant(2) {
                    Some(c) => Some(
                        channel_vector(&c.values, out)
                            .ok_or_else(|| bad(format!("bias of shape {:?}", c.dims)))?
                            .into_iter()
                            .map(|v| beta * v)
                            .collect(),
                    ),
                    None => None,
                };
                self.linear(node, out, &weight, *alpha, bias)?
            }
            Op::MatMul => {
                let b = constant(1).expect("required");
                let weight = transpose(&b.values, b.dims[0], b.dims[1]);
                self.linear(node, b.dims[1], &weight, 1.0, None)?
            }
            Op::AveragePool {
                kernel,
                strides,
                pads,
                ..
            } => {
                if kernel[0] != kernel[1] || *strides != *kernel || pads.iter().any(|&p| p != 0) {
                    return Err(bad(format!(
                        "kernel {kernel:?}, strides {strides:?}, pads {pads:?}: hesim's average \
                         pooling has a square kernel, stride = kernel and no padding"
                    )));
                }
                (LayerKind::AvgPool { kernel: kernel[0] }, LayerParams::None)
            }
            Op::GlobalAveragePool => (LayerKind::GlobalAvgPool, LayerParams::None),
            Op::BatchNormalization { epsilon } => {
                let v = |i: usize| constant(i).expect("required").values.clone();
                let params = LayerParams::BatchNorm {
                    gamma: v(1),
                    beta: v(2),
                    mean: v(3),
                    var: v(4),
                    eps: *epsilon,
                };
                (LayerKind::BatchNorm { eps: *epsilon }, params)
            }
            Op::Relu => (
                LayerKind::Relu {
                    approx: self.relu.clone(),
                },
                relu_params(self.relu),
            ),
            Op::Flatten | Op::Reshape => {
                let s = model.shape(x).expect("inferred");
                if out_shape.len() != 2 || out_shape[0] != 1 {
                    return Err(bad(format!(
                        "reshapes {s:?} to {out_shape:?}: hesim imports reshapes that flatten \
                         to 1×N only"
                    )));
                }
                if s.len() == 2 {
                    // Already flat: the same tensor.
                    let value = self.value(x).clone();
                    self.values.insert(node.output.clone(), value);
                    return Ok(());
                }
                (LayerKind::Flatten, LayerParams::None)
            }
        };
        let source = self.materialize(x, node)?;
        let layer = self.push(&node.name, kind, params, source);
        self.values
            .insert(node.output.clone(), Value::Tensor(layer));
        Ok(())
    }

    /// A linear layer (weight `[out, in]`, scaled by `scale`) from Gemm or MatMul.
    fn linear(
        &self,
        node: &Node,
        out: usize,
        weight: &[f64],
        scale: f64,
        bias: Option<Vec<f64>>,
    ) -> Result<(LayerKind, LayerParams), Problem> {
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
        let kind = LayerKind::Linear {
            out,
            bias: bias.is_some(),
        };
        Ok((
            kind,
            affine(weight, scale, bias.unwrap_or_else(|| vec![0.0; out])),
        ))
    }

    /// `Concat` on channels: the first input, then the others' channels.
    fn concat(&mut self, node: &Node) -> Result<(), Problem> {
        let mut sources = Vec::with_capacity(node.inputs.len());
        for t in node.inputs.iter().flatten() {
            sources.push(self.materialize(t, node)?);
        }
        let from = sources[1..].iter().map(|&s| self.source_name(s)).collect();
        let layer = self.push(
            &node.name,
            LayerKind::Concat { from },
            LayerParams::None,
            sources[0],
        );
        self.values
            .insert(node.output.clone(), Value::Tensor(layer));
        Ok(())
    }

    /// `Add` / `Mul`: polynomial fusion, constant folding into the producing layer, or a
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
                    if is_mul && pa.1.len() + pb.1.len() - 1 > MAX_POLY_COEFFICIENTS {
                        return Err(bad(format!(
                            "the polynomial activation would pass degree {}",
                            MAX_POLY_COEFFICIENTS - 1
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
                    let current = self.materialize(a, node)?;
                    let other = self.materialize(b, node)?;
                    let from = self.source_name(other);
                    Value::Tensor(self.push(
                        &node.name,
                        LayerKind::Residual { from },
                        LayerParams::None,
                        current,
                    ))
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

    /// The tensor as a polynomial of a materialised one: (source, coefficients, nodes).
    fn poly_of(&self, tensor: &str) -> (Source, Vec<f64>, Vec<String>) {
        match self.value(tensor) {
            Value::Tensor(s) => (*s, vec![0.0, 1.0], Vec::new()),
            Value::Poly {
                of,
                coefficients,
                nodes,
            } => (*of, coefficients.clone(), nodes.clone()),
        }
    }

    /// A per-channel constant added to or multiplying the output of a conv or linear layer
    /// that nothing else reads: folded into that layer's weights and bias.
    fn fold_into_layer(
        &mut self,
        node: &Node,
        tensor: &str,
        c: &Constant,
    ) -> Result<Value, Problem> {
        let shape = self.model.shape(tensor).expect("inferred");
        let channels = shape[1];
        let target = match self.value(tensor) {
            Value::Tensor(Source::Layer(l))
                if matches!(
                    self.layers[*l].kind,
                    LayerKind::Conv { .. } | LayerKind::Linear { .. }
                ) && self.readers.get(tensor) == Some(&1) =>
            {
                Some(*l)
            }
            _ => None,
        };
        // The constant must vary along channels only: shape […, C, 1, 1] or [C] for a row.
        let vector = per_channel(&c.dims, shape)
            .then(|| channel_vector(&c.values, channels))
            .flatten();
        let (Some(l), Some(vector)) = (target, vector) else {
            return Err(Self::problem(
                node,
                format!(
                    "{} `{tensor}` by a constant of shape {:?} that is not one number: hesim \
                     folds per-channel constants only into the conv, Gemm or MatMul layer that \
                     produced the tensor (and that nothing else reads)",
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
        Ok(Value::Tensor(Source::Layer(l)))
    }
}

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

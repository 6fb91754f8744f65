//! ONNX import: a model file → a checked, topologically sorted list of nodes with every
//! tensor's static shape and the initializers' values, then (in `convert`) a hesim network
//! with its parameters.
//!
//! The protobuf side is `prost` with the schema subset declared in [`proto`] (why: see
//! there). Everything read from the file is bounded before it is allocated: the file size
//! ([`MAX_ONNX_BYTES`]), what decoding allocates ([`proto::MAX_DECODED_BYTES`]), each
//! constant's element count and every tensor's ([`MAX_TENSOR_ELEMENTS`]). Bad input of any kind
//! is an [`OnnxError`] naming the file and, where there is one, the node.

mod convert;
mod proto;

use std::collections::{HashMap, HashSet};
use std::path::Path;

pub use convert::{Imported, to_network};
pub use proto::MAX_DECODED_BYTES;

use super::network::{MAX_LAYER_WEIGHTS, MAX_TENSOR_ELEMENTS};
use proto::{AttributeProto, NodeProto, SizeError, TensorProto, attribute_type, data_type};

/// Largest ONNX file hesim reads (256 MiB: ResNet-50's float32 export is ~100 MB).
pub const MAX_ONNX_BYTES: u64 = 256 << 20;

/// Largest constant (initializer) hesim reads, in elements: the per-layer weight cap.
pub const MAX_CONSTANT_ELEMENTS: usize = MAX_LAYER_WEIGHTS;

/// The operators hesim imports (`Constant` holds data only).
pub const SUPPORTED_OPS: [&str; 13] = [
    "Conv",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "Relu",
    "Flatten",
    "Reshape",
    "Concat",
    "Constant",
];

/// An ONNX file that cannot be imported, and why.
#[derive(Debug, thiserror::Error)]
#[error("ONNX model {source_name}: {problem}")]
pub struct OnnxError {
    pub source_name: String,
    pub problem: Problem,
}

/// What is wrong with an ONNX model. Node-level problems name the node (its ONNX name, or
/// `#i` for the i-th node when it has none) and its operator type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("cannot read the file: {message}")]
    Io { message: String },
    #[error(
        "the file has {size} bytes, more than the {limit}-byte cap on ONNX files; hesim imports \
         networks whose weights fit that"
    )]
    FileTooLarge { size: u64, limit: u64 },
    #[error("not a valid ONNX file (protobuf decoding failed: {message}); is it truncated?")]
    Corrupt { message: String },
    #[error(
        "decoding it would allocate more than {limit} bytes (the cap on a decoded model); the \
         file holds far more nodes, attributes or values than any network hesim imports"
    )]
    DecodedTooLarge { limit: u64 },
    #[error("{message}")]
    Graph { message: String },
    #[error(
        "node `{node}` has operator type `{op_type}`, which hesim does not import; supported: {}",
        SUPPORTED_OPS.join(", ")
    )]
    UnsupportedOp { node: String, op_type: String },
    #[error("node `{node}` ({op_type}): {message}")]
    Node {
        node: String,
        op_type: String,
        message: String,
    },
    #[error(
        "node `{node}` ({op_type}): {message}: hesim needs static shapes; export with fixed \
         sizes (batch 1, no dynamic_axes) and constant reshape targets"
    )]
    DynamicShape {
        node: String,
        op_type: String,
        message: String,
    },
    #[error(
        "node `{node}` ({op_type}) is part of a cycle (its input depends on its own output); \
         an inference graph must be acyclic"
    )]
    Cycle { node: String, op_type: String },
    #[error(
        "node `{node}` ({op_type}) reads `{tensor}`, which no node, graph input or initializer \
         provides (a dangling edge)"
    )]
    Dangling {
        node: String,
        op_type: String,
        tensor: String,
    },
    #[error("tensor `{tensor}`: {message}")]
    Tensor { tensor: String, message: String },
}

/// A constant tensor: an initializer or a `Constant` node's value, as `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constant {
    pub dims: Vec<usize>,
    pub values: Vec<f64>,
}

/// A supported operator with its attributes checked (defaults filled in). Spatial attributes
/// are `[height, width]`; pads are `[top, left, bottom, right]` as in ONNX.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Op {
    Conv {
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 4],
        group: usize,
    },
    Gemm {
        alpha: f64,
        beta: f64,
        trans_b: bool,
    },
    MatMul,
    Add,
    Mul,
    AveragePool {
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 4],
        count_include_pad: bool,
    },
    GlobalAveragePool,
    BatchNormalization {
        epsilon: f64,
    },
    Relu,
    Flatten,
    Reshape,
    Concat {
        axis: usize,
    },
}

/// One node of the graph, inputs as tensor names (constants among them are in
/// [`Model::constants`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The ONNX node name, or `#i` (i-th node of the file) when it has none.
    pub name: String,
    pub op_type: String,
    pub op: Op,
    /// Input tensor names; an omitted optional input is `None`.
    pub inputs: Vec<Option<String>>,
    pub output: String,
}

/// A checked ONNX graph: one input, one output, nodes in topological order (only those the
/// output depends on), the static shape of every tensor a node reads or writes.
#[derive(Clone, Debug)]
pub struct Model {
    /// The file (or other source) it came from, for messages.
    pub source: String,
    pub graph_name: String,
    pub input: String,
    pub input_shape: Vec<usize>,
    pub output: String,
    pub nodes: Vec<Node>,
    pub constants: HashMap<String, Constant>,
    shapes: HashMap<String, Vec<usize>>,
}

impl Model {
    /// Reads and checks an ONNX file.
    pub fn load(path: &Path) -> Result<Self, OnnxError> {
        let source = path.display().to_string();
        let fail = |problem| OnnxError {
            source_name: source.clone(),
            problem,
        };
        let io = |e: std::io::Error| {
            fail(Problem::Io {
                message: e.to_string(),
            })
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_ONNX_BYTES {
            return Err(fail(Problem::FileTooLarge {
                size,
                limit: MAX_ONNX_BYTES,
            }));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Self::decode(&bytes, &source)
    }

    /// Decodes and checks an ONNX model; `source` names it in errors.
    pub fn decode(bytes: &[u8], source: &str) -> Result<Self, OnnxError> {
        Self::decode_inner(bytes, source).map_err(|problem| OnnxError {
            source_name: source.to_owned(),
            problem,
        })
    }

    /// The static shape of a tensor the graph reads or writes.
    pub fn shape(&self, tensor: &str) -> Option<&[usize]> {
        self.shapes.get(tensor).map(Vec::as_slice)
    }

    /// The constant called `tensor`, if it is one.
    pub fn constant(&self, tensor: &str) -> Option<&Constant> {
        self.constants.get(tensor)
    }

    fn decode_inner(bytes: &[u8], source: &str) -> Result<Self, Problem> {
        if bytes.len() as u64 > MAX_ONNX_BYTES {
            return Err(Problem::FileTooLarge {
                size: bytes.len() as u64,
                limit: MAX_ONNX_BYTES,
            });
        }
        let model = proto::decode_model(bytes).map_err(|e| match e {
            SizeError::Malformed(message) => Problem::Corrupt { message },
            SizeError::TooLarge => Problem::DecodedTooLarge {
                limit: MAX_DECODED_BYTES,
            },
        })?;
        let graph_problem = |message: &str| Problem::Graph {
            message: message.to_owned(),
        };
        let graph = model.graph.ok_or_else(|| {
            graph_problem("the file holds no graph (an empty or non-ONNX protobuf file?)")
        })?;
        if !graph.sparse_initializer.is_empty() {
            return Err(graph_problem(
                "sparse initializers are not supported; store the weights densely",
            ));
        }

        let mut constants = HashMap::new();
        for t in &graph.initializer {
            let constant = read_tensor(t, &t.name)?;
            if t.name.is_empty() || constants.insert(t.name.clone(), constant).is_some() {
                return Err(Problem::Tensor {
                    tensor: t.name.clone(),
                    message: "initializer names must be non-empty and unique".into(),
                });
            }
        }

        // Before IR version 4 initializers were listed among the inputs too.
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|v| !constants.contains_key(&v.name))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(Problem::Graph {
                message: format!(
                    "the graph has {} inputs besides its initializers; hesim imports networks \
                     with exactly one input (the image)",
                    inputs.len()
                ),
            });
        };
        let [output] = graph.output.as_slice() else {
            return Err(Problem::Graph {
                message: format!(
                    "the graph has {} outputs; hesim imports networks with exactly one (the \
                     logits)",
                    graph.output.len()
                ),
            });
        };

        // Parse every node (and lift Constant nodes into the constants).
        let mut nodes = Vec::with_capacity(graph.node.len());
        for (index, n) in graph.node.iter().enumerate() {
            let name = if n.name.is_empty() {
                format!("#{index}")
            } else {
                n.name.clone()
            };
            if let Some((tensor, constant)) = constant_node(n, &name)? {
                if constants.insert(tensor.clone(), constant).is_some() {
                    return Err(node_problem(
                        &name,
                        n,
                        format!("output `{tensor}` is also an initializer or constant"),
                    ));
                }
                continue;
            }
            nodes.push(parse_node(n, name)?);
        }

        // Every tensor has one producer; every input has one.
        let mut producer: HashMap<&str, usize> = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            let out = node.output.as_str();
            if out == input.name || constants.contains_key(out) || producer.insert(out, i).is_some()
            {
                return Err(Problem::Node {
                    node: node.name.clone(),
                    op_type: node.op_type.clone(),
                    message: format!(
                        "output `{out}` is written twice (by another node, the graph input or \
                         an initializer); tensor names must be unique"
                    ),
                });
            }
        }
        for node in &nodes {
            for tensor in node.inputs.iter().flatten() {
                if !(producer.contains_key(tensor.as_str())
                    || constants.contains_key(tensor)
                    || *tensor == input.name)
                {
                    return Err(Problem::Dangling {
                        node: node.name.clone(),
                        op_type: node.op_type.clone(),
                        tensor: tensor.clone(),
                    });
                }
            }
        }
        if !producer.contains_key(output.name.as_str()) {
            return Err(Problem::Graph {
                message: format!(
                    "the graph output `{}` is not written by any node (a dangling edge)",
                    output.name
                ),
            });
        }

        let order = topological_order(&nodes, &producer)?;
        let needed = needed_nodes(&nodes, &producer, &output.name);
        let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
        let nodes: Vec<Node> = order
            .into_iter()
            .filter(|&i| needed[i])
            .filter_map(|i| slots[i].take())
            .collect();

        let input_shape = static_input_shape(input, &nodes)?;
        let mut shapes = HashMap::new();
        shapes.insert(input.name.clone(), input_shape.clone());
        for node in &nodes {
            let shape = infer_shape(node, &shapes, &constants)?;
            shapes.insert(node.output.clone(), shape);
        }
        Ok(Self {
            source: source.to_owned(),
            graph_name: graph.name.clone(),
            input: input.name.clone(),
            input_shape,
            output: output.name.clone(),
            nodes,
            constants,
            shapes,
        })
    }
}

fn node_problem(name: &str, n: &NodeProto, message: String) -> Problem {
    Problem::Node {
        node: name.to_owned(),
        op_type: n.op_type.clone(),
        message,
    }
}

/// Elements of a shape, `None` past the tensor cap (or on overflow).
fn elements(dims: &[usize], cap: usize) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= cap)
}

/// An initializer or constant's values, dims and element count checked before any
/// element is converted.
fn read_tensor(t: &TensorProto, name: &str) -> Result<Constant, Problem> {
    let bad = |message: String| Problem::Tensor {
        tensor: name.to_owned(),
        message,
    };
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(bad(
            "its data is stored in an external file, which hesim does not read; save the model \
             with onnx.save(model, path, save_as_external_data=False)"
                .into(),
        ));
    }
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("dimension {d} is negative"))))
        .collect::<Result<Vec<usize>, Problem>>()?;
    let n = elements(&dims, MAX_CONSTANT_ELEMENTS).ok_or_else(|| {
        bad(format!(
            "shape {dims:?} has more than {MAX_CONSTANT_ELEMENTS} elements (the cap on one \
             constant)"
        ))
    })?;
    let width = match t.data_type {
        data_type::FLOAT | data_type::INT32 => 4,
        data_type::INT64 | data_type::DOUBLE => 8,
        other => {
            return Err(bad(format!(
                "data type {other} is not supported (hesim reads FLOAT, DOUBLE, INT32 and INT64 \
                 tensors); convert the model's weights to float32"
            )));
        }
    };
    let typed_len = match t.data_type {
        data_type::FLOAT => t.float_data.len(),
        data_type::INT32 => t.int32_data.len(),
        data_type::INT64 => t.int64_data.len(),
        _ => t.double_data.len(),
    };
    let values: Vec<f64> = if t.raw_data.is_empty() {
        if typed_len != n {
            return Err(bad(format!(
                "holds {typed_len} values, its shape {dims:?} needs {n}"
            )));
        }
        match t.data_type {
            data_type::FLOAT => t.float_data.iter().map(|&v| f64::from(v)).collect(),
            data_type::INT32 => t.int32_data.iter().map(|&v| f64::from(v)).collect(),
            data_type::INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
            _ => t.double_data.clone(),
        }
    } else {
        if t.raw_data.len() != n * width || typed_len != 0 {
            return Err(bad(format!(
                "raw data has {} bytes, its shape {dims:?} needs {}",
                t.raw_data.len(),
                n * width
            )));
        }
        match t.data_type {
            data_type::FLOAT => t
                .raw_data
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            data_type::INT32 => t
                .raw_data
                .chunks_exact(4)
                .map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            data_type::INT64 => t
                .raw_data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8-byte chunk")) as f64)
                .collect(),
            _ => t
                .raw_data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8-byte chunk")))
                .collect(),
        }
    };
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(bad(format!(
            "holds {v} at index {i}: weights must be finite numbers"
        )));
    }
    Ok(Constant { dims, values })
}

/// A `Constant` node's output and value, or `None` for other nodes.
fn constant_node(n: &NodeProto, name: &str) -> Result<Option<(String, Constant)>, Problem> {
    if n.op_type != "Constant" || !is_default_domain(&n.domain) {
        return Ok(None);
    }
    let tensor = match n.output.as_slice() {
        [t] if !t.is_empty() => t.clone(),
        _ => return Err(node_problem(name, n, "needs exactly one output".into())),
    };
    let value = match n.attribute.as_slice() {
        [a] if a.name == "value" && a.r#type == attribute_type::TENSOR => a.t.as_ref(),
        _ => None,
    };
    let Some(value) = value else {
        return Err(node_problem(
            name,
            n,
            "hesim reads Constant nodes with a single `value` tensor attribute only".into(),
        ));
    };
    Ok(Some((tensor.clone(), read_tensor(value, &tensor)?)))
}

fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// A node's attributes by name, each read at most once, and any left unread refused.
struct Attributes<'a> {
    node: &'a str,
    op_type: &'a str,
    list: Vec<&'a AttributeProto>,
}

impl<'a> Attributes<'a> {
    fn new(n: &'a NodeProto, node: &'a str) -> Result<Self, Problem> {
        let mut seen = HashSet::new();
        for a in &n.attribute {
            if !seen.insert(a.name.as_str()) {
                return Err(node_problem(
                    node,
                    n,
                    format!("attribute `{}` is given twice", a.name),
                ));
            }
        }
        Ok(Self {
            node,
            op_type: &n.op_type,
            list: n.attribute.iter().collect(),
        })
    }

    fn problem(&self, message: String) -> Problem {
        Problem::Node {
            node: self.node.to_owned(),
            op_type: self.op_type.to_owned(),
            message,
        }
    }

    fn take(&mut self, name: &str, kind: i32) -> Result<Option<&'a AttributeProto>, Problem> {
        let Some(pos) = self.list.iter().position(|a| a.name == name) else {
            return Ok(None);
        };
        let a = self.list.swap_remove(pos);
        // Files from before attribute types existed leave `type` unset.
        if a.r#type != kind && a.r#type != 0 {
            return Err(self.problem(format!(
                "attribute `{name}` has type {}, expected {kind}",
                a.r#type
            )));
        }
        Ok(Some(a))
    }

    fn int(&mut self, name: &str, default: i64) -> Result<i64, Problem> {
        Ok(self
            .take(name, attribute_type::INT)?
            .map_or(default, |a| a.i))
    }

    fn float(&mut self, name: &str, default: f64) -> Result<f64, Problem> {
        let v = self
            .take(name, attribute_type::FLOAT)?
            .map_or(default, |a| f64::from(a.f));
        if !v.is_finite() {
            return Err(self.problem(format!("attribute `{name}` = {v} is not finite")));
        }
        Ok(v)
    }

    fn flag(&mut self, name: &str) -> Result<bool, Problem> {
        match self.int(name, 0)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.problem(format!("attribute `{name}` = {v} must be 0 or 1"))),
        }
    }

    /// A list of `len` non-negative sizes (at least `min` each), `default` when absent.
    fn sizes<const N: usize>(
        &mut self,
        name: &str,
        default: Option<[usize; N]>,
        min: usize,
    ) -> Result<[usize; N], Problem> {
        let Some(a) = self.take(name, attribute_type::INTS)? else {
            return default.ok_or_else(|| self.problem(format!("attribute `{name}` is missing")));
        };
        let values: Option<Vec<usize>> = a
            .ints
            .iter()
            .map(|&v| {
                usize::try_from(v)
                    .ok()
                    .filter(|&v| v >= min && v <= MAX_ATTRIBUTE_SIZE)
            })
            .collect();
        values
            .and_then(|v| <[usize; N]>::try_from(v).ok())
            .ok_or_else(|| {
                self.problem(format!(
                    "attribute `{name}` = {:?} must be {N} integers in [{min}, {MAX_ATTRIBUTE_SIZE}] \
                     (hesim imports 2-D convolutions and pooling)",
                    a.ints
                ))
            })
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, Problem> {
        Ok(self
            .take(name, attribute_type::STRING)?
            .map(|a| String::from_utf8_lossy(&a.s).into_owned()))
    }

    /// `auto_pad`: only explicit pads (NOTSET) or none (VALID).
    fn explicit_pads(&mut self) -> Result<bool, Problem> {
        match self.string("auto_pad")?.as_deref() {
            None | Some("NOTSET") => Ok(true),
            Some("VALID") => Ok(false),
            Some(other) => Err(self.problem(format!(
                "auto_pad = {other} is not supported; export with explicit pads"
            ))),
        }
    }

    fn unit_dilations(&mut self) -> Result<(), Problem> {
        let d: [usize; 2] = self.sizes("dilations", Some([1, 1]), 1)?;
        if d != [1, 1] {
            return Err(self.problem(format!("dilations {d:?} are not supported (only 1)")));
        }
        Ok(())
    }

    /// Refuses attributes the operator's reader did not take.
    fn finish(self) -> Result<(), Problem> {
        match self.list.first() {
            None => Ok(()),
            Some(a) => Err(self.problem(format!(
                "attribute `{}` is not supported for this operator",
                a.name
            ))),
        }
    }
}

/// Largest kernel, stride or pad an attribute may give (far above any real network; keeps
/// shape arithmetic small).
const MAX_ATTRIBUTE_SIZE: usize = 1 << 20;

fn parse_node(n: &NodeProto, name: String) -> Result<Node, Problem> {
    let unsupported = || Problem::UnsupportedOp {
        node: name.clone(),
        op_type: if is_default_domain(&n.domain) {
            n.op_type.clone()
        } else {
            format!("{}::{}", n.domain, n.op_type)
        },
    };
    if !is_default_domain(&n.domain) {
        return Err(unsupported());
    }
    let mut at = Attributes::new(n, &name)?;
    let (op, arity) = match n.op_type.as_str() {
        "Conv" => {
            let explicit = at.explicit_pads()?;
            at.unit_dilations()?;
            let group = at.int("group", 1)?;
            let group = usize::try_from(group)
                .ok()
                .filter(|&g| (1..=MAX_ATTRIBUTE_SIZE).contains(&g))
                .ok_or_else(|| at.problem(format!("group = {group} must be positive")))?;
            let kernel = at.sizes("kernel_shape", Some([0, 0]), 1)?;
            let pads = at.sizes("pads", Some([0; 4]), 0)?;
            let op = Op::Conv {
                kernel,
                strides: at.sizes("strides", Some([1, 1]), 1)?,
                pads: if explicit { pads } else { [0; 4] },
                group,
            };
            (op, 2..=3)
        }
        "Gemm" => {
            let alpha = at.float("alpha", 1.0)?;
            let beta = at.float("beta", 1.0)?;
            if at.flag("transA")? {
                return Err(at.problem(
                    "transA = 1 is not supported: the activation must be the row operand".into(),
                ));
            }
            let trans_b = at.flag("transB")?;
            (
                Op::Gemm {
                    alpha,
                    beta,
                    trans_b,
                },
                2..=3,
            )
        }
        "MatMul" => (Op::MatMul, 2..=2),
        "Add" => (Op::Add, 2..=2),
        "Mul" => (Op::Mul, 2..=2),
        "AveragePool" => {
            let explicit = at.explicit_pads()?;
            at.unit_dilations()?;
            if at.flag("ceil_mode")? {
                return Err(at.problem(
                    "ceil_mode = 1 (partial windows) is not supported; export with \
                     ceil_mode=False"
                        .into(),
                ));
            }
            let kernel = at.sizes("kernel_shape", None, 1)?;
            let pads = at.sizes("pads", Some([0; 4]), 0)?;
            let op = Op::AveragePool {
                kernel,
                strides: at.sizes("strides", Some([1, 1]), 1)?,
                pads: if explicit { pads } else { [0; 4] },
                count_include_pad: at.flag("count_include_pad")?,
            };
            (op, 1..=1)
        }
        "GlobalAveragePool" => (Op::GlobalAveragePool, 1..=1),
        "BatchNormalization" => {
            let epsilon = at.float("epsilon", 1e-5)?;
            // Finite (checked by `float`), so NaN cannot slip through.
            if epsilon <= 0.0 {
                return Err(at.problem(format!("epsilon = {epsilon} must be positive")));
            }
            at.float("momentum", 0.9)?;
            if at.flag("training_mode")? {
                return Err(at.problem(
                    "training_mode = 1: export the model in eval mode (model.eval())".into(),
                ));
            }
            // Opset < 9: `spatial = 1` is the per-channel form hesim reads.
            if at.int("spatial", 1)? != 1 {
                return Err(at.problem("spatial = 0 is not supported".into()));
            }
            (Op::BatchNormalization { epsilon }, 5..=5)
        }
        "Relu" => (Op::Relu, 1..=1),
        "Flatten" => {
            let axis = at.int("axis", 1)?;
            if axis != 1 {
                return Err(at.problem(format!(
                    "axis = {axis} is not supported: hesim flattens everything after the batch \
                     dimension (axis = 1)"
                )));
            }
            (Op::Flatten, 1..=1)
        }
        "Reshape" => {
            if at.int("allowzero", 0)? != 0 {
                return Err(at.problem("allowzero = 1 is not supported".into()));
            }
            (Op::Reshape, 2..=2)
        }
        "Concat" => {
            let axis = at.int("axis", i64::MIN)?;
            if axis == i64::MIN {
                return Err(at.problem("attribute `axis` is missing".into()));
            }
            if axis != 1 && axis != -3 {
                return Err(at.problem(format!(
                    "axis = {axis} is not supported: hesim concatenates channels (axis = 1 of \
                     an N×C×H×W tensor)"
                )));
            }
            (Op::Concat { axis: 1 }, 1..=MAX_CONCAT_INPUTS)
        }
        _ => return Err(unsupported()),
    };
    at.finish()?;
    let output = match n.output.as_slice() {
        [t] if !t.is_empty() => t.clone(),
        _ => {
            return Err(node_problem(
                &name,
                n,
                format!(
                    "has {} outputs; hesim imports operators with exactly one",
                    n.output.len()
                ),
            ));
        }
    };
    if !arity.contains(&n.input.len()) {
        return Err(node_problem(
            &name,
            n,
            format!(
                "has {} inputs, expected {} to {}",
                n.input.len(),
                arity.start(),
                arity.end()
            ),
        ));
    }
    let inputs: Vec<Option<String>> = n
        .input
        .iter()
        .map(|t| (!t.is_empty()).then(|| t.clone()))
        .collect();
    // Only trailing optional inputs (a bias) may be omitted; Concat joins all it is given.
    let required = if matches!(op, Op::Concat { .. }) {
        inputs.len()
    } else {
        *arity.start()
    };
    if inputs.iter().take(required).any(Option::is_none) {
        return Err(node_problem(&name, n, "a required input is empty".into()));
    }
    Ok(Node {
        name,
        op_type: n.op_type.clone(),
        op,
        inputs,
        output,
    })
}

/// Most inputs one Concat may join.
const MAX_CONCAT_INPUTS: usize = 1024;

/// Kahn's algorithm over node indices; a leftover node is on or behind a cycle, so walk
/// back through unsorted producers until a node repeats: that one is on the cycle.
fn topological_order(
    nodes: &[Node],
    producer: &HashMap<&str, usize>,
) -> Result<Vec<usize>, Problem> {
    let preds = |i: usize| {
        nodes[i]
            .inputs
            .iter()
            .flatten()
            .filter_map(|t| producer.get(t.as_str()).copied())
    };
    let mut pending: Vec<usize> = (0..nodes.len()).map(|i| preds(i).count()).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for i in 0..nodes.len() {
        for p in preds(i) {
            users[p].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..nodes.len())
        .filter(|&i| pending[i] == 0)
        .rev()
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &u in users[i].iter().rev() {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.push(u);
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    let mut visited = vec![false; nodes.len()];
    let mut at = (0..nodes.len())
        .find(|&i| pending[i] > 0)
        .expect("a node is left");
    while !visited[at] {
        visited[at] = true;
        at = preds(at)
            .find(|&p| pending[p] > 0)
            .expect("an unsorted node has an unsorted producer");
    }
    Err(Problem::Cycle {
        node: nodes[at].name.clone(),
        op_type: nodes[at].op_type.clone(),
    })
}

/// The nodes the graph output depends on (others are dead code and dropped).
fn needed_nodes(nodes: &[Node], producer: &HashMap<&str, usize>, output: &str) -> Vec<bool> {
    let mut needed = vec![false; nodes.len()];
    let mut stack: Vec<usize> = producer.get(output).copied().into_iter().collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut needed[i], true) {
            continue;
        }
        stack.extend(
            nodes[i]
                .inputs
                .iter()
                .flatten()
                .filter_map(|t| producer.get(t.as_str()).copied()),
        );
    }
    needed
}

/// The graph input's shape: every dimension a fixed positive size, batch 1, N×C×H×W or
/// N×K.
fn static_input_shape(
    input: &proto::ValueInfoProto,
    nodes: &[Node],
) -> Result<Vec<usize>, Problem> {
    let consumer = nodes
        .iter()
        .find(|n| n.inputs.iter().flatten().any(|t| *t == input.name));
    let (node, op_type) = consumer.map_or((String::new(), "graph input".to_owned()), |n| {
        (n.name.clone(), n.op_type.clone())
    });
    let name = &input.name;
    let dynamic = |message: String| Problem::DynamicShape {
        node: node.clone(),
        op_type: op_type.clone(),
        message,
    };
    let tensor_type = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| Problem::Tensor {
            tensor: name.clone(),
            message: "the graph input is not a tensor".into(),
        })?;
    if tensor_type.elem_type != data_type::FLOAT {
        return Err(Problem::Tensor {
            tensor: name.clone(),
            message: format!(
                "the graph input has element type {}; hesim imports float32 networks",
                tensor_type.elem_type
            ),
        });
    }
    let shape = tensor_type
        .shape
        .as_ref()
        .ok_or_else(|| dynamic(format!("input `{name}` has no shape (unknown rank)")))?;
    let mut dims = Vec::with_capacity(shape.dim.len().min(8));
    for (axis, d) in shape.dim.iter().enumerate() {
        match (d.dim_value, &d.dim_param) {
            (Some(v), _) if v > 0 => dims.push(usize::try_from(v).unwrap_or(usize::MAX)),
            (Some(v), _) => {
                return Err(Problem::Tensor {
                    tensor: name.clone(),
                    message: format!(
                        "dimension {axis} of the input is {v}; sizes must be positive"
                    ),
                });
            }
            (None, Some(p)) => {
                return Err(dynamic(format!(
                    "dimension {axis} of input `{name}` is the symbol `{p}`"
                )));
            }
            (None, None) => {
                return Err(dynamic(format!(
                    "dimension {axis} of input `{name}` has no size"
                )));
            }
        }
    }
    if !matches!(dims.len(), 2 | 4) || dims[0] != 1 {
        return Err(Problem::Tensor {
            tensor: name.clone(),
            message: format!(
                "the input has shape {dims:?}; hesim imports one image at a time: 1×C×H×W or 1×K"
            ),
        });
    }
    if elements(&dims, MAX_TENSOR_ELEMENTS).is_none() {
        return Err(Problem::Tensor {
            tensor: name.clone(),
            message: format!(
                "the input shape {dims:?} has more than {MAX_TENSOR_ELEMENTS} elements (the cap \
                 on any tensor)"
            ),
        });
    }
    Ok(dims)
}

/// The output shape of `node` given its inputs' shapes, checking that they fit together.
fn infer_shape(
    node: &Node,
    shapes: &HashMap<String, Vec<usize>>,
    constants: &HashMap<String, Constant>,
) -> Result<Vec<usize>, Problem> {
    let bad = |message: String| Problem::Node {
        node: node.name.clone(),
        op_type: node.op_type.clone(),
        message,
    };
    let input = |i: usize| node.inputs.get(i).and_then(Option::as_deref);
    // A tensor computed by the graph (not a constant).
    let activation = |i: usize| -> Result<&Vec<usize>, Problem> {
        let t = input(i).expect("required input checked when parsed");
        shapes.get(t).ok_or_else(|| {
            bad(format!(
                "input {i} (`{t}`) is a constant; hesim needs it to be computed from the graph input"
            ))
        })
    };
    let constant = |i: usize, what: &str| -> Result<Option<&Constant>, Problem> {
        let Some(t) = input(i) else { return Ok(None) };
        constants.get(t).map(Some).ok_or_else(|| {
            bad(format!(
                "the {what} (`{t}`) must be an initializer or constant, not computed by the graph"
            ))
        })
    };
    let image = |i: usize| -> Result<[usize; 4], Problem> {
        let s = activation(i)?;
        <[usize; 4]>::try_from(s.as_slice()).map_err(|_| {
            bad(format!(
                "input has shape {s:?}; this operator needs an N×C×H×W tensor"
            ))
        })
    };
    let window =
        |side: usize, k: usize, s: usize, p0: usize, p1: usize| -> Result<usize, Problem> {
            let padded = side + p0 + p1;
            if padded < k {
                return Err(bad(format!(
                    "kernel {k} is larger than the padded input side {padded}"
                )));
            }
            Ok((padded - k) / s + 1)
        };
    let out = match &node.op {
        Op::Conv {
            kernel,
            strides,
            pads,
            group,
        } => {
            let [n, c, h, w] = image(0)?;
            let weight = constant(1, "weight")?.expect("required input");
            let Ok([m, cg, kh, kw]) = <[usize; 4]>::try_from(weight.dims.as_slice()) else {
                return Err(bad(format!(
                    "weight has shape {:?}; expected [out, in/group, kh, kw]",
                    weight.dims
                )));
            };
            if !c.is_multiple_of(*group) || !m.is_multiple_of(*group) || cg != c / group {
                return Err(bad(format!(
                    "weight shape {:?} does not fit {c} input channels with group = {group}",
                    weight.dims
                )));
            }
            if *kernel != [0, 0] && *kernel != [kh, kw] {
                return Err(bad(format!(
                    "kernel_shape {kernel:?} differs from the weight's {:?}",
                    [kh, kw]
                )));
            }
            if let Some(b) = constant(2, "bias")?
                && b.dims != [m]
            {
                return Err(bad(format!("bias has shape {:?}, expected [{m}]", b.dims)));
            }
            vec![
                n,
                m,
                window(h, kh, strides[0], pads[0], pads[2])?,
                window(w, kw, strides[1], pads[1], pads[3])?,
            ]
        }
        Op::Gemm { trans_b, .. } => {
            let a = activation(0)?;
            let &[rows, k] = a.as_slice() else {
                return Err(bad(format!("input has shape {a:?}; Gemm needs a matrix")));
            };
            let b = constant(1, "weight")?.expect("required input");
            let ((&[n, bk], true) | (&[bk, n], false)) = (b.dims.as_slice(), *trans_b) else {
                return Err(bad(format!(
                    "weight has shape {:?}; expected a matrix",
                    b.dims
                )));
            };
            if bk != k {
                return Err(bad(format!(
                    "weight shape {:?} (transB = {}) does not fit an input of {k} columns",
                    b.dims, *trans_b as u8
                )));
            }
            if let Some(c) = constant(2, "bias")?
                && !broadcasts_into(&c.dims, &[rows, n])
            {
                return Err(bad(format!(
                    "bias shape {:?} does not broadcast to [{rows}, {n}]",
                    c.dims
                )));
            }
            vec![rows, n]
        }
        Op::MatMul => {
            let a = activation(0)?;
            let &[rows, k] = a.as_slice() else {
                return Err(bad(format!(
                    "input has shape {a:?}; hesim imports MatMul of a matrix by weights"
                )));
            };
            let b = constant(1, "second operand (weights)")?.expect("required input");
            match b.dims.as_slice() {
                &[bk, n] if bk == k => vec![rows, n],
                _ => {
                    return Err(bad(format!(
                        "weight shape {:?} does not fit an input of {k} columns",
                        b.dims
                    )));
                }
            }
        }
        Op::Add | Op::Mul => {
            let (a, b) = (input(0).expect("arity 2"), input(1).expect("arity 2"));
            match (shapes.get(a), shapes.get(b)) {
                (Some(sa), Some(sb)) => {
                    if sa != sb {
                        return Err(bad(format!(
                            "`{a}` has shape {sa:?} and `{b}` has shape {sb:?}: the operands of \
                             a residual {} must have equal shapes",
                            node.op_type
                        )));
                    }
                    sa.clone()
                }
                (Some(s), None) | (None, Some(s)) => {
                    let c = constants
                        .get(if shapes.contains_key(a) { b } else { a })
                        .expect("checked: not dangling");
                    if !broadcasts_into(&c.dims, s) {
                        return Err(bad(format!(
                            "the constant's shape {:?} does not broadcast to the tensor's {s:?}",
                            c.dims
                        )));
                    }
                    s.clone()
                }
                (None, None) => {
                    return Err(bad(
                        "both operands are constants; fold them before exporting".into(),
                    ));
                }
            }
        }
        Op::AveragePool {
            kernel,
            strides,
            pads,
            ..
        } => {
            let [n, c, h, w] = image(0)?;
            vec![
                n,
                c,
                window(h, kernel[0], strides[0], pads[0], pads[2])?,
                window(w, kernel[1], strides[1], pads[1], pads[3])?,
            ]
        }
        Op::GlobalAveragePool => {
            let [n, c, _, _] = image(0)?;
            vec![n, c, 1, 1]
        }
        Op::BatchNormalization { .. } => {
            let s = activation(0)?;
            let Some(&c) = s.get(1) else {
                return Err(bad(format!("input has shape {s:?}; expected N×C×…")));
            };
            for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
                let p = constant(i, what)?.expect("required input");
                if p.dims != [c] {
                    return Err(bad(format!(
                        "{what} has shape {:?}, expected [{c}]",
                        p.dims
                    )));
                }
            }
            s.clone()
        }
        Op::Relu => activation(0)?.clone(),
        Op::Flatten => {
            let s = activation(0)?;
            let Some((&n, rest)) = s.split_first() else {
                return Err(bad("cannot flatten a scalar".into()));
            };
            vec![n, rest.iter().product()]
        }
        Op::Reshape => {
            let s = activation(0)?;
            let target = input(1).expect("arity 2");
            let Some(target) = constants.get(target) else {
                return Err(Problem::DynamicShape {
                    node: node.name.clone(),
                    op_type: node.op_type.clone(),
                    message: format!("the target shape `{target}` is computed at run time"),
                });
            };
            reshape(s, target).map_err(bad)?
        }
        Op::Concat { axis } => {
            let first = activation(0)?;
            let mut out = first.clone();
            if out.len() != 4 {
                return Err(bad(format!(
                    "input has shape {first:?}; Concat needs N×C×H×W tensors"
                )));
            }
            for i in 1..node.inputs.len() {
                let s = activation(i)?;
                let fits = s.len() == out.len()
                    && s.iter()
                        .zip(&out)
                        .enumerate()
                        .all(|(d, (x, y))| d == *axis || x == y);
                if !fits {
                    return Err(bad(format!(
                        "input {i} has shape {s:?}, which does not join {first:?} on axis {axis}"
                    )));
                }
                out[*axis] = out[*axis].saturating_add(s[*axis]);
            }
            out
        }
    };
    if elements(&out, MAX_TENSOR_ELEMENTS).is_none_or(|n| n == 0) {
        return Err(bad(format!(
            "the output shape {out:?} is empty or has more than {MAX_TENSOR_ELEMENTS} elements \
             (the cap on any tensor)"
        )));
    }
    Ok(out)
}

/// Whether a constant of shape `c` broadcasts (numpy rules) to `t` without enlarging it.
fn broadcasts_into(c: &[usize], t: &[usize]) -> bool {
    c.len() <= t.len()
        && c.iter()
            .rev()
            .zip(t.iter().rev())
            .all(|(&x, &y)| x == 1 || x == y)
}

/// ONNX Reshape's target: `0` copies the input dimension, one `-1` takes the rest.
fn reshape(input: &[usize], target: &Constant) -> Result<Vec<usize>, String> {
    if target.dims.len() != 1 || target.values.len() > 8 {
        return Err(format!(
            "target shape {:?} must be a list of at most 8 sizes",
            target.values
        ));
    }
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.values.len());
    let mut infer = None;
    for (i, &v) in target.values.iter().enumerate() {
        let d = match v {
            0.0 => *input.get(i).ok_or_else(|| {
                format!(
                    "target dimension {i} is 0 but the input has rank {}",
                    input.len()
                )
            })?,
            -1.0 if infer.is_none() => {
                infer = Some(i);
                1
            }
            v if v >= 1.0 && v <= MAX_TENSOR_ELEMENTS as f64 => v as usize,
            v => return Err(format!("target dimension {i} is {v}")),
        };
        out.push(d);
    }
    let known = out
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n > 0)
        .ok_or("the target shape overflows")?;
    if let Some(i) = infer {
        if !total.is_multiple_of(known) {
            return Err(format!(
                "cannot reshape {input:?} ({total} elements) to {:?}",
                target.values
            ));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(format!(
            "cannot reshape {input:?} ({total} elements) to {out:?}"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

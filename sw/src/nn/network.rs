//! Networks as data: a TOML description (or a built-in), checked for shape consistency.

use std::path::Path;

use serde::Deserialize;

use super::NnError;
pub use super::activation::{RELU_RANGE, ReluApprox};

/// A tensor shape: channels × height × width. Flat vectors are `c × 1 × 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

/// Most elements a network's input or any layer's output may have (ResNet-20's largest
/// tensor has 16,384, VGG-5's 65,536): a cap that keeps every buffer hesim allocates for a
/// network small, checked before anything is allocated.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 24;

/// Most weights one conv or linear layer may have (VGG-5's largest layer has 2^24).
pub const MAX_LAYER_WEIGHTS: usize = 1 << 26;

impl Shape {
    pub fn new(c: usize, h: usize, w: usize) -> Self {
        Self { c, h, w }
    }

    /// c·h·w. Shapes of a checked [`Network`] are at most [`MAX_TENSOR_ELEMENTS`]; use
    /// [`Shape::checked_len`] on unchecked ones.
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// c·h·w, or `None` if it overflows.
    pub fn checked_len(&self) -> Option<usize> {
        self.c.checked_mul(self.h)?.checked_mul(self.w)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}×{}", self.c, self.h, self.w)
    }
}

/// One layer. Weight tensors are looked up as `{name}.weight`, `{name}.bias`, ... (PyTorch
/// state-dict keys).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub kind: LayerKind,
    /// The tensor the layer reads: an earlier layer's name or [`INPUT`]; `None` = the
    /// previous layer (the network input for the first).
    pub input: Option<String>,
}

/// The name of the network input in layer edges.
pub const INPUT: &str = "input";

/// Most coefficients a polynomial activation may have (degree 63).
pub const MAX_POLY_COEFFICIENTS: usize = 64;

#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LayerKind {
    /// 2-D convolution, square kernel, zero padding; weight `[out, in/groups, k, k]`.
    Conv {
        out: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        groups: usize,
        bias: bool,
    },
    /// Average pooling with a `kernel × kernel` window and stride `kernel` (floor mode).
    AvgPool { kernel: usize },
    /// Average over the whole map: `c × h × w` → `c × 1 × 1`.
    GlobalAvgPool,
    /// Polynomial activation `Σ c_i x^i` (power basis). A checkpoint's `{name}.alpha/beta/c`
    /// (α·x² + β·x + c) override the coefficients of a quadratic.
    Poly { coefficients: Vec<f64> },
    /// ReLU, evaluated as the named approximation; the substitution is reported.
    Relu { approx: ReluApprox },
    /// Batch normalisation (inference form), folded into the preceding conv or linear layer.
    BatchNorm { eps: f64 },
    /// Reshape to a flat vector (no data movement under HE).
    Flatten,
    /// Fully connected; weight `[out, in]`.
    Linear { out: usize, bias: bool },
    /// Adds the output of an earlier layer (same shape).
    Residual { from: String },
    /// Channel concatenation: the input's channels, then those of each `from` layer (same
    /// height and width).
    Concat { from: Vec<String> },
    /// ResNet's parameter-free option-A shortcut: the even pixels (stride-2 subsampling) with
    /// the channels zero-padded to `out`, input channel ch landing on ch + (out − c)/2.
    Downsample { out: usize },
}

impl LayerKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerKind::Conv { .. } => "conv",
            LayerKind::AvgPool { .. } => "avgpool",
            LayerKind::GlobalAvgPool => "global_avgpool",
            LayerKind::Poly { .. } => "poly",
            LayerKind::Relu { .. } => "relu",
            LayerKind::BatchNorm { .. } => "batchnorm",
            LayerKind::Flatten => "flatten",
            LayerKind::Linear { .. } => "linear",
            LayerKind::Residual { .. } => "residual",
            LayerKind::Concat { .. } => "concat",
            LayerKind::Downsample { .. } => "downsample",
        }
    }
}

/// A checked network: every layer's input shape is consistent.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub name: String,
    pub input: Shape,
    pub layers: Vec<Layer>,
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn bn_eps() -> f64 {
    1e-5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    name: Option<String>,
    /// `[channels, height, width]`.
    input: [usize; 3],
    layers: Vec<LayerFile>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum LayerFile {
    Conv {
        name: Option<String>,
        input: Option<String>,
        out: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        pad: usize,
        #[serde(default = "one")]
        groups: usize,
        #[serde(default = "yes")]
        bias: bool,
    },
    Avgpool {
        name: Option<String>,
        input: Option<String>,
        kernel: usize,
    },
    GlobalAvgpool {
        name: Option<String>,
        input: Option<String>,
    },
    Poly {
        name: Option<String>,
        input: Option<String>,
        coefficients: Vec<f64>,
    },
    /// `approx` = `quadratic` (default), `aespa`, `apprelu` (with an optional `bound`) or
    /// `chebyshev` (with a `degree`).
    Relu {
        name: Option<String>,
        input: Option<String>,
        approx: Option<String>,
        bound: Option<f64>,
        degree: Option<usize>,
    },
    Batchnorm {
        name: Option<String>,
        input: Option<String>,
        #[serde(default = "bn_eps")]
        eps: f64,
    },
    Flatten {
        name: Option<String>,
        input: Option<String>,
    },
    Linear {
        name: Option<String>,
        input: Option<String>,
        out: usize,
        #[serde(default = "yes")]
        bias: bool,
    },
    Residual {
        name: Option<String>,
        input: Option<String>,
        from: String,
    },
    Concat {
        name: Option<String>,
        input: Option<String>,
        from: Vec<String>,
    },
    Downsample {
        name: Option<String>,
        input: Option<String>,
        out: usize,
    },
}

impl LayerFile {
    fn into_layer(self, index: usize, source: &str) -> Result<Layer, NnError> {
        let (name, input, kind) = match self {
            LayerFile::Conv {
                name,
                input,
                out,
                kernel,
                stride,
                pad,
                groups,
                bias,
            } => (
                name,
                input,
                LayerKind::Conv {
                    out,
                    kernel,
                    stride,
                    pad,
                    groups,
                    bias,
                },
            ),
            LayerFile::Avgpool {
                name,
                input,
                kernel,
            } => (name, input, LayerKind::AvgPool { kernel }),
            LayerFile::GlobalAvgpool { name, input } => (name, input, LayerKind::GlobalAvgPool),
            LayerFile::Poly {
                name,
                input,
                coefficients,
            } => (name, input, LayerKind::Poly { coefficients }),
            LayerFile::Relu {
                name,
                input,
                approx,
                bound,
                degree,
            } => {
                let approx =
                    ReluApprox::parse(approx.as_deref().unwrap_or("quadratic"), bound, degree)
                        .map_err(|message| NnError::Parse {
                            source_name: source.to_owned(),
                            message: format!("layer {}: {message}", index + 1),
                        })?;
                (name, input, LayerKind::Relu { approx })
            }
            LayerFile::Batchnorm { name, input, eps } => {
                (name, input, LayerKind::BatchNorm { eps })
            }
            LayerFile::Flatten { name, input } => (name, input, LayerKind::Flatten),
            LayerFile::Linear {
                name,
                input,
                out,
                bias,
            } => (name, input, LayerKind::Linear { out, bias }),
            LayerFile::Residual { name, input, from } => {
                (name, input, LayerKind::Residual { from })
            }
            LayerFile::Concat { name, input, from } => (name, input, LayerKind::Concat { from }),
            LayerFile::Downsample { name, input, out } => {
                (name, input, LayerKind::Downsample { out })
            }
        };
        let name = name.unwrap_or_else(|| format!("{}{}", kind.type_name(), index + 1));
        Ok(Layer { name, kind, input })
    }
}

impl Network {
    /// Builds and checks a network.
    pub fn new(name: impl Into<String>, input: Shape, layers: Vec<Layer>) -> Result<Self, NnError> {
        let net = Self {
            name: name.into(),
            input,
            layers,
        };
        net.shapes()?;
        Ok(net)
    }

    /// Parses a TOML description; `source` names it in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<Self, NnError> {
        let file: NetworkFile = toml::from_str(text).map_err(|e| NnError::Parse {
            source_name: source.to_owned(),
            message: e.to_string(),
        })?;
        let [c, h, w] = file.input;
        let layers = file
            .layers
            .into_iter()
            .enumerate()
            .map(|(i, l)| l.into_layer(i, source))
            .collect::<Result<_, _>>()?;
        let name = file.name.unwrap_or_else(|| {
            Path::new(source)
                .file_stem()
                .map_or(source.to_owned(), |s| s.to_string_lossy().into())
        });
        Self::new(name, Shape::new(c, h, w), layers)
    }

    /// Reads a TOML network file.
    pub fn load(path: &Path) -> Result<Self, NnError> {
        let text = std::fs::read_to_string(path).map_err(|e| NnError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// A built-in network by name: `lenet`, `vgg5`, `hefnet`, `resnet20`, `resnet18`,
    /// `squeezenet-cifar`, `hemet`.
    pub fn builtin(name: &str) -> Result<Self, NnError> {
        match name {
            "lenet" => Ok(lenet()),
            "vgg5" => Ok(vgg5()),
            "hefnet" => Ok(hefnet()),
            "resnet20" => Ok(resnet20(RESNET20_ACTIVATION)),
            "resnet18" => Ok(resnet18()),
            "squeezenet-cifar" => Ok(squeezenet_cifar()),
            "hemet" => Ok(hemet()),
            _ => Err(NnError::UnknownNetwork {
                name: name.to_owned(),
            }),
        }
    }

    /// Index of the layer called `name`.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }

    /// The tensor layer `i` reads (of a checked network).
    pub fn source(&self, i: usize) -> Source {
        match &self.layers[i].input {
            None if i == 0 => Source::Input,
            None => Source::Layer(i - 1),
            Some(n) if n == INPUT => Source::Input,
            Some(n) => Source::Layer(self.layer_index(n).expect("checked network")),
        }
    }

    /// Whether layer `i` reads the output of layer `i − 1` (one step of a chain).
    pub fn reads_previous(&self, i: usize) -> bool {
        i > 0 && self.source(i) == Source::Layer(i - 1)
    }

    /// The layers whose outputs some layer reads other than as its chain predecessor
    /// (branch sources, residual and concat operands).
    pub fn branch_sources(&self) -> std::collections::HashSet<usize> {
        let mut out = std::collections::HashSet::new();
        for (i, l) in self.layers.iter().enumerate() {
            if let Source::Layer(j) = self.source(i)
                && j + 1 != i
            {
                out.insert(j);
            }
            let from: Vec<&String> = match &l.kind {
                LayerKind::Residual { from } => vec![from],
                LayerKind::Concat { from } => from.iter().collect(),
                _ => Vec::new(),
            };
            out.extend(from.into_iter().filter_map(|n| self.layer_index(n)));
        }
        out
    }

    /// The output shape of every layer, checking each layer against its input: edges name
    /// earlier layers (so the graph has no cycle), shapes agree, sizes stay within the caps.
    pub fn shapes(&self) -> Result<Vec<Shape>, NnError> {
        let mut shapes: Vec<Shape> = Vec::with_capacity(self.layers.len());
        // whether each layer's output is a flattened vector
        let mut flat: Vec<bool> = Vec::with_capacity(self.layers.len());
        let too_large = |shape: Shape| {
            format!(
                "shape {shape} has more than {MAX_TENSOR_ELEMENTS} elements (the cap on any \
                 tensor of a network); use smaller dimensions"
            )
        };
        match self.input.checked_len() {
            Some(0) => {
                return Err(NnError::Shape {
                    layer: INPUT.into(),
                    message: format!("input shape {} is empty", self.input),
                });
            }
            Some(n) if n <= MAX_TENSOR_ELEMENTS => {}
            _ => {
                return Err(NnError::Shape {
                    layer: INPUT.into(),
                    message: too_large(self.input),
                });
            }
        }
        let weights_fit = |layer: &str, weights: Option<usize>| match weights {
            Some(n) if n <= MAX_LAYER_WEIGHTS => Ok(()),
            _ => Err(NnError::Shape {
                layer: layer.to_owned(),
                message: format!(
                    "the layer would have more than {MAX_LAYER_WEIGHTS} weights (the cap per \
                     layer); use fewer channels, outputs or a smaller kernel"
                ),
            }),
        };
        let mut seen = std::collections::HashSet::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let bad = |message: String| NnError::Shape {
                layer: layer.name.clone(),
                message,
            };
            if layer.name == INPUT {
                return Err(bad(format!(
                    "`{INPUT}` names the network input; give the layer another name"
                )));
            }
            if !seen.insert(layer.name.as_str()) {
                return Err(bad("two layers have this name; names must be unique".into()));
            }
            // (shape, flat) of a tensor named by an edge
            let lookup = |name: &str, role: &str| -> Result<(Shape, bool), NnError> {
                if name == INPUT {
                    return Ok((self.input, false));
                }
                match self.layers[..i].iter().position(|l| l.name == name) {
                    Some(j) => Ok((shapes[j], flat[j])),
                    None => Err(bad(format!(
                        "{role} `{name}` is not an earlier layer (edges must point to layers \
                         listed before, or to `{INPUT}`)"
                    ))),
                }
            };
            let (cur, cur_flat) = match &layer.input {
                None if i == 0 => (self.input, false),
                None => (shapes[i - 1], flat[i - 1]),
                Some(n) => lookup(n, "input")?,
            };
            let mut out_flat = cur_flat;
            let out = match &layer.kind {
                LayerKind::Conv {
                    out,
                    kernel,
                    stride,
                    pad,
                    groups,
                    ..
                } => {
                    if cur_flat {
                        return Err(bad(
                            "conv after flatten: convolutions need a spatial input".into()
                        ));
                    }
                    if *out == 0 || *kernel == 0 || *stride == 0 || *groups == 0 {
                        return Err(bad("out, kernel, stride and groups must be positive".into()));
                    }
                    if !cur.c.is_multiple_of(*groups) || !out.is_multiple_of(*groups) {
                        return Err(bad(format!(
                            "groups = {groups} must divide both the input channels ({}) and the \
                             output channels ({out})",
                            cur.c
                        )));
                    }
                    if *pad >= *kernel {
                        return Err(bad(format!(
                            "pad = {pad} must be smaller than kernel = {kernel}"
                        )));
                    }
                    let padded = |side: usize| pad.checked_mul(2)?.checked_add(side);
                    let (Some(ph), Some(pw)) = (padded(cur.h), padded(cur.w)) else {
                        return Err(bad(format!("pad = {pad} is too large")));
                    };
                    if ph < *kernel || pw < *kernel {
                        return Err(bad(format!(
                            "kernel {kernel} (pad {pad}) is larger than the {}×{} input map",
                            cur.h, cur.w
                        )));
                    }
                    weights_fit(
                        &layer.name,
                        out.checked_mul(cur.c / groups)
                            .and_then(|n| n.checked_mul(*kernel))
                            .and_then(|n| n.checked_mul(*kernel)),
                    )?;
                    Shape::new(*out, (ph - kernel) / stride + 1, (pw - kernel) / stride + 1)
                }
                LayerKind::AvgPool { kernel } => {
                    if *kernel == 0 || *kernel > cur.h || *kernel > cur.w {
                        return Err(bad(format!(
                            "pool kernel {kernel} does not fit the {}×{} input map",
                            cur.h, cur.w
                        )));
                    }
                    Shape::new(cur.c, cur.h / kernel, cur.w / kernel)
                }
                LayerKind::GlobalAvgPool => {
                    if cur_flat {
                        return Err(bad("global average pooling of a flattened tensor".into()));
                    }
                    Shape::new(cur.c, 1, 1)
                }
                LayerKind::Poly { coefficients } => {
                    if coefficients.is_empty() || coefficients.len() > MAX_POLY_COEFFICIENTS {
                        return Err(bad(format!(
                            "poly needs 1 to {MAX_POLY_COEFFICIENTS} coefficients [c0, c1, ...], \
                             got {}",
                            coefficients.len()
                        )));
                    }
                    if let Some(c) = coefficients.iter().find(|c| !c.is_finite()) {
                        return Err(bad(format!("poly coefficient {c} is not a finite number")));
                    }
                    if coefficients.iter().skip(1).all(|&c| c == 0.0) {
                        return Err(bad(
                            "poly is constant: every coefficient after c0 is zero".into()
                        ));
                    }
                    cur
                }
                LayerKind::Relu { .. } => cur,
                LayerKind::BatchNorm { eps } => {
                    let prev = i.checked_sub(1).map(|p| &self.layers[p].kind);
                    let folds = matches!(
                        prev,
                        Some(LayerKind::Conv { .. } | LayerKind::Linear { .. })
                    ) && layer
                        .input
                        .as_ref()
                        .is_none_or(|n| *n == self.layers[i - 1].name);
                    if !folds {
                        return Err(bad(
                            "batchnorm must directly follow the conv or linear layer it reads \
                             (it is folded into it)"
                                .into(),
                        ));
                    }
                    if !(eps.is_finite() && *eps > 0.0) {
                        return Err(bad(format!("eps = {eps} must be a positive finite number")));
                    }
                    cur
                }
                LayerKind::Flatten => {
                    out_flat = true;
                    Shape::new(cur.len(), 1, 1)
                }
                LayerKind::Linear { out, .. } => {
                    if cur.h != 1 || cur.w != 1 {
                        return Err(bad(format!(
                            "linear needs a flat input but gets {cur}; add a flatten layer before it"
                        )));
                    }
                    if *out == 0 {
                        return Err(bad("out must be positive".into()));
                    }
                    weights_fit(&layer.name, out.checked_mul(cur.c))?;
                    out_flat = true;
                    Shape::new(*out, 1, 1)
                }
                LayerKind::Residual { from } => {
                    let (other, _) = lookup(from, "residual source")?;
                    if other != cur {
                        return Err(bad(format!(
                            "residual adds `{from}` ({other}) to a {cur} tensor; shapes must match"
                        )));
                    }
                    cur
                }
                LayerKind::Concat { from } => {
                    let mut c = cur.c;
                    for f in from {
                        let (other, _) = lookup(f, "concat operand")?;
                        if (other.h, other.w) != (cur.h, cur.w) {
                            return Err(bad(format!(
                                "concat joins `{f}` ({other}) to a {cur} tensor; heights and \
                                 widths must match"
                            )));
                        }
                        c = c.saturating_add(other.c);
                    }
                    Shape::new(c, cur.h, cur.w)
                }
                LayerKind::Downsample { out } => {
                    if *out < cur.c || !(out - cur.c).is_multiple_of(2) {
                        return Err(bad(format!(
                            "downsample pads {} channels to {out}; out must be at least the \
                             input's channels and differ from them by an even number",
                            cur.c
                        )));
                    }
                    Shape::new(*out, cur.h.div_ceil(2), cur.w.div_ceil(2))
                }
            };
            if out.checked_len().is_none_or(|n| n > MAX_TENSOR_ELEMENTS) {
                return Err(bad(too_large(out)));
            }
            shapes.push(out);
            flat.push(out_flat);
        }
        Ok(shapes)
    }

    /// Human-readable notes on activations hesim replaced (ReLU → polynomial).
    pub fn substitutions(&self) -> Vec<String> {
        self.layers
            .iter()
            .filter_map(|l| match &l.kind {
                LayerKind::Relu { approx } => Some(approx.describe(&l.name)),
                _ => None,
            })
            .collect()
    }

    /// Input shapes of every layer (the shape of the tensor each reads).
    pub fn input_shapes(&self) -> Result<Vec<Shape>, NnError> {
        let out = self.shapes()?;
        Ok((0..self.layers.len())
            .map(|i| match self.source(i) {
                Source::Input => self.input,
                Source::Layer(j) => out[j],
            })
            .collect())
    }
}

/// Where a layer's input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Input,
    Layer(usize),
}

fn layer(name: &str, kind: LayerKind) -> Layer {
    Layer {
        name: name.to_owned(),
        kind,
        input: None,
    }
}

fn conv(name: &str, out: usize, kernel: usize, pad: usize, groups: usize, bias: bool) -> Layer {
    layer(
        name,
        LayerKind::Conv {
            out,
            kernel,
            stride: 1,
            pad,
            groups,
            bias,
        },
    )
}

/// The learned quadratic activations of the SpENCNN LeNet checkpoint (α·x² + β·x + c), used
/// as defaults when weights are random.
const LENET_ACTS: [(&str, [f64; 3]); 3] = [
    ("relu1", [-0.0397, 0.9003, 1.1449]),
    ("relu2", [0.2769, 0.9389, 2.1222]),
    ("relu4", [-0.0958, 0.0884, 1.9403]),
];

fn lenet_act(i: usize) -> Layer {
    let (name, c) = LENET_ACTS[i];
    layer(
        name,
        LayerKind::Poly {
            coefficients: c.to_vec(),
        },
    )
}

/// SpENCNN LeNet (MNIST), as in the SPECNN notebook and `lenet_specnn.safetensors`.
pub fn lenet() -> Network {
    let layers = vec![
        conv("conv1", 64, 5, 2, 1, true),
        lenet_act(0),
        layer("pool1", LayerKind::AvgPool { kernel: 2 }),
        conv("conv2", 32, 5, 0, 4, true),
        lenet_act(1),
        layer("pool2", LayerKind::AvgPool { kernel: 10 }),
        layer("flatten", LayerKind::Flatten),
        layer(
            "linear1",
            LayerKind::Linear {
                out: 32,
                bias: true,
            },
        ),
        lenet_act(2),
        layer(
            "linear2",
            LayerKind::Linear {
                out: 10,
                bias: true,
            },
        ),
    ];
    Network::new("lenet", Shape::new(1, 28, 28), layers).expect("built-in LeNet is consistent")
}

/// VGG-5 (CIFAR-10) from the SPECNN notebook: convs without bias, groups = 8 in conv2/conv3;
/// ReLU (replaced by the polynomial substitute), dropout omitted (inference).
pub fn vgg5() -> Network {
    let relu = |n: &str| {
        layer(
            n,
            LayerKind::Relu {
                approx: ReluApprox::Quadratic,
            },
        )
    };
    let layers = vec![
        conv("conv1", 64, 3, 1, 1, false),
        relu("relu1"),
        layer("pool1", LayerKind::AvgPool { kernel: 2 }),
        conv("conv2", 128, 3, 1, 8, false),
        relu("relu2"),
        conv("conv3", 128, 3, 1, 8, false),
        relu("relu3"),
        layer("pool2", LayerKind::AvgPool { kernel: 2 }),
        layer("flatten", LayerKind::Flatten),
        layer(
            "fc1",
            LayerKind::Linear {
                out: 4096,
                bias: true,
            },
        ),
        relu("relu4"),
        layer(
            "fc2",
            LayerKind::Linear {
                out: 4096,
                bias: true,
            },
        ),
        relu("relu5"),
        layer(
            "fc3",
            LayerKind::Linear {
                out: 10,
                bias: true,
            },
        ),
    ];
    Network::new("vgg5", Shape::new(3, 32, 32), layers).expect("built-in VGG-5 is consistent")
}

/// HEFNet (CIFAR-10) as in `hefnet_specnn.safetensors`: conv + BN + ReLU (substituted),
/// groups = 8 in conv2..conv4.
pub fn hefnet() -> Network {
    let bn = |n: &str| layer(n, LayerKind::BatchNorm { eps: 1e-5 });
    let relu = |n: &str| {
        layer(
            n,
            LayerKind::Relu {
                approx: ReluApprox::Quadratic,
            },
        )
    };
    let pool = |n: &str| layer(n, LayerKind::AvgPool { kernel: 2 });
    let layers = vec![
        conv("conv1", 256, 3, 0, 1, true),
        bn("bn1"),
        relu("relu1"),
        conv("conv2", 128, 3, 0, 8, true),
        bn("bn2"),
        relu("relu2"),
        pool("pool2"),
        conv("conv3", 64, 3, 0, 8, true),
        bn("bn3"),
        relu("relu3"),
        pool("pool3"),
        conv("conv4", 64, 3, 0, 8, true),
        bn("bn4"),
        relu("relu4"),
        pool("pool4"),
        layer("flatten", LayerKind::Flatten),
        layer(
            "linear1",
            LayerKind::Linear {
                out: 10,
                bias: true,
            },
        ),
    ];
    Network::new("hefnet", Shape::new(3, 32, 32), layers).expect("built-in HEFNet is consistent")
}

/// Appends a block conv to the layers: (layers, name, out, stride, input edge).
type AppendConv<'a> = &'a dyn Fn(&mut Vec<Layer>, String, usize, usize, Option<String>);

/// Appends a down-sampling shortcut: (layers, block prefix, out, block input) → the name of
/// its output.
type AppendShortcut<'a> = &'a dyn Fn(&mut Vec<Layer>, &str, usize, String) -> String;

/// The ResNets' head: global average pooling, then a biased linear layer to `classes`.
fn classifier_head(layers: &mut Vec<Layer>, classes: usize) {
    layers.push(layer("pool", LayerKind::GlobalAvgPool));
    layers.push(layer(
        "fc",
        LayerKind::Linear {
            out: classes,
            bias: true,
        },
    ));
}

/// Appends a ResNet's residual stages after the layer called `input`: `blocks` basic blocks
/// per entry of `widths`, named `s{stage}b{block}` + `c1`, `a1`, `c2`, `add`, `a2` (conv,
/// activation, conv, + shortcut, activation). `conv` appends a block conv (name, out, stride,
/// input edge); `shortcut` appends the down-sampling shortcut of each later stage's first
/// block (block prefix, out, block input), listed before the block's convs, and returns the
/// name of its output. The first conv of such a block has stride 2.
fn residual_stages(
    layers: &mut Vec<Layer>,
    input: &str,
    widths: &[usize],
    blocks: usize,
    conv: AppendConv<'_>,
    relu: &dyn Fn(String) -> Layer,
    shortcut: AppendShortcut<'_>,
) {
    let mut block_input = input.to_owned();
    for (stage, &out) in widths.iter().enumerate() {
        for block in 0..blocks {
            let prefix = format!("s{}b{}", stage + 1, block + 1);
            let name = |s: &str| format!("{prefix}{s}");
            let down = stage > 0 && block == 0;
            let skip = if down {
                shortcut(layers, &prefix, out, block_input.clone())
            } else {
                block_input.clone()
            };
            let stride = if down { 2 } else { 1 };
            conv(layers, name("c1"), out, stride, Some(block_input.clone()));
            layers.push(relu(name("a1")));
            conv(layers, name("c2"), out, 1, None);
            layers.push(layer(&name("add"), LayerKind::Residual { from: skip }));
            layers.push(relu(name("a2")));
            block_input = name("a2");
        }
    }
}

/// The activation of the built-in `resnet20`: the degree-15 Chebyshev interpolant of ReLU.
pub const RESNET20_ACTIVATION: ReluApprox = ReluApprox::Chebyshev { degree: 15 };

/// ResNet-20 (CIFAR-10, He et al. 2016) as a graph: conv 3→16 + ReLU; three stages of three
/// basic blocks with 16, 32, 64 channels (conv–ReLU–conv, + shortcut, ReLU); the first block
/// of stages 2 and 3 has stride 2 and a 1×1 stride-2 projection shortcut (option B, listed
/// first so that the block's second conv can adopt its layout); global average pooling;
/// linear 64→10. Batch norm is folded into the convs (their biases). Every ReLU is `approx`.
pub fn resnet20(approx: ReluApprox) -> Network {
    resnet20_grouped(approx, 1).expect("built-in ResNet-20 is consistent")
}

/// [`resnet20`] with `groups` groups in every stride-1 block conv (SpENCNN's grouped ResNet);
/// a shape error if `groups` does not divide the channel counts.
pub fn resnet20_grouped(approx: ReluApprox, groups: usize) -> Result<Network, NnError> {
    let relu = |n: String| Layer {
        name: n,
        kind: LayerKind::Relu {
            approx: approx.clone(),
        },
        input: None,
    };
    let conv3 = |n: String, out: usize, stride: usize| Layer {
        name: n,
        kind: LayerKind::Conv {
            out,
            kernel: 3,
            stride,
            pad: 1,
            groups: if stride == 1 { groups } else { 1 },
            bias: true,
        },
        input: None,
    };
    let mut stem = conv3("conv1".into(), 16, 1);
    stem.kind = LayerKind::Conv {
        out: 16,
        kernel: 3,
        stride: 1,
        pad: 1,
        groups: 1,
        bias: true,
    };
    let mut layers = vec![stem, relu("act1".into())];
    let conv = |layers: &mut Vec<Layer>, name: String, out, stride, input| {
        let mut c = conv3(name, out, stride);
        c.input = input;
        layers.push(c);
    };
    let shortcut = |layers: &mut Vec<Layer>, block: &str, out, input: String| {
        let name = format!("{block}sc");
        layers.push(Layer {
            name: name.clone(),
            kind: LayerKind::Conv {
                out,
                kernel: 1,
                stride: 2,
                pad: 0,
                groups: 1,
                bias: true,
            },
            input: Some(input),
        });
        name
    };
    residual_stages(
        &mut layers,
        "act1",
        &[16, 32, 64],
        3,
        &conv,
        &relu,
        &shortcut,
    );
    classifier_head(&mut layers, 10);
    Network::new("resnet20", Shape::new(3, 32, 32), layers)
}

/// Lee et al.'s ResNet-20 (ICML'22; the benchmark of the CKKS accelerator papers) as a graph:
/// bias-free 3×3 convs each followed by batch norm, AppReLU (composite minimax-style sign,
/// inputs scaled by B = [`super::activation::APPRELU_BOUND`]) after the stem, after each
/// block's first conv and after each residual add; the first block of stages 2 and 3 has a
/// stride-2 first conv and PyTorch's parameter-free option-A shortcut (a `downsample` layer);
/// global average pooling; linear 64→10. `nn::resnet_lee` compiles it to Lee et al.'s exact
/// program.
pub fn resnet20_lee() -> Network {
    let relu = |n: String| Layer {
        name: n,
        kind: LayerKind::Relu {
            approx: ReluApprox::AppRelu {
                bound: super::activation::APPRELU_BOUND,
            },
        },
        input: None,
    };
    let conv_bn = |layers: &mut Vec<Layer>, n: String, out: usize, stride: usize, input| {
        layers.push(Layer {
            name: n.clone(),
            kind: LayerKind::Conv {
                out,
                kernel: 3,
                stride,
                pad: 1,
                groups: 1,
                bias: false,
            },
            input,
        });
        layers.push(layer(&format!("{n}bn"), LayerKind::BatchNorm { eps: 1e-5 }));
    };
    let mut layers = Vec::new();
    conv_bn(&mut layers, "conv1".into(), 16, 1, None);
    layers.push(relu("act1".into()));
    let shortcut = |layers: &mut Vec<Layer>, block: &str, out, input: String| {
        let name = format!("{block}ds");
        layers.push(Layer {
            name: name.clone(),
            kind: LayerKind::Downsample { out },
            input: Some(input),
        });
        name
    };
    residual_stages(
        &mut layers,
        "act1",
        &[16, 32, 64],
        3,
        &conv_bn,
        &relu,
        &shortcut,
    );
    classifier_head(&mut layers, 10);
    Network::new("resnet20", Shape::new(3, 32, 32), layers)
        .expect("Lee et al.'s ResNet-20 is consistent")
}

/// The activation of the built-in `resnet18`: AESPA's degree-2 Hermite ReLU, the activation
/// HyPHEN runs its ImageNet ResNet-18 with (`shared/docs/hyphen-mpcnn.md`).
pub const RESNET18_ACTIVATION: ReluApprox = ReluApprox::Aespa;

/// ResNet-18 (ImageNet, He et al. 2016, torchvision's shape) on a 224×224×3 input with 1,000
/// classes; see [`resnet18_shaped`].
pub fn resnet18() -> Network {
    resnet18_shaped(Shape::new(3, 224, 224), [64, 128, 256, 512], 1000)
        .expect("built-in ResNet-18 is consistent")
}

/// A ResNet-18-shaped network: a 7×7 stride-2 stem conv + batch norm + ReLU; the stem's 3×3
/// stride-2 max pooling replaced by a 2×2 average pooling (max is not a polynomial; both halve
/// the map); four stages of two BasicBlocks with `widths` channels (conv–BN–ReLU–conv–BN, +
/// shortcut, ReLU), the first block of stages 2–4 with a stride-2 first conv and a 1×1
/// stride-2 projection shortcut with batch norm (listed first); global average pooling; a
/// linear layer to `classes`. Convs have no bias (as in torchvision); every ReLU is
/// [`RESNET18_ACTIVATION`]. A shape error if the input is too small for the five halvings.
pub fn resnet18_shaped(
    input: Shape,
    widths: [usize; 4],
    classes: usize,
) -> Result<Network, NnError> {
    let relu = |n: String| Layer {
        name: n,
        kind: LayerKind::Relu {
            approx: RESNET18_ACTIVATION,
        },
        input: None,
    };
    let conv_bn = |layers: &mut Vec<Layer>, n: String, out, kernel, stride, input| {
        layers.push(Layer {
            name: n.clone(),
            kind: LayerKind::Conv {
                out,
                kernel,
                stride,
                pad: kernel / 2,
                groups: 1,
                bias: false,
            },
            input,
        });
        layers.push(layer(&format!("{n}bn"), LayerKind::BatchNorm { eps: 1e-5 }));
    };
    let mut layers = Vec::new();
    conv_bn(&mut layers, "conv1".into(), widths[0], 7, 2, None);
    layers.push(relu("act1".into()));
    layers.push(layer("pool1", LayerKind::AvgPool { kernel: 2 }));
    let conv3 = |layers: &mut Vec<Layer>, name: String, out, stride, input| {
        conv_bn(layers, name, out, 3, stride, input);
    };
    let shortcut = |layers: &mut Vec<Layer>, block: &str, out, input: String| {
        conv_bn(layers, format!("{block}sc"), out, 1, 2, Some(input));
        format!("{block}scbn")
    };
    residual_stages(&mut layers, "pool1", &widths, 2, &conv3, &relu, &shortcut);
    classifier_head(&mut layers, classes);
    Network::new("resnet18", input, layers)
}

/// SqueezeNet for CIFAR-10 as CHET and HEMET (Lou & Jiang, ICML 2021) run it under HE, with
/// HEMET's x² activations; see [`squeezenet_cifar_with`].
pub fn squeezenet_cifar() -> Network {
    squeezenet_cifar_with(&LayerKind::Poly {
        coefficients: vec![0.0, 0.0, 1.0],
    })
}

/// HEMET's network with HEMET's x² activations; see [`hemet_with`].
pub fn hemet() -> Network {
    hemet_with(&LayerKind::Poly {
        coefficients: vec![0.0, 0.0, 1.0],
    })
}

/// HEMET's network (Lou & Jiang, ICML 2021, the `remove_fire34` variant of `qianlou/HEMET`
/// `src/8_squeezenet.cpp` @2054ecb): [`squeezenet_cifar_with`] with the two deep Fire modules
/// after the second pooling replaced by plain 3×3 convs, `conv2` and `conv3` (HEMET's greedy
/// search keeps a mobile block only where it lowers latency without adding depth, and a Fire
/// module costs two levels more than a conv).
///
/// Shapes from HEMET's code: conv 3→64, the pooling, Fire 1 and 2, the second pooling and the
/// final 1×1 conv 256→10 are unchanged (the code's `Mul_number`/`Rot_number` for them are the
/// baseline's; its 2,560 final PMults = 256·10 need 256 channels out of `conv3`); `conv2` has
/// 128 outputs (73,728 = 64·128·9 PMults: the code counts 64 input rotations, as it does for
/// Fire 3's squeeze, whose input has 128 channels in CHET's widths, so 128 inputs here).
/// Inferred: `conv3` is 128→256 3×3 (the code's 90,000 PMults and 800 rotations fit no whole
/// channel pair; 256 outputs are forced by the final conv). `shared/docs/seed-related.md` §3.2.
pub fn hemet_with(activation: &LayerKind) -> Network {
    let act = |name: &str| layer(name, activation.clone());
    let mut layers: Vec<Layer> = squeezenet_cifar_with(activation)
        .layers
        .into_iter()
        .take_while(|l| l.name != "f3sq")
        .collect();
    layers.push(conv("conv2", 128, 3, 1, 1, true));
    layers.push(act("act2"));
    layers.push(conv("conv3", 256, 3, 1, 1, true));
    layers.push(act("act3"));
    classifier_head(&mut layers, 10);
    Network::new("hemet", Shape::new(3, 32, 32), layers).expect("built-in HEMET is consistent")
}

/// SqueezeNet-CIFAR with `activation` after every conv: conv 3→64 (3×3); 2×2 average pooling;
/// Fire(16, 64), Fire(16, 64); 2×2 average pooling; Fire(32, 128), Fire(32, 128); the final
/// 1×1 conv 256→10 and global average pooling written as global pooling + a linear layer (the
/// same function: both are linear and the pooling is per channel). A Fire(s, e) module is a
/// 1×1 squeeze conv to s channels and two expand convs from it, 1×1 and 3×3 to e channels
/// each, concatenated (`{f}cat`: the 1×1 expansion's channels first). The widths are CHET's
/// (HEMET's per-layer op counts fit them only approximately, `shared/docs/seed-related.md`
/// §3.2).
pub fn squeezenet_cifar_with(activation: &LayerKind) -> Network {
    let act = |name: &str| layer(name, activation.clone());
    let mut layers = vec![conv("conv1", 64, 3, 1, 1, true), act("act1")];
    layers.push(layer("pool1", LayerKind::AvgPool { kernel: 2 }));
    let fire = |layers: &mut Vec<Layer>, f: &str, squeeze: usize, expand: usize| {
        let name = |s: &str| format!("{f}{s}");
        layers.push(conv(&name("sq"), squeeze, 1, 0, 1, true));
        layers.push(act(&name("sqa")));
        layers.push(conv(&name("e1"), expand, 1, 0, 1, true));
        layers.push(act(&name("e1a")));
        let mut e3 = conv(&name("e3"), expand, 3, 1, 1, true);
        e3.input = Some(name("sqa"));
        layers.push(e3);
        layers.push(act(&name("e3a")));
        let mut cat = layer(
            &name("cat"),
            LayerKind::Concat {
                from: vec![name("e3a")],
            },
        );
        cat.input = Some(name("e1a"));
        layers.push(cat);
    };
    fire(&mut layers, "f1", 16, 64);
    fire(&mut layers, "f2", 16, 64);
    layers.push(layer("pool2", LayerKind::AvgPool { kernel: 2 }));
    fire(&mut layers, "f3", 32, 128);
    fire(&mut layers, "f4", 32, 128);
    classifier_head(&mut layers, 10);
    Network::new("squeezenet-cifar", Shape::new(3, 32, 32), layers)
        .expect("built-in SqueezeNet-CIFAR is consistent")
}

/// The names of the built-in networks.
pub const BUILTINS: [&str; 3] = ["lenet", "vgg5", "hefnet"];

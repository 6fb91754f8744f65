//! Networks as data: a TOML description (or a built-in), checked for shape consistency.

use std::path::Path;

use serde::Deserialize;

use super::NnError;

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

/// The ReLU substitute used when a network asks for `relu` (HE evaluates only polynomials):
/// the least-squares quadratic fit of ReLU on [−R, R] with R = [`RELU_RANGE`],
/// relu(x) ≈ 3R/32 + x/2 + 15x²/(32R) (from |x| ≈ 3/16 + 15x²/16 on [−1, 1], Legendre basis).
pub const RELU_RANGE: f64 = 4.0;

/// Coefficients `[c0, c1, c2]` of the ReLU substitute (see [`RELU_RANGE`]).
pub fn relu_polynomial() -> [f64; 3] {
    let r = RELU_RANGE;
    [3.0 * r / 32.0, 0.5, 15.0 / (32.0 * r)]
}

/// One layer. Weight tensors are looked up as `{name}.weight`, `{name}.bias`, ... (PyTorch
/// state-dict keys).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub kind: LayerKind,
}

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
    /// Polynomial activation `c0 + c1·x + c2·x²` (degree ≤ 2). A checkpoint's
    /// `{name}.alpha/beta/c` (α·x² + β·x + c) override the coefficients.
    Poly { coefficients: Vec<f64> },
    /// ReLU: evaluated as [`relu_polynomial`]; the substitution is reported.
    Relu,
    /// Batch normalisation (inference form), folded into the preceding conv or linear layer.
    BatchNorm { eps: f64 },
    /// Reshape to a flat vector (no data movement under HE).
    Flatten,
    /// Fully connected; weight `[out, in]`.
    Linear { out: usize, bias: bool },
    /// Adds the output of an earlier layer (same shape).
    Residual { from: String },
}

impl LayerKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerKind::Conv { .. } => "conv",
            LayerKind::AvgPool { .. } => "avgpool",
            LayerKind::Poly { .. } => "poly",
            LayerKind::Relu => "relu",
            LayerKind::BatchNorm { .. } => "batchnorm",
            LayerKind::Flatten => "flatten",
            LayerKind::Linear { .. } => "linear",
            LayerKind::Residual { .. } => "residual",
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
        kernel: usize,
    },
    Poly {
        name: Option<String>,
        coefficients: Vec<f64>,
    },
    Relu {
        name: Option<String>,
    },
    Batchnorm {
        name: Option<String>,
        #[serde(default = "bn_eps")]
        eps: f64,
    },
    Flatten {
        name: Option<String>,
    },
    Linear {
        name: Option<String>,
        out: usize,
        #[serde(default = "yes")]
        bias: bool,
    },
    Residual {
        name: Option<String>,
        from: String,
    },
}

impl LayerFile {
    fn into_layer(self, index: usize) -> Layer {
        let (name, kind) = match self {
            LayerFile::Conv {
                name,
                out,
                kernel,
                stride,
                pad,
                groups,
                bias,
            } => (
                name,
                LayerKind::Conv {
                    out,
                    kernel,
                    stride,
                    pad,
                    groups,
                    bias,
                },
            ),
            LayerFile::Avgpool { name, kernel } => (name, LayerKind::AvgPool { kernel }),
            LayerFile::Poly { name, coefficients } => (name, LayerKind::Poly { coefficients }),
            LayerFile::Relu { name } => (name, LayerKind::Relu),
            LayerFile::Batchnorm { name, eps } => (name, LayerKind::BatchNorm { eps }),
            LayerFile::Flatten { name } => (name, LayerKind::Flatten),
            LayerFile::Linear { name, out, bias } => (name, LayerKind::Linear { out, bias }),
            LayerFile::Residual { name, from } => (name, LayerKind::Residual { from }),
        };
        let name = name.unwrap_or_else(|| format!("{}{}", kind.type_name(), index + 1));
        Layer { name, kind }
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
            .map(|(i, l)| l.into_layer(i))
            .collect();
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

    /// A built-in network by name: `lenet`, `vgg5`, `hefnet`.
    pub fn builtin(name: &str) -> Result<Self, NnError> {
        match name {
            "lenet" => Ok(lenet()),
            "vgg5" => Ok(vgg5()),
            "hefnet" => Ok(hefnet()),
            _ => Err(NnError::UnknownNetwork {
                name: name.to_owned(),
            }),
        }
    }

    /// Index of the layer called `name`.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }

    /// The output shape of every layer, checking each layer against its input.
    pub fn shapes(&self) -> Result<Vec<Shape>, NnError> {
        let mut shapes: Vec<Shape> = Vec::with_capacity(self.layers.len());
        let too_large = |shape: Shape| {
            format!(
                "shape {shape} has more than {MAX_TENSOR_ELEMENTS} elements (the cap on any \
                 tensor of a network); use smaller dimensions"
            )
        };
        match self.input.checked_len() {
            Some(0) => {
                return Err(NnError::Shape {
                    layer: "input".into(),
                    message: format!("input shape {} is empty", self.input),
                });
            }
            Some(n) if n <= MAX_TENSOR_ELEMENTS => {}
            _ => {
                return Err(NnError::Shape {
                    layer: "input".into(),
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
        let mut cur = self.input;
        let mut seen = std::collections::HashSet::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let bad = |message: String| NnError::Shape {
                layer: layer.name.clone(),
                message,
            };
            if !seen.insert(layer.name.as_str()) {
                return Err(bad("two layers have this name; names must be unique".into()));
            }
            cur = match &layer.kind {
                LayerKind::Conv {
                    out,
                    kernel,
                    stride,
                    pad,
                    groups,
                    ..
                } => {
                    if self.flattened_before(i) {
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
                LayerKind::Poly { coefficients } => {
                    if coefficients.is_empty() || coefficients.len() > 3 {
                        return Err(bad(format!(
                            "poly needs 1 to 3 coefficients [c0, c1, c2] (degree ≤ 2), got {}",
                            coefficients.len()
                        )));
                    }
                    if let Some(c) = coefficients.iter().find(|c| !c.is_finite()) {
                        return Err(bad(format!("poly coefficient {c} is not a finite number")));
                    }
                    if coefficients.iter().skip(1).all(|&c| c == 0.0) {
                        return Err(bad("poly is constant: c1 and c2 are both zero".into()));
                    }
                    cur
                }
                LayerKind::Relu => cur,
                LayerKind::BatchNorm { eps } => {
                    let prev = i.checked_sub(1).map(|p| &self.layers[p].kind);
                    if !matches!(
                        prev,
                        Some(LayerKind::Conv { .. } | LayerKind::Linear { .. })
                    ) {
                        return Err(bad(
                            "batchnorm must directly follow a conv or linear layer (it is folded \
                             into it)"
                                .into(),
                        ));
                    }
                    if !(eps.is_finite() && *eps > 0.0) {
                        return Err(bad(format!("eps = {eps} must be a positive finite number")));
                    }
                    cur
                }
                LayerKind::Flatten => Shape::new(cur.len(), 1, 1),
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
                    Shape::new(*out, 1, 1)
                }
                LayerKind::Residual { from } => {
                    let Some(j) = self.layers[..i].iter().position(|l| &l.name == from) else {
                        return Err(bad(format!(
                            "residual source `{from}` is not an earlier layer"
                        )));
                    };
                    if shapes[j] != cur {
                        return Err(bad(format!(
                            "residual adds `{from}` ({}) to a {cur} tensor; shapes must match",
                            shapes[j]
                        )));
                    }
                    cur
                }
            };
            if cur.checked_len().is_none_or(|n| n > MAX_TENSOR_ELEMENTS) {
                return Err(bad(too_large(cur)));
            }
            shapes.push(cur);
        }
        Ok(shapes)
    }

    fn flattened_before(&self, i: usize) -> bool {
        self.layers[..i]
            .iter()
            .any(|l| matches!(l.kind, LayerKind::Flatten | LayerKind::Linear { .. }))
    }

    /// Human-readable notes on activations hesim replaced (ReLU → polynomial).
    pub fn substitutions(&self) -> Vec<String> {
        let [c0, c1, c2] = relu_polynomial();
        self.layers
            .iter()
            .filter(|l| matches!(l.kind, LayerKind::Relu))
            .map(|l| {
                format!(
                    "{}: ReLU replaced by {c2:.6}·x² + {c1}·x + {c0} (least-squares fit on [−{r}, {r}])",
                    l.name,
                    r = RELU_RANGE
                )
            })
            .collect()
    }

    /// Input shapes of every layer (the network input for the first).
    pub fn input_shapes(&self) -> Result<Vec<Shape>, NnError> {
        let out = self.shapes()?;
        let mut ins = Vec::with_capacity(out.len());
        ins.push(self.input);
        ins.extend(out.iter().take(out.len().saturating_sub(1)));
        Ok(ins)
    }
}

fn layer(name: &str, kind: LayerKind) -> Layer {
    Layer {
        name: name.to_owned(),
        kind,
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
    let relu = |n: &str| layer(n, LayerKind::Relu);
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
    let relu = |n: &str| layer(n, LayerKind::Relu);
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

/// The names of the built-in networks.
pub const BUILTINS: [&str; 3] = ["lenet", "vgg5", "hefnet"];

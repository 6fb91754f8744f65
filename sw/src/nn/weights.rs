//! Layer parameters: from a safetensors checkpoint or deterministic pseudo-random values.

use std::path::Path;
use std::sync::Arc;

use safetensors::{Dtype, SafeTensors};

use super::NnError;
use super::activation::ReluApprox;
use super::network::{LayerKind, Network};

/// A weight tensor. Random tensors are computed element by element from a hash, so the large
/// fully connected layers of VGG-5 cost nothing until a payload needs them.
#[derive(Clone, Debug)]
pub enum Tensor {
    Stored(Arc<[f32]>),
    /// Values hesim computed from others (weights that absorbed a merged coefficient, see
    /// [`super::merge`]; block-circulant projections and DFT matrices, see
    /// [`super::circulant`]), kept in double precision.
    Exact(Arc<[f64]>),
    /// Uniform in `[−bound, bound)`, element `i` = hash(seed, i).
    Random {
        seed: u64,
        bound: f64,
        len: usize,
    },
}

impl Tensor {
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Tensor::Stored(v) => f64::from(v[i]),
            Tensor::Exact(v) => v[i],
            Tensor::Random { seed, bound, .. } => bound * uniform(*seed, i as u64),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Tensor::Stored(v) => v.len(),
            Tensor::Exact(v) => v.len(),
            Tensor::Random { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn to_vec(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }
}

/// SplitMix64 finaliser: a fast, well-mixed hash of a 64-bit word.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Deterministic uniform value in [−1, 1) for (seed, index).
pub fn uniform(seed: u64, i: u64) -> f64 {
    let bits = splitmix64(seed ^ splitmix64(i)) >> 11;
    (bits as f64) / (1u64 << 52) as f64 - 1.0
}

/// The parameters of one layer (same index as [`Network::layers`]).
#[derive(Clone, Debug)]
pub enum LayerParams {
    /// Layers without parameters (pooling, flatten, residual).
    None,
    /// Conv (`[out, in/groups, k, k]`) or linear (`[out, in]`) weight and bias (zeros if the
    /// layer has none).
    Affine { weight: Tensor, bias: Vec<f64> },
    BatchNorm {
        gamma: Vec<f64>,
        beta: Vec<f64>,
        mean: Vec<f64>,
        var: Vec<f64>,
        eps: f64,
    },
    /// `Σ c_i x^i`.
    Poly { coefficients: Vec<f64> },
    /// A ReLU approximation that is not a single polynomial (evaluated by its definition).
    Composite(ReluApprox),
}

/// Parameters of a whole network.
#[derive(Clone, Debug)]
pub struct Params {
    pub layers: Vec<LayerParams>,
    /// Where they came from (`random(seed)` or a file path).
    pub source: String,
}

/// The parameters of a `relu` layer: its polynomial, or the composite approximation itself.
pub(crate) fn relu_params(approx: &ReluApprox) -> LayerParams {
    match approx.polynomial() {
        Some(coefficients) => LayerParams::Poly { coefficients },
        None => LayerParams::Composite(approx.clone()),
    }
}

/// Expected weight shape of a conv/linear layer given its input channel count.
fn weight_shape(kind: &LayerKind, in_c: usize) -> Option<(Vec<usize>, usize)> {
    match kind {
        LayerKind::Conv {
            out,
            kernel,
            groups,
            ..
        } => Some((vec![*out, in_c / groups, *kernel, *kernel], *out)),
        LayerKind::Linear { out, .. } => Some((vec![*out, in_c], *out)),
        _ => None,
    }
}

impl Params {
    /// Deterministic random parameters: weights uniform in ±1/√fan_in, biases in ±0.1,
    /// batch-norm statistics near identity, activations as the network defines them.
    pub fn random(net: &Network, seed: u64) -> Result<Self, NnError> {
        let inputs = net.input_shapes()?;
        let layers = net
            .layers
            .iter()
            .zip(&inputs)
            .enumerate()
            .map(|(li, (layer, input))| {
                let lseed = splitmix64(seed ^ splitmix64(li as u64 + 1));
                let vec_of = |tag: u64, n: usize, lo: f64, hi: f64| -> Vec<f64> {
                    (0..n)
                        .map(|i| lo + (hi - lo) * 0.5 * (uniform(lseed ^ tag, i as u64) + 1.0))
                        .collect()
                };
                match &layer.kind {
                    LayerKind::Conv { bias, .. } | LayerKind::Linear { bias, .. } => {
                        let (shape, out) =
                            weight_shape(&layer.kind, input.c).expect("affine layer");
                        let len: usize = shape.iter().product();
                        let fan_in = len / out;
                        let weight = Tensor::Random {
                            seed: lseed,
                            bound: 1.0 / (fan_in as f64).sqrt(),
                            len,
                        };
                        let bias = if *bias {
                            vec_of(1, out, -0.1, 0.1)
                        } else {
                            vec![0.0; out]
                        };
                        LayerParams::Affine { weight, bias }
                    }
                    LayerKind::BatchNorm { eps } => LayerParams::BatchNorm {
                        gamma: vec_of(2, input.c, 0.5, 1.5),
                        beta: vec_of(3, input.c, -0.1, 0.1),
                        mean: vec_of(4, input.c, -0.1, 0.1),
                        var: vec_of(5, input.c, 0.5, 1.5),
                        eps: *eps,
                    },
                    LayerKind::Poly { coefficients } => LayerParams::Poly {
                        coefficients: coefficients.clone(),
                    },
                    LayerKind::Relu { approx } => relu_params(approx),
                    _ => LayerParams::None,
                }
            })
            .collect();
        Ok(Self {
            layers,
            source: format!("random(seed {seed})"),
        })
    }

    /// Reads a safetensors checkpoint with PyTorch state-dict keys (`conv1.weight`, ...).
    pub fn from_safetensors(net: &Network, path: &Path) -> Result<Self, NnError> {
        let bytes = std::fs::read(path).map_err(|e| NnError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_safetensors_bytes(net, &bytes, &path.display().to_string())
    }

    pub fn from_safetensors_bytes(
        net: &Network,
        bytes: &[u8],
        source: &str,
    ) -> Result<Self, NnError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| NnError::Weights {
            source_name: source.to_owned(),
            message: format!("not a safetensors file: {e}"),
        })?;
        let inputs = net.input_shapes()?;
        let read = |key: &str, shape: &[usize]| -> Result<Vec<f32>, NnError> {
            let bad = |message: String| NnError::Weights {
                source_name: source.to_owned(),
                message,
            };
            let t = st
                .tensor(key)
                .map_err(|_| bad(format!("tensor `{key}` is missing")))?;
            if t.shape() != shape {
                return Err(bad(format!(
                    "tensor `{key}` has shape {:?}, the network needs {shape:?}",
                    t.shape()
                )));
            }
            if t.dtype() != Dtype::F32 {
                return Err(bad(format!(
                    "tensor `{key}` is {:?}; hesim reads F32",
                    t.dtype()
                )));
            }
            let values: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(bad(format!(
                    "tensor `{key}` holds {v} at index {i}: weights must be finite numbers (the \
                     checkpoint is corrupt or was saved after training diverged)"
                )));
            }
            Ok(values)
        };
        let has = |key: &str| st.tensor(key).is_ok();
        let to64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
        let mut layers = Vec::with_capacity(net.layers.len());
        for (layer, input) in net.layers.iter().zip(&inputs) {
            let n = &layer.name;
            let p = match &layer.kind {
                LayerKind::Conv { bias, .. } | LayerKind::Linear { bias, .. } => {
                    let (shape, out) = weight_shape(&layer.kind, input.c).expect("affine layer");
                    let weight = Tensor::Stored(read(&format!("{n}.weight"), &shape)?.into());
                    let bias = if *bias {
                        to64(read(&format!("{n}.bias"), &[out])?)
                    } else {
                        vec![0.0; out]
                    };
                    LayerParams::Affine { weight, bias }
                }
                LayerKind::BatchNorm { eps } => LayerParams::BatchNorm {
                    gamma: to64(read(&format!("{n}.weight"), &[input.c])?),
                    beta: to64(read(&format!("{n}.bias"), &[input.c])?),
                    mean: to64(read(&format!("{n}.running_mean"), &[input.c])?),
                    var: to64(read(&format!("{n}.running_var"), &[input.c])?),
                    eps: *eps,
                },
                LayerKind::Poly { coefficients } => {
                    if has(&format!("{n}.alpha")) {
                        let s = |k: &str| read(&format!("{n}.{k}"), &[1]).map(|v| f64::from(v[0]));
                        LayerParams::Poly {
                            coefficients: vec![s("c")?, s("beta")?, s("alpha")?],
                        }
                    } else {
                        LayerParams::Poly {
                            coefficients: coefficients.clone(),
                        }
                    }
                }
                LayerKind::Relu { approx } => relu_params(approx),
                _ => LayerParams::None,
            };
            layers.push(p);
        }
        Ok(Self {
            layers,
            source: source.to_owned(),
        })
    }

    /// The (weight, bias) of an affine layer.
    pub fn affine(&self, layer: usize) -> (&Tensor, &[f64]) {
        match &self.layers[layer] {
            LayerParams::Affine { weight, bias } => (weight, bias),
            other => panic!("layer {layer} is not affine: {other:?}"),
        }
    }

    /// `[c0, c1, c2]` of an activation layer of degree ≤ 2; `None` for higher degrees and
    /// composite approximations.
    pub fn quadratic(&self, layer: usize) -> Option<[f64; 3]> {
        match &self.layers[layer] {
            LayerParams::Poly { coefficients } if coefficients.len() <= 3 => {
                let mut c = [0.0; 3];
                c[..coefficients.len()].copy_from_slice(coefficients);
                Some(c)
            }
            LayerParams::Poly { .. } | LayerParams::Composite(_) => None,
            other => panic!("layer {layer} is not an activation: {other:?}"),
        }
    }

    /// The power-basis coefficients of a polynomial activation layer, constant first; `None`
    /// for composite approximations.
    pub fn polynomial(&self, layer: usize) -> Option<&[f64]> {
        match &self.layers[layer] {
            LayerParams::Poly { coefficients } => Some(coefficients),
            LayerParams::Composite(_) => None,
            other => panic!("layer {layer} is not an activation: {other:?}"),
        }
    }

    /// The composite ReLU approximation of an activation layer; `None` for polynomials.
    pub fn composite(&self, layer: usize) -> Option<&ReluApprox> {
        match &self.layers[layer] {
            LayerParams::Composite(approx) => Some(approx),
            _ => None,
        }
    }

    /// Activation layer `layer` applied to `x`.
    pub fn activate(&self, layer: usize, x: f64) -> f64 {
        match &self.layers[layer] {
            LayerParams::Poly { coefficients } => {
                coefficients.iter().rev().fold(0.0, |acc, &c| acc * x + c)
            }
            LayerParams::Composite(approx) => approx.eval(x),
            other => panic!("layer {layer} is not an activation: {other:?}"),
        }
    }

    /// Per-output-channel (scale, shift) of a batch-norm layer: y = scale·x + shift.
    pub fn batchnorm_affine(&self, layer: usize) -> (Vec<f64>, Vec<f64>) {
        match &self.layers[layer] {
            LayerParams::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
            } => {
                let scale: Vec<f64> = gamma
                    .iter()
                    .zip(var)
                    .map(|(g, v)| g / (v + eps).sqrt())
                    .collect();
                let shift = scale
                    .iter()
                    .zip(mean)
                    .zip(beta)
                    .map(|((s, m), b)| b - s * m)
                    .collect();
                (scale, shift)
            }
            other => panic!("layer {layer} is not batchnorm: {other:?}"),
        }
    }

    /// All values of a weight tensor (for small layers and tests).
    pub fn weight_values(&self, layer: usize) -> Vec<f64> {
        self.affine(layer).0.to_vec()
    }
}

/// Where the SpENCNN checkpoint of built-in network `name` lives under the data root
/// (`models/*.safetensors`); `None` for networks without one (VGG-5, ResNet-20, TOML files).
pub fn checkpoint_path(name: &str) -> Option<std::path::PathBuf> {
    let file = match name {
        "lenet" => "lenet_specnn.safetensors",
        "hefnet" => "hefnet_specnn.safetensors",
        _ => return None,
    };
    Some(data_root().join("models").join(file))
}

/// Synthetic input number `index`: `len` deterministic pixels uniform in [0, 1). Each image
/// depends only on its index, so windows of a long run agree with a single run.
pub fn synthetic_input(len: usize, index: u64) -> Vec<f64> {
    let seed = 0x5EED_1A6E ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..len as u64)
        .map(|j| 0.5 * (uniform(seed, j) + 1.0))
        .collect()
}

/// The default data root: `$HESIM_DATA`, else `../shared` beside the repository root.
pub fn data_root() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("HESIM_DATA") {
        return d.into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

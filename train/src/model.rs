//! A hesim [`Network`] as a trainable candle model, and back to a safetensors checkpoint.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, Tensor, Var};
use hesim_sw::nn::weights::LayerParams;
use hesim_sw::nn::{LayerKind, Network, Params, PruneMasks, Shape, Source};

use super::{Dataset, TrainError};

/// Images per forward pass when only evaluating: the unfolded columns of LeNet's conv2 take
/// 0.64 MB per image.
const EVAL_BATCH: usize = 128;

#[derive(Debug)]
enum Step {
    Conv {
        weight: Var,
        bias: Option<Var>,
        unfold: Unfold,
    },
    Linear {
        weight: Var,
        bias: Option<Var>,
    },
    AvgPool(usize),
    GlobalAvgPool,
    Flatten,
    /// Trainable `c + beta·x + alpha·x²` (the SpENCNN `polynom_act`), each a `[1]` tensor.
    Poly {
        c: Var,
        beta: Var,
        alpha: Var,
    },
    /// hesim's fixed polynomial stand-in for a ReLU: `[c0, c1, c2]`.
    FixedPoly([f64; 3]),
}

/// The network's layers as candle variables, with the fixed pruning masks.
#[derive(Debug)]
pub struct Model {
    network: String,
    steps: Vec<(String, Step)>,
    /// Layer index → keep mask (1 kept, 0 pruned) shaped like the layer's weight.
    keep: HashMap<usize, Tensor>,
}

fn scalar(v: f64) -> candle_core::Result<Var> {
    Var::from_tensor(&Tensor::new(&[v as f32], &Device::Cpu)?)
}

fn var(values: impl Iterator<Item = f64>, shape: &[usize]) -> candle_core::Result<Var> {
    let values: Vec<f32> = values.map(|v| v as f32).collect();
    Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu)?)
}

impl Model {
    /// Builds the model of `net` from `params`, zeroing the weights `pruned` marks.
    pub fn new(net: &Network, params: &Params, pruned: &PruneMasks) -> Result<Self, TrainError> {
        check_network(net)?;
        let inputs = net.input_shapes()?;
        let outputs = net.shapes()?;
        let mut steps = Vec::with_capacity(net.layers.len());
        let mut keep = HashMap::new();
        for (li, layer) in net.layers.iter().enumerate() {
            let affine = || match &params.layers[li] {
                LayerParams::Affine { weight, bias } => Ok((weight, bias)),
                other => Err(TrainError::UnsupportedLayer {
                    layer: layer.name.clone(),
                    kind: format!("an affine layer whose parameters are {other:?}"),
                }),
            };
            let step = match &layer.kind {
                LayerKind::Conv {
                    out,
                    kernel,
                    stride,
                    pad,
                    groups,
                    bias: has_bias,
                } => {
                    let (w, b) = affine()?;
                    let shape = [*out, inputs[li].c / groups, *kernel, *kernel];
                    Step::Conv {
                        weight: var((0..w.len()).map(|i| w.get(i)), &shape)?,
                        bias: has_bias
                            .then(|| var(b.iter().copied(), &[*out]))
                            .transpose()?,
                        unfold: Unfold::new(
                            inputs[li],
                            outputs[li],
                            *kernel,
                            *stride,
                            *pad,
                            *groups,
                        )?,
                    }
                }
                LayerKind::Linear {
                    out,
                    bias: has_bias,
                } => {
                    let (w, b) = affine()?;
                    let shape = [*out, inputs[li].len()];
                    Step::Linear {
                        weight: var((0..w.len()).map(|i| w.get(i)), &shape)?,
                        bias: has_bias
                            .then(|| var(b.iter().copied(), &[*out]))
                            .transpose()?,
                    }
                }
                LayerKind::AvgPool { kernel } => Step::AvgPool(*kernel),
                LayerKind::GlobalAvgPool => Step::GlobalAvgPool,
                LayerKind::Flatten => Step::Flatten,
                LayerKind::Poly { .. } | LayerKind::Relu { .. } => {
                    let Some([c0, c1, c2]) = params.quadratic(li) else {
                        return Err(TrainError::UnsupportedLayer {
                            layer: layer.name.clone(),
                            kind: "an activation of degree above 2".into(),
                        });
                    };
                    if matches!(layer.kind, LayerKind::Poly { .. }) {
                        Step::Poly {
                            c: scalar(c0)?,
                            beta: scalar(c1)?,
                            alpha: scalar(c2)?,
                        }
                    } else {
                        Step::FixedPoly([c0, c1, c2])
                    }
                }
                other => unreachable!("check_network admits no {} layer", other.type_name()),
            };
            if let (Some(mask), Step::Conv { weight, .. } | Step::Linear { weight, .. }) =
                (pruned.get(&li), &step)
            {
                let kept: Vec<f32> = mask.iter().map(|&p| if p { 0.0 } else { 1.0 }).collect();
                let kept = Tensor::from_vec(kept, weight.shape(), &Device::Cpu)?;
                weight.set(&weight.as_tensor().mul(&kept)?)?;
                keep.insert(li, kept);
            }
            steps.push((layer.name.clone(), step));
        }
        Ok(Self {
            network: net.name.clone(),
            steps,
            keep,
        })
    }

    /// Every variable the optimiser updates.
    pub fn trainable(&self) -> Vec<Var> {
        let mut vars = Vec::new();
        for (_, step) in &self.steps {
            match step {
                Step::Conv { weight, bias, .. } | Step::Linear { weight, bias } => {
                    vars.push(weight.clone());
                    vars.extend(bias.iter().cloned());
                }
                Step::Poly { c, beta, alpha } => {
                    vars.extend([c.clone(), beta.clone(), alpha.clone()]);
                }
                Step::AvgPool(_) | Step::GlobalAvgPool | Step::Flatten | Step::FixedPoly(_) => {}
            }
        }
        vars
    }

    /// The weight variable of layer `li`, if it has one.
    pub(crate) fn weight(&self, li: usize) -> Option<&Var> {
        match &self.steps.get(li)?.1 {
            Step::Conv { weight, .. } | Step::Linear { weight, .. } => Some(weight),
            _ => None,
        }
    }

    /// Zeroes the gradients of the pruned weights, so the masks stay fixed.
    pub fn mask_gradients(&self, grads: &mut GradStore) -> candle_core::Result<()> {
        for (&li, kept) in &self.keep {
            let weight = self
                .weight(li)
                .expect("masks are only kept for weighted layers");
            if let Some(g) = grads.get(weight) {
                let masked = g.mul(kept)?;
                grads.insert(weight, masked);
            }
        }
        Ok(())
    }

    /// Logits `[n, 10]` of images `[1, 28, 28, n]` (batch last, see [`Unfold`]).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for (_, step) in &self.steps {
            x = match step {
                Step::Conv {
                    weight,
                    bias,
                    unfold,
                } => {
                    let y = unfold.conv(&x, weight)?;
                    match bias {
                        Some(b) => y.broadcast_add(&b.reshape((b.dim(0)?, 1, 1, 1))?)?,
                        None => y,
                    }
                }
                Step::Linear { weight, bias } => {
                    let y = weight.matmul(&x)?;
                    match bias {
                        Some(b) => y.broadcast_add(&b.reshape((b.dim(0)?, 1))?)?,
                        None => y,
                    }
                }
                Step::AvgPool(k) => avg_pool(&x, *k)?,
                Step::GlobalAvgPool => {
                    let (c, h, w, n) = x.dims4()?;
                    x.reshape((c, h * w, n))?
                        .mean_keepdim(1)?
                        .reshape((c, 1, 1, n))?
                }
                Step::Flatten => {
                    let batch = x.dim(D::Minus1)?;
                    x.reshape(((), batch))?
                }
                Step::Poly { c, beta, alpha } => x
                    .sqr()?
                    .broadcast_mul(alpha)?
                    .add(&x.broadcast_mul(beta)?)?
                    .broadcast_add(c)?,
                Step::FixedPoly([c0, c1, c2]) => {
                    ((x.sqr()? * *c2)? + (&x * *c1)?)?.affine(1.0, *c0)?
                }
            };
        }
        x.t()?.contiguous()
    }

    /// Fraction of `data` classified correctly.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64, TrainError> {
        let indices: Vec<usize> = (0..data.len()).collect();
        let mut correct = 0;
        for chunk in indices.chunks(EVAL_BATCH) {
            let (x, y) = data.batch(chunk)?;
            correct += count_correct(&self.forward(&x)?, &y)?;
        }
        Ok(correct as f64 / data.len().max(1) as f64)
    }

    /// The logits of each image in `data`, as `f64` rows (to compare with hesim's reference).
    pub fn logits(&self, data: &Dataset) -> Result<Vec<Vec<f64>>, TrainError> {
        let indices: Vec<usize> = (0..data.len()).collect();
        let mut rows = Vec::with_capacity(data.len());
        for chunk in indices.chunks(EVAL_BATCH) {
            let (x, _) = data.batch(chunk)?;
            let logits = self.forward(&x)?.to_dtype(DType::F64)?.to_vec2::<f64>()?;
            rows.extend(logits);
        }
        Ok(rows)
    }

    /// The model as a safetensors checkpoint with PyTorch state-dict keys (`conv1.weight`,
    /// `relu1.alpha`, …), the layout hesim-sw's loader reads. `metadata` goes in the header.
    pub fn to_safetensors(&self, metadata: HashMap<String, String>) -> Result<Vec<u8>, TrainError> {
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut put = |name: String, t: &Tensor| -> candle_core::Result<()> {
            let values = t.flatten_all()?.to_vec1::<f32>()?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push((name, t.dims().to_vec(), bytes));
            Ok(())
        };
        for (name, step) in &self.steps {
            match step {
                Step::Conv { weight, bias, .. } | Step::Linear { weight, bias } => {
                    put(format!("{name}.weight"), weight)?;
                    if let Some(b) = bias {
                        put(format!("{name}.bias"), b)?;
                    }
                }
                Step::Poly { c, beta, alpha } => {
                    put(format!("{name}.c"), c)?;
                    put(format!("{name}.beta"), beta)?;
                    put(format!("{name}.alpha"), alpha)?;
                }
                Step::AvgPool(_) | Step::GlobalAvgPool | Step::Flatten | Step::FixedPoly(_) => {}
            }
        }
        let views = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .map(|v| (name.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TrainError::Option {
                message: format!("cannot lay out the checkpoint: {e}"),
            })?;
        safetensors::serialize(views, Some(metadata)).map_err(|e| TrainError::Option {
            message: format!("cannot serialise the checkpoint: {e}"),
        })
    }

    /// The values of layer `li`'s weight (for checks on the masks).
    pub fn weight_values(&self, li: usize) -> Option<Vec<f32>> {
        self.weight(li)?.flatten_all().ok()?.to_vec1::<f32>().ok()
    }

    pub fn network(&self) -> &str {
        &self.network
    }
}

/// Convolution as one gather and one batched matrix product, on activations laid out
/// `[channels, height, width, batch]`; its gradients are a scatter-add and two products.
/// (candle's own `conv2d` differentiates through a direct-loop transposed convolution, and
/// computes the unused gradient of the input images too. The two gave identical epochs; their
/// speeds were not told apart on the loaded machine, where page faults dominated.)
#[derive(Debug)]
struct Unfold {
    /// For each (group, in-group channel, kernel row, kernel column, output row, output column),
    /// the element of the padded input `[c·(h+2p)·(w+2p)]` it reads.
    index: Tensor,
    pad: usize,
    groups: usize,
    /// In-group channels × kernel × kernel.
    depth: usize,
    out: Shape,
}

impl Unfold {
    fn new(
        input: Shape,
        out: Shape,
        kernel: usize,
        stride: usize,
        pad: usize,
        groups: usize,
    ) -> candle_core::Result<Self> {
        let (hp, wp) = (input.h + 2 * pad, input.w + 2 * pad);
        let channels = input.c / groups;
        let mut index = Vec::with_capacity(input.c * kernel * kernel * out.h * out.w);
        for c in 0..input.c {
            for di in 0..kernel {
                for dj in 0..kernel {
                    for oy in 0..out.h {
                        for ox in 0..out.w {
                            let at = (c * hp + oy * stride + di) * wp + ox * stride + dj;
                            index.push(u32::try_from(at).map_err(candle_core::Error::wrap)?);
                        }
                    }
                }
            }
        }
        let len = index.len();
        Ok(Self {
            index: Tensor::from_vec(index, len, &Device::Cpu)?,
            pad,
            groups,
            depth: channels * kernel * kernel,
            out,
        })
    }

    /// `x` `[c, h, w, n]` convolved with `weight` `[out, c/groups, k, k]`: `[out, oh, ow, n]`.
    fn conv(&self, x: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
        let n = x.dim(3)?;
        let x = if self.pad > 0 {
            x.pad_with_zeros(1, self.pad, self.pad)?
                .pad_with_zeros(2, self.pad, self.pad)?
        } else {
            x.clone()
        };
        let rows = x.reshape(((), n))?;
        let positions = self.out.h * self.out.w;
        let columns =
            rows.index_select(&self.index, 0)?
                .reshape((self.groups, self.depth, positions * n))?;
        let kernels = weight.reshape((self.groups, self.out.c / self.groups, self.depth))?;
        kernels
            .matmul(&columns)?
            .reshape((self.out.c, self.out.h, self.out.w, n))
    }
}

/// Average pooling with a `k × k` window and stride `k` (floor mode) on `[c, h, w, n]`.
fn avg_pool(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let (c, h, w, n) = x.dims4()?;
    let (oh, ow) = (h / k, w / k);
    let x = x.narrow(1, 0, oh * k)?.narrow(2, 0, ow * k)?;
    x.reshape((c, oh, k, ow, k, n))?
        .sum(4)?
        .sum(2)?
        .affine(1.0 / (k * k) as f64, 0.0)
}

/// Checks that `net` can be fine-tuned here: it has a conv or linear layer, only layers the
/// trainer implements, and MNIST's shape (1×28×28 in, 10 classes out).
pub fn check_network(net: &Network) -> Result<(), TrainError> {
    if !net
        .layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::Conv { .. } | LayerKind::Linear { .. }))
    {
        return Err(TrainError::NothingToTrain {
            network: net.name.clone(),
        });
    }
    for (i, layer) in net.layers.iter().enumerate() {
        let supported = matches!(
            layer.kind,
            LayerKind::Conv { .. }
                | LayerKind::Linear { .. }
                | LayerKind::AvgPool { .. }
                | LayerKind::GlobalAvgPool
                | LayerKind::Flatten
                | LayerKind::Poly { .. }
                | LayerKind::Relu { .. }
        );
        let chained = net.source(i) == i.checked_sub(1).map_or(Source::Input, Source::Layer);
        if !supported || !chained {
            let kind = if supported {
                "not fed by the layer before it (fine-tuning runs chains of layers)".into()
            } else {
                format!("a {} layer", layer.kind.type_name())
            };
            return Err(TrainError::UnsupportedLayer {
                layer: layer.name.clone(),
                kind,
            });
        }
    }
    let classes = net.shapes()?.last().map_or(0, |s| s.len());
    if net.input != Shape::new(1, 28, 28) || classes != 10 {
        return Err(TrainError::NoData {
            network: net.name.clone(),
            input: net.input.to_string(),
            outputs: classes,
        });
    }
    Ok(())
}

/// How many rows of `logits` have their largest value at the label.
pub(crate) fn count_correct(logits: &Tensor, labels: &Tensor) -> candle_core::Result<usize> {
    let predicted = logits.argmax(D::Minus1)?;
    let hits = predicted.eq(labels)?.to_dtype(DType::U32)?.sum_all()?;
    Ok(hits.to_scalar::<u32>()? as usize)
}

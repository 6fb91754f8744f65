//! `circulant`: block-circulant conv and linear layers evaluated in the frequency domain, after
//! Falcon (Lou et al., NeurIPS 2020) and PrivCirNet (Xu et al., NeurIPS 2024).
//!
//! Falcon's code is not public: this follows the reconstruction in
//! `shared/docs/seed-related.md` §1.4, with PrivCirNet's projection rule.
//!
//! - **Projection.** Each b×b block of a linear layer's weight matrix, and of the
//!   `C_out × C_in` matrix of every kernel tap of a conv (per group; CirCNN's convention), is
//!   replaced by the nearest circulant block: `W_c[i][(i + j) mod b] = mean_i W[i][(i + j) mod b]`
//!   (the mean along each wrapped diagonal, PrivCirNet's `trans_to_cir`).
//! - **Frequency domain.** A circulant block is diagonalised by the b-point DFT, whose matrix
//!   comes from the bootstrap's radix-2 DFT generator ([`crate::ckks::dft::cyclic_dft`]). hesim's
//!   programs carry real slot vectors (the slot interpreter and the CKKS backend encode real
//!   values), so a block's spectrum is stored in its b real degrees of freedom (the real DFT):
//!   `X_0` and `X_{b/2}` (real) at positions 0 and b/2, `Re X_k` at k and `Im X_k` at k + b/2 for
//!   0 < k < b/2. The spectral product `Ŷ_k = Ĉ_k·X_k` is then a 2×2 rotation-scaling coupling
//!   position k with k + b/2, instead of one complex slot product (twice the plaintext
//!   multiplies of a complex-slot product, no conjugation needed).
//! - **Programs.** A circulant layer becomes three linear layers of the one builder: the DFT (a
//!   block-diagonal 1×1 conv or linear map), the spectral layer (the layer's geometry with the
//!   coupled frequency weights) and the inverse DFT (which carries the bias and absorbs a
//!   following batch norm). The builder's `Packing::Circulant` skips the channel pairs whose
//!   weights are all zero, so only the structural terms cost rotations and multiplies. Each of
//!   the three is one rescale: the DFT and inverse DFT are evaluated as one merged stage each
//!   (like the bootstrap's merged CoeffToSlot stages), not as log b radix-2 levels.
//! - **Modes.** `falcon`: a DFT and an inverse DFT around every circulant layer. `privcirnet`:
//!   the signal stays in the frequency domain from one circulant layer to the next when only
//!   pooling (which commutes with a channel DFT) lies between them, leaving it only where a
//!   nonlinearity, a batch norm, a branch or a dense layer needs the signal itself.
//!   When the first layer is circulant, PrivCirNet's client computes the input's DFT before
//!   encrypting (CirEncode; the program's input encoding applies it and its trace header's
//!   packing label ends in `-client-dft`). A layer that reads the network input, or produces its
//!   output, stays dense when b does not divide its channels (an image has 1 or 3 channels, a
//!   classifier 10 classes); every other conv and linear layer must be divisible.

use std::sync::Arc;

use super::NnError;
use super::builder::{Packing, build, build_bootstrapped, input_block};
use super::compile::Strategy;
use super::multiplexed::MuxOptions;
use super::network::{Layer, LayerKind, Network, Source};
use super::params::HeParams;
use super::program::{ChannelBlockTransform, Program};
use super::weights::{LayerParams, Params, Tensor};
use num_complex::Complex64;

use crate::ckks::dft::cyclic_dft;

/// The packing's name.
pub const NAME: &str = "circulant";
/// What a program's trace header packing label ends with when the client computes the
/// input's DFT (PrivCirNet's CirEncode).
pub const CLIENT_DFT_SUFFIX: &str = "-client-dft";
/// The block sizes the packing supports.
pub const BLOCKS: [usize; 3] = [2, 4, 8];

/// Where the program leaves the frequency domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A DFT and an inverse DFT around every circulant layer.
    Falcon,
    /// Frequency domain kept between circulant layers unless a nonlinearity forces it out.
    PrivCirNet,
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Falcon => "falcon",
            Mode::PrivCirNet => "privcirnet",
        }
    }

    /// Parses `falcon` or `privcirnet`.
    pub fn parse(name: &str) -> Result<Self, NnError> {
        match name {
            "falcon" => Ok(Mode::Falcon),
            "privcirnet" => Ok(Mode::PrivCirNet),
            _ => Err(NnError::Option {
                message: format!("unknown circulant mode `{name}`: use falcon or privcirnet"),
            }),
        }
    }
}

/// The block size and mode of the `circulant` packing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CirculantOptions {
    pub block: usize,
    pub mode: Mode,
}

impl Default for CirculantOptions {
    fn default() -> Self {
        Self {
            block: 4,
            mode: Mode::Falcon,
        }
    }
}

impl CirculantOptions {
    /// Options with a checked block size (one of [`BLOCKS`]).
    pub fn new(block: usize, mode: Mode) -> Result<Self, NnError> {
        if !BLOCKS.contains(&block) {
            return Err(NnError::Option {
                message: format!("circulant block size {block} is not supported: use 2, 4 or 8"),
            });
        }
        Ok(Self { block, mode })
    }

    /// The label of the programs' trace headers, e.g. `circulant-b4-falcon`.
    pub fn label(&self) -> String {
        format!("{NAME}-b{}-{}", self.block, self.mode.name())
    }
}

/// What a `circulant` program's trace header label means, for the CLI's notes.
pub fn note(label: &str) -> String {
    let client = if label.ends_with(CLIENT_DFT_SUFFIX) {
        "; the client computes the input's DFT before encrypting (PrivCirNet's CirEncode), so \
         the encrypted input arrives in the frequency domain"
    } else {
        ""
    };
    format!(
        "packing {label}: weights projected to block-circulant form (PrivCirNet's rule) and \
         evaluated in the frequency domain; a reconstruction of Falcon / PrivCirNet from \
         shared/docs/seed-related.md (Falcon's code is not public){client}"
    )
}

/// A conv or linear layer's matrix dimensions: per group `(inputs, outputs)`, group count and
/// kernel taps.
struct Matrix {
    cin_g: usize,
    cout_g: usize,
    groups: usize,
    taps: usize,
}

fn matrix(kind: &LayerKind, input_len: usize, input_c: usize) -> Option<Matrix> {
    match *kind {
        LayerKind::Conv {
            out,
            kernel,
            groups,
            ..
        } => Some(Matrix {
            cin_g: input_c / groups,
            cout_g: out / groups,
            groups,
            taps: kernel * kernel,
        }),
        LayerKind::Linear { out, .. } => Some(Matrix {
            cin_g: input_len,
            cout_g: out,
            groups: 1,
            taps: 1,
        }),
        _ => None,
    }
}

/// Which layers are block-circulant with block `b`: every conv and linear layer, except that a
/// layer reading the network input or producing its output stays dense when `b` does not
/// divide its channels. Any other layer `b` does not divide is an error naming the layer.
pub fn circulant_layers(net: &Network, b: usize) -> Result<Vec<bool>, NnError> {
    let inputs = net.input_shapes()?;
    let last_affine = net
        .layers
        .iter()
        .rposition(|l| matches!(l.kind, LayerKind::Conv { .. } | LayerKind::Linear { .. }));
    let mut out = vec![false; net.layers.len()];
    for (li, layer) in net.layers.iter().enumerate() {
        let Some(m) = matrix(&layer.kind, inputs[li].len(), inputs[li].c) else {
            continue;
        };
        if m.cin_g % b == 0 && m.cout_g % b == 0 {
            out[li] = true;
        } else if net.source(li) != Source::Input && Some(li) != last_affine {
            let what = if m.groups > 1 { " per group" } else { "" };
            return Err(NnError::Unsupported {
                layer: layer.name.clone(),
                message: format!(
                    "circulant block {b} must divide the layer's input and output {}{what} \
                     ({} and {}); use a --block that divides both",
                    if m.taps > 1 || matches!(layer.kind, LayerKind::Conv { .. }) {
                        "channels"
                    } else {
                        "features"
                    },
                    m.cin_g,
                    m.cout_g
                ),
            });
        }
    }
    Ok(out)
}

/// The mean of `values` by pairwise summation: exact for b equal values when b is a power of
/// two, so projecting a circulant block returns it unchanged.
fn pairwise_mean(values: &[f64]) -> f64 {
    fn sum(v: &[f64]) -> f64 {
        match v.len() {
            0 => 0.0,
            1 => v[0],
            n => sum(&v[..n / 2]) + sum(&v[n / 2..]),
        }
    }
    sum(values) / values.len() as f64
}

/// Index of weight `(o, i, tap)` in a `[out, cin_g, taps]` tensor (`i` within its group).
fn widx(m: &Matrix, o: usize, i: usize, tap: usize) -> usize {
    (o * m.cin_g + i) * m.taps + tap
}

/// `params` with the weights of every circulant layer (per [`circulant_layers`]) projected to
/// block-circulant form with block `b` (PrivCirNet's rule, the least-squares projection).
pub fn project(net: &Network, params: &Params, b: usize) -> Result<Params, NnError> {
    let circulant = circulant_layers(net, b)?;
    let inputs = net.input_shapes()?;
    let mut out = params.clone();
    for (li, layer) in net.layers.iter().enumerate() {
        if !circulant[li] {
            continue;
        }
        let m = matrix(&layer.kind, inputs[li].len(), inputs[li].c).expect("affine layer");
        let (weight, bias) = params.affine(li);
        let mut w = weight.to_vec();
        for g in 0..m.groups {
            for bo in 0..m.cout_g / b {
                for bi in 0..m.cin_g / b {
                    for tap in 0..m.taps {
                        let at = |i: usize, j: usize| {
                            widx(&m, g * m.cout_g + bo * b + i, bi * b + (i + j) % b, tap)
                        };
                        for j in 0..b {
                            let diagonal: Vec<f64> = (0..b).map(|i| w[at(i, j)]).collect();
                            let mean = pairwise_mean(&diagonal);
                            for i in 0..b {
                                w[at(i, j)] = mean;
                            }
                        }
                    }
                }
            }
        }
        out.layers[li] = LayerParams::Affine {
            weight: Tensor::Exact(Arc::from(w)),
            bias: bias.to_vec(),
        };
    }
    out.source = format!("{} projected to block-circulant b = {b}", params.source);
    Ok(out)
}

/// The real DFT of b-blocks and its inverse (row-major b×b): `X_0`, `Re X_k` (0 < k < b/2) and
/// `X_{b/2}` at k, `Im X_k` at k + b/2, with `X_k = Σ_t x_t·e^{−2πi·kt/b}`.
pub fn real_dft(b: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (dft, idft) = cyclic_dft(b);
    let h = b / 2;
    let mut forward = vec![vec![0.0; b]; b];
    let mut inverse = vec![vec![0.0; b]; b];
    for t in 0..b {
        for k in 0..=h.min(b - 1) {
            forward[k][t] = dft[k][t].re;
        }
        for k in 1..h {
            forward[k + h][t] = dft[k][t].im;
        }
        // x_t = Σ_k F⁻¹[t][k]·X_k with X_{b−k} = conj(X_k) for real x
        inverse[t][0] = idft[t][0].re;
        if h > 0 {
            inverse[t][h] = idft[t][h].re;
        }
        for k in 1..h {
            inverse[t][k] = idft[t][k].re + idft[t][b - k].re;
            inverse[t][k + h] = -idft[t][k].im + idft[t][b - k].im;
        }
    }
    (forward, inverse)
}

/// The spectral form of the circulant block with first row `row` (block `[i][s] = row[(s − i)
/// mod b]`) in the real-DFT layout: `real_dft · block · real_dft⁻¹`, whose only nonzeros are
/// the diagonal and the couplings of k with k + b/2. `dft` is [`cyclic_dft`]'s forward matrix.
pub fn spectral_block(row: &[f64], dft: &[Vec<Complex64>]) -> Vec<Vec<f64>> {
    let b = row.len();
    let h = b / 2;
    // the block as a circulant with first column c_d = row[−d mod b]: Ĉ_k = Σ_d F[k][d]·c_d
    let spectrum: Vec<_> = (0..b)
        .map(|k| {
            (0..b)
                .map(|d| dft[k][d] * row[(b - d) % b])
                .sum::<Complex64>()
        })
        .collect();
    let mut s = vec![vec![0.0; b]; b];
    s[0][0] = spectrum[0].re;
    if h > 0 {
        s[h][h] = spectrum[h].re;
    }
    for k in 1..h {
        let (a, beta) = (spectrum[k].re, spectrum[k].im);
        s[k][k] = a;
        s[k][k + h] = -beta;
        s[k + h][k] = beta;
        s[k + h][k + h] = a;
    }
    s
}

/// Whether the output of circulant layer `li` can stay in the frequency domain
/// (`privcirnet`): only pooling (and a flatten of 1×1 maps) lies between it and the next
/// circulant layer, nothing else reads those tensors, and `li` is not the network output.
fn stays_in_frequency(net: &Network, circulant: &[bool], li: usize) -> bool {
    let Ok(shapes) = net.shapes() else {
        return false;
    };
    let branches = net.branch_sources();
    let mut k = li;
    loop {
        if branches.contains(&k) || k + 1 >= net.layers.len() || !net.reads_previous(k + 1) {
            return false;
        }
        k += 1;
        match net.layers[k].kind {
            LayerKind::AvgPool { .. } | LayerKind::GlobalAvgPool => {}
            LayerKind::Flatten if shapes[k - 1].h * shapes[k - 1].w == 1 => {}
            LayerKind::Conv { .. } | LayerKind::Linear { .. } => return circulant[k],
            _ => return false,
        }
    }
}

/// Block-diagonal weights `[c, b]` (conv, per group of b) or `[c, c]` (linear) of a b-block
/// transform on `c` channels or features.
fn block_transform(matrix: &[Vec<f64>], c: usize, linear: bool) -> Tensor {
    let b = matrix.len();
    let mut w = vec![0.0; if linear { c * c } else { c * b }];
    for o in 0..c {
        let (blk, k) = (o / b, o % b);
        for (t, &v) in matrix[k].iter().enumerate() {
            let at = if linear {
                o * c + blk * b + t
            } else {
                o * b + t
            };
            w[at] = v;
        }
    }
    Tensor::Exact(Arc::from(w))
}

/// The network computed in the frequency domain: every circulant layer of `net` (with the
/// projected `params`) as its DFT, spectral and inverse-DFT layers (the last of them keeps the
/// layer's name), the DFTs and inverse DFTs `options.mode` elides left out.
pub fn frequency_network(
    net: &Network,
    params: &Params,
    options: &CirculantOptions,
) -> Result<FrequencyNetwork, NnError> {
    let b = options.block;
    let circulant = circulant_layers(net, b)?;
    let inputs = net.input_shapes()?;
    let (forward, inverse) = real_dft(b);
    let dft = cyclic_dft(b).0;
    let mut layers = Vec::new();
    let mut lparams = Vec::new();
    // PrivCirNet's CirEncode: the client sends the input's DFT when only a circulant first
    // layer reads it
    let client_dft = options.mode == Mode::PrivCirNet
        && circulant.first() == Some(&true)
        && (1..net.layers.len()).all(|i| net.source(i) != Source::Input);
    let mut in_frequency = client_dft;
    for (li, layer) in net.layers.iter().enumerate() {
        if !circulant[li] {
            layers.push(layer.clone());
            lparams.push(params.layers[li].clone());
            continue;
        }
        let m = matrix(&layer.kind, inputs[li].len(), inputs[li].c).expect("affine layer");
        let linear = matches!(layer.kind, LayerKind::Linear { .. });
        let stay = options.mode == Mode::PrivCirNet && stays_in_frequency(net, &circulant, li);
        let (weight, bias) = params.affine(li);
        let cin = m.cin_g * m.groups;
        let cout = m.cout_g * m.groups;
        let transform = |name: String, c: usize, input: Option<String>, bias: bool| Layer {
            name,
            kind: if linear {
                LayerKind::Linear { out: c, bias }
            } else {
                LayerKind::Conv {
                    out: c,
                    kernel: 1,
                    stride: 1,
                    pad: 0,
                    groups: c / b,
                    bias,
                }
            },
            input,
        };
        let mut spectral_input = layer.input.clone();
        if !in_frequency {
            layers.push(transform(
                format!("{}.dft", layer.name),
                cin,
                layer.input.clone(),
                false,
            ));
            lparams.push(LayerParams::Affine {
                weight: block_transform(&forward, cin, linear),
                bias: vec![0.0; cin],
            });
            spectral_input = None;
        }
        // the spectral weights: every (group, block pair, tap) as its coupled spectral block
        let w = weight.to_vec();
        let mut spectral = vec![0.0; w.len()];
        for g in 0..m.groups {
            for bo in 0..m.cout_g / b {
                for bi in 0..m.cin_g / b {
                    for tap in 0..m.taps {
                        let row: Vec<f64> = (0..b)
                            .map(|s| w[widx(&m, g * m.cout_g + bo * b, bi * b + s, tap)])
                            .collect();
                        let block = spectral_block(&row, &dft);
                        for (i, block_row) in block.iter().enumerate() {
                            for (s, &v) in block_row.iter().enumerate() {
                                spectral[widx(&m, g * m.cout_g + bo * b + i, bi * b + s, tap)] = v;
                            }
                        }
                    }
                }
            }
        }
        let spectral_name = if stay {
            layer.name.clone()
        } else {
            format!("{}.spectral", layer.name)
        };
        let mut kind = layer.kind.clone();
        match &mut kind {
            LayerKind::Conv { bias, .. } | LayerKind::Linear { bias, .. } => *bias = stay,
            _ => unreachable!("affine layer"),
        }
        layers.push(Layer {
            name: spectral_name,
            kind,
            input: spectral_input,
        });
        // staying in the frequency domain, the bias is added there: the real DFT of each block
        let spectral_bias = if stay {
            (0..cout)
                .map(|o| {
                    let (blk, k) = (o / b, o % b);
                    (0..b).map(|t| forward[k][t] * bias[blk * b + t]).sum()
                })
                .collect()
        } else {
            vec![0.0; cout]
        };
        lparams.push(LayerParams::Affine {
            weight: Tensor::Exact(Arc::from(spectral)),
            bias: spectral_bias,
        });
        if !stay {
            layers.push(transform(layer.name.clone(), cout, None, true));
            lparams.push(LayerParams::Affine {
                weight: block_transform(&inverse, cout, linear),
                bias: bias.to_vec(),
            });
        }
        in_frequency = stay;
    }
    Ok(FrequencyNetwork {
        network: Network::new(net.name.clone(), net.input, layers)?,
        params: Params {
            layers: lparams,
            source: params.source.clone(),
        },
        client_dft: client_dft.then(|| ChannelBlockTransform {
            matrix: forward,
            pixels: net.input.h * net.input.w,
        }),
    })
}

/// A network rewritten to run in the frequency domain ([`frequency_network`]).
#[derive(Clone, Debug)]
pub struct FrequencyNetwork {
    pub network: Network,
    pub params: Params,
    /// The real DFT the client applies to the input's channel blocks (PrivCirNet's CirEncode),
    /// when the first layer is circulant.
    pub(crate) client_dft: Option<ChannelBlockTransform>,
}

/// `circulant`: the projected network in the frequency domain on the diagonal builder (N =
/// 2^14, chain sized to the depth; the bootstrappable chain of `boot` when deeper).
#[derive(Clone, Debug)]
pub struct Circulant {
    pub options: CirculantOptions,
    pub he: HeParams,
    pub boot: MuxOptions,
}

impl Strategy for Circulant {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compile(&self, net: &Network, params: &Params) -> Result<Program, NnError> {
        // refuse an input the builder cannot lay out before projecting (ResNet-18's weights)
        input_block(net, self.he.slots())?;
        let projected = project(net, params, self.options.block)?;
        let freq = frequency_network(net, &projected, &self.options)?;
        let (net, params) = (&freq.network, &freq.params);
        let mut program = match build(net, params, Packing::Circulant, &self.he) {
            Err(NnError::TooDeep { .. }) if self.boot.bootstrap => {
                build_bootstrapped(net, params, Packing::Circulant, &self.boot)
            }
            built => built,
        }?;
        program.header.packing = self.options.label();
        if freq.client_dft.is_some() {
            program.header.packing.push_str(CLIENT_DFT_SUFFIX);
        }
        program.client_transform = freq.client_dft;
        Ok(program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let n = a.len();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (0..n).map(|k| a[i][k] * b[k][j]).sum())
                    .collect()
            })
            .collect()
    }

    /// The real DFT is invertible, and conjugating a circulant block by it gives the spectral
    /// block (checked against the block itself, built from its first row).
    #[test]
    fn spectral_block_diagonalises_the_circulant() {
        for b in BLOCKS {
            let (forward, inverse) = real_dft(b);
            let identity = matmul(&inverse, &forward);
            for (i, row) in identity.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((v - want).abs() < 1e-12, "b = {b}: R⁻¹R[{i}][{j}] = {v}");
                }
            }
            let row: Vec<f64> = (0..b).map(|j| (j as f64 * 0.37).sin() + 0.1).collect();
            let block: Vec<Vec<f64>> = (0..b)
                .map(|i| (0..b).map(|s| row[(s + b - i) % b]).collect())
                .collect();
            let spectral = spectral_block(&row, &cyclic_dft(b).0);
            let back = matmul(&matmul(&inverse, &spectral), &forward);
            for i in 0..b {
                for s in 0..b {
                    assert!(
                        (back[i][s] - block[i][s]).abs() < 1e-12,
                        "b = {b}: [{i}][{s}] {} vs {}",
                        back[i][s],
                        block[i][s]
                    );
                }
            }
        }
    }
}

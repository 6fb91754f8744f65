//! ResNet-20 (CIFAR-10) under CKKS with bootstrapping, in two packings: `multiplexed` (the
//! baseline: Lee et al.'s multiplexed parallel convolution, ICML 2022) and `spencnn` (grouped
//! block convolutions with group-interleaved batches and tap sub-block pruning on top of it).
//! The packings, the group settings and the level planner are documented in `sw/RESNET.md`.
//!
//! The network: conv 3→16 (3×3, pad 1) + act; three stages of three basic blocks with 16, 32,
//! 64 channels (first block of stages 2 and 3: stride 2 and a 1×1 stride-2 projection
//! shortcut, "option B"); each block is conv–act–conv, + shortcut, act; global 8×8 average
//! pooling; linear 64→10. Batch norm is folded into the conv weights and biases (random weights
//! stand for the folded ones). The activation is one polynomial of a stated degree (the
//! Chebyshev interpolant of ReLU on [−R, R]).

use std::sync::Arc;

use hesim_traces::{BootstrapParams, OpKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::NnError;
use super::program::{
    IoLayout, LayerReport, PlainSource, Program, cifar_input_positions, external_recipes,
};
use super::reference::PruneMasks;
use crate::boot::{self, Basis, Ct, Emitter, eval_poly, poly_depth};

/// Raster width of every multiplexed channel block (the CIFAR image width).
const RASTER: usize = 32;
/// Slots of one multiplexed block (32 × 32).
const BLOCK: usize = RASTER * RASTER;
/// ReLU is approximated on [−ACT_RANGE, ACT_RANGE].
pub use super::activation::RELU_RANGE as ACT_RANGE;

/// How the convolutions are packed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ResnetPacking {
    /// Lee et al.'s multiplexed parallel convolution on the dense model.
    Multiplexed,
    /// Grouped block convolutions (`groups` groups in every stride-1 block conv) batched
    /// group-interleaved, plus sub-block pruning of `pruned_taps` of the 9 kernel taps in each
    /// grouped layer.
    Spencnn { groups: usize, pruned_taps: usize },
}

impl ResnetPacking {
    pub fn name(&self) -> &'static str {
        match self {
            ResnetPacking::Multiplexed => "multiplexed",
            ResnetPacking::Spencnn { .. } => "spencnn",
        }
    }
}

/// Build options.
#[derive(Clone, Debug, PartialEq)]
pub struct ResnetOptions {
    pub packing: ResnetPacking,
    /// Degree of the activation polynomial.
    pub act_degree: usize,
    pub boot: BootstrapParams,
    /// log2 N (full packing: N/2 slots).
    pub log_n: u32,
    /// Chain length (limbs) at the top.
    pub limbs: u32,
    pub allow_insecure: bool,
}

impl ResnetOptions {
    /// N = 2^16, 40 limbs of 28 bits (24 left after the default bootstrap), degree-15
    /// activations.
    pub fn new(packing: ResnetPacking) -> Self {
        Self {
            packing,
            act_degree: 15,
            boot: boot::default_params(1 << 15),
            log_n: 16,
            limbs: 40,
            allow_insecure: false,
        }
    }

    /// The documented SpENCNN setting: 4 groups, 3 of 9 taps pruned.
    pub fn spencnn() -> Self {
        Self::new(ResnetPacking::Spencnn {
            groups: 4,
            pruned_taps: 3,
        })
    }
}

/// One convolution of the network.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSpec {
    pub name: String,
    pub cin: usize,
    pub cout: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Input height = width.
    pub hw: usize,
    pub groups: usize,
}

impl ConvSpec {
    fn pad(&self) -> usize {
        self.kernel / 2
    }

    pub fn out_hw(&self) -> usize {
        self.hw / self.stride
    }

    pub fn weight_len(&self) -> usize {
        self.cout * (self.cin / self.groups) * self.kernel * self.kernel
    }

    fn widx(&self, o: usize, ci_local: usize, dy: usize, dx: usize) -> usize {
        ((o * (self.cin / self.groups) + ci_local) * self.kernel + dy) * self.kernel + dx
    }
}

/// The convolutions in order: conv1, then per block `c1`, `c2` and (first block of stages 2,
/// 3) the shortcut `sc`.
pub fn conv_specs(packing: ResnetPacking) -> Vec<ConvSpec> {
    let groups = match packing {
        ResnetPacking::Multiplexed => 1,
        ResnetPacking::Spencnn { groups, .. } => groups,
    };
    let mut v = vec![ConvSpec {
        name: "conv1".into(),
        cin: 3,
        cout: 16,
        kernel: 3,
        stride: 1,
        hw: 32,
        groups: 1,
    }];
    let mut c = 16;
    let mut hw = 32;
    for stage in 0..3 {
        let cout = 16 << stage;
        for block in 0..3 {
            let down = stage > 0 && block == 0;
            let stride = if down { 2 } else { 1 };
            let name = |s: &str| format!("s{}b{}{s}", stage + 1, block + 1);
            v.push(ConvSpec {
                name: name("c1"),
                cin: c,
                cout,
                kernel: 3,
                stride,
                hw,
                groups: if down { 1 } else { groups },
            });
            v.push(ConvSpec {
                name: name("c2"),
                cin: cout,
                cout,
                kernel: 3,
                stride: 1,
                hw: hw / stride,
                groups,
            });
            if down {
                v.push(ConvSpec {
                    name: name("sc"),
                    cin: c,
                    cout,
                    kernel: 1,
                    stride: 2,
                    hw,
                    groups: 1,
                });
            }
            c = cout;
            hw /= stride;
        }
    }
    v
}

/// Weights of the network (random, deterministic from a seed) and its activation.
#[derive(Clone, Debug)]
pub struct ResnetWeights {
    pub convs: Vec<ConvSpec>,
    /// Per conv: `[cout][cin/groups][k][k]`.
    pub weights: Vec<Vec<f64>>,
    pub biases: Vec<Vec<f64>>,
    /// `[10][64]`.
    pub fc_weight: Vec<f64>,
    pub fc_bias: Vec<f64>,
    /// Activation in the power basis, constant term first.
    pub act: Vec<f64>,
    /// Per conv: pruned kernel taps (`dy·k + dx`), the sub-blocks removed.
    pub pruned_taps: Vec<Vec<usize>>,
}

/// Power-basis coefficients of the degree-`degree` Chebyshev interpolant of ReLU on
/// [−`ACT_RANGE`, `ACT_RANGE`].
pub use super::activation::chebyshev_relu as relu_poly;

impl ResnetWeights {
    /// Uniform weights scaled by 1/√fan-in (so activations stay O(1)), uniform biases in
    /// [−0.1, 0.1], from a ChaCha20 stream seeded with `seed`; taps pruned by smallest mean |w|.
    pub fn random(packing: ResnetPacking, act_degree: usize, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let convs = conv_specs(packing);
        let mut weights: Vec<Vec<f64>> = Vec::new();
        let mut biases = Vec::new();
        for c in &convs {
            let fan_in = (c.cin / c.groups * c.kernel * c.kernel) as f64;
            let bound = 0.8 * (3.0 / fan_in).sqrt();
            weights.push(
                (0..c.weight_len())
                    .map(|_| rng.random_range(-bound..bound))
                    .collect::<Vec<f64>>(),
            );
            biases.push((0..c.cout).map(|_| rng.random_range(-0.1..0.1)).collect());
        }
        let fc_bound = (3.0f64 / 64.0).sqrt();
        let fc_weight = (0..640)
            .map(|_| rng.random_range(-fc_bound..fc_bound))
            .collect();
        let fc_bias = (0..10).map(|_| rng.random_range(-0.1..0.1)).collect();
        let pruned_taps = convs
            .iter()
            .zip(&weights)
            .map(|(c, w)| match packing {
                ResnetPacking::Spencnn { pruned_taps, .. } if c.groups > 1 && c.kernel == 3 => {
                    prune_taps(c, w, pruned_taps)
                }
                _ => Vec::new(),
            })
            .collect();
        Self {
            convs,
            weights,
            biases,
            fc_weight,
            fc_bias,
            act: relu_poly(act_degree),
            pruned_taps,
        }
    }

    /// The weight masks of the pruned taps, keyed by conv index (`true` = pruned).
    pub fn prune_masks(&self) -> PruneMasks {
        let mut m = PruneMasks::new();
        for (i, c) in self.convs.iter().enumerate() {
            if self.pruned_taps[i].is_empty() {
                continue;
            }
            let mut mask = vec![false; c.weight_len()];
            for o in 0..c.cout {
                for ci in 0..c.cin / c.groups {
                    for &t in &self.pruned_taps[i] {
                        mask[c.widx(o, ci, t / c.kernel, t % c.kernel)] = true;
                    }
                }
            }
            m.insert(i, mask);
        }
        m
    }
}

/// The `count` taps (never the centre) with the smallest mean |w| over the layer.
fn prune_taps(c: &ConvSpec, w: &[f64], count: usize) -> Vec<usize> {
    let k = c.kernel;
    let mut score: Vec<(f64, usize)> = (0..k * k)
        .filter(|&t| t != k * k / 2)
        .map(|t| {
            let mut s = 0.0;
            for o in 0..c.cout {
                for ci in 0..c.cin / c.groups {
                    s += w[c.widx(o, ci, t / k, t % k)].abs();
                }
            }
            (s, t)
        })
        .collect();
    score.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut taps: Vec<usize> = score.iter().take(count).map(|s| s.1).collect();
    taps.sort_unstable();
    taps
}

// ---- plaintext reference ------------------------------------------------------------------

fn conv_ref(c: &ConvSpec, w: &[f64], bias: &[f64], pruned: &[usize], x: &[f64]) -> Vec<f64> {
    let (h, oh, k, pad) = (c.hw, c.out_hw(), c.kernel, c.pad() as isize);
    let (si, so) = (c.cin / c.groups, c.cout / c.groups);
    let mut y = vec![0.0; c.cout * oh * oh];
    for o in 0..c.cout {
        let g = o / so;
        for il in 0..si {
            let i = g * si + il;
            for dy in 0..k {
                for dx in 0..k {
                    if pruned.contains(&(dy * k + dx)) {
                        continue;
                    }
                    let wv = w[c.widx(o, il, dy, dx)];
                    for oy in 0..oh {
                        let iy = (oy * c.stride + dy) as isize - pad;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for ox in 0..oh {
                            let ix = (ox * c.stride + dx) as isize - pad;
                            if ix < 0 || ix >= h as isize {
                                continue;
                            }
                            y[(o * oh + oy) * oh + ox] +=
                                wv * x[(i * h + iy as usize) * h + ix as usize];
                        }
                    }
                }
            }
        }
        for v in &mut y[o * oh * oh..(o + 1) * oh * oh] {
            *v += bias[o];
        }
    }
    y
}

/// The plaintext network computed directly (naive convolutions on `C×H×W` arrays, Horner for
/// the activation): the independent reference for the packed programs. `input` is 3·32·32
/// values, channel-major; returns the 10 logits.
pub fn forward(wts: &ResnetWeights, input: &[f64]) -> Vec<f64> {
    let act = |v: Vec<f64>| -> Vec<f64> {
        v.iter()
            .map(|&x| wts.act.iter().rev().fold(0.0, |acc, c| acc * x + c))
            .collect()
    };
    let conv = |i: usize, x: &[f64]| {
        conv_ref(
            &wts.convs[i],
            &wts.weights[i],
            &wts.biases[i],
            &wts.pruned_taps[i],
            x,
        )
    };
    let mut x = act(conv(0, input));
    let mut i = 1;
    while i < wts.convs.len() {
        let y = act(conv(i, &x));
        let y = conv(i + 1, &y);
        let (skip, used) = if wts.convs.get(i + 2).is_some_and(|c| c.name.ends_with("sc")) {
            (conv(i + 2, &x), 3)
        } else {
            (x.clone(), 2)
        };
        x = act(y.iter().zip(&skip).map(|(a, b)| a + b).collect());
        i += used;
    }
    let pooled: Vec<f64> = (0..64)
        .map(|c| x[c * 64..(c + 1) * 64].iter().sum::<f64>() / 64.0)
        .collect();
    (0..10)
        .map(|o| {
            wts.fc_bias[o]
                + (0..64)
                    .map(|c| wts.fc_weight[o * 64 + c] * pooled[c])
                    .sum::<f64>()
        })
        .collect()
}

// ---- the multiplexed layout ------------------------------------------------------------------

/// Lee et al.'s multiplexed layout of a `c × h × h` tensor: gap k = 32/h, channel c at
/// sub-pixel (u, v) = ((c mod k²)/k, c mod k) of block t = c / k², pixel (y, x) of channel c at
/// block offset (k·y + u)·32 + k·x + v; `t` blocks (a power of two) form one copy of the tensor
/// and the `copies` copies fill the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mux {
    pub c: usize,
    pub h: usize,
    pub k: usize,
    pub t: usize,
    pub copies: usize,
}

impl Mux {
    pub fn new(c: usize, h: usize, slots: usize) -> Self {
        let k = RASTER / h;
        let t = c.div_ceil(k * k).next_power_of_two();
        Self {
            c,
            h,
            k,
            t,
            copies: slots / (t * BLOCK),
        }
    }

    pub fn copy_size(&self) -> usize {
        self.t * BLOCK
    }

    /// Offset of channel c's (0, 0) pixel; linear in the bits of c.
    pub fn tau(&self, c: usize) -> usize {
        let kk = self.k * self.k;
        (c / kk) * BLOCK + ((c % kk) / self.k) * RASTER + c % self.k
    }

    pub fn pix(&self, y: usize, x: usize) -> usize {
        self.k * (y * RASTER + x)
    }

    pub fn slot(&self, copy: usize, c: usize, y: usize, x: usize) -> usize {
        copy * self.copy_size() + self.tau(c) + self.pix(y, x)
    }
}

// ---- plaintext payloads ----------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Plain {
    /// Weights of conv `conv`, batch `batch`, tap `(dy, dx)` (kernel indices).
    Weight {
        conv: usize,
        batch: usize,
        tap: (usize, usize),
    },
    /// 1 at the results of copy `copy` of batch `batch` (conv `usize::MAX` = the fc layer).
    Mask {
        conv: usize,
        batch: usize,
        copy: usize,
    },
    Bias {
        conv: usize,
    },
    FcWeight {
        batch: usize,
    },
    FcBias,
}

#[derive(Debug)]
struct Payloads {
    wts: ResnetWeights,
    slots: usize,
    /// Input and output layout of each conv.
    layouts: Vec<(Mux, Mux)>,
    fc_in: Mux,
    list: Vec<Plain>,
}

impl Payloads {
    /// Output channel of group `g` computed by copy `copy` of batch `batch`, if any.
    fn member(&self, conv: usize, lin: &Mux, batch: usize, copy: usize) -> Option<usize> {
        let c = &self.wts.convs[conv];
        let j = batch * lin.copies + copy;
        (j < c.cout / c.groups).then_some(j)
    }
}

impl PlainSource for Payloads {
    fn fill(&self, index: u32, v: &mut [f64]) {
        match self.list[index as usize] {
            Plain::Weight {
                conv,
                batch,
                tap: (dy, dx),
            } => {
                let c = &self.wts.convs[conv];
                let (lin, _) = &self.layouts[conv];
                let (si, so) = (c.cin / c.groups, c.cout / c.groups);
                let pad = c.pad() as isize;
                for copy in 0..lin.copies {
                    let Some(j) = self.member(conv, lin, batch, copy) else {
                        continue;
                    };
                    for ch in 0..c.cin {
                        let (g, il) = (ch / si, ch % si);
                        let w = self.wts.weights[conv][c.widx(g * so + j, il, dy, dx)];
                        for oy in 0..c.out_hw() {
                            let (y, iy) = (oy * c.stride, (oy * c.stride + dy) as isize - pad);
                            if iy < 0 || iy >= c.hw as isize {
                                continue;
                            }
                            for ox in 0..c.out_hw() {
                                let (x, ix) = (ox * c.stride, (ox * c.stride + dx) as isize - pad);
                                if ix >= 0 && ix < c.hw as isize {
                                    v[lin.slot(copy, ch, y, x)] = w;
                                }
                            }
                        }
                    }
                }
            }
            Plain::Mask { conv, batch, copy } => {
                if conv == usize::MAX {
                    v[copy * self.fc_in.copy_size()] = 1.0;
                    return;
                }
                let c = &self.wts.convs[conv];
                let (lin, lout) = &self.layouts[conv];
                let si = c.cin / c.groups;
                debug_assert!(self.member(conv, lin, batch, copy).is_some());
                for g in 0..c.groups {
                    let base = copy * lin.copy_size() + lin.tau(g * si);
                    for y in 0..lout.h {
                        for x in 0..lout.h {
                            v[base + lout.pix(y, x)] = 1.0;
                        }
                    }
                }
            }
            Plain::Bias { conv } => {
                let (_, lout) = &self.layouts[conv];
                for copy in 0..lout.copies {
                    for o in 0..lout.c {
                        for y in 0..lout.h {
                            for x in 0..lout.h {
                                v[lout.slot(copy, o, y, x)] = self.wts.biases[conv][o];
                            }
                        }
                    }
                }
            }
            Plain::FcWeight { batch } => {
                let l = &self.fc_in;
                for copy in 0..l.copies {
                    let o = batch * l.copies + copy;
                    if o >= 10 {
                        continue;
                    }
                    for c in 0..64 {
                        v[l.slot(copy, c, 0, 0)] = self.wts.fc_weight[o * 64 + c] / 64.0;
                    }
                }
            }
            Plain::FcBias => {
                for (o, &b) in self.wts.fc_bias.iter().enumerate() {
                    v[o % self.slots] = b;
                }
            }
        }
    }
}

// ---- the builder --------------------------------------------------------------------------

struct Builder {
    e: Emitter,
    payloads: Payloads,
    opts: ResnetOptions,
    top: u32,
    boot_level: u32,
    act_depth: u32,
    reports: Vec<LayerReport>,
}

impl Builder {
    fn plain(&mut self, p: Plain) {
        debug_assert_eq!(self.e.next_plain() as usize, self.payloads.list.len());
        self.payloads.list.push(p);
    }

    fn mul_plain(&mut self, x: Ct, p: Plain) -> Ct {
        self.plain(p);
        self.e.mul_plain(x).0
    }

    fn add_plain(&mut self, x: Ct, p: Plain) -> Ct {
        self.plain(p);
        self.e.add_plain(x).0
    }

    /// The level planner: bootstrap `x` when fewer than `levels` levels remain above level 1.
    /// The bootstrap op is tagged with the layer that needs it.
    fn ensure(&mut self, x: Ct, levels: u32) -> Ct {
        if x.level > levels {
            return x;
        }
        self.e.bootstrap(x, self.opts.boot, self.boot_level)
    }

    fn report(&mut self, name: &str, kind: &'static str, detail: String) {
        self.reports.push(LayerReport {
            name: name.into(),
            kind,
            detail,
        });
    }

    /// One multiplexed (parallel, possibly grouped) convolution; two levels.
    fn conv(&mut self, i: usize, x: Ct) -> Ct {
        let c = self.payloads.wts.convs[i].clone();
        let (lin, lout) = self.payloads.layouts[i];
        self.e.set_layer(&c.name);
        let x = self.ensure(x, 2);
        let (si, so) = (c.cin / c.groups, c.cout / c.groups);
        let k = c.kernel;
        let pruned = self.payloads.wts.pruned_taps[i].clone();
        let taps: Vec<(usize, usize)> = (0..k * k)
            .filter(|t| !pruned.contains(t))
            .map(|t| (t / k, t % k))
            .collect();
        let pad = c.pad() as i64;
        let step = |(dy, dx): (usize, usize)| {
            lin.k as i64 * ((dy as i64 - pad) * RASTER as i64 + dx as i64 - pad)
        };
        let moving = taps.iter().filter(|&&t| step(t) != 0).count();
        let hoist = (moving >= 2).then(|| self.e.hoist_group());
        let rotated: Vec<Ct> = taps
            .iter()
            .map(|&t| self.e.rotate(x, step(t), hoist))
            .collect();
        let batches = so.div_ceil(lin.copies);
        let sum_bits = si.next_power_of_two().trailing_zeros();
        let mut out: Option<Ct> = None;
        for batch in 0..batches {
            let mut acc = None;
            for (ti, &tap) in taps.iter().enumerate() {
                let m = self.mul_plain(
                    rotated[ti],
                    Plain::Weight {
                        conv: i,
                        batch,
                        tap,
                    },
                );
                acc = Some(self.e.accumulate(acc, m));
            }
            let mut s = self.e.rescale(acc.expect("at least the centre tap"));
            for b in 0..sum_bits {
                let r = self.e.rotate(s, lin.tau(1 << b) as i64, None);
                s = self.e.add(s, r);
            }
            for copy in 0..lin.copies {
                let j = batch * lin.copies + copy;
                if j >= so {
                    continue;
                }
                let m = self.mul_plain(
                    s,
                    Plain::Mask {
                        conv: i,
                        batch,
                        copy,
                    },
                );
                let m = self.e.rescale(m);
                // group g's result sits at copy·S_in + τ_in(g·s_in) and belongs at
                // τ_out(g·s_out + j); the difference does not depend on g (checked in
                // `layouts`)
                let from = (copy * lin.copy_size()) as i64;
                let r = self.e.rotate(m, from - lout.tau(j) as i64, None);
                out = Some(self.e.accumulate(out, r));
            }
        }
        let mut y = out.expect("at least one output channel");
        for b in 0..lout.copies.trailing_zeros() {
            let r = self.e.rotate(y, -((lout.copy_size() << b) as i64), None);
            y = self.e.add(y, r);
        }
        let y = self.add_plain(y, Plain::Bias { conv: i });
        let detail = format!(
            "{}→{} k{} s{} g{}: {} taps ({} pruned), {} batches × {} copies, channel sum {} \
             rotations, {} → {} copies",
            c.cin,
            c.cout,
            k,
            c.stride,
            c.groups,
            taps.len(),
            pruned.len(),
            batches,
            lin.copies,
            sum_bits,
            lin.copies,
            lout.copies
        );
        self.report(&c.name, "conv", detail);
        y
    }

    fn act(&mut self, x: Ct, name: &str) -> Ct {
        self.e.set_layer(name);
        let x = self.ensure(x, self.act_depth);
        let coeffs = self.payloads.wts.act.clone();
        let y = eval_poly(&mut self.e, x, &coeffs, Basis::Power);
        self.report(
            name,
            "poly",
            format!(
                "degree {} ReLU approximation on [−{ACT_RANGE}, {ACT_RANGE}], {} levels",
                coeffs.len() - 1,
                self.act_depth
            ),
        );
        y
    }

    fn pool_fc(&mut self, x: Ct) -> Ct {
        let l = self.payloads.fc_in;
        self.e.set_layer("pool");
        let mut s = x;
        for (dy, dx) in [(0, 1), (0, 2), (0, 4), (1, 0), (2, 0), (4, 0)] {
            let r = self.e.rotate(s, l.pix(dy, dx) as i64, None);
            s = self.e.add(s, r);
        }
        self.report(
            "pool",
            "avgpool",
            "global 8×8 sum (1/64 folded into fc)".into(),
        );
        self.e.set_layer("fc");
        let s = self.ensure(s, 2);
        let batches = 10usize.div_ceil(l.copies);
        let mut out = None;
        for batch in 0..batches {
            let m = self.mul_plain(s, Plain::FcWeight { batch });
            let mut t = self.e.rescale(m);
            for b in 0..64usize.trailing_zeros() {
                let r = self.e.rotate(t, l.tau(1 << b) as i64, None);
                t = self.e.add(t, r);
            }
            for copy in 0..l.copies {
                let o = batch * l.copies + copy;
                if o >= 10 {
                    continue;
                }
                let m = self.mul_plain(
                    t,
                    Plain::Mask {
                        conv: usize::MAX,
                        batch,
                        copy,
                    },
                );
                let m = self.e.rescale(m);
                let r = self
                    .e
                    .rotate(m, (copy * l.copy_size()) as i64 - o as i64, None);
                out = Some(self.e.accumulate(out, r));
            }
        }
        let y = self.add_plain(out.expect("10 outputs"), Plain::FcBias);
        self.report("fc", "linear", format!("64→10, {batches} batches"));
        y
    }
}

/// The input and output layout of every conv; checks that grouped convs keep the layout (so
/// that one rotation places a copy's results for all groups).
fn layouts(convs: &[ConvSpec], slots: usize) -> Result<Vec<(Mux, Mux)>, NnError> {
    convs
        .iter()
        .map(|c| {
            let lin = Mux::new(c.cin, c.hw, slots);
            let lout = Mux::new(c.cout, c.out_hw(), slots);
            let bad = |message: String| NnError::Unsupported {
                layer: c.name.clone(),
                message,
            };
            if lin.copies == 0 || lout.copies == 0 {
                return Err(bad(format!(
                    "a copy of the tensor needs more than {slots} slots"
                )));
            }
            let (si, so) = (c.cin / c.groups, c.cout / c.groups);
            if c.groups > 1 && (lin != lout || !si.is_power_of_two() || si != so) {
                return Err(bad(format!(
                    "groups = {} needs a stride-1 layer with equal, power-of-two group sizes",
                    c.groups
                )));
            }
            Ok((lin, lout))
        })
        .collect()
}

/// Compiles ResNet-20 with `wts` under `opts` into a program (bootstraps as single ops).
pub fn build(wts: &ResnetWeights, opts: &ResnetOptions) -> Result<Program, NnError> {
    let header = boot::header(
        opts.log_n,
        opts.limbs,
        "resnet20",
        opts.packing.name(),
        opts.allow_insecure,
    )
    .map_err(|e| NnError::Option {
        message: e.to_string(),
    })?;
    boot::check(&opts.boot, &header).map_err(|e| NnError::Option {
        message: e.to_string(),
    })?;
    if opts.act_degree < 2 {
        return Err(NnError::Option {
            message: format!("activation degree {} must be at least 2", opts.act_degree),
        });
    }
    let slots = header.slots as usize;
    if opts.boot.slots as usize != slots {
        return Err(NnError::Option {
            message: format!(
                "the bootstrap refreshes {} slots but the program uses {slots}",
                opts.boot.slots
            ),
        });
    }
    let top = header.max_level();
    let boot_level = top - opts.boot.level_budget();
    let act_depth = poly_depth(&wts.act, Basis::Power);
    if boot_level <= act_depth.max(2) {
        return Err(NnError::Option {
            message: format!(
                "{top} limbs leave {boot_level} after a bootstrap, too few for a {act_depth}-level \
                 activation; use more limbs"
            ),
        });
    }
    let payloads = Payloads {
        layouts: layouts(&wts.convs, slots)?,
        fc_in: Mux::new(64, 8, slots),
        wts: wts.clone(),
        slots,
        list: Vec::new(),
    };
    let mut b = Builder {
        e: Emitter::new(header.slots, 0, 0, 0),
        payloads,
        opts: opts.clone(),
        top,
        boot_level,
        act_depth,
        reports: Vec::new(),
    };
    b.e.set_layer("input");
    let input = b.e.input(b.top);
    let mut x = b.conv(0, input);
    x = b.act(x, "act1");
    let mut i = 1;
    while i < wts.convs.len() {
        let block = wts.convs[i].name[..4].to_owned();
        let y = b.conv(i, x);
        let y = b.act(y, &format!("{block}a1"));
        let y = b.conv(i + 1, y);
        let has_sc = wts.convs.get(i + 2).is_some_and(|c| c.name.ends_with("sc"));
        let skip = if has_sc { b.conv(i + 2, x) } else { x };
        let add = format!("{block}add");
        b.e.set_layer(&add);
        let s = b.e.add(y, skip);
        b.report(&add, "residual", "shortcut add".into());
        x = b.act(s, &format!("{block}a2"));
        i += if has_sc { 3 } else { 2 };
    }
    let y = b.pool_fc(x);
    b.e.set_layer("output");
    b.e.output(y);
    let input_layout = Mux::new(3, 32, slots);
    let input_positions = cifar_input_positions(input_layout.copies, |copy, c, y, x| {
        input_layout.slot(copy, c, y, x)
    });
    let Builder {
        e,
        payloads,
        reports,
        ..
    } = b;
    let count = payloads.list.len();
    let recipes = external_recipes(Arc::new(payloads), count);
    let input_ids = vec![input.id];
    let output_ids = vec![y.id];
    Ok(Program {
        header,
        input: IoLayout {
            positions: input_positions,
            cts: 1,
            factor: 1.0,
        },
        output: IoLayout {
            positions: (0..10).map(|o| vec![(0, o)]).collect(),
            cts: 1,
            factor: 1.0,
        },
        input_ids,
        output_ids,
        layers: reports,
        pruned: wts.prune_masks(),
        substitutions: vec![format!(
            "ReLU replaced by its degree-{} Chebyshev interpolant on [−{ACT_RANGE}, {ACT_RANGE}]",
            wts.act.len() - 1
        )],
        recipes,
        stages: Vec::new(),
        masks: Vec::new(),
        constants: e.constants,
        ops: e.ops,
    })
}

/// Number of `bootstrap` ops in a program.
pub fn bootstraps(p: &Program) -> usize {
    p.count(|k| matches!(k, OpKind::Bootstrap(_)))
}

//! ResNet-20 exactly as Lee et al. run it (ICML'22, `snu-ccl/FHE-MP-CNN`,
//! `ResNet_cifar10_seal_sparse`): the benchmark program of the CKKS accelerator papers. The
//! network is the graph-IR description [`resnet20_lee`] (weights from [`Params`], checked
//! against the one plaintext forward pass `nn::forward`); this module is the emitter of Lee
//! et al.'s exact op sequence for it, whose op counts the accelerator papers' numbers rest on.
//!
//! - **Layout** (Lee's `TensorCipher` (k, h, w, c, t, p) on n slots): gap k, t = ⌈c/k²⌉ blocks
//!   of k²hw slots, p = 2^⌊log2(n/(k²hwt))⌋ copies of period n/p; channel ch, pixel (y, x) of
//!   copy π at π·n/p + k²hw·⌊ch/k²⌋ + kw·(ky + ⌊(ch mod k²)/k⌋) + kx + ch mod k.
//! - **Convolution** (`multiplexed_parallel_convolution_seal`, 2 levels): 8 tap rotations;
//!   per batch i9 < q = ⌈c_o/p_i⌉, 9 weight `mul_plain` + one rescale, the channel sum
//!   (log2 k_i rotations by 2^x, log2 k_i by 2^x·k_i·w_i, then log2 t_i by 2^x·k_i²h_iw_i, or
//!   t_i − 1 rotations by x·k_i²h_iw_i when t_i is not a power of two), then per output
//!   channel j one rotation into place and one mask `mul_plain` carrying the batch-norm scale;
//!   one rescale; p_o − 1 rotations make the copies. Batch-norm's shift is a plaintext add.
//!   A stride-2 conv doubles the gap instead of repacking.
//! - **Shortcut** of the first block of stages 2 and 3: the parameter-free down-sampling
//!   (`multiplexed_parallel_downsampling_seal`, 1 level: k_i·t_i masked rotations, p_o − 1
//!   copy rotations), PyTorch's option A: input channel ch lands on channel ch + c_o/4 at the
//!   even pixels, the others are zero.
//! - **AppReLU** = x·(1 + sign(x))/2 on inputs scaled into [−1, 1] by B = 40 (the image and
//!   every batch-norm shift are divided by B; the average pooling multiplies B back). sign is
//!   the composite p3∘p2∘p1 of odd polynomials of degrees 15, 15, 27, each evaluated at the
//!   optimal depth ⌈log2(d+1)⌉ (4, 4, 5) by Lee et al.'s odd baby-step giant-step in the
//!   Chebyshev basis (see [`odd_chebyshev`]); with the final product the depth is 14. The
//!   components are **not** Lee et al.'s minimax coefficients (read from a data file in their
//!   code): they are the odd Chebyshev interpolants of tanh(3x)/tanh(3), a smooth stand-in of
//!   the same degrees and depth, so the op counts are those of the composite but its ReLU
//!   accuracy is not claimed.
//! - **Bootstrapping**: a level planner bootstraps a ciphertext before a step that needs more
//!   levels than it has. With 16 levels after each bootstrap (Lee et al.'s `remaining_level`)
//!   that is exactly Lee's placement: after every conv (+ residual add), before each of the
//!   18 block ReLUs; the stem runs on the fresh ciphertext. A bootstrap refreshes the layout's
//!   period n/p slots: 2^14, 2^13, 2^12 in stages 1, 2, 3 at n = 2^15. A shorter chain makes
//!   the planner also bootstrap between the sign's component polynomials.
//! - Layer 0's scale change (Lee's `scaler`, 2^51 → 2^46) is one `mul_const` by 1 + rescale.
//! - **Average pooling** (log2 w + log2 h rotate-and-adds, then k·t masked rotations, 1 level)
//!   and the **FC** 64 → 10 (`matrix_multiplication_seal`: 73 diagonals, rotations by 63 − s,
//!   1 level), plus the bias as a plaintext add.
//! - **Rotation keys** (`memory_save_rotate`): Lee's key set lacks the steps 34–55 and 57–61
//!   (mod n), so those take two rotations (33, then the rest); the trace has both.

use std::sync::Arc;

use hesim_traces::{BootstrapParams, Header};

use super::NnError;
use super::network::{LayerKind, Network, resnet20_lee};
use super::program::{
    IoLayout, LayerReport, PlainSource, Program, RecordsPlains, cifar_input_positions,
    external_recipes,
};
use super::reference::PruneMasks;
use super::weights::Params;
use crate::boot::{Ct, Emitter};

/// Inputs are scaled into [−1, 1] by this bound (Lee et al.'s `B`).
pub use super::activation::APPRELU_BOUND as INPUT_BOUND;
pub use super::activation::{SIGN_DEGREES, sign_component};
/// Levels of the AppReLU: ⌈log2(d+1)⌉ per component plus the final product.
pub const RELU_DEPTH: u32 = 4 + 4 + 5 + 1;
/// Levels of a convolution.
pub const CONV_DEPTH: u32 = 2;
/// Steps with no key in Lee et al.'s rotation key set (done as 33 + the rest).
fn missing_key(step: usize) -> bool {
    (34..=55).contains(&step) || (57..=61).contains(&step)
}

/// Lee et al.'s tensor layout (`TensorCipher` meta).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeeLayout {
    pub k: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub t: usize,
    pub p: usize,
    /// Slots.
    pub n: usize,
}

impl LeeLayout {
    pub fn new(k: usize, h: usize, c: usize, n: usize) -> Self {
        let t = c.div_ceil(k * k);
        let block = k * k * h * h;
        let fit = n / (block * t);
        let p = if fit == 0 { 0 } else { 1 << fit.ilog2() };
        Self {
            k,
            h,
            w: h,
            c,
            t,
            p,
            n,
        }
    }

    fn block(&self) -> usize {
        self.k * self.k * self.h * self.w
    }

    /// Offset of channel `ch`'s pixel (0, 0) within a copy.
    pub fn tau(&self, ch: usize) -> usize {
        let kk = self.k * self.k;
        self.block() * (ch / kk) + self.k * self.w * ((ch % kk) / self.k) + ch % self.k
    }

    pub fn slot(&self, copy: usize, ch: usize, y: usize, x: usize) -> usize {
        copy * (self.n / self.p) + self.tau(ch) + self.k * self.w * self.k * y + self.k * x
    }
}

/// One convolution (3×3, pad 1) with its folded batch norm: y = scale·conv(w, x) + shift.
#[derive(Clone, Debug)]
pub struct LeeConv {
    pub name: String,
    pub cin: usize,
    pub cout: usize,
    pub stride: usize,
    /// Input height = width.
    pub hw: usize,
    /// `[cout][cin][3][3]`.
    pub weight: Vec<f64>,
    pub scale: Vec<f64>,
    /// Already divided by B.
    pub shift: Vec<f64>,
}

impl LeeConv {
    fn w(&self, o: usize, i: usize, dy: usize, dx: usize) -> f64 {
        self.weight[((o * self.cin + i) * 3 + dy) * 3 + dx]
    }
}

/// The program's view of the weights: folded convs, the FC and the sign components.
#[derive(Clone, Debug)]
pub struct LeeWeights {
    pub convs: Vec<LeeConv>,
    /// `[10][64]`.
    pub fc_weight: Vec<f64>,
    pub fc_bias: Vec<f64>,
    /// Chebyshev coefficients of the three sign components (odd: even ones are zero).
    pub sign: [Vec<f64>; 3],
}

/// Conv order: the stem, then per block c1, c2.
fn conv_shapes() -> Vec<(String, usize, usize, usize, usize)> {
    let mut v = vec![("conv1".to_owned(), 3, 16, 1, 32)];
    let (mut c, mut hw) = (16, 32);
    for stage in 0..3 {
        let cout = 16 << stage;
        for block in 0..3 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let name = format!("s{}b{}", stage + 1, block + 1);
            v.push((format!("{name}c1"), c, cout, stride, hw));
            hw /= stride;
            v.push((format!("{name}c2"), cout, cout, 1, hw));
            c = cout;
        }
    }
    v
}

impl LeeWeights {
    /// The weights of [`resnet20_lee`] (the network description) under `params`, in the
    /// program's form: batch norm folded into each conv's scale and shift, the shifts divided
    /// by B (Lee et al. scale the whole network by 1/B; AppReLU is positively homogeneous, so
    /// the program computes the description's network, B/B folded into the pooling).
    pub fn from_network(net: &Network, params: &Params) -> Result<Self, NnError> {
        let shapes = conv_shapes();
        let convs: Vec<usize> = net
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l.kind, LayerKind::Conv { .. }))
            .map(|(i, _)| i)
            .collect();
        let fc = net.layers.len().saturating_sub(1);
        let lee = resnet20_lee();
        let like_lee = net.input == lee.input
            && net
                .layers
                .iter()
                .map(|l| &l.kind)
                .eq(lee.layers.iter().map(|l| &l.kind));
        if !like_lee || convs.len() != shapes.len() {
            return Err(NnError::Unsupported {
                layer: net.name.clone(),
                message: "Lee et al.'s program compiles the network of `network::resnet20_lee` \
                          only"
                    .into(),
            });
        }
        let convs = convs
            .iter()
            .zip(shapes)
            .map(|(&li, (name, cin, cout, stride, hw))| {
                let (weight, bias) = params.affine(li);
                let (s, t) = params.batchnorm_affine(li + 1);
                LeeConv {
                    name,
                    cin,
                    cout,
                    stride,
                    hw,
                    weight: (0..cout * cin * 9).map(|i| weight.get(i)).collect(),
                    scale: s.clone(),
                    shift: (0..cout)
                        .map(|o| (s[o] * bias[o] + t[o]) / INPUT_BOUND)
                        .collect(),
                }
            })
            .collect();
        let (fc_weight, fc_bias) = params.affine(fc);
        Ok(Self {
            convs,
            fc_weight: (0..640).map(|i| fc_weight.get(i)).collect(),
            fc_bias: fc_bias.to_vec(),
            sign: SIGN_DEGREES.map(sign_component),
        })
    }

    /// [`LeeWeights::from_network`] with the description's random parameters from `seed`
    /// ([`Params::random`]).
    pub fn random(seed: u64) -> Self {
        let net = resnet20_lee();
        let params = Params::random(&net, seed).expect("the built-in description has weights");
        Self::from_network(&net, &params).expect("the built-in description is Lee's network")
    }
}

// ---- plaintext payloads ----------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Plain {
    /// Weights of tap (i1, i2) for batch i9 of conv `conv`.
    Weight {
        conv: usize,
        tap: (usize, usize),
        batch: usize,
    },
    /// Batch-norm scale at output channel `ch`'s places (copy 0).
    Select {
        conv: usize,
        ch: usize,
    },
    /// Batch-norm shift at every output place (all copies).
    Shift {
        conv: usize,
    },
    /// Down-sampling mask: sub-row `row` of block `block`, even pixels.
    Down {
        conv: usize,
        row: usize,
        block: usize,
    },
    /// Average-pooling mask for sub-row s of block u.
    Pool {
        s: usize,
        u: usize,
    },
    /// Diagonal s of the FC matrix.
    FcDiagonal {
        s: usize,
    },
    FcBias,
}

#[derive(Debug)]
struct Payloads {
    wts: LeeWeights,
    /// Input and output layout of each conv.
    layouts: Vec<(LeeLayout, LeeLayout)>,
    pool_in: LeeLayout,
    list: Vec<Plain>,
}

impl PlainSource for Payloads {
    fn fill(&self, index: u32, v: &mut [f64]) {
        match self.list[index as usize] {
            Plain::Weight {
                conv,
                tap: (i1, i2),
                batch,
            } => {
                let c = &self.wts.convs[conv];
                let (li, _) = self.layouts[conv];
                let period = li.n / li.p;
                for (j8, slot) in v.iter_mut().enumerate() {
                    let r = j8 % period;
                    let (copy, i7) = (j8 / period, r / li.block());
                    let j5 = (r % li.block()) / (li.k * li.w);
                    let j6 = r % (li.k * li.w);
                    let ci = li.k * li.k * i7 + li.k * (j5 % li.k) + j6 % li.k;
                    let co = copy + li.p * batch;
                    let (y, x) = (
                        (j5 / li.k) as isize + i1 as isize - 1,
                        (j6 / li.k) as isize + i2 as isize - 1,
                    );
                    if r < li.block() * li.t
                        && co < c.cout
                        && ci < c.cin
                        && (0..li.h as isize).contains(&y)
                        && (0..li.w as isize).contains(&x)
                    {
                        *slot = c.w(co, ci, i1, i2);
                    }
                }
            }
            Plain::Select { conv, ch } => {
                let (_, lo) = self.layouts[conv];
                for y in 0..lo.h {
                    for x in 0..lo.w {
                        v[lo.slot(0, ch, y, x)] = self.wts.convs[conv].scale[ch];
                    }
                }
            }
            Plain::Shift { conv } => {
                let (_, lo) = self.layouts[conv];
                for copy in 0..lo.p {
                    for ch in 0..lo.c {
                        for y in 0..lo.h {
                            for x in 0..lo.w {
                                v[lo.slot(copy, ch, y, x)] = self.wts.convs[conv].shift[ch];
                            }
                        }
                    }
                }
            }
            Plain::Down { conv, row, block } => {
                let (li, _) = self.layouts[conv];
                for (v4, slot) in v.iter_mut().enumerate().take(li.block() * li.t) {
                    let j5 = (v4 % li.block()) / (li.k * li.w);
                    let j6 = v4 % (li.k * li.w);
                    if (j5 / li.k) % 2 == 0
                        && (j6 / li.k) % 2 == 0
                        && j5 % li.k == row
                        && v4 / li.block() == block
                    {
                        *slot = 1.0;
                    }
                }
            }
            Plain::Pool { s, u } => {
                let l = self.pool_in;
                for i in 0..l.k {
                    v[(l.k * u + s) * l.k + i] = INPUT_BOUND / (l.h * l.w) as f64;
                }
            }
            Plain::FcDiagonal { s } => {
                for (i, slot) in v.iter_mut().enumerate().take(10) {
                    let j = i as isize - s as isize + 63;
                    if (0..64).contains(&j) {
                        *slot = self.wts.fc_weight[i * 64 + j as usize];
                    }
                }
            }
            Plain::FcBias => v[..10].copy_from_slice(&self.wts.fc_bias),
        }
    }
}

// ---- the builder -----------------------------------------------------------------------------

struct Builder {
    e: Emitter,
    payloads: Payloads,
    recipe: BootstrapParams,
    boot_level: u32,
    bootstraps: Vec<u64>,
    reports: Vec<LayerReport>,
}

impl RecordsPlains for Builder {
    type Payload = Plain;

    fn recorder(&mut self) -> (&mut Emitter, &mut Vec<Plain>) {
        (&mut self.e, &mut self.payloads.list)
    }
}

impl Builder {
    /// Lee et al.'s `memory_save_rotate`: steps mod n, two rotations for a missing key.
    fn rotate(&mut self, x: Ct, steps: i64, n: usize) -> Ct {
        let s = steps.rem_euclid(n as i64) as usize;
        if s == 0 {
            return x;
        }
        if missing_key(s) {
            let r = self.e.rotate(x, 33, None);
            self.e.rotate(r, s as i64 - 33, None)
        } else {
            self.e.rotate(x, s as i64, None)
        }
    }

    /// Bootstraps `x` (period n/p of `layout`) unless it keeps `levels` levels above level 1.
    fn ensure(&mut self, x: Ct, levels: u32, layout: &LeeLayout) -> Ct {
        if x.level > levels {
            return x;
        }
        let mut p = self.recipe;
        p.slots = (layout.n / layout.p) as u64;
        self.bootstraps.push(p.slots);
        self.e.bootstrap(x, p, self.boot_level)
    }

    fn conv(&mut self, i: usize, x: Ct) -> Ct {
        let (li, lo) = self.payloads.layouts[i];
        let c = self.payloads.wts.convs[i].clone();
        self.e.set_layer(&c.name);
        let x = self.ensure(x, CONV_DEPTH, &li);
        let n = li.n;
        let mut rotated = Vec::with_capacity(9);
        for i1 in 0..3 {
            for i2 in 0..3 {
                let step =
                    (li.k * li.k * li.w) as i64 * (i1 as i64 - 1) + li.k as i64 * (i2 as i64 - 1);
                rotated.push(self.rotate(x, step, n));
            }
        }
        let q = c.cout.div_ceil(li.p);
        let mut total = None;
        for batch in 0..q {
            let mut acc = None;
            for (tap, &r) in rotated.iter().enumerate() {
                let m = self.mul_plain(
                    r,
                    Plain::Weight {
                        conv: i,
                        tap: (tap / 3, tap % 3),
                        batch,
                    },
                );
                acc = Some(self.e.accumulate(acc, m));
            }
            let mut var = self.e.rescale(acc.expect("nine taps"));
            let d = li.k.trailing_zeros();
            for b in 0..d {
                let r = self.rotate(var, 1 << b, n);
                var = self.e.add(var, r);
            }
            for b in 0..d {
                let r = self.rotate(var, ((1 << b) * li.k * li.w) as i64, n);
                var = self.e.add(var, r);
            }
            if li.t.is_power_of_two() {
                for b in 0..li.t.trailing_zeros() {
                    let r = self.rotate(var, ((1 << b) * li.block()) as i64, n);
                    var = self.e.add(var, r);
                }
            } else {
                let mut sum = var;
                for b in 1..li.t {
                    let r = self.rotate(var, (b * li.block()) as i64, n);
                    sum = self.e.add(sum, r);
                }
                var = sum;
            }
            for copy in 0..li.p {
                let j4 = li.p * batch + copy;
                if j4 >= c.cout {
                    break;
                }
                let step = ((n / li.p) * copy) as i64 - lo.tau(j4) as i64;
                let r = self.rotate(var, step, n);
                let m = self.mul_plain(r, Plain::Select { conv: i, ch: j4 });
                total = Some(self.e.accumulate(total, m));
            }
        }
        let var = self.e.rescale(total.expect("an output channel"));
        let mut sum = var;
        for u in 1..lo.p {
            let r = self.rotate(var, -((u * (n / lo.p)) as i64), n);
            sum = self.e.add(sum, r);
        }
        let y = self.add_plain(sum, Plain::Shift { conv: i });
        self.reports.push(LayerReport {
            name: c.name.clone(),
            kind: "conv",
            detail: format!(
                "{}→{} s{}: (k {}, t {}, p {}) → (k {}, t {}, p {}), {q} batches",
                c.cin, c.cout, c.stride, li.k, li.t, li.p, lo.k, lo.t, lo.p
            ),
        });
        y
    }

    /// x·(1 + p3(p2(p1(x))))/2, bootstrapping between components when levels run out.
    fn relu(&mut self, x: Ct, name: &str, layout: &LeeLayout) -> Ct {
        self.e.set_layer(name);
        let sign = self.payloads.wts.sign.clone();
        let x = self.ensure(x, depth_of(&sign[0]), layout);
        let mut s = x;
        for (i, c) in sign.iter().enumerate() {
            let mut c = c.clone();
            if i == sign.len() - 1 {
                c.iter_mut().for_each(|v| *v *= 0.5);
            }
            s = self.ensure(s, depth_of(&c), layout);
            s = odd_chebyshev(&mut self.e, s, &c);
        }
        s = self.ensure(s, 1, layout);
        let half = self.e.add_const(s, 0.5);
        let y = self.e.mul_relin_rescale(half, x);
        self.reports.push(LayerReport {
            name: name.into(),
            kind: "relu",
            detail: format!("AppReLU, sign of degrees {SIGN_DEGREES:?}, depth {RELU_DEPTH}"),
        });
        y
    }

    /// The option-A shortcut of conv `i` (its stride-2 c1) applied to `x`.
    fn downsample(&mut self, i: usize, x: Ct) -> Ct {
        let (li, _) = self.payloads.layouts[i];
        let lo = self.payloads.layouts[i + 1].1;
        let name = format!("{}ds", &self.payloads.wts.convs[i].name[..4]);
        self.e.set_layer(&name);
        let x = self.ensure(x, 1, &li);
        let n = li.n;
        let mut sum = None;
        for row in 0..li.k {
            for block in 0..li.t {
                let m = self.mul_plain(
                    x,
                    Plain::Down {
                        conv: i,
                        row,
                        block,
                    },
                );
                let idx = li.k * block + row;
                let (w3, w4, w5) = ((idx % (2 * lo.k)) / 2, idx % 2, idx / (2 * lo.k));
                let step = (li.block() * block + li.k * li.w * row) as i64
                    - (lo.block() * w5 + lo.k * lo.w * w3 + li.k * w4) as i64
                    - (lo.block() * (li.t / 8)) as i64;
                let r = self.rotate(m, step, n);
                sum = Some(self.e.accumulate(sum, r));
            }
        }
        let ct = self.e.rescale(sum.expect("a block"));
        let mut out = ct;
        for u in 1..lo.p {
            let r = self.rotate(ct, -((u * (n / lo.p)) as i64), n);
            out = self.e.add(out, r);
        }
        self.reports.push(LayerReport {
            name,
            kind: "downsample",
            detail: format!("option A, {} masks", li.k * li.t),
        });
        out
    }

    fn pool_fc(&mut self, x: Ct) -> Ct {
        let l = self.payloads.pool_in;
        let n = l.n;
        self.e.set_layer("pool");
        let mut ct = self.ensure(x, 1, &l);
        for b in 0..l.w.trailing_zeros() {
            let r = self.rotate(ct, ((1 << b) * l.k) as i64, n);
            ct = self.e.add(ct, r);
        }
        for b in 0..l.h.trailing_zeros() {
            let r = self.rotate(ct, ((1 << b) * l.k * l.k * l.w) as i64, n);
            ct = self.e.add(ct, r);
        }
        let mut sum = None;
        for s in 0..l.k {
            for u in 0..l.t {
                let p = l.k * u + s;
                let step = (l.block() * u + l.k * l.w * s) as i64 - (p * l.k) as i64;
                let r = self.rotate(ct, step, n);
                let m = self.mul_plain(r, Plain::Pool { s, u });
                sum = Some(self.e.accumulate(sum, m));
            }
        }
        let pooled = self.e.rescale(sum.expect("a block"));
        self.reports.push(LayerReport {
            name: "pool".into(),
            kind: "avgpool",
            detail: "global 8×8 average".into(),
        });
        self.e.set_layer("fc");
        let one = LeeLayout { p: 1, ..l };
        let pooled = self.ensure(pooled, 1, &one);
        let mut acc = None;
        for s in 0..(10 + 64 - 1) {
            let r = self.rotate(pooled, 63 - s as i64, n);
            let m = self.mul_plain(r, Plain::FcDiagonal { s });
            acc = Some(self.e.accumulate(acc, m));
        }
        let y = self.e.rescale(acc.expect("73 diagonals"));
        let y = self.add_plain(y, Plain::FcBias);
        self.reports.push(LayerReport {
            name: "fc".into(),
            kind: "linear",
            detail: "64→10, 73 diagonals".into(),
        });
        y
    }
}

/// ⌈log2(degree + 1)⌉: the levels [`odd_chebyshev`] uses.
fn depth_of(c: &[f64]) -> u32 {
    let d = c.iter().rposition(|&v| v != 0.0).unwrap_or(0);
    usize::BITS - d.leading_zeros()
}

/// The split plan of Lee et al.'s odd baby-step giant-step (`upgrade_oddbaby` in their code,
/// re-derived): odd baby steps T_1 .. T_(2^l − 1), giants T_2, T_4, .., T_(2^(m−1)), and for
/// an odd degree i at depth j either a leaf (i ≤ 2^l − 1 and i ≤ 2^(j−1): Σ c_t·T_t, scalar
/// products only) or p = q·T_g + r with g = 2^k (k < m, k < j, g < i), q of degree i − g at
/// depth j − 1 and r of degree g − 1 at depth j. `cost[i][j]` counts the q·T_g products; the
/// plan minimises them plus the 2^(l−1) − 1 baby and m − 1 giant products, at the optimal
/// depth ⌈log2(d+1)⌉.
#[derive(Debug)]
struct OddPlan {
    /// `split[i][j]`: the giant g chosen for degree i at depth j (0: a leaf).
    split: Vec<Vec<usize>>,
}

impl OddPlan {
    fn new(degree: usize) -> Self {
        const NONE: u32 = u32::MAX / 4;
        let depth = (usize::BITS - degree.leading_zeros()) as usize;
        let mut best: Option<(u32, OddPlan)> = None;
        let mut l = 1;
        while (1 << l) - 1 <= degree {
            let mut m = 1;
            while 1 << (m - 1) < degree {
                let baby_max = (1usize << l) - 1;
                let mut cost = vec![vec![0u32; depth + 1]; degree + 1];
                let mut split = vec![vec![0usize; depth + 1]; degree + 1];
                for i in (3..=degree).step_by(2) {
                    cost[i][1] = NONE;
                }
                for j in 2..=depth {
                    for i in (1..=degree).step_by(2) {
                        if i <= baby_max && i < 1 << (j - 1) {
                            continue;
                        }
                        cost[i][j] = NONE;
                        for k in (1..m.min(j)).take_while(|&k| 1 << k < i) {
                            let g = 1usize << k;
                            let c = cost[i - g][j - 1] + cost[g - 1][j] + 1;
                            if c < cost[i][j] {
                                cost[i][j] = c;
                                split[i][j] = g;
                            }
                        }
                    }
                }
                let total = cost[degree][depth] + (1 << (l - 1)) + m as u32 - 2;
                if best.as_ref().is_none_or(|(t, _)| total < *t) {
                    best = Some((total, OddPlan { split }));
                }
                m += 1;
            }
            l += 1;
        }
        best.expect("degree ≥ 1 has a plan").1
    }
}

/// An odd polynomial Σ c_i T_i(x) (Chebyshev basis) at the optimal depth ⌈log2(d+1)⌉ with Lee
/// et al.'s minimum number of ct×ct products ([`OddPlan`]): 8 for degree 15, 10 for 27.
pub fn odd_chebyshev(e: &mut Emitter, x: Ct, c: &[f64]) -> Ct {
    let degree = c.iter().rposition(|&v| v != 0.0).unwrap_or(0);
    assert!(
        degree % 2 == 1 && c.iter().step_by(2).all(|&v| v == 0.0),
        "an odd, non-constant polynomial"
    );
    let plan = OddPlan::new(degree);
    let mut eval = OddEval {
        e,
        plan: &plan,
        powers: std::collections::HashMap::from([(1, x)]),
    };
    let depth = depth_of(c) as usize;
    eval.eval(&c[..=degree], degree, depth)
        .expect("a non-zero polynomial")
}

struct OddEval<'a> {
    e: &'a mut Emitter,
    plan: &'a OddPlan,
    powers: std::collections::HashMap<usize, Ct>,
}

impl OddEval<'_> {
    /// T_i: T_2a = 2T_a² − 1, and for odd i with a the largest power of two below it,
    /// T_i = 2T_a·T_(i−a) − T_(2a−i).
    fn power(&mut self, i: usize) -> Ct {
        if let Some(&t) = self.powers.get(&i) {
            return t;
        }
        let a = 1usize << (usize::BITS - 1 - (i - 1).leading_zeros());
        let v = if i.is_power_of_two() {
            let h = self.power(i / 2);
            let sq = self.e.mul_relin_rescale(h, h);
            let twice = self.e.add(sq, sq);
            self.e.add_const(twice, -1.0)
        } else {
            let (big, small) = (self.power(a), self.power(i - a));
            let prod = self.e.mul_relin_rescale(big, small);
            let twice = self.e.add(prod, prod);
            let low = self.power(2 * a - i);
            self.e.sub(twice, low)
        };
        self.powers.insert(i, v);
        v
    }

    /// `p` (odd, degree ≤ `degree`) at depth `depth`, or `None` if it is zero.
    fn eval(&mut self, p: &[f64], degree: usize, depth: usize) -> Option<Ct> {
        if p.iter().all(|&v| v == 0.0) {
            return None;
        }
        let g = self.plan.split[degree][depth];
        if g == 0 {
            let terms: Vec<usize> = (1..p.len()).filter(|&t| p[t] != 0.0).collect();
            let bases: Vec<Ct> = terms.iter().map(|&t| self.power(t)).collect();
            let level = bases.iter().map(|b| b.level).min().expect("a term");
            let mut acc = None;
            for (&t, &b) in terms.iter().zip(&bases) {
                let b = self.e.level_to(b, level);
                let m = self.e.mul_const(b, p[t]);
                acc = Some(self.e.accumulate(acc, m));
            }
            return Some(self.e.rescale(acc.expect("a term")));
        }
        // p = q·T_g + r, T_g·T_k = (T_(g+k) + T_|g−k|)/2
        let mut r = p.to_vec();
        let mut q = vec![0.0; degree - g + 1];
        for t in (g..p.len()).rev() {
            let c = r[t];
            if c == 0.0 {
                continue;
            }
            r[t] = 0.0;
            let k = t - g;
            q[k] += 2.0 * c;
            r[g.abs_diff(k)] -= c;
        }
        r.truncate(g);
        let vq = self.eval(&q, degree - g, depth - 1);
        let vr = self.eval(&r, g - 1, depth);
        let prod = vq.map(|vq| {
            let tg = self.power(g);
            self.e.mul_relin_rescale(vq, tg)
        });
        match (prod, vr) {
            (Some(a), Some(b)) => Some(self.e.add(a, b)),
            (a, b) => a.or(b),
        }
    }
}

/// A built program and what the planner did.
#[derive(Debug)]
pub struct LeeResnet {
    pub program: Program,
    /// Slots of each bootstrap, in order.
    pub bootstrap_slots: Vec<u64>,
}

/// Compiles Lee et al.'s ResNet-20 with `wts` for the design's `header` and bootstrap
/// `recipe` (its slot count is replaced by each layout's period).
pub fn build(
    wts: &LeeWeights,
    header: &Header,
    recipe: &BootstrapParams,
) -> Result<LeeResnet, NnError> {
    let n = header.slots as usize;
    let option = |message: String| NnError::Option { message };
    let budget = recipe.level_budget();
    let top = header.max_level();
    let boot_level = top.checked_sub(budget).filter(|&l| l > 5).ok_or_else(|| {
        option(format!(
            "limbs = {top} is out of bounds: the {budget}-level bootstrap must leave at least 6 \
             limbs (the deepest step, a degree-27 sign component, needs 5 levels above level 1); \
             use at least {} limbs ({} for Lee et al.'s placement with 18 bootstraps)",
            budget + 6,
            budget + 1 + CONV_DEPTH + RELU_DEPTH
        ))
    })?;
    let mut layouts = Vec::new();
    let mut cur = LeeLayout::new(1, 32, 3, n);
    for c in &wts.convs {
        let k = cur.k * c.stride;
        let out = LeeLayout::new(k, c.hw / c.stride, c.cout, n);
        if cur.p == 0 || out.p == 0 || cur.block() * cur.t * cur.p > n {
            return Err(NnError::Unsupported {
                layer: c.name.clone(),
                message: format!("a copy of the tensor needs more than the {n} slots"),
            });
        }
        layouts.push((cur, out));
        cur = out;
    }
    for (i, &(li, lo)) in layouts.iter().enumerate() {
        let mut p = *recipe;
        p.slots = (n / li.p.max(lo.p)) as u64;
        crate::boot::check(&p, header).map_err(|err| {
            option(format!(
                "the bootstrap of layer {}: {err}",
                wts.convs[i].name
            ))
        })?;
    }
    let mut b = Builder {
        e: Emitter::new(header.slots, 0, 0, 0),
        payloads: Payloads {
            wts: wts.clone(),
            layouts,
            pool_in: cur,
            list: Vec::new(),
        },
        recipe: *recipe,
        boot_level,
        bootstraps: Vec::new(),
        reports: Vec::new(),
    };
    // Lee et al. encrypt the image just high enough for the stem, its ReLU and the first
    // block conv: 1 + 2 + 1 (scale change) + 14 + 2 limbs.
    let input_level = top.min(1 + CONV_DEPTH + 1 + RELU_DEPTH + CONV_DEPTH);
    b.e.set_layer("input");
    let input = b.e.input(input_level);
    let mut x = b.conv(0, input);
    let scaled = b.e.mul_const(x, 1.0);
    x = b.e.rescale(scaled);
    let stem_out = b.payloads.layouts[0].1;
    x = b.relu(x, "act1", &stem_out);
    let mut i = 1;
    while i < wts.convs.len() {
        let block = wts.convs[i].name[..4].to_owned();
        let mid = b.payloads.layouts[i].1;
        let y = b.conv(i, x);
        let y = b.relu(y, &format!("{block}a1"), &mid);
        let y = b.conv(i + 1, y);
        let skip = if wts.convs[i].stride == 2 {
            b.downsample(i, x)
        } else {
            x
        };
        b.e.set_layer(&format!("{block}add"));
        let s = b.e.add(y, skip);
        let out = b.payloads.layouts[i + 1].1;
        x = b.relu(s, &format!("{block}a2"), &out);
        i += 2;
    }
    let y = b.pool_fc(x);
    b.e.set_layer("output");
    b.e.output(y);
    let input_layout = LeeLayout::new(1, 32, 3, n);
    let positions = cifar_input_positions(input_layout.p, |copy, c, y, x| {
        input_layout.slot(copy, c, y, x)
    });
    let Builder {
        e,
        payloads,
        reports,
        bootstraps,
        ..
    } = b;
    let count = payloads.list.len();
    let recipes = external_recipes(Arc::new(payloads), count);
    let mut header = header.clone();
    header.network = "resnet20".into();
    header.packing = "lee".into();
    Ok(LeeResnet {
        program: Program {
            header,
            input: IoLayout {
                positions,
                cts: 1,
                factor: 1.0 / INPUT_BOUND,
            },
            output: IoLayout {
                positions: (0..10).map(|o| vec![(0, o)]).collect(),
                cts: 1,
                factor: 1.0,
            },
            input_ids: vec![input.id],
            output_ids: vec![y.id],
            layers: reports,
            pruned: PruneMasks::new(),
            substitutions: vec![format!(
                "ReLU = x·(1 + sign(x))/2 with a composite sign of odd Chebyshev interpolants \
                 of tanh(3x)/tanh(3), degrees {SIGN_DEGREES:?} (Lee et al.'s degrees and depth, \
                 not their minimax coefficients)"
            )],
            recipes,
            stages: Vec::new(),
            masks: Vec::new(),
            constants: e.constants,
            client_transform: None,
            ops: e.ops,
        },
        bootstrap_slots: bootstraps,
    })
}

#[cfg(test)]
mod tests;

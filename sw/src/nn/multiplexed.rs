//! The `multiplexed` packing: Lee et al.'s multiplexed parallel convolution (ICML 2022) with
//! bootstrapping, for any network of the graph IR made of the layers it supports — convs with
//! odd kernels and `pad = kernel/2` (stride 1 or 2, grouped when the groups keep the layout),
//! batch norm (folded), polynomial activations of any degree, residual adds, and global
//! average pooling followed by a linear layer. ResNet-20 is such a network
//! ([`super::network::resnet20`]); the layout and the level planner are documented in
//! `sw/RESNET.md`. With `pruned_taps > 0` the grouped layers also drop their weakest kernel
//! taps (SpENCNN sub-block pruning on the multiplexed layout).

use std::collections::HashMap;
use std::sync::Arc;

use hesim_traces::{BootstrapParams, OpKind};

use super::NnError;
use super::activation::{ReluApprox, sign_components};
use super::levels::{self, Problem, Step};
use super::network::{LayerKind, Network, Source};
use super::program::{IoLayout, LayerReport, PlainSource, Program, external_recipes};
use super::reference::PruneMasks;
use super::resnet_lee::odd_chebyshev;
use super::weights::Params;
use crate::boot::{self, Basis, Ct, Emitter, eval_poly};

/// SpENCNN's ResNet-20 setting on the multiplexed layout: groups in every stride-1 block conv.
pub const SPENCNN_GROUPS: usize = 4;
/// SpENCNN's ResNet-20 setting: kernel taps (of 9) pruned in every grouped conv.
pub const SPENCNN_PRUNED_TAPS: usize = 3;

/// Build options of the multiplexed packing.
#[derive(Clone, Debug, PartialEq)]
pub struct MuxOptions {
    pub boot: BootstrapParams,
    /// log2 N (full packing: N/2 slots).
    pub log_n: u32,
    /// Chain length (limbs) at the top.
    pub limbs: u32,
    pub allow_insecure: bool,
    /// Kernel taps removed by sub-block pruning in each grouped 3×3 conv (0 = none).
    pub pruned_taps: usize,
    /// Place bootstraps where the levels run out (off: a program deeper than the chain is
    /// an error).
    pub bootstrap: bool,
    /// Bootstrap replicated layouts on one copy's slots only (sparse-slot bootstrapping).
    pub sparse_bootstrap: bool,
}

impl Default for MuxOptions {
    /// N = 2^16, 40 limbs of 28 bits (24 left after the default bootstrap), no pruning.
    fn default() -> Self {
        Self {
            boot: boot::default_params(1 << 15),
            log_n: 16,
            limbs: 40,
            allow_insecure: false,
            pruned_taps: 0,
            bootstrap: true,
            sparse_bootstrap: true,
        }
    }
}

// ---- the multiplexed layout ------------------------------------------------------------------

/// Lee et al.'s multiplexed layout of a `c × h × h` tensor on a `raster × raster` grid (the
/// input width): gap k = raster/h, channel c at sub-pixel (u, v) = ((c mod k²)/k, c mod k) of
/// block t = c / k², pixel (y, x) of channel c at block offset (k·y + u)·raster + k·x + v; `t`
/// blocks (a power of two) form one copy of the tensor and the `copies` copies fill the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mux {
    pub c: usize,
    pub h: usize,
    pub raster: usize,
    pub k: usize,
    pub t: usize,
    pub copies: usize,
}

impl Mux {
    pub fn new(c: usize, h: usize, raster: usize, slots: usize) -> Self {
        let k = raster / h;
        let t = c.div_ceil(k * k).next_power_of_two();
        Self {
            c,
            h,
            raster,
            k,
            t,
            copies: slots / (t * raster * raster),
        }
    }

    fn block(&self) -> usize {
        self.raster * self.raster
    }

    pub fn copy_size(&self) -> usize {
        self.t * self.block()
    }

    /// Offset of channel c's (0, 0) pixel; linear in the bits of c.
    pub fn tau(&self, c: usize) -> usize {
        let kk = self.k * self.k;
        (c / kk) * self.block() + ((c % kk) / self.k) * self.raster + c % self.k
    }

    pub fn pix(&self, y: usize, x: usize) -> usize {
        self.k * (y * self.raster + x)
    }

    pub fn slot(&self, copy: usize, c: usize, y: usize, x: usize) -> usize {
        copy * self.copy_size() + self.tau(c) + self.pix(y, x)
    }
}

// ---- the network's layers as the packing sees them -------------------------------------------

/// One convolution with batch norm folded into its weights and bias.
#[derive(Clone, Debug)]
struct MuxConv {
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    /// Input height = width.
    hw: usize,
    groups: usize,
    /// `[cout][cin/groups][k][k]`.
    weight: Vec<f64>,
    bias: Vec<f64>,
    /// Pruned kernel taps (`dy·k + dx`).
    pruned: Vec<usize>,
}

impl MuxConv {
    fn pad(&self) -> usize {
        self.kernel / 2
    }

    fn out_hw(&self) -> usize {
        self.hw / self.stride
    }

    fn widx(&self, o: usize, ci_local: usize, dy: usize, dx: usize) -> usize {
        ((o * (self.cin / self.groups) + ci_local) * self.kernel + dy) * self.kernel + dx
    }

    /// The `count` non-centre taps with the smallest summed |w| (ties: lower tap first).
    fn weakest_taps(&self, count: usize) -> Vec<usize> {
        let k = self.kernel;
        let mut score: Vec<(f64, usize)> = (0..k * k)
            .filter(|&t| t != k * k / 2)
            .map(|t| {
                let mut s = 0.0;
                for o in 0..self.cout {
                    for ci in 0..self.cin / self.groups {
                        s += self.weight[self.widx(o, ci, t / k, t % k)].abs();
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

    /// The weight mask of the pruned taps (`true` = pruned).
    fn prune_mask(&self) -> Vec<bool> {
        let k = self.kernel;
        let mut mask = vec![false; self.weight.len()];
        for o in 0..self.cout {
            for ci in 0..self.cin / self.groups {
                for &t in &self.pruned {
                    mask[self.widx(o, ci, t / k, t % k)] = true;
                }
            }
        }
        mask
    }
}

/// Global average pooling of a `cin × hw × hw` map followed by a linear layer.
#[derive(Clone, Debug)]
struct MuxFc {
    cin: usize,
    out: usize,
    hw: usize,
    /// `[out][cin]`.
    weight: Vec<f64>,
    bias: Vec<f64>,
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
    convs: Vec<MuxConv>,
    fc: Option<MuxFc>,
    slots: usize,
    /// Input and output layout of each conv.
    layouts: Vec<(Mux, Mux)>,
    fc_in: Option<Mux>,
    list: Vec<Plain>,
}

impl Payloads {
    /// Output channel of group `g` computed by copy `copy` of batch `batch`, if any.
    fn member(&self, conv: usize, lin: &Mux, batch: usize, copy: usize) -> Option<usize> {
        let c = &self.convs[conv];
        let j = batch * lin.copies + copy;
        (j < c.cout / c.groups).then_some(j)
    }

    fn fc(&self) -> (&MuxFc, &Mux) {
        match (&self.fc, &self.fc_in) {
            (Some(fc), Some(l)) => (fc, l),
            _ => unreachable!("fc payloads exist only with an fc layer"),
        }
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
                let c = &self.convs[conv];
                let (lin, _) = &self.layouts[conv];
                let (si, so) = (c.cin / c.groups, c.cout / c.groups);
                let pad = c.pad() as isize;
                for copy in 0..lin.copies {
                    let Some(j) = self.member(conv, lin, batch, copy) else {
                        continue;
                    };
                    for ch in 0..c.cin {
                        let (g, il) = (ch / si, ch % si);
                        let w = c.weight[c.widx(g * so + j, il, dy, dx)];
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
                    v[copy * self.fc().1.copy_size()] = 1.0;
                    return;
                }
                let c = &self.convs[conv];
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
                                v[lout.slot(copy, o, y, x)] = self.convs[conv].bias[o];
                            }
                        }
                    }
                }
            }
            Plain::FcWeight { batch } => {
                let (fc, l) = self.fc();
                let area = (fc.hw * fc.hw) as f64;
                for copy in 0..l.copies {
                    let o = batch * l.copies + copy;
                    if o >= fc.out {
                        continue;
                    }
                    for c in 0..fc.cin {
                        v[l.slot(copy, c, 0, 0)] = fc.weight[o * fc.cin + c] / area;
                    }
                }
            }
            Plain::FcBias => {
                let (fc, _) = self.fc();
                for (o, &b) in fc.bias.iter().enumerate() {
                    v[o % self.slots] = b;
                }
            }
        }
    }
}

// ---- the builder --------------------------------------------------------------------------

struct Builder<'a> {
    net: &'a Network,
    params: &'a Params,
    e: Emitter,
    payloads: Payloads,
    opts: MuxOptions,
    raster: usize,
    reports: Vec<LayerReport>,
    pruned: PruneMasks,
}

impl Builder<'_> {
    fn unsupported(&self, li: usize, message: impl Into<String>) -> NnError {
        NnError::Unsupported {
            layer: self.net.layers[li].name.clone(),
            message: format!("the multiplexed packing: {}", message.into()),
        }
    }

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

    fn report(&mut self, li: usize, detail: String) {
        let l = &self.net.layers[li];
        self.reports.push(LayerReport {
            name: l.name.clone(),
            kind: l.kind.type_name(),
            detail,
        });
    }

    /// Conv layer `li` (with the batch norm at `li + 1` folded if `bn`) as a [`MuxConv`],
    /// checked against what the layout supports.
    fn conv_spec(&self, li: usize, bn: bool) -> Result<MuxConv, NnError> {
        let LayerKind::Conv {
            out,
            kernel,
            stride,
            pad,
            groups,
            ..
        } = self.net.layers[li].kind
        else {
            unreachable!("layer {li} is not a conv")
        };
        let s = self.net.input_shapes()?[li];
        if kernel % 2 == 0 || pad != kernel / 2 || !(1..=2).contains(&stride) {
            return Err(self.unsupported(
                li,
                format!(
                    "kernel {kernel}, pad {pad}, stride {stride}: needs an odd kernel, pad = \
                     kernel/2 and stride 1 or 2"
                ),
            ));
        }
        if s.h != s.w || !(s.h / stride).is_power_of_two() || s.h % stride != 0 {
            return Err(self.unsupported(
                li,
                format!(
                    "a {}×{} input map: needs square power-of-two maps",
                    s.h, s.w
                ),
            ));
        }
        let (w, b) = self.params.affine(li);
        let mut weight: Vec<f64> = (0..w.len()).map(|i| w.get(i)).collect();
        let mut bias = b.to_vec();
        if bn {
            let (scale, shift) = self.params.batchnorm_affine(li + 1);
            let per_out = weight.len() / out;
            for (o, chunk) in weight.chunks_mut(per_out).enumerate() {
                chunk.iter_mut().for_each(|v| *v *= scale[o]);
                bias[o] = bias[o] * scale[o] + shift[o];
            }
        }
        let mut conv = MuxConv {
            cin: s.c,
            cout: out,
            kernel,
            stride,
            hw: s.h,
            groups,
            weight,
            bias,
            pruned: Vec::new(),
        };
        if self.opts.pruned_taps > 0 && groups > 1 && kernel == 3 {
            conv.pruned = conv.weakest_taps(self.opts.pruned_taps);
        }
        Ok(conv)
    }

    /// The layouts of a conv; checks that grouped convs keep the layout (so that one rotation
    /// places a copy's results for all groups).
    fn layouts(&self, li: usize, c: &MuxConv) -> Result<(Mux, Mux), NnError> {
        let slots = self.payloads.slots;
        let lin = Mux::new(c.cin, c.hw, self.raster, slots);
        let lout = Mux::new(c.cout, c.out_hw(), self.raster, slots);
        if lin.copies == 0 || lout.copies == 0 {
            return Err(self.unsupported(
                li,
                format!("a copy of the tensor needs more than {slots} slots"),
            ));
        }
        let (si, so) = (c.cin / c.groups, c.cout / c.groups);
        if c.groups > 1 && (lin != lout || !si.is_power_of_two() || si != so) {
            return Err(self.unsupported(
                li,
                format!(
                    "groups = {} needs a stride-1 layer with equal, power-of-two group sizes",
                    c.groups
                ),
            ));
        }
        Ok((lin, lout))
    }

    /// One multiplexed (parallel, possibly grouped) convolution; two levels.
    fn conv(&mut self, li: usize, x: Ct, bn: bool) -> Result<Ct, NnError> {
        let c = self.conv_spec(li, bn)?;
        let (lin, lout) = self.layouts(li, &c)?;
        if !c.pruned.is_empty() {
            self.pruned.insert(li, c.prune_mask());
        }
        let i = self.payloads.convs.len();
        self.payloads.convs.push(c.clone());
        self.payloads.layouts.push((lin, lout));
        let (si, so) = (c.cin / c.groups, c.cout / c.groups);
        let k = c.kernel;
        let taps: Vec<(usize, usize)> = (0..k * k)
            .filter(|t| !c.pruned.contains(t))
            .map(|t| (t / k, t % k))
            .collect();
        let pad = c.pad() as i64;
        let raster = self.raster as i64;
        let step = |(dy, dx): (usize, usize)| {
            lin.k as i64 * ((dy as i64 - pad) * raster + dx as i64 - pad)
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
            c.pruned.len(),
            batches,
            lin.copies,
            sum_bits,
            lin.copies,
            lout.copies
        );
        self.report(li, detail);
        Ok(y)
    }

    /// Levels the activation of layer `li` consumes.
    fn activation_depth(params: &Params, li: usize) -> u32 {
        let mut e = Emitter::new(1 << 20, 0, 0, 0);
        let top = 1000;
        let x = e.input(top);
        top - activation(&mut e, params, li, x).level
    }

    fn act(&mut self, li: usize, x: Ct) -> Ct {
        let y = activation(&mut self.e, self.params, li, x);
        let detail = match self.params.polynomial(li) {
            Some(c) => format!(
                "degree {} polynomial, {} levels",
                c.len() - 1,
                x.level - y.level
            ),
            None => format!("AppReLU (composite sign), {} levels", x.level - y.level),
        };
        self.report(li, detail);
        y
    }

    /// Global average pooling (a sum; 1/(h·w) is folded into the fc weights) and the linear
    /// layer `fc` after it.
    fn pool_fc(&mut self, pool: usize, fc: usize, x: Ct, lx: Mux) -> Result<Ct, NnError> {
        let LayerKind::Linear { out, .. } = self.net.layers[fc].kind else {
            unreachable!("checked by the walk")
        };
        if !lx.h.is_power_of_two() || !lx.c.is_power_of_two() {
            return Err(self.unsupported(
                pool,
                format!(
                    "global pooling of {} channels of {}×{} needs powers of two",
                    lx.c, lx.h, lx.h
                ),
            ));
        }
        let (w, b) = self.params.affine(fc);
        self.payloads.fc = Some(MuxFc {
            cin: lx.c,
            out,
            hw: lx.h,
            weight: (0..w.len()).map(|i| w.get(i)).collect(),
            bias: b.to_vec(),
        });
        let l = lx;
        self.payloads.fc_in = Some(l);
        self.e.set_layer(&self.net.layers[pool].name);
        let mut s = x;
        for dir in [(0, 1), (1, 0)] {
            for b in 0..lx.h.trailing_zeros() {
                let d = 1 << b;
                let r = self.e.rotate(s, l.pix(dir.0 * d, dir.1 * d) as i64, None);
                s = self.e.add(s, r);
            }
        }
        self.report(
            pool,
            format!(
                "global {h}×{h} sum (1/{} folded into the linear layer)",
                lx.h * lx.h,
                h = lx.h
            ),
        );
        self.e.set_layer(&self.net.layers[fc].name);
        let batches = out.div_ceil(l.copies);
        let mut acc = None;
        for batch in 0..batches {
            let m = self.mul_plain(s, Plain::FcWeight { batch });
            let mut t = self.e.rescale(m);
            for b in 0..lx.c.trailing_zeros() {
                let r = self.e.rotate(t, l.tau(1 << b) as i64, None);
                t = self.e.add(t, r);
            }
            for copy in 0..l.copies {
                let o = batch * l.copies + copy;
                if o >= out {
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
                acc = Some(self.e.accumulate(acc, r));
            }
        }
        let y = self.add_plain(acc.expect("at least one output"), Plain::FcBias);
        self.report(fc, format!("{}→{out}, {batches} batches", lx.c));
        Ok(y)
    }
}

/// The activation of layer `li` on `x` (or on a scratch emitter to measure its depth): a
/// polynomial of any degree, or Lee et al.'s AppReLU. The diagonal packings evaluate their
/// activations of degree > 2 through this too.
pub(super) fn activation(e: &mut Emitter, params: &Params, li: usize, x: Ct) -> Ct {
    match params.polynomial(li) {
        Some(coeffs) => eval_poly(e, x, coeffs, Basis::Power),
        None => {
            let Some(ReluApprox::AppRelu { bound }) = params.composite(li) else {
                unreachable!("activations are polynomials or AppReLU")
            };
            // x·(1 + sign(x/B))/2 with the 1/2 folded into the last sign component
            let scaled = if *bound == 1.0 {
                x
            } else {
                let y = e.mul_const(x, 1.0 / bound);
                e.rescale(y)
            };
            let [p1, p2, p3] = sign_components();
            let half: Vec<f64> = p3.iter().map(|c| c / 2.0).collect();
            let s = odd_chebyshev(e, scaled, p1);
            let s = odd_chebyshev(e, s, p2);
            let s = odd_chebyshev(e, s, &half);
            let t = e.add_const(s, 0.5);
            e.mul_relin_rescale(x, t)
        }
    }
}

/// Compiles `net` with `params` under the multiplexed packing (bootstraps as single ops).
pub fn build(net: &Network, params: &Params, opts: &MuxOptions) -> Result<Program, NnError> {
    let option = |message: String| NnError::Option { message };
    // grouped convs or pruned taps on the multiplexed layout are SpENCNN's packing
    let grouped = net
        .layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::Conv { groups, .. } if groups > 1));
    let label = if grouped || opts.pruned_taps > 0 {
        "spencnn"
    } else {
        "multiplexed"
    };
    let header = boot::header(
        opts.log_n,
        opts.limbs,
        &net.name,
        label,
        opts.allow_insecure,
    )
    .map_err(|e| option(e.to_string()))?;
    boot::check(&opts.boot, &header).map_err(|e| option(e.to_string()))?;
    let slots = header.slots as usize;
    if opts.boot.slots as usize != slots {
        return Err(option(format!(
            "the bootstrap refreshes {} slots but the program uses {slots}",
            opts.boot.slots
        )));
    }
    let input = net.input;
    if input.h != input.w || !input.w.is_power_of_two() {
        return Err(NnError::Unsupported {
            layer: "input".into(),
            message: format!(
                "the multiplexed packing needs a square power-of-two input map, not {}×{}",
                input.h, input.w
            ),
        });
    }
    let raster = input.w;
    let input_layout = Mux::new(input.c, input.h, raster, slots);
    if input_layout.copies == 0 {
        return Err(NnError::TooLarge {
            layer: "input".into(),
            message: format!("one copy of the {input} input needs more than {slots} slots"),
        });
    }
    let top = header.max_level();
    let boot_level = top - opts.boot.level_budget();
    if boot_level <= 2 {
        return Err(option(format!(
            "{top} limbs leave {boot_level} after a bootstrap, too few for a convolution; use \
             more limbs"
        )));
    }
    let payloads = Payloads {
        convs: Vec::new(),
        fc: None,
        slots,
        layouts: Vec::new(),
        fc_in: None,
        list: Vec::new(),
    };
    let mut b = Builder {
        net,
        params,
        e: Emitter::new(header.slots, 0, 0, 0),
        payloads,
        opts: opts.clone(),
        raster,
        reports: Vec::new(),
        pruned: PruneMasks::new(),
    };
    b.e.set_layer("input");
    let x0 = b.e.input(top);
    let steps = plan_steps(net, params)?;
    // tensor t is the network input (0) or the output of layer t − 1; its layout decides
    // how many slots a bootstrap must refresh
    let shapes = net.shapes()?;
    let layout_of = |t: usize| {
        let s = if t == 0 { input } else { shapes[t - 1] };
        Mux::new(s.c, s.h, raster, slots)
    };
    // sparse when the layout replicates the tensor and the recipe supports that slot count
    let boot_params = |t: usize| {
        let l = layout_of(t);
        let mut p = opts.boot;
        if opts.sparse_bootstrap && l.copies > 1 {
            p.slots = p.slots.min(l.copy_size() as u64);
        }
        if boot::check(&p, &header).is_ok() {
            p
        } else {
            opts.boot
        }
    };
    let mut key_switches: HashMap<u64, f64> = HashMap::new();
    let mut cost = Vec::with_capacity(net.layers.len() + 1);
    for t in 0..=net.layers.len() {
        let p = boot_params(t);
        let c = match key_switches.get(&p.slots) {
            Some(&c) => c,
            None => {
                let c = bootstrap_cost(&header, &p).map_err(|e| option(e.to_string()))?;
                key_switches.insert(p.slots, c);
                c
            }
        };
        cost.push(c);
    }
    let problem = Problem {
        steps: steps.iter().map(|s| s.step.clone()).collect(),
        input_level: top,
        refreshed: boot_level,
        cost,
        allow_bootstrap: opts.bootstrap,
    };
    let plan = levels::plan(&problem).map_err(|e| {
        let layer = net.layers[steps[e.step()].first].name.clone();
        let hint = if opts.bootstrap {
            "use more limbs or a shallower activation"
        } else {
            "drop --no-bootstrap or use more limbs"
        };
        NnError::Levels {
            layer,
            message: format!("{e}; {hint}"),
        }
    })?;
    let mut tensors: HashMap<usize, Ct> = HashMap::from([(0, x0)]);
    let mut cur = x0;
    for (s, info) in steps.iter().enumerate() {
        let li = info.first;
        b.e.set_layer(&net.layers[li].name);
        for &t in &plan.boot[s] {
            let p = boot_params(t);
            let refreshed = b.e.bootstrap(tensors[&t], p, boot_level);
            tensors.insert(t, refreshed);
        }
        let x = tensors[&info.step.inputs[0]];
        cur = match &net.layers[li].kind {
            LayerKind::Conv { .. } => b.conv(li, x, info.last > li)?,
            LayerKind::Poly { .. } | LayerKind::Relu { .. } => b.act(li, x),
            LayerKind::Residual { .. } => {
                let y = b.e.add(x, tensors[&info.step.inputs[1]]);
                b.report(li, "shortcut add".into());
                y
            }
            LayerKind::GlobalAvgPool => {
                let lx = layout_of(info.step.inputs[0]);
                b.pool_fc(li, info.last, x, lx)?
            }
            _ => unreachable!("plan_steps admits only these"),
        };
        tensors.insert(info.step.output, cur);
    }
    b.e.set_layer("output");
    b.e.output(cur);
    let out = match net.layers.last().map(|l| &l.kind) {
        Some(LayerKind::Linear { out, .. }) => *out,
        _ => unreachable!("checked: the network ends in a linear layer"),
    };
    let input_positions = (0..input.c)
        .flat_map(|c| (0..input.h).flat_map(move |y| (0..input.w).map(move |x| (c, y, x))))
        .map(|(c, y, x)| {
            (0..input_layout.copies)
                .map(|copy| (0, input_layout.slot(copy, c, y, x) as u32))
                .collect()
        })
        .collect();
    let Builder {
        e,
        payloads,
        reports,
        pruned,
        ..
    } = b;
    let count = payloads.list.len();
    let recipes = external_recipes(Arc::new(payloads), count);
    Ok(Program {
        header,
        input: IoLayout {
            positions: input_positions,
            cts: 1,
            factor: 1.0,
        },
        output: IoLayout {
            positions: (0..out).map(|o| vec![(0, (o % slots) as u32)]).collect(),
            cts: 1,
            factor: 1.0,
        },
        input_ids: vec![x0.id],
        output_ids: vec![cur.id],
        layers: reports,
        pruned,
        substitutions: net.substitutions(),
        recipes,
        stages: Vec::new(),
        masks: Vec::new(),
        constants: e.constants,
        ops: e.ops,
    })
}

/// One step of the level plan: layers `first..=last` (a conv with its batch norm, global
/// pooling with the linear layer after it, or one layer).
struct StepLayers {
    first: usize,
    last: usize,
    step: Step,
}

/// The network as level-plan steps, checking that the multiplexed packing supports it.
fn plan_steps(net: &Network, params: &Params) -> Result<Vec<StepLayers>, NnError> {
    let unsupported = |li: usize, message: String| NnError::Unsupported {
        layer: net.layers[li].name.clone(),
        message: format!("the multiplexed packing: {message}"),
    };
    let keep = net.branch_sources();
    let tensor_of = |src: Source| match src {
        Source::Input => 0,
        Source::Layer(j) => j + 1,
    };
    let mut steps = Vec::new();
    let mut li = 0;
    while li < net.layers.len() {
        let layer = &net.layers[li];
        if steps.last().is_some_and(|s: &StepLayers| {
            matches!(net.layers[s.first].kind, LayerKind::GlobalAvgPool)
        }) {
            return Err(unsupported(
                li,
                "layers after the final linear layer".into(),
            ));
        }
        let input = tensor_of(net.source(li));
        let bn = matches!(
            net.layers.get(li + 1).map(|l| &l.kind),
            Some(LayerKind::BatchNorm { .. })
        );
        let (last, inputs, depth) = match &layer.kind {
            LayerKind::Conv { .. } => {
                if bn && keep.contains(&li) {
                    return Err(unsupported(
                        li,
                        "another layer reads this conv's output before the batchnorm folded \
                         into it"
                            .into(),
                    ));
                }
                (li + usize::from(bn), vec![input], 2)
            }
            LayerKind::Poly { .. } | LayerKind::Relu { .. } => {
                if params.polynomial(li).is_none()
                    && !matches!(params.composite(li), Some(ReluApprox::AppRelu { .. }))
                {
                    return Err(unsupported(li, "an unknown composite activation".into()));
                }
                (li, vec![input], Builder::activation_depth(params, li))
            }
            LayerKind::Residual { from } => {
                let other = net.layer_index(from).map_or(0, |j| j + 1);
                (li, vec![input, other], 0)
            }
            LayerKind::GlobalAvgPool => {
                let mut fc = li + 1;
                if matches!(
                    net.layers.get(fc).map(|l| &l.kind),
                    Some(LayerKind::Flatten)
                ) {
                    fc += 1;
                }
                let linear_follows = matches!(
                    net.layers.get(fc).map(|l| &l.kind),
                    Some(LayerKind::Linear { .. })
                ) && (li + 1..=fc).all(|j| net.reads_previous(j));
                if !linear_follows || (li..fc).any(|j| keep.contains(&j)) {
                    return Err(unsupported(
                        li,
                        "global pooling must be followed by the final linear layer".into(),
                    ));
                }
                (fc, vec![input], 2)
            }
            other => {
                return Err(unsupported(
                    li,
                    format!(
                        "`{}` layers are not supported (convs, batch norm, activations, residual \
                         adds, global pooling + linear are)",
                        other.type_name()
                    ),
                ));
            }
        };
        steps.push(StepLayers {
            first: li,
            last,
            step: Step {
                inputs,
                depth,
                output: last + 1,
            },
        });
        li = last + 1;
    }
    if !steps
        .last()
        .is_some_and(|s| matches!(net.layers[s.first].kind, LayerKind::GlobalAvgPool))
    {
        return Err(NnError::Unsupported {
            layer: net.layers.last().map_or("input".into(), |l| l.name.clone()),
            message: "the multiplexed packing needs the network to end in global pooling + a \
                      linear layer"
                .into(),
        });
    }
    Ok(steps)
}

/// The estimated cost of one bootstrap: the key switches of its expansion (the dominant
/// cost of CKKS bootstrapping on every accelerator hesim models).
pub(super) fn bootstrap_cost(
    header: &hesim_traces::Header,
    params: &BootstrapParams,
) -> Result<f64, boot::BootError> {
    let program = boot::bootstrap_program(header, params, true)?;
    let mut a = hesim_traces::Analyzer::new(header.clone());
    for (i, op) in program.ops.iter().enumerate() {
        a.check(i as u64 + 2, op);
    }
    Ok(a.finish().stats.key_switches as f64)
}

/// Number of `bootstrap` ops in a program.
pub fn bootstraps(p: &Program) -> usize {
    p.count(|k| matches!(k, OpKind::Bootstrap(_)))
}

//! The `multiplexed` packing: Lee et al.'s multiplexed parallel convolution (ICML 2022) with
//! bootstrapping, for any network of the graph IR made of the layers it supports — convs with
//! odd kernels and `pad = kernel/2` (stride 1 or 2, grouped when the groups keep the layout),
//! batch norm (folded), polynomial activations of any degree, residual adds, channel
//! concatenations (SqueezeNet's Fire modules), and global
//! average pooling followed by a linear layer. ResNet-20 is such a network
//! ([`super::network::resnet20`]); the layout and the level planner are documented in
//! `sw/RESNET.md`. With `pruned_taps > 0` the grouped layers also drop their weakest kernel
//! taps (SpENCNN sub-block pruning on the multiplexed layout).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use hesim_traces::{BootstrapParams, Header, OpKind};

use super::NnError;
use super::activation::{ReluApprox, sign_components};
use super::levels::{self, Problem, Step};
use super::merge;
use super::network::{INPUT, LayerKind, Network, Source};
use super::program::{
    IoLayout, LayerReport, PlainSource, Program, RecordsPlains, external_recipes,
};
use super::reference::PruneMasks;
use super::resnet_lee::odd_chebyshev;
use super::weights::Params;
use crate::boot::{self, Basis, Ct, Emitter, eval_poly};

pub mod hyphen;

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
    /// `hyphen-recon`: stride-1 conv pairs as CAConv then RAConv ([`hyphen`]), the other
    /// layers as here.
    pub hybrid: bool,
    /// Coefficient and mask merging ([`super::merge`]): quadratic activations whose readers
    /// are all weighted layers cost one level instead of two, and concats of conv outputs
    /// (through activations with p(0) = 0) are written in place by the convs, saving the
    /// concat's level. Off by default so that the baseline is the generic evaluator (HEMET's
    /// unmerged code, and every table hesim published before the option existed).
    pub merge_coefficients: bool,
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
            hybrid: false,
            merge_coefficients: false,
        }
    }
}

impl MuxOptions {
    /// The packing's name in error messages.
    fn packing(&self) -> &'static str {
        if self.hybrid {
            hyphen::NAME
        } else {
            "multiplexed"
        }
    }

    /// The header of the bootstrappable chain for `network` under `packing`, checked: within
    /// the 128-bit bound (or the insecure opt-in), and the bootstrap fits the chain and
    /// refreshes every slot.
    pub(super) fn header(&self, network: &str, packing: &str) -> Result<Header, NnError> {
        let option = |message: String| NnError::Option { message };
        let header = boot::header(
            self.log_n,
            self.limbs,
            network,
            packing,
            self.allow_insecure,
        )
        .map_err(|e| option(e.to_string()))?;
        boot::check(&self.boot, &header).map_err(|e| option(e.to_string()))?;
        if self.boot.slots != header.slots {
            return Err(option(format!(
                "the bootstrap refreshes {} slots but the program uses {}",
                self.boot.slots, header.slots
            )));
        }
        Ok(header)
    }
}

// ---- the multiplexed layout ------------------------------------------------------------------

/// Lee et al.'s multiplexed layout of a `c × h × h` tensor on a `raster × raster` grid: gap
/// k = raster/h, channel c at sub-pixel (u, v) = ((c mod k²)/k, c mod k) of block t = c / k²,
/// pixel (y, x) of channel c at block offset (k·y + u)·raster + k·x + v; `t` blocks (a power
/// of two) form one copy of the tensor and the `copies` copies fill the slots. A tensor whose
/// blocks do not fit one ciphertext spans `cts` ciphertexts, each holding the next t·k²
/// channels in that layout (t = as many blocks as fit, one copy): ImageNet-sized activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mux {
    pub c: usize,
    pub h: usize,
    pub raster: usize,
    pub k: usize,
    pub t: usize,
    pub copies: usize,
    pub cts: usize,
}

impl Mux {
    /// The layout of `c` channels of `h × h` on `raster` (a multiple of h); `copies` = 0 if
    /// not even one block fits the `slots`.
    pub fn new(c: usize, h: usize, raster: usize, slots: usize) -> Self {
        // (a map wider than the raster has no layout; `max` keeps the arithmetic defined
        // until the builder reports it)
        let k = (raster / h.max(1)).max(1);
        let block = raster * raster;
        let t = c.div_ceil(k * k).next_power_of_two();
        // a power of two, so that log-step rotations replicate them
        let copies = match slots / (t * block) {
            0 => 0,
            n => 1 << n.ilog2(),
        };
        if copies > 0 || block > slots {
            return Self {
                c,
                h,
                raster,
                k,
                t,
                copies,
                cts: 1,
            };
        }
        // as many blocks per ciphertext as fit (a power of two, for the channel sums)
        let per_ct = 1 << (slots / block).ilog2();
        Self {
            c,
            h,
            raster,
            k,
            t: per_ct,
            copies: 1,
            cts: c.div_ceil(per_ct * k * k),
        }
    }

    /// Channels one ciphertext holds.
    pub fn channels_per_ct(&self) -> usize {
        self.t * self.k * self.k
    }

    /// The ciphertext holding channel `c` and the channel's index within it.
    pub fn place(&self, c: usize) -> (usize, usize) {
        let per = self.channels_per_ct();
        (c / per, c % per)
    }

    /// The channels of ciphertext `ct`.
    pub fn channels(&self, ct: usize) -> std::ops::Range<usize> {
        let per = self.channels_per_ct();
        ct * per..((ct + 1) * per).min(self.c)
    }

    fn block(&self) -> usize {
        self.raster * self.raster
    }

    pub fn copy_size(&self) -> usize {
        self.t * self.block()
    }

    /// Offset of channel c's (0, 0) pixel (c within its ciphertext); linear in the bits of c.
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

    /// The same convolution on the input's space-to-depth rearrangement (channel 4c + 2u + v
    /// holds pixels (2y + u, 2x + v) of channel c at (y, x)): a stride-1 conv whose odd kernel
    /// covers the offsets of the stride-2 taps (input row 2y + dy − pad = 2(y + δ) + u). A
    /// stride-2 stem then reads its input at half the raster, so that an ImageNet image's
    /// raster blocks fit the slots.
    fn space_to_depth(&self) -> MuxConv {
        let (k, pad) = (self.kernel as isize, self.pad() as isize);
        let split = |d: isize| ((d - pad).div_euclid(2), (d - pad).rem_euclid(2) as usize);
        let reach = (0..k).map(|d| split(d).0.unsigned_abs()).max().unwrap_or(0);
        let k2 = 2 * reach + 1;
        let cin = 4 * self.cin;
        let mut weight = vec![0.0; self.cout * cin * k2 * k2];
        for o in 0..self.cout {
            for c in 0..self.cin {
                for dy in 0..k {
                    let (ey, u) = split(dy);
                    for dx in 0..k {
                        let (ex, v) = split(dx);
                        let (ty, tx) = (
                            (ey + reach as isize) as usize,
                            (ex + reach as isize) as usize,
                        );
                        let ci = 4 * c + 2 * u + v;
                        weight[((o * cin + ci) * k2 + ty) * k2 + tx] =
                            self.weight[self.widx(o, c, dy as usize, dx as usize)];
                    }
                }
            }
        }
        MuxConv {
            cin,
            cout: self.cout,
            kernel: k2,
            stride: 1,
            hw: self.hw / 2,
            groups: 1,
            weight,
            bias: self.bias.clone(),
            pruned: Vec::new(),
        }
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
    /// Weights of conv `conv`, batch `batch`, input ciphertext `ct`, tap `(dy, dx)` (kernel
    /// indices).
    Weight {
        conv: usize,
        batch: usize,
        ct: usize,
        tap: (usize, usize),
    },
    /// 1 at the results of copy `copy` of batch `batch` (conv `usize::MAX` = the fc layer).
    Mask {
        conv: usize,
        batch: usize,
        copy: usize,
    },
    /// The bias of output ciphertext `ct` of a conv.
    Bias {
        conv: usize,
        ct: usize,
    },
    /// 1/κ² at the pooled pixels of channel `channel` of average pooling `pool`.
    PoolMask {
        pool: usize,
        channel: usize,
    },
    FcWeight {
        batch: usize,
        ct: usize,
    },
    FcBias,
    /// CAConv (`hyphen-recon`): 1 at channel position 0 of every copy holding an output
    /// channel of RA ciphertext `batch`.
    RaMask {
        conv: usize,
        batch: usize,
    },
    /// CAConv: the bias of RA ciphertext `batch`'s channels at channel position 0.
    RaBias {
        conv: usize,
        batch: usize,
    },
    /// RAConv: weights from RA ciphertext `batch` to output ciphertext `ct` for tap `tap`,
    /// placed at the input pixel the tap reads (the partial sum is rotated afterwards).
    RaWeight {
        conv: usize,
        ct: usize,
        batch: usize,
        tap: (usize, usize),
    },
}

/// One average pooling: input and output layouts and the window κ.
#[derive(Clone, Copy, Debug)]
struct MuxPool {
    lin: Mux,
    lout: Mux,
    kernel: usize,
}

#[derive(Debug)]
struct Payloads {
    convs: Vec<MuxConv>,
    fc: Option<MuxFc>,
    slots: usize,
    /// Input and output layout of each conv.
    layouts: Vec<(Mux, Mux)>,
    pools: Vec<MuxPool>,
    fc_in: Option<Mux>,
    list: Vec<Plain>,
    /// Convs that write into a concatenation's layout: their first output channel there.
    out_offset: HashMap<usize, usize>,
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
                ct,
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
                    for ch in lin.channels(ct) {
                        let (g, il) = (ch / si, ch % si);
                        let local = lin.place(ch).1;
                        let w = c.weight[c.widx(g * so + j, il, dy, dx)];
                        for oy in 0..c.out_hw() {
                            let (y, iy) = (oy * c.stride, (oy * c.stride + dy) as isize - pad);
                            if iy < 0 || iy >= c.hw as isize {
                                continue;
                            }
                            for ox in 0..c.out_hw() {
                                let (x, ix) = (ox * c.stride, (ox * c.stride + dx) as isize - pad);
                                if ix >= 0 && ix < c.hw as isize {
                                    v[lin.slot(copy, local, y, x)] = w;
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
            Plain::Bias { conv, ct } => {
                let (_, lout) = &self.layouts[conv];
                let offset = self.out_offset.get(&conv).copied().unwrap_or(0);
                for (o, &b) in self.convs[conv].bias.iter().enumerate() {
                    let (oct, local) = lout.place(offset + o);
                    if oct != ct {
                        continue;
                    }
                    for copy in 0..lout.copies {
                        for y in 0..lout.h {
                            for x in 0..lout.h {
                                v[lout.slot(copy, local, y, x)] = b;
                            }
                        }
                    }
                }
            }
            Plain::PoolMask { pool, channel } => {
                let MuxPool { lin, lout, kernel } = self.pools[pool];
                let base = lin.tau(lin.place(channel).1);
                let area = (kernel * kernel) as f64;
                for y in 0..lout.h {
                    for x in 0..lout.h {
                        v[base + lout.pix(y, x)] = 1.0 / area;
                    }
                }
            }
            Plain::FcWeight { batch, ct } => {
                let (fc, l) = self.fc();
                let area = (fc.hw * fc.hw) as f64;
                for copy in 0..l.copies {
                    let o = batch * l.copies + copy;
                    if o >= fc.out {
                        continue;
                    }
                    for c in l.channels(ct) {
                        v[l.slot(copy, l.place(c).1, 0, 0)] = fc.weight[o * fc.cin + c] / area;
                    }
                }
            }
            Plain::FcBias => {
                let (fc, _) = self.fc();
                for (o, &b) in fc.bias.iter().enumerate() {
                    v[o % self.slots] = b;
                }
            }
            Plain::RaMask { conv, batch } => hyphen::fill_mask(self, conv, batch, v),
            Plain::RaBias { conv, batch } => hyphen::fill_bias(self, conv, batch, v),
            Plain::RaWeight {
                conv,
                ct,
                batch,
                tap,
            } => hyphen::fill_weight(self, conv, ct, batch, tap, v),
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
    /// Whether the input is packed space-to-depth for a stride-2 stem (layer 0).
    space_to_depth: bool,
    reports: Vec<LayerReport>,
    pruned: PruneMasks,
    /// Activations whose leading coefficient was merged into their readers (monic).
    merged: BTreeSet<usize>,
    /// Convs whose output goes, through an activation, only into a concatenation: they write
    /// straight into its layout (the concat's layout, their first channel there).
    into_concat: HashMap<usize, (Mux, usize)>,
}

impl RecordsPlains for Builder<'_> {
    type Payload = Plain;

    fn recorder(&mut self) -> (&mut Emitter, &mut Vec<Plain>) {
        (&mut self.e, &mut self.payloads.list)
    }
}

impl Builder<'_> {
    fn unsupported(&self, li: usize, message: impl Into<String>) -> NnError {
        NnError::Unsupported {
            layer: self.net.layers[li].name.clone(),
            message: format!("the {} packing: {}", self.opts.packing(), message.into()),
        }
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
        if s.h != s.w || !s.h.is_multiple_of(stride) {
            return Err(self.unsupported(
                li,
                format!(
                    "a {}×{} input map: needs square maps, of even side for stride 2",
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
        if li == 0 && self.space_to_depth {
            conv = conv.space_to_depth();
        }
        Ok(conv)
    }

    /// The layout of a `c × h × h` tensor on the packing's raster, checked: the gap
    /// raster/h must be a whole power of two and one block must fit the slots.
    fn mux(&self, li: usize, c: usize, h: usize) -> Result<Mux, NnError> {
        let slots = self.payloads.slots;
        if h == 0 || !self.raster.is_multiple_of(h) || !(self.raster / h).is_power_of_two() {
            return Err(self.unsupported(
                li,
                format!(
                    "a {h}×{h} map on the {r}×{r} raster: the raster must be a power of two \
                     times every map side",
                    r = self.raster
                ),
            ));
        }
        let l = Mux::new(c, h, self.raster, slots);
        if l.copies == 0 {
            return Err(self.unsupported(
                li,
                format!("a copy of the tensor needs more than {slots} slots"),
            ));
        }
        Ok(l)
    }

    /// The layouts of a conv; checks that grouped convs keep the layout (so that one rotation
    /// places a copy's results for all groups) within one ciphertext.
    fn layouts(&self, li: usize, c: &MuxConv) -> Result<(Mux, Mux), NnError> {
        let lin = self.mux(li, c.cin, c.hw)?;
        let lout = self.mux(li, c.cout, c.out_hw())?;
        let (si, so) = (c.cin / c.groups, c.cout / c.groups);
        if c.groups > 1 && (lin != lout || !si.is_power_of_two() || si != so || lin.cts > 1) {
            return Err(self.unsupported(
                li,
                format!(
                    "groups = {} needs a stride-1 layer with equal, power-of-two group sizes on \
                     a tensor of one ciphertext",
                    c.groups
                ),
            ));
        }
        Ok((lin, lout))
    }

    /// One multiplexed (parallel, possibly grouped) convolution; two levels. A tensor over
    /// several ciphertexts: every input ciphertext's products are summed before the channel
    /// sum, and each output channel is collected into its output ciphertext.
    fn conv(&mut self, li: usize, x: &[Ct], bn: bool) -> Result<Vec<Ct>, NnError> {
        let c = self.conv_spec(li, bn)?;
        let (lin, lout) = self.layouts(li, &c)?;
        let (lout, offset) = self.into_concat.get(&li).copied().unwrap_or((lout, 0));
        if !c.pruned.is_empty() {
            self.pruned.insert(li, c.prune_mask());
        }
        let i = self.payloads.convs.len();
        if offset > 0 {
            self.payloads.out_offset.insert(i, offset);
        }
        self.payloads.convs.push(c.clone());
        self.payloads.layouts.push((lin, lout));
        let (si, so) = (c.cin / c.groups, c.cout / c.groups);
        let k = c.kernel;
        let taps: Vec<(usize, usize)> = (0..k * k)
            .filter(|t| !c.pruned.contains(t))
            .map(|t| (t / k, t % k))
            .collect();
        let mut rotated: Vec<Vec<Ct>> = Vec::with_capacity(x.len());
        for &xc in x {
            rotated.push(self.tap_rotations(xc, &c, &lin, &taps));
        }
        let batches = so.div_ceil(lin.copies);
        let sum_bits = channel_sum_bits(si, &lin);
        let mut out: Vec<Option<Ct>> = vec![None; lout.cts];
        for batch in 0..batches {
            let s = self.batch_products(i, batch, &rotated, &taps, &lin, sum_bits);
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
                // `layouts`; grouped layers have one ciphertext)
                let (oct, local) = lout.place(offset + j);
                let from = (copy * lin.copy_size()) as i64;
                let r = self.e.rotate(m, from - lout.tau(local) as i64, None);
                out[oct] = Some(self.e.accumulate(out[oct], r));
            }
        }
        let mut ys = Vec::with_capacity(lout.cts);
        for (ct, y) in out.into_iter().enumerate() {
            let y = self.replicate(y.expect("every output ciphertext holds a channel"), &lout);
            ys.push(self.add_plain(y, Plain::Bias { conv: i, ct }));
        }
        let into = match self.into_concat.get(&li) {
            Some((_, at)) => format!(", written at channel {at} of the concat's layout"),
            None => String::new(),
        };
        let detail = format!(
            "{}→{} k{} s{} g{}: {} taps ({} pruned), {} batches × {} copies, channel sum {} \
             rotations, {} → {} copies, {} → {} ciphertexts{into}",
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
            lout.copies,
            lin.cts,
            lout.cts
        );
        self.report(li, detail);
        Ok(ys)
    }

    /// Slot offset of tap `(dy, dx)` of `c` on layout `l`: where the input pixel it reads sits
    /// relative to the output pixel.
    fn tap_step(&self, c: &MuxConv, l: &Mux, (dy, dx): (usize, usize)) -> i64 {
        let pad = c.pad() as i64;
        l.k as i64 * ((dy as i64 - pad) * self.raster as i64 + dx as i64 - pad)
    }

    /// `x` rotated by every tap of `taps` (one hoist group when two or more move).
    fn tap_rotations(&mut self, x: Ct, c: &MuxConv, l: &Mux, taps: &[(usize, usize)]) -> Vec<Ct> {
        let steps: Vec<i64> = taps.iter().map(|&t| self.tap_step(c, l, t)).collect();
        let moving = steps.iter().filter(|&&s| s != 0).count();
        let hoist = (moving >= 2).then(|| self.e.hoist_group());
        steps.iter().map(|&s| self.e.rotate(x, s, hoist)).collect()
    }

    /// Batch `batch` of conv `conv` (copy j computes output channel batch·copies + j): the
    /// weighted tap rotations of every input ciphertext summed and rescaled, then summed over
    /// the `sum_bits` channel bits of `l`, so each copy's result sits at its channel position 0.
    fn batch_products(
        &mut self,
        conv: usize,
        batch: usize,
        rotated: &[Vec<Ct>],
        taps: &[(usize, usize)],
        l: &Mux,
        sum_bits: u32,
    ) -> Ct {
        let mut acc = None;
        for (ct, rotated) in rotated.iter().enumerate() {
            for (&r, &tap) in rotated.iter().zip(taps) {
                let m = self.mul_plain(
                    r,
                    Plain::Weight {
                        conv,
                        batch,
                        ct,
                        tap,
                    },
                );
                acc = Some(self.e.accumulate(acc, m));
            }
        }
        let mut s = self.e.rescale(acc.expect("at least the centre tap"));
        for b in 0..sum_bits {
            let r = self.e.rotate(s, l.tau(1 << b) as i64, None);
            s = self.e.add(s, r);
        }
        s
    }

    /// `y` (copy 0 filled) replicated into every copy of layout `l`.
    fn replicate(&mut self, mut y: Ct, l: &Mux) -> Ct {
        for b in 0..l.copies.trailing_zeros() {
            let r = self.e.rotate(y, -((l.copy_size() << b) as i64), None);
            y = self.e.add(y, r);
        }
        y
    }

    /// Average pooling with a κ × κ window, stride κ: window sums in place, then each channel
    /// masked (1/κ² folded in) and moved to its place in the layout of gap κ·k; one level.
    fn avg_pool(&mut self, li: usize, x: &[Ct], lin: Mux) -> Result<Vec<Ct>, NnError> {
        let LayerKind::AvgPool { kernel } = self.net.layers[li].kind else {
            unreachable!("layer {li} is not an average pooling")
        };
        if !lin.h.is_multiple_of(kernel) {
            return Err(self.unsupported(
                li,
                format!(
                    "a {kernel}×{kernel} window on a {h}×{h} map: the window must divide the map",
                    h = lin.h
                ),
            ));
        }
        let lout = self.mux(li, lin.c, lin.h / kernel)?;
        let pool = self.payloads.pools.len();
        self.payloads.pools.push(MuxPool { lin, lout, kernel });
        let (k, raster) = (lin.k as i64, self.raster as i64);
        let summed: Vec<Ct> = x
            .iter()
            .map(|&c| {
                let s = window_sum(&mut self.e, c, kernel, k);
                window_sum(&mut self.e, s, kernel, k * raster)
            })
            .collect();
        let mut out: Vec<Option<Ct>> = vec![None; lout.cts];
        self.move_channels(&summed, pool, 0, &mut out);
        let ys = self.replicate_all(out, &lout);
        self.report(
            li,
            format!(
                "{kernel}×{kernel} window sum, {} channels moved to gap {}, {} → {} ciphertexts",
                lin.c, lout.k, lin.cts, lout.cts
            ),
        );
        Ok(ys)
    }

    /// Every channel of pooling `pool`'s input `x` masked (its payload) in copy 0 and moved to
    /// output channel `offset + channel` of the pooling's output layout, accumulated into `out`.
    fn move_channels(&mut self, x: &[Ct], pool: usize, offset: usize, out: &mut [Option<Ct>]) {
        let MuxPool { lin, lout, .. } = self.payloads.pools[pool];
        for channel in 0..lin.c {
            let ((ict, il), (oct, ol)) = (lin.place(channel), lout.place(offset + channel));
            let m = self.mul_plain(x[ict], Plain::PoolMask { pool, channel });
            let m = self.e.rescale(m);
            let r = self
                .e
                .rotate(m, lin.tau(il) as i64 - lout.tau(ol) as i64, None);
            out[oct] = Some(self.e.accumulate(out[oct], r));
        }
    }

    /// The output ciphertexts (copy 0 filled) replicated into every copy of `l`.
    fn replicate_all(&mut self, out: Vec<Option<Ct>>, l: &Mux) -> Vec<Ct> {
        out.into_iter()
            .map(|y| {
                let y = y.expect("every output ciphertext holds a channel");
                self.replicate(y, l)
            })
            .collect()
    }

    /// Concatenation along the channels of `parts` (each a tensor and its layout, in order):
    /// every channel masked in its part (copy 0) and moved to its place in the output layout,
    /// then replicated into the output's copies; one level.
    fn concat(&mut self, li: usize, parts: &[(&[Ct], Mux)]) -> Result<Vec<Ct>, NnError> {
        let channels = parts.iter().map(|(_, l)| l.c).sum();
        let lout = self.mux(li, channels, parts[0].1.h)?;
        let mut out: Vec<Option<Ct>> = vec![None; lout.cts];
        let mut offset = 0;
        for &(x, lin) in parts {
            // a window of one pixel: the pooling payload is the channel's mask
            let pool = self.payloads.pools.len();
            self.payloads.pools.push(MuxPool {
                lin,
                lout,
                kernel: 1,
            });
            self.move_channels(x, pool, offset, &mut out);
            offset += lin.c;
        }
        let ys = self.replicate_all(out, &lout);
        let sizes: Vec<String> = parts.iter().map(|(_, l)| l.c.to_string()).collect();
        self.report(
            li,
            format!(
                "{} channels moved into {channels}, {} ciphertexts",
                sizes.join(" + "),
                lout.cts
            ),
        );
        Ok(ys)
    }

    /// A concatenation whose parts their convs already wrote into its layout (disjoint slots,
    /// zero elsewhere, kept zero by activations with p(0) = 0): a sum, no level.
    fn concat_in_place(&mut self, li: usize, parts: &[&[Ct]]) -> Vec<Ct> {
        let y = parts
            .iter()
            .map(|p| p[0])
            .reduce(|a, b| self.e.add(a, b))
            .expect("a concat has parts");
        self.report(
            li,
            format!(
                "{} parts written in place by their convs (mask merged into theirs), added",
                parts.len()
            ),
        );
        vec![y]
    }

    /// Levels the activation of layer `li` consumes.
    fn activation_depth(params: &Params, li: usize, merged: bool) -> u32 {
        let mut e = Emitter::new(1 << 20, 0, 0, 0);
        let top = 1000;
        let x = e.input(top);
        top - merged_or_generic(&mut e, params, li, merged, x).level
    }

    fn act(&mut self, li: usize, x: &[Ct]) -> Vec<Ct> {
        let merged = self.merged.contains(&li);
        let ys: Vec<Ct> = x
            .iter()
            .map(|&c| merged_or_generic(&mut self.e, self.params, li, merged, c))
            .collect();
        let levels = x[0].level - ys[0].level;
        let what = match self.params.polynomial(li) {
            Some(c) if merged => format!("monic degree {} polynomial (merged)", c.len() - 1),
            Some(c) => format!("degree {} polynomial", c.len() - 1),
            None => "AppReLU (composite sign)".into(),
        };
        let cts = if x.len() > 1 {
            format!(" on {} ciphertexts", x.len())
        } else {
            String::new()
        };
        self.report(li, format!("{what}, {levels} levels{cts}"));
        ys
    }

    /// Global average pooling (a sum; 1/(h·w) is folded into the fc weights) and the linear
    /// layer `fc` after it.
    fn pool_fc(&mut self, pool: usize, fc: usize, x: &[Ct], lx: Mux) -> Result<Ct, NnError> {
        let LayerKind::Linear { out, .. } = self.net.layers[fc].kind else {
            unreachable!("checked by the walk")
        };
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
        let (k, raster) = (lx.k as i64, self.raster as i64);
        let summed: Vec<Ct> = x
            .iter()
            .map(|&c| {
                let s = window_sum(&mut self.e, c, lx.h, k);
                window_sum(&mut self.e, s, lx.h, k * raster)
            })
            .collect();
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
        let sum_bits =
            lx.c.next_power_of_two()
                .min(lx.channels_per_ct())
                .trailing_zeros();
        let mut acc = None;
        for batch in 0..batches {
            let mut products = None;
            for (ct, &s) in summed.iter().enumerate() {
                let m = self.mul_plain(s, Plain::FcWeight { batch, ct });
                products = Some(self.e.accumulate(products, m));
            }
            let mut t = self.e.rescale(products.expect("at least one ciphertext"));
            for b in 0..sum_bits {
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

/// Channel bits a conv with `per_group` input channels per group sums over on layout `l`.
fn channel_sum_bits(per_group: usize, l: &Mux) -> u32 {
    per_group
        .next_power_of_two()
        .min(l.channels_per_ct())
        .trailing_zeros()
}

/// Σ_{j<n} `x` rotated by j·`step`: the sum of n pixels `step` slots apart lands on the first
/// (log-step doubling for a power of two, else doubled partial sums combined along the bits
/// of n).
fn window_sum(e: &mut Emitter, x: Ct, n: usize, step: i64) -> Ct {
    if n.is_power_of_two() {
        let mut s = x;
        for b in 0..n.trailing_zeros() {
            let r = e.rotate(s, step << b, None);
            s = e.add(s, r);
        }
        return s;
    }
    let top = n.ilog2() as usize;
    let mut powers = vec![x];
    for b in 0..top {
        let r = e.rotate(powers[b], step << b, None);
        let p = e.add(powers[b], r);
        powers.push(p);
    }
    let mut acc = None;
    let mut offset = 0;
    for b in (0..=top).rev().filter(|b| n >> b & 1 == 1) {
        let r = e.rotate(powers[b], step * offset, None);
        acc = Some(e.accumulate(acc, r));
        offset += 1 << b;
    }
    acc.expect("n > 0")
}

/// The activation of layer `li` on `x`: a merged (monic) quadratic `x·(x + c1) + c0` in one
/// product, or else [`activation`].
fn merged_or_generic(e: &mut Emitter, params: &Params, li: usize, merged: bool, x: Ct) -> Ct {
    if !merged {
        return activation(e, params, li, x);
    }
    let c = params
        .polynomial(li)
        .expect("merged activations are polynomials");
    let add = |e: &mut Emitter, y: Ct, k: f64| if k == 0.0 { y } else { e.add_const(y, k) };
    match c {
        [c0, _] => add(e, x, *c0),
        [c0, c1, _] => {
            let t = add(e, x, *c1);
            let m = e.mul_relin_rescale(x, t);
            add(e, m, *c0)
        }
        _ => unreachable!("merged activations are monic of degree 1 or 2"),
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
    let merge = if opts.merge_coefficients {
        Some(merge::merge_coefficients(net, params)?)
    } else {
        None
    };
    let (params, merged) = match &merge {
        Some(m) => (&m.params, m.layers()),
        None => (params, BTreeSet::new()),
    };
    // grouped convs or pruned taps on the multiplexed layout are SpENCNN's packing
    let grouped = net
        .layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::Conv { groups, .. } if groups > 1));
    let label = if opts.hybrid {
        hyphen::LABEL
    } else if grouped || opts.pruned_taps > 0 {
        "spencnn"
    } else {
        "multiplexed"
    };
    let header = opts.header(&net.name, label)?;
    let slots = header.slots as usize;
    let input = net.input;
    if input.h != input.w {
        return Err(NnError::Unsupported {
            layer: "input".into(),
            message: format!(
                "the {} packing needs a square input map, not {}×{}",
                opts.packing(),
                input.h,
                input.w
            ),
        });
    }
    // a stride-2 stem reads the input space-to-depth: 4c channels at half the raster
    let space_to_depth = stem_space_to_depth(net);
    let (in_c, raster) = if space_to_depth {
        (4 * input.c, input.w / 2)
    } else {
        (input.c, input.w)
    };
    let input_layout = Mux::new(in_c, raster, raster, slots);
    if input_layout.copies == 0 {
        return Err(NnError::TooLarge {
            layer: "input".into(),
            message: format!(
                "one {raster}×{raster} channel of the {input} input needs more than {slots} \
                 slots; use a smaller input or more slots (--log-n)"
            ),
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
        pools: Vec::new(),
        fc_in: None,
        list: Vec::new(),
        out_offset: HashMap::new(),
    };
    let mut b = Builder {
        net,
        params,
        e: Emitter::new(header.slots, 0, 0, 0),
        payloads,
        opts: opts.clone(),
        raster,
        space_to_depth,
        reports: Vec::new(),
        pruned: PruneMasks::new(),
        merged: merged.clone(),
        into_concat: HashMap::new(),
    };
    b.e.set_layer("input");
    let x0: Vec<Ct> = (0..input_layout.cts).map(|_| b.e.input(top)).collect();
    let mut steps = plan_steps(net, params, opts.packing(), &merged)?;
    // tensor t is the network input (0) or the output of layer t − 1; its layout decides
    // how many slots a bootstrap must refresh
    let shapes = net.shapes()?;
    let natural = |t: usize| {
        if t == 0 {
            return input_layout;
        }
        let s = shapes[t - 1];
        Mux::new(s.c, s.h, raster, slots)
    };
    // mask merging: concats whose parts their convs write in place
    let in_place = if opts.merge_coefficients && !opts.hybrid {
        concats_in_place(net, params, &natural)
    } else {
        InPlace::default()
    };
    for step in &mut steps {
        if in_place.concats.contains(&step.first) {
            step.step.depth = 0;
        }
    }
    b.into_concat.clone_from(&in_place.convs);
    let layout_of = |t: usize| {
        in_place
            .layouts
            .get(&t)
            .copied()
            .unwrap_or_else(|| natural(t))
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
    // hyphen-recon: which convs are CAConv / RAConv, and the RA tensors between them
    let hybrid = if opts.hybrid {
        hyphen::pair(net, &mut steps, &layout_of, slots, space_to_depth)
    } else {
        hyphen::Pairs::default()
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
        // one bootstrap per ciphertext of the tensor
        cost.push(match hybrid.ra_cts.get(&t) {
            // never bootstrapped: the gather to the dense CA layout is the RAConv
            Some(_) => f64::INFINITY,
            None => c * layout_of(t).cts as f64,
        });
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
    if plan.cost.is_infinite() {
        let s = (0..steps.len())
            .find(|&s| plan.boot[s].iter().any(|t| hybrid.ra_cts.contains_key(t)))
            .unwrap_or(0);
        return Err(NnError::Levels {
            layer: net.layers[steps[s].first].name.clone(),
            message: format!(
                "{}: this layer would need its replicated (RA) input bootstrapped, which the \
                 packing never does (it bootstraps the dense CA layout only); use more limbs",
                hyphen::NAME
            ),
        });
    }
    let mut tensors: HashMap<usize, Vec<Ct>> = HashMap::from([(0, x0.clone())]);
    let mut cur = x0.clone();
    for (s, info) in steps.iter().enumerate() {
        let li = info.first;
        b.e.set_layer(&net.layers[li].name);
        for &t in &plan.boot[s] {
            let p = boot_params(t);
            let refreshed = tensors[&t]
                .iter()
                .map(|&c| b.e.bootstrap(c, p, boot_level))
                .collect();
            tensors.insert(t, refreshed);
        }
        let x = &tensors[&info.step.inputs[0]];
        cur = match &net.layers[li].kind {
            LayerKind::Conv { .. } => match hybrid.roles.get(&li) {
                Some(hyphen::Role::Ca) => b.ca_conv(li, x, info.last > li)?,
                Some(hyphen::Role::Ra) => b.ra_conv(li, x, info.last > li)?,
                None => b.conv(li, x, info.last > li)?,
            },
            LayerKind::Poly { .. } | LayerKind::Relu { .. } => b.act(li, x),
            LayerKind::Residual { .. } => {
                let other = &tensors[&info.step.inputs[1]];
                let y = x.iter().zip(other).map(|(&a, &c)| b.e.add(a, c)).collect();
                b.report(li, "shortcut add".into());
                y
            }
            LayerKind::AvgPool { .. } => {
                let lx = layout_of(info.step.inputs[0]);
                b.avg_pool(li, x, lx)?
            }
            LayerKind::Concat { .. } if in_place.concats.contains(&li) => {
                let parts: Vec<&[Ct]> = info
                    .step
                    .inputs
                    .iter()
                    .map(|&t| tensors[&t].as_slice())
                    .collect();
                b.concat_in_place(li, &parts)
            }
            LayerKind::Concat { .. } => {
                let parts: Vec<(&[Ct], Mux)> = info
                    .step
                    .inputs
                    .iter()
                    .map(|&t| (tensors[&t].as_slice(), layout_of(t)))
                    .collect();
                b.concat(li, &parts)?
            }
            LayerKind::GlobalAvgPool => {
                let lx = layout_of(info.step.inputs[0]);
                vec![b.pool_fc(li, info.last, x, lx)?]
            }
            _ => unreachable!("plan_steps admits only these"),
        };
        tensors.insert(info.step.output, cur.clone());
    }
    let [y] = cur[..] else {
        unreachable!("the linear layer writes one ciphertext")
    };
    b.e.set_layer("output");
    b.e.output(y);
    let out = match net.layers.last().map(|l| &l.kind) {
        Some(LayerKind::Linear { out, .. }) => *out,
        _ => unreachable!("checked: the network ends in a linear layer"),
    };
    // element (c, y, x), space-to-depth: channel 4c + 2(y mod 2) + x mod 2 at (y/2, x/2)
    let input_positions = (0..input.c)
        .flat_map(|c| (0..input.h).flat_map(move |y| (0..input.w).map(move |x| (c, y, x))))
        .map(|(c, y, x)| {
            let (ch, y, x) = if space_to_depth {
                (4 * c + 2 * (y % 2) + x % 2, y / 2, x / 2)
            } else {
                (c, y, x)
            };
            let (ct, local) = input_layout.place(ch);
            (0..input_layout.copies)
                .map(|copy| (ct as u32, input_layout.slot(copy, local, y, x) as u32))
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
            cts: input_layout.cts,
            factor: 1.0,
        },
        output: IoLayout {
            positions: (0..out).map(|o| vec![(0, (o % slots) as u32)]).collect(),
            cts: 1,
            factor: 1.0,
        },
        input_ids: x0.iter().map(|c| c.id).collect(),
        output_ids: vec![y.id],
        layers: reports,
        pruned,
        substitutions: net.substitutions(),
        recipes,
        stages: Vec::new(),
        masks: Vec::new(),
        constants: e.constants,
        client_transform: None,
        ops: e.ops,
    })
}

/// The concats that mask merging turns into sums: each part is an activation with p(0) = 0 of
/// an ungrouped conv (no batch norm), each read by nothing else, and the joined tensor fits one
/// ciphertext. Each such conv then writes its channels straight into the concat's layout (its
/// extraction mask, which it applies anyway, takes the concat's place), so the concat's own
/// mask-and-move level disappears.
#[derive(Default)]
struct InPlace {
    concats: BTreeSet<usize>,
    /// Conv layer → the concat's layout and the conv's first channel in it.
    convs: HashMap<usize, (Mux, usize)>,
    /// The layout of each tensor (conv and activation outputs) now in a concat's layout.
    layouts: HashMap<usize, Mux>,
}

fn concats_in_place(net: &Network, params: &Params, natural: &dyn Fn(usize) -> Mux) -> InPlace {
    let readers = merge::readers(net);
    let only_reader = |j: usize, r: usize| readers.get(&j).is_some_and(|v| v == &[r]);
    let mut out = InPlace::default();
    for (ci, layer) in net.layers.iter().enumerate() {
        let LayerKind::Concat { from } = &layer.kind else {
            continue;
        };
        let Source::Layer(first) = net.source(ci) else {
            continue;
        };
        let parts: Vec<usize> = std::iter::once(Some(first))
            .chain(from.iter().map(|f| net.layer_index(f)))
            .collect::<Option<_>>()
            .unwrap_or_default();
        let lcat = natural(ci + 1);
        let conv_of = |a: usize| -> Option<usize> {
            let zero_at_zero = params.polynomial(a).is_some_and(|c| c[0] == 0.0);
            let Source::Layer(v) = net.source(a) else {
                return None;
            };
            let plain_conv = matches!(net.layers[v].kind, LayerKind::Conv { groups: 1, .. });
            (zero_at_zero && plain_conv && v + 1 == a && only_reader(v, a) && only_reader(a, ci))
                .then_some(v)
        };
        let convs: Option<Vec<usize>> = parts.iter().map(|&a| conv_of(a)).collect();
        let Some(convs) = convs else { continue };
        if lcat.cts != 1 || lcat.copies == 0 || convs.len() < 2 {
            continue;
        }
        let mut offset = 0;
        for (&v, &a) in convs.iter().zip(&parts) {
            out.convs.insert(v, (lcat, offset));
            out.layouts.insert(v + 1, lcat);
            out.layouts.insert(a + 1, lcat);
            offset += natural(a + 1).c;
        }
        out.concats.insert(ci);
    }
    out
}

/// Whether the input is packed space-to-depth: the first layer is a stride-2 ungrouped conv
/// on an even-sided input that no other layer reads.
fn stem_space_to_depth(net: &Network) -> bool {
    let stem = matches!(
        net.layers.first().map(|l| &l.kind),
        Some(LayerKind::Conv {
            stride: 2,
            groups: 1,
            ..
        })
    ) && net.source(0) == Source::Input;
    let others_read_input = (1..net.layers.len()).any(|i| {
        net.source(i) == Source::Input
            || match &net.layers[i].kind {
                LayerKind::Residual { from } => from == INPUT,
                LayerKind::Concat { from } => from.iter().any(|f| f == INPUT),
                _ => false,
            }
    });
    stem && net.input.h.is_multiple_of(2) && !others_read_input
}

/// One step of the level plan: layers `first..=last` (a conv with its batch norm, global
/// pooling with the linear layer after it, or one layer).
struct StepLayers {
    first: usize,
    last: usize,
    step: Step,
}

/// The network as level-plan steps, checking that the multiplexed layout (of `packing`)
/// supports it.
fn plan_steps(
    net: &Network,
    params: &Params,
    packing: &str,
    merged: &BTreeSet<usize>,
) -> Result<Vec<StepLayers>, NnError> {
    let unsupported = |li: usize, message: String| NnError::Unsupported {
        layer: net.layers[li].name.clone(),
        message: format!("the {packing} packing: {message}"),
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
                let depth = Builder::activation_depth(params, li, merged.contains(&li));
                (li, vec![input], depth)
            }
            LayerKind::Residual { from } => {
                let other = net.layer_index(from).map_or(0, |j| j + 1);
                (li, vec![input, other], 0)
            }
            LayerKind::AvgPool { .. } => (li, vec![input], 1),
            LayerKind::Concat { from } => {
                let mut inputs = vec![input];
                inputs.extend(from.iter().map(|f| net.layer_index(f).map_or(0, |j| j + 1)));
                (li, inputs, 1)
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
                         adds, concats, average pooling, global pooling + linear are)",
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
            message: format!(
                "the {packing} packing needs the network to end in global pooling + a linear \
                 layer"
            ),
        });
    }
    Ok(steps)
}

/// The estimated cost of one bootstrap: the key switches of its expansion (the dominant
/// cost of CKKS bootstrapping on every accelerator hesim models).
pub(super) fn bootstrap_cost(
    header: &Header,
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

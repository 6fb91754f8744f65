//! `hyphen-recon`: a **reconstruction from the abstracts, not HyPHEN's published algorithm**
//! (Kim et al., arXiv 2302.02407; the method section was not available). It follows the
//! candidate of `shared/docs/hyphen-mpcnn.md` §3: two convolutions whose layouts alternate, so
//! that a stride-1 conv pair needs neither Lee et al.'s per-channel collection nor a re-packing
//! between the two convs.
//!
//! - **CA** (channel-aligned) is the multiplexed layout ([`Mux`]): channels in the blocks (and
//!   2D gaps) of a copy, the copy repeated `r` times. Every tensor the rest of the network sees
//!   is CA, so stems, stride-2 convs ("2D gap packing" = Lee's multiplexing, §3), shortcuts,
//!   pooling and the classifier are the multiplexed packing's.
//! - **RA** (replication-aligned): RA ciphertext `g` holds channel `g·r + j` in copy `j`, the
//!   same value at every channel position of the copy; ⌈C/r⌉ ciphertexts.
//! - **CAConv** (CA → RA, 2 levels): the taps' rotations of each input ciphertext (hoisted),
//!   one product per tap with copy `j` weighted for output channel `g·r + j`, the input-channel
//!   sum (log2 of the channels per copy rotations; the sum lands at channel position 0), one
//!   mask (§3's candidate has no mask: a rotate-and-sum over the channel blocks wraps into the
//!   next copy, which holds another output channel, so only position 0 is right), the bias,
//!   and the replication to every channel position (as many rotations again).
//! - **RAConv** (RA → CA, 1 level): per output ciphertext and tap, the products of every RA
//!   ciphertext with weights for output channel `b` at channel position `b`, placed at the
//!   input pixel the tap reads; the per-tap partial sum is rotated onto the output pixels
//!   (k² − 1 rotations), then summed over the `r` copies (log2 r rotations, cyclic, so every
//!   copy holds the result: the dense CA layout again, no mask). This is the gather to the
//!   dense layout: RA tensors are never bootstrapped, CA tensors are (sparse-slot when
//!   replicated, as in `multiplexed`).
//!
//! Which convs alternate: every stride-1, ungrouped conv whose output feeds only an activation
//! that feeds only another stride-1 ungrouped conv, all four tensors in the same layout (the
//! two convs of a ResNet basic block without down-sampling). Other convs are Lee et al.'s.

use std::collections::HashMap;

use super::{Builder, Ct, Mux, MuxConv, NnError, Payloads, Plain, StepLayers, channel_sum_bits};
use crate::nn::network::{LayerKind, Network};
use crate::nn::program::RecordsPlains;

/// The packing's name.
pub const NAME: &str = "hyphen-recon";

/// The packing's label in trace headers and reports.
pub const LABEL: &str =
    "hyphen-recon (reconstruction from the abstracts, not HyPHEN's published algorithm)";

/// The algorithm of a paired conv.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// CA → RA.
    Ca,
    /// RA → CA.
    Ra,
}

/// The paired convs (by layer) and the RA tensors (by tensor id) with their ciphertexts.
#[derive(Debug, Default)]
pub(super) struct Pairs {
    pub roles: HashMap<usize, Role>,
    pub ra_cts: HashMap<usize, usize>,
}

/// Chooses the CAConv / RAConv pairs among `steps` and sets their depths (CAConv 2, RAConv 1).
pub(super) fn pair(
    net: &Network,
    steps: &mut [StepLayers],
    layout_of: &dyn Fn(usize) -> Mux,
    slots: usize,
    space_to_depth: bool,
) -> Pairs {
    let keep = net.branch_sources();
    let alternating_conv = |s: &StepLayers| match net.layers[s.first].kind {
        LayerKind::Conv {
            kernel,
            stride: 1,
            pad,
            groups: 1,
            ..
        } => kernel % 2 == 1 && pad == kernel / 2 && !(s.first == 0 && space_to_depth),
        _ => false,
    };
    let activation = |s: &StepLayers| {
        matches!(
            net.layers[s.first].kind,
            LayerKind::Poly { .. } | LayerKind::Relu { .. }
        )
    };
    // the same layout throughout, one with whole-slot copies (so that RAConv's cyclic copy
    // sum leaves the result in every copy)
    let layout_fits = |t: usize| {
        let l = layout_of(t);
        l.h > 0
            && l.raster.is_multiple_of(l.h)
            && (l.raster / l.h).is_power_of_two()
            && l.copies > 0
            && (l.copies == 1 || l.copies * l.copy_size() == slots)
    };
    let mut pairs = Pairs::default();
    let mut s = 0;
    while s + 2 < steps.len() {
        let (ca, act, ra) = (&steps[s], &steps[s + 1], &steps[s + 2]);
        let chained = act.step.inputs == [ca.step.output]
            && ra.step.inputs == [act.step.output]
            && !keep.contains(&ca.last)
            && !keep.contains(&act.last);
        let input = ca.step.inputs[0];
        let same = [ca.step.output, ra.step.output]
            .iter()
            .all(|&t| layout_of(t) == layout_of(input));
        if alternating_conv(ca)
            && activation(act)
            && alternating_conv(ra)
            && chained
            && same
            && layout_fits(input)
        {
            let l = layout_of(input);
            let cts = l.c.div_ceil(l.copies);
            pairs.roles.insert(ca.first, Role::Ca);
            pairs.roles.insert(ra.first, Role::Ra);
            pairs.ra_cts.insert(ca.step.output, cts);
            pairs.ra_cts.insert(act.step.output, cts);
            steps[s + 2].step.depth = 1;
            s += 3;
        } else {
            s += 1;
        }
    }
    pairs
}

impl Builder<'_> {
    /// Conv layer `li` (batch norm folded if `bn`) recorded for its payloads: its index, spec
    /// and layout (input = output, checked by [`pair`]).
    fn paired_conv(&mut self, li: usize, bn: bool) -> Result<(usize, MuxConv, Mux), NnError> {
        let c = self.conv_spec(li, bn)?;
        let (l, _) = self.layouts(li, &c)?;
        let i = self.payloads.convs.len();
        self.payloads.convs.push(c.clone());
        self.payloads.layouts.push((l, l));
        Ok((i, c, l))
    }

    /// CAConv (see the module doc): CA input ciphertexts `x`, RA output; two levels.
    pub(super) fn ca_conv(&mut self, li: usize, x: &[Ct], bn: bool) -> Result<Vec<Ct>, NnError> {
        let (i, c, l) = self.paired_conv(li, bn)?;
        let taps = all_taps(c.kernel);
        let rotated: Vec<Vec<Ct>> = x
            .iter()
            .map(|&xc| self.tap_rotations(xc, &c, &l, &taps))
            .collect();
        let ra_cts = c.cout.div_ceil(l.copies);
        let sum_bits = channel_sum_bits(c.cin, &l);
        let position_bits = l.channels_per_ct().trailing_zeros();
        let mut ys = Vec::with_capacity(ra_cts);
        for batch in 0..ra_cts {
            let s = self.batch_products(i, batch, &rotated, &taps, &l, sum_bits);
            let m = self.mul_plain(s, Plain::RaMask { conv: i, batch });
            let m = self.e.rescale(m);
            let mut y = self.add_plain(m, Plain::RaBias { conv: i, batch });
            for b in 0..position_bits {
                let r = self.e.rotate(y, -(l.tau(1 << b) as i64), None);
                y = self.e.add(y, r);
            }
            ys.push(y);
        }
        let detail = format!(
            "CAConv {}→{} k{}: {} taps on {} ciphertexts, {} RA ciphertexts × {} copies, \
             channel sum {} + replication {} rotations each",
            c.cin,
            c.cout,
            c.kernel,
            taps.len(),
            l.cts,
            ra_cts,
            l.copies,
            sum_bits,
            position_bits
        );
        self.report(li, detail);
        Ok(ys)
    }

    /// RAConv (see the module doc): RA input ciphertexts `x`, CA output; one level.
    pub(super) fn ra_conv(&mut self, li: usize, x: &[Ct], bn: bool) -> Result<Vec<Ct>, NnError> {
        let (i, c, l) = self.paired_conv(li, bn)?;
        let taps = all_taps(c.kernel);
        let mut ys = Vec::with_capacity(l.cts);
        for ct in 0..l.cts {
            let mut y = None;
            for &tap in &taps {
                let mut acc = None;
                for (batch, &xg) in x.iter().enumerate() {
                    let m = self.mul_plain(
                        xg,
                        Plain::RaWeight {
                            conv: i,
                            ct,
                            batch,
                            tap,
                        },
                    );
                    acc = Some(self.e.accumulate(acc, m));
                }
                let q = self.e.rescale(acc.expect("at least one RA ciphertext"));
                let step = self.tap_step(&c, &l, tap);
                let r = self.e.rotate(q, step, None);
                y = Some(self.e.accumulate(y, r));
            }
            let mut y = y.expect("at least the centre tap");
            for b in 0..l.copies.trailing_zeros() {
                let r = self.e.rotate(y, (l.copy_size() << b) as i64, None);
                y = self.e.add(y, r);
            }
            ys.push(self.add_plain(y, Plain::Bias { conv: i, ct }));
        }
        let detail = format!(
            "RAConv {}→{} k{}: {} RA ciphertexts × {} taps per output ciphertext, copy sum {} \
             rotations, → {} ciphertexts",
            c.cin,
            c.cout,
            c.kernel,
            x.len(),
            taps.len(),
            l.copies.trailing_zeros(),
            l.cts
        );
        self.report(li, detail);
        Ok(ys)
    }
}

/// Every `(dy, dx)` of a `kernel × kernel` kernel, row-major.
fn all_taps(kernel: usize) -> Vec<(usize, usize)> {
    (0..kernel * kernel)
        .map(|t| (t / kernel, t % kernel))
        .collect()
}

/// The RA channel in copy `copy` of RA ciphertext `batch` of conv `conv`'s layout, if any.
fn ra_channel(l: &Mux, channels: usize, batch: usize, copy: usize) -> Option<usize> {
    let ch = batch * l.copies + copy;
    (ch < channels).then_some(ch)
}

/// [`Plain::RaMask`]: 1 at the output pixels of channel position 0 of each used copy.
pub(super) fn fill_mask(p: &Payloads, conv: usize, batch: usize, v: &mut [f64]) {
    let (c, (l, _)) = (&p.convs[conv], &p.layouts[conv]);
    for copy in 0..l.copies {
        if ra_channel(l, c.cout, batch, copy).is_some() {
            for y in 0..l.h {
                for x in 0..l.h {
                    v[l.slot(copy, 0, y, x)] = 1.0;
                }
            }
        }
    }
}

/// [`Plain::RaBias`]: each RA channel's bias at channel position 0 of its copy (the
/// replication carries it to the other positions).
pub(super) fn fill_bias(p: &Payloads, conv: usize, batch: usize, v: &mut [f64]) {
    let (c, (l, _)) = (&p.convs[conv], &p.layouts[conv]);
    for copy in 0..l.copies {
        if let Some(o) = ra_channel(l, c.cout, batch, copy) {
            for y in 0..l.h {
                for x in 0..l.h {
                    v[l.slot(copy, 0, y, x)] = c.bias[o];
                }
            }
        }
    }
}

/// [`Plain::RaWeight`]: w[o][i][tap] at the input pixel the tap reads, for output channel `o`
/// at its position in output ciphertext `ct` and input channel `i` = the RA channel of the
/// copy; zero where the tap reads the padding.
pub(super) fn fill_weight(
    p: &Payloads,
    conv: usize,
    ct: usize,
    batch: usize,
    (dy, dx): (usize, usize),
    v: &mut [f64],
) {
    let c: &MuxConv = &p.convs[conv];
    let (l, _) = &p.layouts[conv];
    let pad = c.pad() as isize;
    let inside = |z: usize, d: usize| {
        let i = (z + d) as isize - pad;
        (0..c.hw as isize).contains(&i).then_some(i as usize)
    };
    for copy in 0..l.copies {
        let Some(i) = ra_channel(l, c.cin, batch, copy) else {
            continue;
        };
        for o in l.channels(ct) {
            let local = l.place(o).1;
            let w = c.weight[c.widx(o, i, dy, dx)];
            for y in 0..c.hw {
                let Some(iy) = inside(y, dy) else { continue };
                for x in 0..c.hw {
                    if let Some(ix) = inside(x, dx) {
                        v[l.slot(copy, local, iy, ix)] = w;
                    }
                }
            }
        }
    }
}

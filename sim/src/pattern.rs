//! Op patterns and synthetic workloads: a small SSA program builder, the packed-bootstrap op
//! pattern (accelerators.md §5.5), and generators for representative traces (a LoLa-CIFAR-shaped
//! network, a LeNet-sized CNN, a large mixed trace) used by the validation table, the tests and
//! the benchmarks until the real traces (issues #6/#8) replace them.
//!
//! Every program the builder emits is a valid trace (levels aligned with `level_down`, relin
//! after every ct×ct mul, rescale after every multiply); the tests check that with
//! [`hesim_traces::Analyzer`].

use std::sync::Arc;

use hesim_traces::{BootstrapParams, Header, Hoisting, Op, OpKind, PlainRef, ValueId};
use rustc_hash::FxHashMap;

/// Builds a valid SSA op list, tracking each value's level.
#[derive(Debug)]
pub struct ProgramBuilder {
    header: Header,
    ops: Vec<Op>,
    levels: FxHashMap<ValueId, u32>,
    next_id: ValueId,
    next_plain: u32,
    next_hoist: u32,
    layer: Arc<str>,
}

impl ProgramBuilder {
    pub fn new(header: Header, layer: &str) -> Self {
        Self {
            header,
            ops: Vec::new(),
            levels: FxHashMap::default(),
            next_id: 0,
            next_plain: 0,
            next_hoist: 0,
            layer: Arc::from(layer),
        }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Tags the following ops with `layer`.
    pub fn set_layer(&mut self, layer: &str) {
        self.layer = Arc::from(layer);
    }

    pub fn level(&self, v: ValueId) -> u32 {
        self.levels.get(&v).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    fn push(&mut self, kind: OpKind, args: Vec<ValueId>, level: u32) -> ValueId {
        let id = self.next_id;
        self.next_id += 1;
        self.ops
            .push(Op::new(id, kind, args, level, self.layer.clone()));
        self.levels.insert(id, level);
        id
    }

    /// A fresh hoist-group id.
    pub fn hoist_group(&mut self) -> u32 {
        self.next_hoist += 1;
        self.next_hoist - 1
    }

    pub fn input(&mut self, level: u32) -> ValueId {
        self.push(OpKind::Input, vec![], level)
    }

    pub fn output(&mut self, v: ValueId) -> ValueId {
        let l = self.level(v);
        self.push(OpKind::Output, vec![v], l)
    }

    /// Drops `v` to `level` (no op if it is already there).
    pub fn level_down(&mut self, v: ValueId, level: u32) -> ValueId {
        if self.level(v) <= level {
            return v;
        }
        self.push(OpKind::LevelDown, vec![v], level)
    }

    fn align(&mut self, a: ValueId, b: ValueId) -> (ValueId, ValueId, u32) {
        let l = self.level(a).min(self.level(b));
        (self.level_down(a, l), self.level_down(b, l), l)
    }

    pub fn add(&mut self, a: ValueId, b: ValueId) -> ValueId {
        let (a, b, l) = self.align(a, b);
        self.push(OpKind::Add, vec![a, b], l)
    }

    pub fn sub(&mut self, a: ValueId, b: ValueId) -> ValueId {
        let (a, b, l) = self.align(a, b);
        self.push(OpKind::Sub, vec![a, b], l)
    }

    /// ct × a fresh plaintext at the ciphertext's level (no rescale).
    pub fn mul_plain(&mut self, a: ValueId) -> ValueId {
        let l = self.level(a);
        let plain = PlainRef {
            id: self.next_plain,
            level: l,
        };
        self.next_plain += 1;
        self.push(OpKind::MulPlain { plain }, vec![a], l)
    }

    pub fn add_plain(&mut self, a: ValueId) -> ValueId {
        let l = self.level(a);
        let plain = PlainRef {
            id: self.next_plain,
            level: l,
        };
        self.next_plain += 1;
        self.push(OpKind::AddPlain { plain }, vec![a], l)
    }

    pub fn mul_const(&mut self, a: ValueId) -> ValueId {
        let l = self.level(a);
        self.push(OpKind::MulConst, vec![a], l)
    }

    pub fn add_const(&mut self, a: ValueId) -> ValueId {
        let l = self.level(a);
        self.push(OpKind::AddConst, vec![a], l)
    }

    pub fn rescale(&mut self, a: ValueId) -> ValueId {
        let l = self.level(a);
        self.push(OpKind::Rescale, vec![a], l - 1)
    }

    /// ct × ct, relinearised and rescaled (one level).
    pub fn mul(&mut self, a: ValueId, b: ValueId) -> ValueId {
        let (a, b, l) = self.align(a, b);
        let m = self.push(OpKind::Mul, vec![a, b], l);
        let r = self.push(OpKind::Relin, vec![m], l);
        self.rescale(r)
    }

    pub fn square(&mut self, a: ValueId) -> ValueId {
        self.mul(a, a)
    }

    /// Rotation by `step` slots, normalised into (−slots, slots) \ {0}.
    pub fn rotate(&mut self, a: ValueId, step: i64, hoist: Option<u32>) -> ValueId {
        let slots = self.header.slots as i64;
        let mut s = step % slots;
        if s == 0 {
            s = 1;
        }
        let l = self.level(a);
        self.push(
            OpKind::Rotate {
                step: s as i32,
                hoist,
            },
            vec![a],
            l,
        )
    }

    pub fn conjugate(&mut self, a: ValueId) -> ValueId {
        let l = self.level(a);
        self.push(OpKind::Conjugate { hoist: None }, vec![a], l)
    }

    /// ModRaise of `a` to `level` (the first op of an expanded bootstrap).
    pub fn mod_raise(&mut self, a: ValueId, level: u32) -> ValueId {
        self.push(OpKind::ModRaise, vec![a], level)
    }

    /// A single `bootstrap` op refreshing `a` to `level`.
    pub fn bootstrap_op(&mut self, a: ValueId, params: BootstrapParams, level: u32) -> ValueId {
        self.push(OpKind::Bootstrap(params), vec![a], level)
    }

    /// Sum of values (a balanced tree of adds).
    pub fn sum(&mut self, mut vals: Vec<ValueId>) -> ValueId {
        while vals.len() > 1 {
            let mut next = Vec::with_capacity(vals.len().div_ceil(2));
            for pair in vals.chunks(2) {
                next.push(if pair.len() == 2 {
                    self.add(pair[0], pair[1])
                } else {
                    pair[0]
                });
            }
            vals = next;
        }
        vals[0]
    }

    /// A BSGS linear transform with `diagonals` non-zero diagonals of stride `stride` (one
    /// level): n1 = 2^⌈log2(d)/2⌉ baby-step rotations (hoisted together unless `hoisting` is
    /// `None`), d plaintext multiplies, n2 = ⌈d/n1⌉ giant steps each rescaled once and rotated.
    /// With `key_reuse` (ARK's minimum key switching) the baby steps are a chain of rotations by
    /// one stride and the giant steps a Horner chain by one giant stride: two keys in all.
    pub fn bsgs(
        &mut self,
        x: ValueId,
        diagonals: u64,
        stride: i64,
        hoisting: Hoisting,
        key_reuse: bool,
    ) -> ValueId {
        let d = diagonals.max(1);
        let n1 = 1u64 << (64 - (d - 1).leading_zeros()).div_ceil(2);
        let n2 = d.div_ceil(n1);
        let group = (hoisting != Hoisting::None && !key_reuse).then(|| self.hoist_group());
        let mut baby = vec![x];
        for i in 1..n1.min(d) {
            let r = if key_reuse {
                self.rotate(baby[i as usize - 1], stride, None)
            } else {
                self.rotate(x, i as i64 * stride, group)
            };
            baby.push(r);
        }
        let mut giants = Vec::with_capacity(n2 as usize);
        for j in 0..n2 {
            let terms = n1.min(d - j * n1) as usize;
            let prods: Vec<ValueId> = (0..terms).map(|i| self.mul_plain(baby[i])).collect();
            let acc = self.sum(prods);
            giants.push(self.rescale(acc));
        }
        let giant_stride = n1 as i64 * stride;
        if key_reuse {
            let mut total = giants[giants.len() - 1];
            for j in (0..giants.len() - 1).rev() {
                let r = self.rotate(total, giant_stride, None);
                total = self.add(r, giants[j]);
            }
            total
        } else {
            let mut terms = vec![giants[0]];
            for (j, g) in giants.iter().enumerate().skip(1) {
                terms.push(self.rotate(*g, j as i64 * giant_stride, None));
            }
            self.sum(terms)
        }
    }

    /// A homomorphic DFT over `log_slots` bits in `stages` BSGS stages (CoeffToSlot or
    /// SlotToCoeff): stage s covers b = ⌈log_slots/stages⌉ bits (the last the rest) with 2^(b+1)−1
    /// diagonals.
    pub fn dft(&mut self, x: ValueId, log_slots: u32, stages: u32, p: &BootstrapParams) -> ValueId {
        let stages = stages.max(1);
        let bits = log_slots.div_ceil(stages).max(1);
        let mut v = x;
        let mut done = 0u32;
        for _ in 0..stages {
            let b = bits.min(log_slots.saturating_sub(done)).max(1);
            let diagonals = (1u64 << (b + 1)) - 1;
            v = self.bsgs(v, diagonals, 1i64 << done, p.hoisting, p.key_reuse);
            done += b;
        }
        v
    }

    /// Chebyshev evaluation of degree `degree` by baby-step giant-step (Paterson–Stockmeyer
    /// style): baby powers T1..Tg (g = 2^⌈m/2⌉, m = ⌈log2(degree+1)⌉), giant powers T_g·2^j by
    /// squaring, ⌈(degree+1)/g⌉ leaf polynomials of g−1 scalar multiplies each (one rescale), and
    /// a tree of giant-power products. Consumes m + 1 levels.
    pub fn chebyshev(&mut self, x: ValueId, degree: u32) -> ValueId {
        let m = u64::from(degree)
            .saturating_add(1)
            .next_power_of_two()
            .trailing_zeros();
        let g = 1usize << m.div_ceil(2);
        let mut t: Vec<ValueId> = vec![x, x];
        for i in 2..=g {
            // T_2a = 2·T_a² − 1; otherwise T_(a+b) = 2·T_a·T_b − T_(a−b) with a the largest
            // power of two below i, so T_i sits at depth ⌈log2 i⌉.
            let v = if i % 2 == 0 {
                let p = self.square(t[i / 2]);
                self.add_const(p)
            } else {
                let a = 1usize << (usize::BITS - 1 - (i - 1).leading_zeros());
                let p = self.mul(t[a], t[i - a]);
                self.sub(p, t[a - (i - a)])
            };
            t.push(v);
        }
        let leaves = ((degree as usize) + 1).div_ceil(g).max(1);
        let baby_terms = (g - 1).max(1);
        let base_level = (1..=baby_terms)
            .map(|i| self.level(t[i]))
            .min()
            .unwrap_or(0);
        let mut polys = Vec::with_capacity(leaves);
        for _ in 0..leaves {
            let terms: Vec<ValueId> = (1..=baby_terms)
                .map(|i| {
                    let v = self.level_down(t[i], base_level);
                    self.mul_const(v)
                })
                .collect();
            let s = self.sum(terms);
            let s = self.add_const(s);
            polys.push(self.rescale(s));
        }
        let mut giant = t[g];
        while polys.len() > 1 {
            let mut next = Vec::with_capacity(polys.len().div_ceil(2));
            for pair in polys.chunks(2) {
                next.push(if pair.len() == 2 {
                    let hi = self.mul(pair[1], giant);
                    self.add(pair[0], hi)
                } else {
                    pair[0]
                });
            }
            polys = next;
            if polys.len() > 1 {
                giant = self.square(giant);
            }
        }
        polys[0]
    }

    /// EvalMod: the Chebyshev approximation then `double_angle` squarings (cos 2θ = 2cos²θ − 1).
    pub fn eval_mod(&mut self, x: ValueId, p: &BootstrapParams) -> ValueId {
        let mut v = self.chebyshev(x, p.eval_mod_degree);
        for _ in 0..p.double_angle {
            let s = self.square(v);
            let s = self.add(s, s);
            v = self.add_const(s);
        }
        v
    }
}

/// Appends the packed-bootstrap pattern (accelerators.md §5.5) refreshing `raised`, which must
/// already be at the raised level `out_level + params.level_budget()`, to `out_level`:
/// CoeffToSlot (`cts_levels` BSGS stages; the ModRaise scaling folded into its matrices), for
/// full packing a conjugation splitting real and imaginary parts, EvalMod on each part (the
/// polynomial's leaf rescale uses the budget's "+1" level), recombination, SlotToCoeff. The last
/// op pushed is the result.
pub fn bootstrap(
    b: &mut ProgramBuilder,
    raised: ValueId,
    params: &BootstrapParams,
    out_level: u32,
) -> ValueId {
    let log_slots = params.slots.max(1).trailing_zeros();
    let full = params.slots == b.header().ring_degree() / 2;
    let cts = b.dft(raised, log_slots.max(1), params.cts_levels, params);
    let refreshed = if full {
        let conj = b.conjugate(cts);
        let re = b.add(cts, conj);
        let im = b.sub(cts, conj);
        let re = b.eval_mod(re, params);
        let im = b.eval_mod(im, params);
        b.add(re, im)
    } else {
        b.eval_mod(cts, params)
    };
    let stc = b.dft(refreshed, log_slots.max(1), params.stc_levels, params);
    if b.level(stc) > out_level {
        b.level_down(stc, out_level)
    } else {
        stc
    }
}

/// Bootstrapping parameters of Lattigo's default packed bootstrapping as used by Bossuat et al.
/// (Eurocrypt'21) [R]: CoeffToSlot in 4 levels, SlotToCoeff in 3, a degree-30 cosine
/// approximation with 3 double angles, single hoisting.
pub fn default_bootstrap_params(slots: u64) -> BootstrapParams {
    BootstrapParams {
        slots,
        cts_levels: 4,
        stc_levels: 3,
        eval_mod_degree: 30,
        double_angle: 3,
        hoisting: Hoisting::Single,
        key_reuse: false,
    }
}

/// The validation workload for packed bootstrapping at N = 2^16: a header with `limbs` 28-bit
/// primes (CraterLake's word), dnum 3 (k = ⌈limbs/3⌉ special primes), full packing (2^15 slots),
/// and the bootstrap of a level-1 input either as one `bootstrap` op (`expanded = false`) or
/// expanded into primitive ops starting with `mod_raise` (`expanded = true`).
pub fn packed_bootstrap_trace(limbs: u32, expanded: bool) -> (Header, Vec<Op>) {
    let dnum = 3;
    let k = limbs.div_ceil(dnum);
    let header = Header::new(
        16,
        1 << 15,
        vec![28; limbs as usize],
        vec![28; k as usize],
        dnum,
        24,
        "synthetic-bootstrap",
        "packed",
        concat!(
            "hesim-sim ",
            env!("CARGO_PKG_VERSION"),
            " pattern::packed_bootstrap_trace"
        ),
    );
    let params = default_bootstrap_params(1 << 15);
    let out_level = limbs - params.level_budget();
    let mut b = ProgramBuilder::new(header.clone(), "bootstrap");
    let x = b.input(1);
    let result = if expanded {
        let raised = b.mod_raise(x, limbs);
        bootstrap(&mut b, raised, &params, out_level)
    } else {
        b.bootstrap_op(x, params, out_level)
    };
    b.output(result);
    (header, b.into_ops())
}

/// A dense (fully connected) layer on one packed ciphertext: per output block, a plaintext
/// multiply and a rotate-and-sum over `log_inputs` rotations, then a rescale; outputs are
/// summed into one ciphertext.
fn dense(b: &mut ProgramBuilder, x: ValueId, outputs: u32, log_inputs: u32) -> ValueId {
    let mut outs = Vec::with_capacity(outputs as usize);
    for _ in 0..outputs {
        let mut v = b.mul_plain(x);
        for r in 0..log_inputs {
            let rot = b.rotate(v, 1i64 << r, None);
            v = b.add(v, rot);
        }
        outs.push(b.rescale(v));
    }
    b.sum(outs)
}

/// A LoLa-CIFAR-shaped trace (Brutzkus et al., ICML'19; the F1 paper's LoLa-CIFAR benchmark).
/// The layer shapes are RECALLED, not verified against the paper: conv 8×8×3 → 83 maps with
/// stride 2 evaluated on 192 per-tap input ciphertexts (83·192 scalar multiplies and adds),
/// square, a stacking of the 83 maps into one vector (82 rotations), a second convolution as a
/// dense layer with 163 output blocks over 2^14 inputs (rotate-and-sum), square, and a 10-way
/// dense layer. N = 2^14, 8 limbs of 30 bits, dnum 2.
pub fn lola_cifar_trace() -> (Header, Vec<Op>) {
    let limbs = 8;
    let header = Header::new(
        14,
        1 << 13,
        vec![30; limbs],
        vec![30; 4],
        2,
        24,
        "lola-cifar-shaped",
        "lola",
        concat!(
            "hesim-sim ",
            env!("CARGO_PKG_VERSION"),
            " pattern::lola_cifar_trace"
        ),
    );
    let top = limbs as u32;
    let mut b = ProgramBuilder::new(header.clone(), "conv1");
    let taps: Vec<ValueId> = (0..192).map(|_| b.input(top)).collect();
    let mut maps = Vec::with_capacity(83);
    for _ in 0..83 {
        let prods: Vec<ValueId> = taps.iter().map(|&t| b.mul_const(t)).collect();
        let s = b.sum(prods);
        maps.push(b.rescale(s));
    }
    b.set_layer("act1");
    let maps: Vec<ValueId> = maps.into_iter().map(|m| b.square(m)).collect();
    b.set_layer("stack");
    let mut stacked = maps[0];
    for (i, &m) in maps.iter().enumerate().skip(1) {
        let r = b.rotate(m, i as i64 * 169, None);
        stacked = b.add(stacked, r);
    }
    b.set_layer("conv2");
    let c2 = dense(&mut b, stacked, 163, 13);
    b.set_layer("act2");
    let a2 = b.square(c2);
    b.set_layer("fc");
    let out = dense(&mut b, a2, 10, 13);
    b.output(out);
    (header, b.into_ops())
}

/// A LeNet-sized CNN trace of roughly `target_ops` ops, standing in for the real LeNet
/// `spencnn` trace until `hesim trace gen` exists: repeated blocks of a convolution (a hoist
/// group of 24 rotations, 25 plaintext multiplies, adds, a rescale), a square activation and a
/// dense layer, at N = 2^14 with 10 limbs (hesim's default parameter set shape).
pub fn cnn_trace(target_ops: usize) -> (Header, Vec<Op>) {
    let limbs = 10u32;
    let header = Header::new(
        14,
        1 << 13,
        vec![30; limbs as usize],
        vec![30; 2],
        5,
        24,
        "synthetic-cnn",
        "dense",
        concat!(
            "hesim-sim ",
            env!("CARGO_PKG_VERSION"),
            " pattern::cnn_trace"
        ),
    );
    let mut b = ProgramBuilder::new(header.clone(), "conv0");
    let mut block = 0;
    while b.len() < target_ops {
        b.set_layer(&format!("conv{block}"));
        let x = b.input(limbs);
        let mut channels = Vec::new();
        for _ in 0..4 {
            let g = b.hoist_group();
            let rots: Vec<ValueId> = (1..25).map(|s| b.rotate(x, s, Some(g))).collect();
            let mut prods = vec![b.mul_plain(x)];
            prods.extend(rots.iter().map(|&r| b.mul_plain(r)));
            let s = b.sum(prods);
            let s = b.rescale(s);
            channels.push(b.add_plain(s));
        }
        b.set_layer(&format!("act{block}"));
        let acts: Vec<ValueId> = channels.into_iter().map(|c| b.square(c)).collect();
        b.set_layer(&format!("fc{block}"));
        let s = b.sum(acts);
        let out = dense(&mut b, s, 4, 6);
        b.output(out);
        block += 1;
    }
    (header, b.into_ops())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hesim_traces::{Analyzer, OpName};

    fn assert_valid(header: &Header, ops: &[Op]) {
        let mut a = Analyzer::new(header.clone());
        for (i, op) in ops.iter().enumerate() {
            a.check(i as u64 + 2, op);
        }
        let analysis = a.finish();
        assert!(
            analysis.is_valid(),
            "{:?}",
            &analysis.violations[..analysis.violations.len().min(5)]
        );
    }

    /// The generated traces pass hesim-traces' independent validator (levels, relin, hoists).
    #[test]
    fn generated_traces_are_valid() {
        for expanded in [false, true] {
            let (h, ops) = packed_bootstrap_trace(32, expanded);
            assert_valid(&h, &ops);
        }
        let (h, ops) = lola_cifar_trace();
        assert_valid(&h, &ops);
        let (h, ops) = cnn_trace(3000);
        assert_valid(&h, &ops);
    }

    /// The expanded bootstrap ends exactly at the target level: the pattern consumes the
    /// parameters' level budget, no more, no less.
    #[test]
    fn bootstrap_pattern_consumes_its_budget() {
        let (h, ops) = packed_bootstrap_trace(32, true);
        let p = default_bootstrap_params(1 << 15);
        let last = ops
            .iter()
            .rev()
            .find(|o| o.kind.name() != OpName::Output)
            .unwrap();
        assert_eq!(last.level, h.max_level() - p.level_budget());
        assert_ne!(
            last.kind.name(),
            OpName::LevelDown,
            "the pattern should use its whole budget"
        );
    }

    /// BSGS counts by hand: 31 diagonals → n1 = 8 baby steps (7 rotations, one hoist group),
    /// n2 = 4 giant steps (3 rotations), 31 plaintext multiplies, 4 rescales.
    #[test]
    fn bsgs_counts() {
        let (h, _) = packed_bootstrap_trace(32, false);
        let mut b = ProgramBuilder::new(h, "t");
        let x = b.input(20);
        b.bsgs(x, 31, 1, Hoisting::Single, false);
        let ops = b.into_ops();
        let count = |n: OpName| ops.iter().filter(|o| o.kind.name() == n).count();
        assert_eq!(count(OpName::Rotate), 10);
        assert_eq!(count(OpName::MulPlain), 31);
        assert_eq!(count(OpName::Rescale), 4);
        let hoisted = ops
            .iter()
            .filter(|o| matches!(o.kind, OpKind::Rotate { hoist: Some(_), .. }))
            .count();
        assert_eq!(hoisted, 7);
    }
}

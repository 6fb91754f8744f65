//! Synthetic workloads: a small SSA program builder and generators for representative traces
//! (a LoLa-CIFAR-shaped network, a LeNet-sized CNN) used by the validation table, the tests and
//! the benchmarks. Bootstrapping is not built here: it is the one expansion of
//! [`hesim_traces::bootstrap`].
//!
//! Every program the builder emits is a valid trace (levels aligned with `level_down`, relin
//! after every ct×ct mul, rescale after every multiply); the tests check that with
//! [`hesim_traces::Analyzer`].

use std::sync::Arc;

use hesim_traces::{Header, Op, OpKind, PlainRef, ValueId};
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
    use hesim_traces::Analyzer;

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
        let (h, ops) = lola_cifar_trace();
        assert_valid(&h, &ops);
        let (h, ops) = cnn_trace(3000);
        assert_valid(&h, &ops);
    }
}

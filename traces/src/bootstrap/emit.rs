//! An op emitter that works in absolute levels (active limbs): the bootstrap expansion and the
//! ResNet builder both write programs through it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{BootstrapParams, Op, OpKind, PlainRef, ValueId};

/// A ciphertext value and its level (active limbs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ct {
    pub id: ValueId,
    pub level: u32,
}

/// Which homomorphic DFT of a bootstrap a plaintext diagonal belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    CoeffToSlot,
    SlotToCoeff,
}

/// What the payload of one plaintext operand is, so that an executor computes exactly the
/// plaintexts the simulator costs (the trace itself carries only ids and levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlainSource {
    /// Diagonal `diagonal` of merged DFT stage `stage` (0 = the first one evaluated) of
    /// `transform`, out of `stages` stages covering `log_slots` radix-2 butterfly stages. The
    /// stage merges `bits` radix-2 stages at slot stride `stride` (so it has the diagonals
    /// k·stride, |k| < 2^bits, and this is k = `diagonal`). BSGS: the plaintext multiplies the
    /// baby step rotated by (k − j·n1)·stride and its product is rotated by `giant_shift` =
    /// j·n1·stride slots afterwards, so the payload is the diagonal rotated by −`giant_shift`.
    /// The ModRaise normalisation and the ½ of the real/imaginary split are folded into
    /// CoeffToSlot's matrices; where is the executor's choice (they are scalars).
    ///
    /// `merged_parts` (sparse packing, n = 2^`log_slots` < N/2 slots): this stage works on 2n
    /// slots whose first half holds the n-slot stage's result and whose second half holds it
    /// times −i (CoeffToSlot's last stage) or the stage applied to the imaginary parts times +i
    /// (SlotToCoeff's first stage), so the payload has period 2n: the diagonal, then the
    /// diagonal times −i (CoeffToSlot) or +i (SlotToCoeff). Real and imaginary parts then share
    /// one EvalMod (Cheddar's `BootContext::Boot`, the SNU group's GPU library).
    Diagonal {
        transform: Transform,
        stage: u32,
        stages: u32,
        log_slots: u32,
        bits: u32,
        stride: i64,
        diagonal: i64,
        giant_shift: i64,
        merged_parts: bool,
    },
}

/// Appends SSA ops; every helper keeps the trace rules (operands at one level, `relin` after
/// `mul`, one limb per `rescale`).
#[derive(Debug)]
pub struct Emitter {
    pub ops: Vec<Op>,
    /// Scalars of the `add_const` / `mul_const` ops, by op id.
    pub constants: HashMap<ValueId, f64>,
    /// What each plaintext emitted through [`Emitter::mul_plain_of`] holds, by plaintext id.
    pub plains: HashMap<u32, PlainSource>,
    /// Ops whose result an executor multiplies by i^k afterwards, by op id: the monomial
    /// X^(k·N/2) (every slot root has ζ^(N/2) = i), exact and without key switch or level, so
    /// it is not an op of its own (the simulator does not cost it).
    pub imaginary: HashMap<ValueId, u32>,
    slots: i64,
    next_id: ValueId,
    next_hoist: u32,
    next_plain: u32,
    layer: Arc<str>,
    /// Primes each [`Emitter::rescale`] divides by (2 under double-prime scaling).
    rescale_primes: u32,
}

impl Emitter {
    /// An emitter for `slots`-slot ciphertexts whose ids, hoist groups and plaintext ids start
    /// at the given values (so that it can continue an existing op list).
    pub fn new(slots: u64, first_id: ValueId, first_hoist: u32, first_plain: u32) -> Self {
        Self {
            ops: Vec::new(),
            constants: HashMap::new(),
            plains: HashMap::new(),
            imaginary: HashMap::new(),
            slots: slots as i64,
            next_id: first_id,
            next_hoist: first_hoist,
            next_plain: first_plain,
            layer: Arc::from(""),
            rescale_primes: 1,
        }
    }

    pub fn set_layer(&mut self, layer: &str) {
        if *self.layer != *layer {
            self.layer = Arc::from(layer);
        }
    }

    /// Appends an op with the next id.
    pub fn push(&mut self, kind: OpKind, args: Vec<ValueId>, level: u32) -> Ct {
        let id = self.next_id;
        self.next_id += 1;
        self.ops
            .push(Op::new(id, kind, args, level, self.layer.clone()));
        Ct { id, level }
    }

    pub fn hoist_group(&mut self) -> u32 {
        self.next_hoist += 1;
        self.next_hoist - 1
    }

    /// The id the next plaintext operand gets.
    pub fn next_plain(&self) -> u32 {
        self.next_plain
    }

    pub fn input(&mut self, level: u32) -> Ct {
        self.push(OpKind::Input, vec![], level)
    }

    pub fn output(&mut self, x: Ct) {
        self.push(OpKind::Output, vec![x.id], x.level);
    }

    /// `x` at `level` (a `level_down` if it is higher).
    ///
    /// # Panics
    /// If `x` is below `level`: levels only go up through a bootstrap.
    pub fn level_to(&mut self, x: Ct, level: u32) -> Ct {
        assert!(
            x.level >= level,
            "cannot raise level {} to {level}",
            x.level
        );
        if x.level == level {
            x
        } else {
            self.push(OpKind::LevelDown, vec![x.id], level)
        }
    }

    fn align(&mut self, x: Ct, y: Ct) -> (Ct, Ct) {
        let l = x.level.min(y.level);
        (self.level_to(x, l), self.level_to(y, l))
    }

    pub fn add(&mut self, x: Ct, y: Ct) -> Ct {
        let (x, y) = self.align(x, y);
        self.push(OpKind::Add, vec![x.id, y.id], x.level)
    }

    pub fn sub(&mut self, x: Ct, y: Ct) -> Ct {
        let (x, y) = self.align(x, y);
        self.push(OpKind::Sub, vec![x.id, y.id], x.level)
    }

    /// `acc + y`, or `y` if there is no accumulator yet.
    pub fn accumulate(&mut self, acc: Option<Ct>, y: Ct) -> Ct {
        match acc {
            None => y,
            Some(a) => self.add(a, y),
        }
    }

    /// Rotation by `step` slots (left), normalised into (−slots/2, slots/2]; a multiple of the
    /// slot count is the identity and emits nothing.
    pub fn rotate(&mut self, x: Ct, step: i64, hoist: Option<u32>) -> Ct {
        let s = step.rem_euclid(self.slots);
        let s = if s > self.slots / 2 {
            s - self.slots
        } else {
            s
        };
        if s == 0 {
            return x;
        }
        self.push(
            OpKind::Rotate {
                step: s as i32,
                hoist,
            },
            vec![x.id],
            x.level,
        )
    }

    pub fn conjugate(&mut self, x: Ct) -> Ct {
        self.push(OpKind::Conjugate { hoist: None }, vec![x.id], x.level)
    }

    /// `x × plaintext` (not rescaled); returns the product and the plaintext's id.
    pub fn mul_plain(&mut self, x: Ct) -> (Ct, u32) {
        let id = self.next_plain;
        self.next_plain += 1;
        let plain = PlainRef { id, level: x.level };
        (
            self.push(OpKind::MulPlain { plain }, vec![x.id], x.level),
            id,
        )
    }

    /// `x × plaintext` for a plaintext whose payload `source` describes (recorded in
    /// [`Emitter::plains`]).
    /// Records that `x` is to be multiplied by i^`power` (see [`Emitter::imaginary`]).
    pub fn times_imaginary_unit(&mut self, x: Ct, power: u32) {
        *self.imaginary.entry(x.id).or_insert(0) += power;
    }

    pub fn mul_plain_of(&mut self, x: Ct, source: PlainSource) -> Ct {
        let (y, id) = self.mul_plain(x);
        self.plains.insert(id, source);
        y
    }

    /// `x + plaintext`; returns the sum and the plaintext's id.
    pub fn add_plain(&mut self, x: Ct) -> (Ct, u32) {
        let id = self.next_plain;
        self.next_plain += 1;
        let plain = PlainRef { id, level: x.level };
        (
            self.push(OpKind::AddPlain { plain }, vec![x.id], x.level),
            id,
        )
    }

    /// `x × c` (not rescaled).
    pub fn mul_const(&mut self, x: Ct, c: f64) -> Ct {
        let y = self.push(OpKind::MulConst, vec![x.id], x.level);
        self.constants.insert(y.id, c);
        y
    }

    pub fn add_const(&mut self, x: Ct, c: f64) -> Ct {
        let y = self.push(OpKind::AddConst, vec![x.id], x.level);
        self.constants.insert(y.id, c);
        y
    }

    /// Makes each following [`Emitter::rescale`] divide by `primes` primes (2 for double-prime
    /// scaling: two `rescale` ops in a row, which a DPS unit fuses).
    pub fn set_rescale_primes(&mut self, primes: u32) {
        self.rescale_primes = primes.max(1);
    }

    /// Divides by the scale: `rescale_primes` `rescale` ops, one limb each.
    pub fn rescale(&mut self, x: Ct) -> Ct {
        let mut y = x;
        for _ in 0..self.rescale_primes {
            y = self.push(OpKind::Rescale, vec![y.id], y.level - 1);
        }
        y
    }

    /// `x × y`, relinearised and rescaled (one level).
    pub fn mul_relin_rescale(&mut self, x: Ct, y: Ct) -> Ct {
        let (x, y) = self.align(x, y);
        let m = self.push(OpKind::Mul, vec![x.id, y.id], x.level);
        let r = self.push(OpKind::Relin, vec![m.id], m.level);
        self.rescale(r)
    }

    pub fn mod_raise(&mut self, x: Ct, level: u32) -> Ct {
        self.push(OpKind::ModRaise, vec![x.id], level)
    }

    pub fn bootstrap(&mut self, x: Ct, params: BootstrapParams, level: u32) -> Ct {
        self.push(OpKind::Bootstrap(params), vec![x.id], level)
    }
}

//! Lowering: every trace op, at its level, becomes unit work — limb (I)NTTs, automorphisms, base
//! conversions, element-wise multiplies and adds, key and plaintext loads.
//!
//! All cost formulas live in this module (the `fn`s on [`Params`]); they follow hybrid key
//! switching (Han–Ki, eprint 2019/688) as tabulated in `../shared/docs/accelerators.md` §5.2–5.3.
//! Work is counted in *limb vectors* (N coefficients of one prime) so that it does not depend on
//! the architecture: the engine turns it into cycles. Notation:
//!
//! | symbol | meaning |
//! |---|---|
//! | ℓ | active limbs of the operand |
//! | L | limbs of the full chain (`q_bits.len()`) |
//! | dnum | key-switching digits |
//! | α | ⌈L / dnum⌉, limbs per digit |
//! | k | special primes (`p_bits.len()`, or α when the architecture overrides dnum) |
//! | β | ⌈ℓ / α⌉, digits active at level ℓ |
//!
//! Resulting limb-(I)NTT counts (tested below): HMult (mul + relin + rescale) (β+2)(ℓ+k) + 2ℓ,
//! HRot (β+2)(ℓ+k), PMult + rescale 2ℓ. A bootstrap op is expanded into primitive ops by
//! [`hesim_traces::bootstrap::expand`] (the same op sequence `hesim trace gen --expand-boot`
//! writes and `sw::ckks` executes) and each of those is lowered as here, so a trace may carry
//! either the single op or its expansion.

use std::collections::BTreeMap;
use std::sync::Arc;

use hesim_traces::bootstrap::{self, Emitter};
use hesim_traces::{BootstrapParams, Header, Op, OpKind, OpName, TraceError, ValueTable};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::SimError;
/// Unit work of one task, in limb vectors (each N coefficients) or limbs moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Work {
    /// Limb NTTs and INTTs.
    pub ntt: u64,
    /// Limb automorphisms (index permutations).
    pub automorphism: u64,
    /// Base-conversion (limb in × limb out) pairs: N multiply-accumulates each.
    pub bconv: u64,
    /// Limb products of the key-switch inner product (N multiply-accumulates each).
    pub ks_mul: u64,
    /// Limb additions accumulating the key-switch inner product.
    pub ks_add: u64,
    /// Other element-wise limb multiplies.
    pub mul: u64,
    /// Other element-wise limb additions/subtractions.
    pub add: u64,
    /// Key-switch key limbs read (both halves; a seeded key store halves this).
    pub key_limbs: u64,
    /// Plaintext limbs read.
    pub plain_limbs: u64,
    /// Ciphertext limbs read from off chip (program inputs).
    pub input_limbs: u64,
    /// Ciphertext limbs written off chip (program outputs).
    pub output_limbs: u64,
    /// Limbs a clustered design moves between limb-wise and coefficient-wise distribution
    /// (ARK's alternating distribution: base conversion needs every limb of a coefficient);
    /// the engine charges the (clusters − 1)/clusters share that leaves a cluster to the NoC.
    pub redistribute_limbs: u64,
}

impl Work {
    fn plus(self, o: Work) -> Work {
        Work {
            ntt: self.ntt + o.ntt,
            automorphism: self.automorphism + o.automorphism,
            bconv: self.bconv + o.bconv,
            ks_mul: self.ks_mul + o.ks_mul,
            ks_add: self.ks_add + o.ks_add,
            mul: self.mul + o.mul,
            add: self.add + o.add,
            key_limbs: self.key_limbs + o.key_limbs,
            plain_limbs: self.plain_limbs + o.plain_limbs,
            input_limbs: self.input_limbs + o.input_limbs,
            output_limbs: self.output_limbs + o.output_limbs,
            redistribute_limbs: self.redistribute_limbs + o.redistribute_limbs,
        }
    }

    /// Adds `o` into `self`.
    pub fn accumulate(&mut self, o: &Work) {
        *self = self.plus(*o);
    }
}

/// The RNS parameters a trace runs under, with the cost formulas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub log_n: u32,
    /// L: limbs of the full chain.
    pub max_level: u32,
    pub dnum: u32,
    /// α = ⌈L / dnum⌉.
    pub alpha: u32,
    /// k: special primes.
    pub k: u32,
}

impl Params {
    /// From a trace header; `dnum_override` 0 keeps the trace's dnum and special primes,
    /// otherwise α = ⌈L/dnum⌉ and k = α (Homulator's convention, accelerators.md §4.2).
    pub fn new(header: &Header, dnum_override: u32) -> Params {
        let max_level = header.max_level();
        let (dnum, k_from_trace) = if dnum_override == 0 {
            (header.dnum.max(1), Some(header.p_bits.len() as u32))
        } else {
            (dnum_override.min(max_level), None)
        };
        let alpha = max_level.div_ceil(dnum);
        let k = k_from_trace.unwrap_or(alpha);
        Params {
            log_n: header.log_n,
            max_level,
            dnum,
            alpha,
            k,
        }
    }

    /// β = ⌈ℓ/α⌉: digits active at ℓ limbs.
    pub fn beta(&self, l: u64) -> u64 {
        l.div_ceil(u64::from(self.alpha))
    }

    /// ModUp of one polynomial of ℓ limbs: INTT each digit (ℓ INTTs), pre-scale by q̂⁻¹ (ℓ
    /// multiplies), base-convert digit j of α_j limbs to the other ℓ+k−α_j limbs, and NTT the new
    /// limbs (β(ℓ+k) − ℓ NTTs). Result: β digits of ℓ+k limbs. Redistribution: the ℓ input limbs
    /// go coefficient-wise for the conversion, the β(ℓ+k) − ℓ new limbs back limb-wise.
    pub fn mod_up(&self, l: u64) -> Work {
        let (alpha, k) = (u64::from(self.alpha), u64::from(self.k));
        let beta = self.beta(l);
        let bconv = (0..beta)
            .map(|j| {
                let a_j = alpha.min(l - j * alpha);
                a_j * (l + k - a_j)
            })
            .sum();
        Work {
            ntt: l + (beta * (l + k) - l),
            bconv,
            mul: l,
            redistribute_limbs: beta * (l + k),
            ..Work::default()
        }
    }

    /// Inner product of the β extended digits with a key (two polynomials): 2β(ℓ+k) limb
    /// products, 2(β−1)(ℓ+k) limb additions; reads the key's 2β(ℓ+k) limbs.
    pub fn inner_product(&self, l: u64) -> Work {
        let ext = l + u64::from(self.k);
        let beta = self.beta(l);
        Work {
            ks_mul: 2 * beta * ext,
            ks_add: 2 * (beta - 1) * ext,
            key_limbs: 2 * beta * ext,
            ..Work::default()
        }
    }

    /// ModDown of the two inner-product polynomials back to ℓ limbs: INTT the k special limbs
    /// (2k), pre-scale (2k multiplies), base-convert k → ℓ (2kℓ pairs), NTT (2ℓ), then
    /// (x − conv)·P⁻¹ (2ℓ multiplies, 2ℓ subtractions). Redistribution: the 2k special limbs
    /// go coefficient-wise, the 2ℓ converted limbs back limb-wise.
    pub fn mod_down(&self, l: u64) -> Work {
        let k = u64::from(self.k);
        Work {
            ntt: 2 * k + 2 * l,
            bconv: 2 * k * l,
            mul: 2 * k + 2 * l,
            add: 2 * l,
            redistribute_limbs: 2 * k + 2 * l,
            ..Work::default()
        }
    }

    /// A full hybrid key switch of one polynomial at ℓ limbs: (β+2)(ℓ+k) limb (I)NTTs.
    pub fn key_switch(&self, l: u64) -> Work {
        self.mod_up(l)
            .plus(self.inner_product(l))
            .plus(self.mod_down(l))
    }

    /// `relin` of a degree-2 ciphertext: key switch of d2, added into (d0, d1) (2ℓ additions).
    pub fn relin(&self, l: u64) -> Work {
        self.key_switch(l).plus(Work {
            add: 2 * l,
            ..Work::default()
        })
    }

    /// `mul` (ct × ct tensor): d0 = a0b0, d1 = a0b1 + a1b0, d2 = a1b1: 4ℓ multiplies, ℓ adds.
    pub fn tensor(&self, l: u64) -> Work {
        Work {
            mul: 4 * l,
            add: l,
            ..Work::default()
        }
    }

    /// `rescale` from ℓ limbs, per polynomial: INTT the dropped limb, NTT it into the ℓ−1 others,
    /// subtract and multiply by q_ℓ⁻¹: 2ℓ (I)NTTs, 2(ℓ−1) multiplies and subtractions.
    pub fn rescale(&self, l_in: u64) -> Work {
        Work {
            ntt: 2 + 2 * (l_in - 1),
            mul: 2 * (l_in - 1),
            add: 2 * (l_in - 1),
            ..Work::default()
        }
    }

    /// The second `rescale` of a double-prime pair on a double-prime-scaling unit (SHARP's DPS),
    /// from ℓ limbs before the pair. The fused pair, per polynomial: INTT the two dropped limbs,
    /// base-convert them to the ℓ−2 others (2(ℓ−2) pairs), NTT, then (x − conv)·(q₁q₂)⁻¹:
    /// 2ℓ (I)NTTs and 4(ℓ−2) conversion pairs for both polynomials. The first rescale of the
    /// pair is already charged as a plain rescale from ℓ (2ℓ (I)NTTs and the 2(ℓ−1) multiplies
    /// and subtractions, which cover the fused pair's 2(ℓ−2)), so the second adds only the
    /// conversion.
    pub fn fused_second_rescale(&self, l: u64) -> Work {
        Work {
            bconv: 4 * l.saturating_sub(2),
            ..Work::default()
        }
    }

    /// A plaintext generated on chip from one stored limb (ARK's OF-Limb): the limb is read and
    /// reduced into the ℓ limbs in coefficient form, then each is NTT'd (ℓ NTTs).
    pub fn on_the_fly_plain(&self, l: u64) -> Work {
        Work {
            ntt: l,
            plain_limbs: 1,
            ..Work::default()
        }
    }

    /// `rotate`/`conjugate` without hoisting: automorphism of both polynomials (2ℓ limbs), key
    /// switch of the rotated c1, add into c0 (ℓ additions): (β+2)(ℓ+k) (I)NTTs.
    pub fn rotate(&self, l: u64) -> Work {
        Work {
            automorphism: 2 * l,
            add: l,
            ..Work::default()
        }
        .plus(self.key_switch(l))
    }

    /// One rotation of a hoist group whose ModUp is shared ([`Params::mod_up`], once per group):
    /// automorphism of the β(ℓ+k) extended limbs and of c0 (ℓ), inner product, ModDown, add.
    pub fn hoisted_rotate(&self, l: u64) -> Work {
        let ext = self.beta(l) * (l + u64::from(self.k));
        Work {
            automorphism: ext + l,
            add: l,
            ..Work::default()
        }
        .plus(self.inner_product(l))
        .plus(self.mod_down(l))
    }

    /// `mul_plain` (plaintext in NTT form): 2ℓ multiplies, reads the ℓ plaintext limbs.
    pub fn mul_plain(&self, l: u64) -> Work {
        Work {
            mul: 2 * l,
            plain_limbs: l,
            ..Work::default()
        }
    }

    /// `add_plain`: ℓ additions (into c0), reads the ℓ plaintext limbs.
    pub fn add_plain(&self, l: u64) -> Work {
        Work {
            add: l,
            plain_limbs: l,
            ..Work::default()
        }
    }

    /// `mod_raise` (ModRaise at the start of a bootstrap): INTT the ℓ_in-limb input (2ℓ_in), reduce the
    /// coefficients into every limb of the raised level and NTT them (2ℓ_out).
    pub fn mod_raise(&self, l_in: u64, l_out: u64) -> Work {
        Work {
            ntt: 2 * l_in + 2 * l_out,
            ..Work::default()
        }
    }

    /// Limbs of one key-switch key stored at the top level (both halves, all digits).
    pub fn full_key_limbs(&self) -> u64 {
        let top = u64::from(self.max_level);
        2 * self.beta(top) * (top + u64::from(self.k))
    }

    /// The unit work of a non-bootstrap op whose result has `level` limbs. Hoisted rotations are
    /// handled by the caller ([`Lowerer`]); this is the unhoisted cost.
    pub fn op_work(&self, kind: &OpKind, level: u32) -> Work {
        let l = u64::from(level);
        match kind {
            OpKind::Input => Work {
                input_limbs: 2 * l,
                ..Work::default()
            },
            OpKind::Output => Work {
                output_limbs: 2 * l,
                ..Work::default()
            },
            OpKind::Add | OpKind::Sub => Work {
                add: 2 * l,
                ..Work::default()
            },
            OpKind::AddConst => Work {
                add: l,
                ..Work::default()
            },
            OpKind::MulConst => Work {
                mul: 2 * l,
                ..Work::default()
            },
            OpKind::AddPlain { .. } => self.add_plain(l),
            OpKind::MulPlain { .. } => self.mul_plain(l),
            OpKind::Mul => self.tensor(l),
            OpKind::Relin => self.relin(l),
            OpKind::Rescale => self.rescale(l + 1),
            OpKind::Rotate { .. } | OpKind::Conjugate { .. } => self.rotate(l),
            // Dropping limbs is free; a bootstrap is expanded by the caller.
            _ => Work::default(),
        }
    }
}

/// Sentinel for "no key" / "no dependency".
pub const NONE: u32 = u32::MAX;

/// One schedulable piece of work: usually one trace op, or one step of an expanded bootstrap or
/// a hoist group's shared ModUp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    /// Index (in trace order) of the trace op this work is charged to.
    pub origin: u32,
    /// Tasks whose results this one reads ([`NONE`] when unused).
    pub deps: [u32; 2],
    /// Its unit work: an index into the `works` table of its program or block (tasks of one
    /// shape, e.g. every rotation at one level, share an entry, so the engine costs each
    /// entry once).
    pub work: u32,
    /// Limbs of the value it defines (2ℓ for a ciphertext, β(ℓ+k) for extended digits).
    pub out_limbs: u64,
    /// Key-switch key it uses ([`NONE`] if none): 0 relin, 1 conjugation, 2+ rotations.
    pub key: u32,
    /// [`NONE`], or the index of the [`Block`] (an expanded bootstrap) this task runs as a
    /// whole; its work is then the block's total.
    pub block: u32,
}

/// An expanded bootstrap: a sub-program the engine schedules in isolation once per
/// architecture and then places as one task (so a trace with a thousand bootstraps costs a
/// thousand tasks, not a million). Task 0 is an empty stand-in for the bootstrap's operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub tasks: Vec<Task>,
    /// The work table its tasks index.
    pub works: Vec<Work>,
    pub first_use: Vec<u32>,
    pub next_use: Vec<[u32; 2]>,
    pub work: Work,
}

/// First reader of each task's value, and for each task and operand slot the next reader of
/// the same value after it ([`NONE`] when none). Operands outside `tasks` are ignored.
fn lifetimes(tasks: &[Task]) -> (Vec<u32>, Vec<[u32; 2]>) {
    let n = tasks.len();
    let mut seen = vec![NONE; n];
    let mut next_use = vec![[NONE; 2]; n];
    for (i, t) in tasks.iter().enumerate().rev() {
        for s in 0..2 {
            if (t.deps[s] as usize) < n {
                next_use[i][s] = seen[t.deps[s] as usize];
            }
        }
        for &d in &t.deps {
            if (d as usize) < n {
                seen[d as usize] = i as u32;
            }
        }
    }
    (seen, next_use)
}

/// Attributes of one trace op, for the result tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    pub id: u32,
    pub kind: OpName,
    /// Index into [`LoweredProgram::layers`].
    pub layer: u32,
    pub level: u32,
}

/// Op count and unit work of one op kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    pub ops: u64,
    pub work: Work,
}

/// Lowering totals: what `hesim sim --count-only` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowerCounts {
    pub params: Option<Params>,
    pub ops: u64,
    pub tasks: u64,
    pub key_switches: u64,
    pub hoist_groups: u64,
    pub bootstraps: u64,
    pub by_kind: BTreeMap<OpName, KindCount>,
    pub total: Work,
}

/// How to lower: the architecture choices that change the work (not just its speed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LowerOptions {
    /// 0 = the trace's dnum.
    pub dnum: u32,
    /// Share ModUp within hoist groups.
    pub hoisting: bool,
    /// Generate plaintext limbs on chip from one stored limb (ARK's OF-Limb).
    pub of_limb: bool,
    /// Fuse two `rescale`s in a row into one double-prime rescale (SHARP's DPS unit).
    pub double_prime_unit: bool,
}

impl LowerOptions {
    pub fn from_arch(arch: &crate::arch::Arch) -> Self {
        Self {
            dnum: arch.policy.dnum,
            hoisting: arch.policy.hoisting,
            of_limb: arch.policy.of_limb,
            double_prime_unit: arch.policy.double_prime_unit,
        }
    }
}

/// A lowered trace: tasks in a topological order, with the per-op attributes and lifetimes the
/// engine needs. Architecture-independent apart from [`LowerOptions`], so a sweep lowers once.
#[derive(Clone, Debug)]
pub struct LoweredProgram {
    pub header: Header,
    pub params: Params,
    pub options: LowerOptions,
    pub tasks: Vec<Task>,
    /// The distinct unit works its tasks index ([`Task::work`]).
    pub works: Vec<Work>,
    pub ops: Vec<OpInfo>,
    pub layers: Vec<Arc<str>>,
    /// For each task, the first task reading its value ([`NONE`] if none).
    pub first_use: Vec<u32>,
    /// For each task and operand slot, the next task after it reading the same value ([`NONE`]
    /// if this is the value's last use): the scratchpad model evicts the value used furthest in
    /// the future.
    pub next_use: Vec<[u32; 2]>,
    /// Expanded bootstraps referenced by [`Task::block`].
    pub blocks: Vec<Block>,
    pub counts: LowerCounts,
}

/// What fixes a task's work for one lowerer (whose parameters and options are fixed): tasks of
/// one shape share one entry of the work table, computed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Shape {
    /// A non-bootstrap op of this kind with a result at this level, lowered by
    /// [`Params::op_work`] (or with OF-Limb plaintexts when the options ask for them).
    Op(OpName, u32),
    /// `mod_raise` from the first level to the second.
    ModRaise(u32, u32),
    /// A hoist group's shared ModUp at this level.
    HoistModUp(u32),
    HoistedRotate(u32),
    /// The second rescale of a double-prime pair, to this level.
    FusedRescale(u32),
    /// An expanded bootstrap's total.
    Block(u32),
    /// No work (a block's stand-in for its operand).
    Nothing,
}

/// Streams ops into a [`LoweredProgram`].
#[derive(Debug)]
pub struct Lowerer {
    prog: LoweredProgram,
    /// Trace value id → task defining it.
    values: ValueTable<u32>,
    /// Hoist group → its ModUp task.
    hoists: FxHashMap<u32, u32>,
    /// Shape → its entry in the work table ([`NONE`]: not yet made). The shapes of most
    /// tasks, ops at a level of the chain, are looked up in `op_shapes` (by kind, then level).
    shapes: FxHashMap<Shape, u32>,
    op_shapes: Vec<u32>,
    layer_index: FxHashMap<Arc<str>, u32>,
    /// Per-kind counts, indexed by `OpName as usize` (moved into the map on `finish`).
    kind_counts: [KindCount; OpName::ALL.len()],
    /// Layer of the previous op (consecutive ops usually share one).
    last_layer: u32,
    /// Expanded bootstraps by (params, input level, output level) → index in `blocks`.
    boot_cache: FxHashMap<(BootstrapParams, u32, u32), u32>,
    /// The task of the previous op if it was a `rescale` that a second one may fuse with
    /// (double-prime scaling), else [`NONE`].
    open_rescale: u32,
}

impl Lowerer {
    pub fn new(header: &Header, options: LowerOptions) -> Self {
        let params = Params::new(header, options.dnum);
        Self {
            prog: LoweredProgram {
                header: header.clone(),
                params,
                options,
                tasks: Vec::new(),
                works: Vec::new(),
                ops: Vec::new(),
                layers: Vec::new(),
                first_use: Vec::new(),
                next_use: Vec::new(),
                blocks: Vec::new(),
                counts: LowerCounts {
                    params: Some(params),
                    ..LowerCounts::default()
                },
            },
            values: ValueTable::default(),
            hoists: FxHashMap::default(),
            shapes: FxHashMap::default(),
            op_shapes: vec![NONE; OpName::ALL.len() * (header.max_level() as usize + 1)],
            layer_index: FxHashMap::default(),
            last_layer: NONE,
            kind_counts: Default::default(),
            boot_cache: FxHashMap::default(),
            open_rescale: NONE,
        }
    }

    /// Makes room for `ops` more ops (about one task each), so that lowering a trace held in
    /// memory does not grow its tables step by step.
    pub fn reserve(&mut self, ops: usize) {
        self.prog.tasks.reserve(ops);
        self.prog.ops.reserve(ops);
        if self.prog.ops.is_empty() {
            self.values = ValueTable::with_capacity(ops);
        }
    }

    /// Lowers one op. Ops must come in trace order (operands defined before use).
    pub fn push(&mut self, op: &Op) -> Result<(), SimError> {
        let origin = self.prog.ops.len() as u32;
        let same_as_last = self
            .prog
            .layers
            .get(self.last_layer as usize)
            .is_some_and(|l| Arc::ptr_eq(l, &op.layer) || **l == *op.layer);
        let layer = match self.layer_index.get(&op.layer) {
            _ if same_as_last => self.last_layer,
            Some(&i) => i,
            None => {
                let i = self.prog.layers.len() as u32;
                self.prog.layers.push(op.layer.clone());
                self.layer_index.insert(op.layer.clone(), i);
                i
            }
        };
        self.last_layer = layer;
        let kind = op.kind.name();
        self.prog.ops.push(OpInfo {
            id: op.id,
            kind,
            layer,
            level: op.level,
        });
        let mut args = [NONE; 2];
        for (slot, a) in args.iter_mut().zip(&op.args) {
            *slot = *self.values.get(*a).ok_or(SimError::UndefinedValue {
                op: op.id,
                value: *a,
            })?;
        }
        let first_task = self.prog.tasks.len();
        let p = self.prog.params;
        let l = u64::from(op.level);
        let result = match &op.kind {
            OpKind::Bootstrap(bp) => {
                let in_level = self.level_of_task(args[0]);
                self.push_bootstrap(origin, args[0], bp, in_level, op.level)?
            }
            OpKind::ModRaise => {
                let in_level = self.level_of_task(args[0]);
                let work = self.work_of(Shape::ModRaise(in_level, op.level), |p| {
                    p.mod_raise(u64::from(in_level), l)
                });
                self.task(origin, args, work, 2 * l, NONE)
            }
            OpKind::Rotate { hoist: Some(g), .. } | OpKind::Conjugate { hoist: Some(g) }
                if self.prog.options.hoisting =>
            {
                let modup = match self.hoists.get(g) {
                    Some(&t) => t,
                    None => {
                        let ext = p.beta(l) * (l + u64::from(p.k));
                        let work = self.work_of(Shape::HoistModUp(op.level), |p| p.mod_up(l));
                        let t = self.task(origin, [args[0], NONE], work, ext, NONE);
                        self.hoists.insert(*g, t);
                        self.prog.counts.hoist_groups += 1;
                        t
                    }
                };
                let key = key_id(&op.kind);
                let work = self.work_of(Shape::HoistedRotate(op.level), |p| p.hoisted_rotate(l));
                self.task(origin, [args[0], modup], work, 2 * l, key)
            }
            OpKind::Rescale
                if self.prog.options.double_prime_unit && self.open_rescale == args[0] =>
            {
                let work = self.work_of(Shape::FusedRescale(op.level), |p| {
                    p.fused_second_rescale(l + 2)
                });
                self.task(origin, args, work, 2 * l, NONE)
            }
            kind => {
                let out = match kind {
                    OpKind::Mul => 3 * l,
                    _ => 2 * l,
                };
                let of_limb = self.prog.options.of_limb;
                let work = self.work_of(Shape::Op(kind.name(), op.level), |p| {
                    let mut w = p.op_work(kind, op.level);
                    if of_limb && matches!(kind, OpKind::MulPlain { .. } | OpKind::AddPlain { .. })
                    {
                        w.plain_limbs = 0;
                        w.accumulate(&p.on_the_fly_plain(l));
                    }
                    w
                });
                self.task(origin, args, work, out, key_id(kind))
            }
        };
        self.values.insert(op.id, result, u64::from(origin) + 1);
        // A rescale that did not close a pair opens one (read by the next op only).
        let opens = kind == OpName::Rescale && self.open_rescale != args[0];
        self.open_rescale = if opens { result } else { NONE };
        let c = &mut self.prog.counts;
        c.ops += 1;
        c.key_switches += u64::from(kind.is_key_switch());
        c.bootstraps += u64::from(kind == OpName::Bootstrap);
        let entry = &mut self.kind_counts[kind as usize];
        entry.ops += 1;
        for t in &self.prog.tasks[first_task..] {
            entry.work.accumulate(&self.prog.works[t.work as usize]);
        }
        Ok(())
    }

    fn level_of_task(&self, t: u32) -> u32 {
        let origin = self.prog.tasks[t as usize].origin;
        self.prog.ops[origin as usize].level
    }

    /// The work-table entry of `shape`, made by `make` the first time.
    fn work_of(&mut self, shape: Shape, make: impl FnOnce(&Params) -> Work) -> u32 {
        let levels = self.prog.params.max_level as usize + 1;
        let dense = match shape {
            Shape::Op(kind, level) if (level as usize) < levels => {
                Some(kind as usize * levels + level as usize)
            }
            _ => None,
        };
        let known = match dense {
            Some(i) => self.op_shapes[i],
            None => self.shapes.get(&shape).copied().unwrap_or(NONE),
        };
        if known != NONE {
            return known;
        }
        let w = self.prog.works.len() as u32;
        self.prog.works.push(make(&self.prog.params));
        match dense {
            Some(i) => self.op_shapes[i] = w,
            None => {
                self.shapes.insert(shape, w);
            }
        }
        w
    }

    fn task(&mut self, origin: u32, deps: [u32; 2], work: u32, out_limbs: u64, key: u32) -> u32 {
        let i = self.prog.tasks.len() as u32;
        self.prog.tasks.push(Task {
            origin,
            deps,
            work,
            out_limbs,
            key,
            block: NONE,
        });
        i
    }

    /// Expands a bootstrap into a [`Block`] (one per parameters and levels) and appends one task
    /// running it.
    fn push_bootstrap(
        &mut self,
        origin: u32,
        arg: u32,
        bp: &BootstrapParams,
        in_level: u32,
        out_level: u32,
    ) -> Result<u32, SimError> {
        let key = (*bp, in_level, out_level);
        let block = match self.boot_cache.get(&key) {
            Some(&b) => b,
            None => {
                let (tasks, works) = expand_bootstrap(
                    &self.prog.header,
                    self.prog.options,
                    bp,
                    in_level,
                    out_level,
                )?;
                let (first_use, next_use) = lifetimes(&tasks);
                let mut work = Work::default();
                for t in &tasks {
                    work.accumulate(&works[t.work as usize]);
                }
                let b = self.prog.blocks.len() as u32;
                self.prog.blocks.push(Block {
                    tasks,
                    works,
                    first_use,
                    next_use,
                    work,
                });
                self.boot_cache.insert(key, b);
                b
            }
        };
        let total = self.prog.blocks[block as usize].work;
        let work = self.work_of(Shape::Block(block), |_| total);
        let out = 2 * u64::from(out_level);
        let t = self.task(origin, [arg, NONE], work, out, NONE);
        self.prog.tasks[t as usize].block = block;
        Ok(t)
    }

    /// Finishes: computes value lifetimes.
    pub fn finish(mut self) -> LoweredProgram {
        let n = self.prog.tasks.len();
        let c = &mut self.prog.counts;
        for (kind, k) in OpName::ALL
            .iter()
            .zip(std::mem::take(&mut self.kind_counts))
        {
            if k.ops > 0 {
                c.total.accumulate(&k.work);
                c.by_kind.insert(*kind, k);
            }
        }
        let (first_use, next_use) = lifetimes(&self.prog.tasks);
        self.prog.first_use = first_use;
        self.prog.next_use = next_use;
        self.prog.counts.tasks = n as u64;
        self.prog
    }
}

/// Key identity of a key-switching op: one relinearisation key, one conjugation key, one
/// Galois key per rotation step.
fn key_id(kind: &OpKind) -> u32 {
    match kind {
        OpKind::Relin => 0,
        OpKind::Conjugate { .. } => 1,
        OpKind::Rotate { step, .. } => 2 + ((step << 1) ^ (step >> 31)) as u32,
        _ => NONE,
    }
}

/// Lowers the shared bootstrap expansion (ModRaise to the top of the chain, CoeffToSlot,
/// EvalMod, SlotToCoeff, down to `out_level`) into tasks and their work table; task 0 is an
/// empty stand-in for the operand.
fn expand_bootstrap(
    header: &Header,
    options: LowerOptions,
    bp: &BootstrapParams,
    in_level: u32,
    out_level: u32,
) -> Result<(Vec<Task>, Vec<Work>), SimError> {
    bp.check(header, out_level)
        .map_err(|e| SimError::Bootstrap {
            message: format!("a bootstrap to level {out_level}: {e}"),
        })?;
    let top = header.max_level();
    let mut e = Emitter::new(header.slots, 0, 0, 0);
    e.set_layer("bootstrap");
    let input = e.input(in_level);
    bootstrap::expand(&mut e, input, bp, header.log_n, top, out_level, false);
    let mut inner = Lowerer::new(header, options);
    for op in &e.ops {
        inner.push(op)?;
    }
    // Task 0 stands for the bootstrap's operand, which the block task itself depends on: it
    // does no work and occupies nothing.
    let nothing = inner.work_of(Shape::Nothing, |_| Work::default());
    // The expansion's last op defines the refreshed ciphertext, so its last task is the result.
    let mut tasks = inner.prog.tasks;
    tasks[0].work = nothing;
    tasks[0].out_limbs = 0;
    Ok((tasks, inner.prog.works))
}

/// Lowers a whole trace held in memory.
pub fn lower(
    header: &Header,
    ops: &[Op],
    options: LowerOptions,
) -> Result<LoweredProgram, SimError> {
    let mut l = Lowerer::new(header, options);
    l.reserve(ops.len());
    for op in ops {
        l.push(op)?;
    }
    Ok(l.finish())
}

/// Lowers a trace streamed from a reader (the ops are not kept, only their lowered tasks).
pub fn lower_stream(
    header: &Header,
    ops: impl Iterator<Item = Result<Op, TraceError>>,
    options: LowerOptions,
) -> Result<LoweredProgram, SimError> {
    let mut l = Lowerer::new(header, options);
    for op in ops {
        l.push(&op?)?;
    }
    Ok(l.finish())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pattern::ProgramBuilder;

    /// L = 12 limbs, dnum = 3 → α = 4, k = 4 special primes, N = 2^14.
    pub(crate) fn header() -> Header {
        Header::new(
            14,
            1 << 13,
            vec![30; 12],
            vec![30; 4],
            3,
            24,
            "t",
            "t",
            "test",
        )
    }

    fn opts() -> LowerOptions {
        LowerOptions {
            dnum: 0,
            hoisting: true,
            of_limb: false,
            double_prime_unit: false,
        }
    }

    fn counts(build: impl FnOnce(&mut ProgramBuilder)) -> LowerCounts {
        let mut b = ProgramBuilder::new(header(), "l");
        build(&mut b);
        lower(&header(), &b.into_ops(), opts()).unwrap().counts
    }

    fn ntt_of(c: &LowerCounts, kind: OpName) -> u64 {
        c.by_kind.get(&kind).map_or(0, |k| k.work.ntt)
    }

    /// Hand-computed: at ℓ = 12, β = ⌈12/4⌉ = 3, so a key switch is (β+2)(ℓ+k) = 5·16 = 80 limb
    /// (I)NTTs, and HMult adds the rescale's 2ℓ = 24: 104.
    #[test]
    fn hmult_ntt_count() {
        let c = counts(|b| {
            let x = b.input(12);
            b.mul(x, x);
        });
        assert_eq!(ntt_of(&c, OpName::Mul), 0);
        assert_eq!(ntt_of(&c, OpName::Relin), 80);
        assert_eq!(ntt_of(&c, OpName::Rescale), 24);
        assert_eq!(c.total.ntt, 104);
        assert_eq!(c.key_switches, 1);
    }

    /// Hand-computed: HRot at ℓ = 7: β = 2, (2+2)(7+4) = 44 (I)NTTs, 2ℓ = 14 limb automorphisms;
    /// base conversion: ModUp digits of 4 and 3 limbs → 4·7 + 3·8 = 52 pairs, ModDown 2·4·7 = 56.
    #[test]
    fn hrot_counts() {
        let c = counts(|b| {
            let x = b.input(7);
            b.rotate(x, 1, None);
        });
        let w = c.by_kind[&OpName::Rotate].work;
        assert_eq!(w.ntt, 44);
        assert_eq!(w.automorphism, 14);
        assert_eq!(w.bconv, 52 + 56);
        // Inner product: 2β(ℓ+k) = 44 limb products, reading 44 key limbs.
        assert_eq!(w.ks_mul, 44);
        assert_eq!(w.key_limbs, 44);
    }

    /// PMult + rescale at ℓ = 12: 2ℓ = 24 (I)NTTs, 2ℓ multiplies plus the rescale's 2(ℓ−1).
    #[test]
    fn pmult_rescale_counts() {
        let c = counts(|b| {
            let x = b.input(12);
            let m = b.mul_plain(x);
            b.rescale(m);
        });
        assert_eq!(c.total.ntt, 24);
        assert_eq!(c.total.mul, 24 + 22);
        assert_eq!(c.total.plain_limbs, 12);
    }

    /// Three rotations in one hoist group at ℓ = 12 share one ModUp (ℓ + β(ℓ+k) − ℓ = 48 NTTs)
    /// and each does its own ModDown (2k + 2ℓ = 32): 48 + 3·32 = 144, against 3·80 = 240
    /// unhoisted; with hoisting switched off by policy the group is ignored.
    #[test]
    fn hoisted_rotations_share_mod_up() {
        let build = |b: &mut ProgramBuilder| {
            let x = b.input(12);
            let g = b.hoist_group();
            for s in 1..=3 {
                b.rotate(x, s, Some(g));
            }
        };
        let c = counts(build);
        assert_eq!(c.total.ntt, 144);
        assert_eq!(c.hoist_groups, 1);
        let mut b = ProgramBuilder::new(header(), "l");
        build(&mut b);
        let off = lower(
            &header(),
            &b.into_ops(),
            LowerOptions {
                dnum: 0,
                hoisting: false,
                of_limb: false,
                double_prime_unit: false,
            },
        )
        .unwrap();
        assert_eq!(off.counts.total.ntt, 240);
    }

    fn lowered(options: LowerOptions, build: impl FnOnce(&mut ProgramBuilder)) -> LowerCounts {
        let mut b = ProgramBuilder::new(header(), "l");
        build(&mut b);
        lower(&header(), &b.into_ops(), options).unwrap().counts
    }

    /// OF-Limb at ℓ = 12: a `mul_plain` reads 1 plaintext limb instead of 12 and NTTs the 12
    /// limbs it generates; the 24 multiplies are unchanged.
    #[test]
    fn of_limb_plaintexts() {
        let build = |b: &mut ProgramBuilder| {
            let x = b.input(12);
            b.mul_plain(x);
        };
        let off = lowered(opts(), build).total;
        assert_eq!((off.plain_limbs, off.ntt, off.mul), (12, 0, 24));
        let on = lowered(
            LowerOptions {
                of_limb: true,
                ..opts()
            },
            build,
        )
        .total;
        assert_eq!((on.plain_limbs, on.ntt, on.mul), (1, 12, 24));
    }

    /// Double-prime scaling from ℓ = 12: apart, two rescales cost 2·12 + 2·11 = 46 (I)NTTs; the
    /// DPS unit fuses them into 2·12 = 24 (I)NTTs plus 4·(12 − 2) = 40 conversion pairs. A third
    /// rescale in a row opens a new pair (2·10 = 20 more (I)NTTs), it is not fused.
    #[test]
    fn double_prime_rescale_pairs() {
        let two = |b: &mut ProgramBuilder| {
            let x = b.input(12);
            let x = b.rescale(x);
            b.rescale(x);
        };
        let apart = lowered(opts(), two).total;
        assert_eq!((apart.ntt, apart.bconv), (46, 0));
        let dps = LowerOptions {
            double_prime_unit: true,
            ..opts()
        };
        let fused = lowered(dps, two).total;
        assert_eq!((fused.ntt, fused.bconv), (24, 40));
        let three = lowered(dps, |b| {
            let x = b.input(12);
            let x = b.rescale(x);
            let x = b.rescale(x);
            b.rescale(x);
        })
        .total;
        assert_eq!((three.ntt, three.bconv), (44, 40));
    }

    /// Redistribution of one unhoisted rotation at ℓ = 12 (β = 3, k = 4): ModUp's β(ℓ+k) = 48
    /// limbs and ModDown's 2k + 2ℓ = 32.
    #[test]
    fn key_switch_redistribution() {
        let c = lowered(opts(), |b| {
            let x = b.input(12);
            b.rotate(x, 1, None);
        });
        assert_eq!(c.total.redistribute_limbs, 80);
    }

    /// Overriding dnum to 1 (α = k = 12, β = 1) at ℓ = 12: (1+2)(12+12) = 72.
    #[test]
    fn dnum_override() {
        let mut b = ProgramBuilder::new(header(), "l");
        let x = b.input(12);
        b.rotate(x, 1, None);
        let p = lower(
            &header(),
            &b.into_ops(),
            LowerOptions {
                dnum: 1,
                hoisting: true,
                of_limb: false,
                double_prime_unit: false,
            },
        )
        .unwrap();
        assert_eq!((p.params.alpha, p.params.k), (12, 12));
        assert_eq!(p.counts.total.ntt, 72);
    }

    /// A `bootstrap` op and the shared expansion `hesim-traces` writes (with a `mod_raise` op)
    /// lower to the same work.
    #[test]
    fn bootstrap_op_matches_its_expansion() {
        let p = bootstrap::default_params(1 << 15);
        let (h, single) = bootstrap::standalone(16, &p, 16, false, false).unwrap();
        let (_, expanded) = bootstrap::standalone(16, &p, 16, true, false).unwrap();
        let a = lower(&h, &single, opts()).unwrap().counts;
        let b = lower(&h, &expanded, opts()).unwrap().counts;
        assert_eq!(a.bootstraps, 1);
        let ks = |c: &LowerCounts| c.total.key_limbs;
        assert_eq!(ks(&a), ks(&b));
        assert_eq!(a.total, b.total);
    }
}

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Rule, Violation};
use crate::header::Header;

/// Id of an SSA value (a ciphertext). Plaintext ids live in their own namespace.
pub type ValueId = u32;

/// A plaintext operand: payloads are not in the trace, only which one and at what level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainRef {
    pub id: u32,
    pub level: u32,
}

/// How the rotations of a bootstrap's linear transforms share key-switch work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hoisting {
    /// Every rotation does its own ModUp and ModDown.
    None,
    /// One ModUp per baby-step group (Halevi–Shoup hoisting).
    #[default]
    Single,
    /// Also defers ModDown by accumulating in the PQ basis (Bossuat et al.).
    Double,
}

/// Parameters of a `bootstrap` op (ModRaise → CoeffToSlot → EvalMod → SlotToCoeff). The
/// fields after `key_reuse` were added later: they default (and are not written) when off, so
/// older traces load and keep their meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapParams {
    /// Slots bootstrapped (a power of two).
    pub slots: u64,
    /// Levels of the CoeffToSlot homomorphic DFT (BSGS factors).
    pub cts_levels: u32,
    /// Levels of the SlotToCoeff homomorphic DFT.
    pub stc_levels: u32,
    /// Degree of the Chebyshev approximation in EvalMod.
    pub eval_mod_degree: u32,
    /// Double-angle squarings after the polynomial.
    pub double_angle: u32,
    #[serde(default)]
    pub hoisting: Hoisting,
    /// Key-switch key reuse across the DFT stages (ARK's minimum key switching, Min-KS).
    #[serde(default)]
    pub key_reuse: bool,
    /// Baby steps n1 of every BSGS DFT stage (a power of two; SHARP uses 4, the largest whose
    /// baby steps fit on chip); 0 picks the split that minimises rotations.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub baby_step: u32,
    /// Double-prime scaling (SHARP's DPS for 36-bit words): CoeffToSlot and EvalMod rescale by
    /// two primes at a time, so each of their levels consumes two limbs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub double_prime_scaling: bool,
    /// EvalMod's range K: the modular reduction is approximated for ModRaise overflows
    /// |I| < K. The overflow's standard deviation grows as √(h/12) with the secret's Hamming
    /// weight h, so h = 192 at N = 2^16 needs Lee et al.'s K = 25 where h = 64 fits 16.
    /// Traces written before this field existed meant 16.
    #[serde(
        default = "legacy_eval_mod_range",
        skip_serializing_if = "is_legacy_eval_mod_range"
    )]
    pub eval_mod_range: u32,
}

/// The EvalMod range of traces that do not say (the value hesim used before it was a field).
pub const LEGACY_EVAL_MOD_RANGE: u32 = 16;

fn legacy_eval_mod_range() -> u32 {
    LEGACY_EVAL_MOD_RANGE
}

fn is_legacy_eval_mod_range(v: &u32) -> bool {
    *v == LEGACY_EVAL_MOD_RANGE
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// Largest EvalMod polynomial degree a bootstrap may ask for: 12 levels for the polynomial
/// alone (published bootstraps use degrees up to a few hundred), and it keeps the expanded
/// EvalMod to tens of thousands of ops.
pub const MAX_EVAL_MOD_DEGREE: u32 = 4095;

/// Largest EvalMod range K: beyond it no degree up to [`MAX_EVAL_MOD_DEGREE`] approximates
/// the cosine's K periods (a dense secret at N = 2^17 needs K of a few hundred).
pub const MAX_EVAL_MOD_RANGE: u32 = 1024;

/// Cap on the ops one bootstrap expands into ([`BootstrapParams::expanded_ops_bound`]), so a
/// crafted `bootstrap` op cannot make lowering allocate gigabytes (a real one is < 10^5 ops).
pub const MAX_BOOTSTRAP_OPS: u64 = 1 << 22;

/// Why a `bootstrap` op's parameters are not accepted: the field, its value and the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("bootstrap parameter `{field}` = {value} {reason}")]
pub struct BootstrapParamsError {
    pub field: &'static str,
    pub value: u64,
    pub reason: String,
}

impl BootstrapParams {
    /// Levels of EvalMod: ⌈log2(degree+1)⌉ for the polynomial, one for its leaves' scalar
    /// multiplies, and the double angles (`None` on overflow).
    pub fn checked_eval_mod_levels(&self) -> Option<u32> {
        let poly_depth = u64::from(self.eval_mod_degree)
            .saturating_add(1)
            .next_power_of_two()
            .trailing_zeros();
        poly_depth.checked_add(1)?.checked_add(self.double_angle)
    }

    /// Limbs the bootstrap consumes from the top of the chain: CtS + StC levels and EvalMod's
    /// levels; with double-prime scaling CtS and EvalMod levels take two limbs each. `None` if
    /// that does not fit in a `u32` (only crafted parameters get there;
    /// [`BootstrapParams::check`] rejects them).
    pub fn checked_level_budget(&self) -> Option<u32> {
        let primes = if self.double_prime_scaling { 2 } else { 1 };
        self.cts_levels
            .checked_add(self.checked_eval_mod_levels()?)?
            .checked_mul(primes)?
            .checked_add(self.stc_levels)
    }

    /// [`BootstrapParams::checked_level_budget`], saturating at `u32::MAX` so that parameters
    /// too large for any chain never wrap around to a small budget.
    pub fn level_budget(&self) -> u32 {
        self.checked_level_budget().unwrap_or(u32::MAX)
    }

    /// An upper bound on the primitive ops of the expanded bootstrap (ModRaise and sub-sum,
    /// both BSGS DFTs, EvalMod of both halves, a `level_down` per op at most), in checked
    /// arithmetic (`u64::MAX` when it overflows).
    pub fn expanded_ops_bound(&self, log_n: u32) -> u64 {
        let log_slots = self.slots.max(1).trailing_zeros();
        // A DFT in `stages` BSGS stages of b bits: 2^(b+1) − 1 diagonals, each a rotation, a
        // plaintext multiply and an add at most, plus a rescale and giant rotation per group.
        let dft = |stages: u32| -> Option<u64> {
            let stages = u64::from(stages.max(1));
            let bits = u64::from(log_slots.max(1)).div_ceil(stages).max(1);
            let diagonals = 1u64.checked_shl(u32::try_from(bits + 1).ok()?)?;
            stages.checked_mul(diagonals.checked_mul(4)?.checked_add(8)?)
        };
        let bound = || -> Option<u64> {
            let sub_sum = 2 * u64::from(log_n.saturating_sub(1).saturating_sub(log_slots));
            // Chebyshev BSGS: ≤ 3 ops per power, ≤ 2 per coefficient, ≤ 3 per leaf and giant.
            let poly = u64::from(self.eval_mod_degree)
                .checked_add(1)?
                .checked_mul(16)?
                .checked_add(64)?;
            let eval_mod = poly.checked_add(u64::from(self.double_angle).checked_mul(3)?)?;
            let body = dft(self.cts_levels)?
                .checked_add(dft(self.stc_levels)?)?
                .checked_add(eval_mod.checked_mul(2)?)?
                .checked_add(sub_sum + 16)?;
            body.checked_mul(2)
        };
        bound().unwrap_or(u64::MAX)
    }

    /// The one range check of bootstrap parameters, shared by the trace validator, the
    /// simulator's lowering and the software expansion: `slots` a power of two in 2..=N/2,
    /// 1 ≤ CtS and StC stages ≤ log2(slots), 2 ≤ `eval_mod_degree` ≤ [`MAX_EVAL_MOD_DEGREE`],
    /// the level budget on top of `out_level` (≥ 1) within the header's chain, and at most
    /// [`MAX_BOOTSTRAP_OPS`] expanded ops.
    pub fn check(&self, header: &Header, out_level: u32) -> Result<(), BootstrapParamsError> {
        let bad = |field, value: u64, reason: String| {
            Err(BootstrapParamsError {
                field,
                value,
                reason,
            })
        };
        let half_n = header.ring_degree() / 2;
        if !self.slots.is_power_of_two() || self.slots < 2 || self.slots > half_n {
            return bad(
                "slots",
                self.slots,
                format!("must be a power of two between 2 and N/2 = {half_n}"),
            );
        }
        let log_slots = self.slots.trailing_zeros();
        for (field, stages) in [
            ("cts_levels", self.cts_levels),
            ("stc_levels", self.stc_levels),
        ] {
            if stages == 0 || stages > log_slots {
                return bad(
                    field,
                    u64::from(stages),
                    format!(
                        "must be between 1 and log2(slots) = {log_slots} (one DFT stage per \
                         level, at most one per radix-2 butterfly stage)"
                    ),
                );
            }
        }
        if self.baby_step != 0 && !self.baby_step.is_power_of_two() {
            return bad(
                "baby_step",
                u64::from(self.baby_step),
                "must be 0 (the rotation-minimising split) or a power of two".into(),
            );
        }
        if !(1..=MAX_EVAL_MOD_RANGE).contains(&self.eval_mod_range) {
            return bad(
                "eval_mod_range",
                u64::from(self.eval_mod_range),
                format!(
                    "must be between 1 and {MAX_EVAL_MOD_RANGE} (the ModRaise overflow bound K)"
                ),
            );
        }
        if !(2..=MAX_EVAL_MOD_DEGREE).contains(&self.eval_mod_degree) {
            return bad(
                "eval_mod_degree",
                u64::from(self.eval_mod_degree),
                format!("must be between 2 and {MAX_EVAL_MOD_DEGREE}"),
            );
        }
        let max_level = header.max_level();
        let top = self
            .checked_level_budget()
            .and_then(|budget| budget.checked_add(out_level));
        if out_level == 0 || top.is_none_or(|top| top > max_level) {
            return bad(
                "level_budget",
                self.checked_level_budget().map_or(u64::MAX, u64::from),
                format!(
                    "levels (cts + stc + ⌈log2(eval_mod_degree + 1)⌉ + double_angle + 1, CtS and \
                     EvalMod doubled under double-prime scaling) do not fit a \
                     {max_level}-prime chain above output level {out_level}: use \
                     fewer stages or double angles, or a longer chain"
                ),
            );
        }
        let ops = self.expanded_ops_bound(header.log_n);
        if ops > MAX_BOOTSTRAP_OPS {
            return bad(
                "double_angle",
                u64::from(self.double_angle),
                format!(
                    "makes the expanded bootstrap up to {ops} ops, above the cap of \
                     {MAX_BOOTSTRAP_OPS}"
                ),
            );
        }
        Ok(())
    }
}

/// What an op does, with its kind-specific attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// A fresh ciphertext entering the program.
    Input,
    /// Marks a value as a program result; an output cannot be used as an operand.
    Output,
    /// ct + ct.
    Add,
    /// ct − ct.
    Sub,
    /// ct + pt.
    AddPlain { plain: PlainRef },
    /// ct × pt (needs a rescale afterwards).
    MulPlain { plain: PlainRef },
    /// ct + scalar.
    AddConst,
    /// ct × scalar (encoded at the scale, so it needs a rescale afterwards).
    MulConst,
    /// ct × ct: gives a degree-2 (three-polynomial) ciphertext that needs `relin`.
    Mul,
    /// Relinearisation: a key switch of the degree-2 part.
    Relin,
    /// Divide by the last prime, dropping one limb.
    Rescale,
    /// Drop limbs without dividing (to align levels).
    LevelDown,
    /// Slot rotation by `step` (positive = left). Rotations with the same `hoist` group share one
    /// key-switch decomposition (ModUp) of their common source.
    Rotate { step: i32, hoist: Option<u32> },
    /// Complex conjugation of the slots (Galois element 2N−1); may share a hoist group.
    Conjugate { hoist: Option<u32> },
    /// Bootstrapping: refresh to the op's level.
    Bootstrap(BootstrapParams),
    /// ModRaise, the first step of an expanded bootstrap: reinterpret a ciphertext's residues
    /// modulo the full chain, raising it to the op's (higher) level. Its cost is an INTT of the
    /// remaining limbs and NTTs into the new ones; no key switch.
    ModRaise,
}

/// The attribute-free name of an [`OpKind`], for counting and display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpName {
    Input,
    Output,
    Add,
    Sub,
    AddPlain,
    MulPlain,
    AddConst,
    MulConst,
    Mul,
    Relin,
    Rescale,
    LevelDown,
    Rotate,
    Conjugate,
    Bootstrap,
    ModRaise,
}

impl OpName {
    pub const ALL: [OpName; 16] = [
        OpName::Input,
        OpName::Output,
        OpName::Add,
        OpName::Sub,
        OpName::AddPlain,
        OpName::MulPlain,
        OpName::AddConst,
        OpName::MulConst,
        OpName::Mul,
        OpName::Relin,
        OpName::Rescale,
        OpName::LevelDown,
        OpName::Rotate,
        OpName::Conjugate,
        OpName::Bootstrap,
        OpName::ModRaise,
    ];

    /// The snake_case name used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            OpName::Input => "input",
            OpName::Output => "output",
            OpName::Add => "add",
            OpName::Sub => "sub",
            OpName::AddPlain => "add_plain",
            OpName::MulPlain => "mul_plain",
            OpName::AddConst => "add_const",
            OpName::MulConst => "mul_const",
            OpName::Mul => "mul",
            OpName::Relin => "relin",
            OpName::Rescale => "rescale",
            OpName::LevelDown => "level_down",
            OpName::Rotate => "rotate",
            OpName::Conjugate => "conjugate",
            OpName::Bootstrap => "bootstrap",
            OpName::ModRaise => "mod_raise",
        }
    }

    /// Number of ciphertext operands.
    pub fn arity(self) -> usize {
        match self {
            OpName::Input => 0,
            OpName::Add | OpName::Sub | OpName::Mul => 2,
            _ => 1,
        }
    }

    /// Whether the op performs a key switch (and so needs an evaluation key).
    pub fn is_key_switch(self) -> bool {
        matches!(self, OpName::Relin | OpName::Rotate | OpName::Conjugate)
    }
}

impl std::fmt::Display for OpName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OpKind {
    pub fn name(&self) -> OpName {
        match self {
            OpKind::Input => OpName::Input,
            OpKind::Output => OpName::Output,
            OpKind::Add => OpName::Add,
            OpKind::Sub => OpName::Sub,
            OpKind::AddPlain { .. } => OpName::AddPlain,
            OpKind::MulPlain { .. } => OpName::MulPlain,
            OpKind::AddConst => OpName::AddConst,
            OpKind::MulConst => OpName::MulConst,
            OpKind::Mul => OpName::Mul,
            OpKind::Relin => OpName::Relin,
            OpKind::Rescale => OpName::Rescale,
            OpKind::LevelDown => OpName::LevelDown,
            OpKind::Rotate { .. } => OpName::Rotate,
            OpKind::Conjugate { .. } => OpName::Conjugate,
            OpKind::Bootstrap(_) => OpName::Bootstrap,
            OpKind::ModRaise => OpName::ModRaise,
        }
    }
}

/// One SSA op: defines value `id` at `level` from `args`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub id: ValueId,
    pub kind: OpKind,
    /// Ciphertext operands (their count is fixed by the kind).
    pub args: Vec<ValueId>,
    /// Active limbs of the result.
    pub level: u32,
    /// The network layer this op belongs to (shared, so per-op copies are cheap).
    pub layer: Arc<str>,
}

impl Op {
    pub fn new(id: ValueId, kind: OpKind, args: Vec<ValueId>, level: u32, layer: Arc<str>) -> Self {
        Self {
            id,
            kind,
            args,
            level,
            layer,
        }
    }
}

/// The wire shape of one non-header line: flat, every attribute optional, so that a missing or
/// misplaced attribute becomes a precise [`Violation`] instead of a generic serde message.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireLine<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<OpName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    pub layer: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain: Option<PlainRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hoist: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BootstrapParams>,
    /// Only on the end record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EndRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndRecord {
    pub ops: u64,
}

impl<'a> WireLine<'a> {
    pub(crate) fn from_op(op: &'a Op) -> Self {
        let mut w = WireLine {
            id: Some(op.id),
            op: Some(op.kind.name()),
            args: Some(op.args.clone()),
            level: Some(op.level),
            layer: Some(std::borrow::Cow::Borrowed(&op.layer)),
            ..WireLine::default()
        };
        match &op.kind {
            OpKind::AddPlain { plain } | OpKind::MulPlain { plain } => w.plain = Some(*plain),
            OpKind::Rotate { step, hoist } => {
                w.step = Some(*step);
                w.hoist = *hoist;
            }
            OpKind::Conjugate { hoist } => w.hoist = *hoist,
            OpKind::Bootstrap(p) => w.boot = Some(*p),
            _ => {}
        }
        w
    }

    /// Turns an op line into an [`Op`]; `layer` is the interned layer name.
    pub(crate) fn into_op(self, line: u64, name: OpName, layer: Arc<str>) -> Result<Op, Violation> {
        let schema = |msg: String| Violation::new(line, Rule::Schema, msg);
        let id = self
            .id
            .ok_or_else(|| schema(format!("`{name}` op has no `id`")))?;
        let level = self
            .level
            .ok_or_else(|| schema(format!("op {id} has no `level`")))?;
        let args = self.args.unwrap_or_default();
        let attr = |present: bool, attr: &str| -> Result<(), Violation> {
            if present {
                Err(schema(format!(
                    "op {id}: `{attr}` is not an attribute of `{name}`"
                )))
            } else {
                Ok(())
            }
        };
        attr(self.end.is_some(), "end")?;
        if !matches!(name, OpName::AddPlain | OpName::MulPlain) {
            attr(self.plain.is_some(), "plain")?;
        }
        if name != OpName::Rotate {
            attr(self.step.is_some(), "step")?;
        }
        if !matches!(name, OpName::Rotate | OpName::Conjugate) {
            attr(self.hoist.is_some(), "hoist")?;
        }
        if name != OpName::Bootstrap {
            attr(self.boot.is_some(), "boot")?;
        }
        let need_plain = || {
            self.plain.ok_or_else(|| {
                schema(format!(
                    "op {id}: `{name}` needs `plain: {{\"id\": P, \"level\": L}}`"
                ))
            })
        };
        let kind =
            match name {
                OpName::Input => OpKind::Input,
                OpName::Output => OpKind::Output,
                OpName::Add => OpKind::Add,
                OpName::Sub => OpKind::Sub,
                OpName::AddPlain => OpKind::AddPlain {
                    plain: need_plain()?,
                },
                OpName::MulPlain => OpKind::MulPlain {
                    plain: need_plain()?,
                },
                OpName::AddConst => OpKind::AddConst,
                OpName::MulConst => OpKind::MulConst,
                OpName::Mul => OpKind::Mul,
                OpName::Relin => OpKind::Relin,
                OpName::Rescale => OpKind::Rescale,
                OpName::LevelDown => OpKind::LevelDown,
                OpName::Rotate => OpKind::Rotate {
                    step: self
                        .step
                        .ok_or_else(|| schema(format!("op {id}: `rotate` needs `step`")))?,
                    hoist: self.hoist,
                },
                OpName::Conjugate => OpKind::Conjugate { hoist: self.hoist },
                OpName::Bootstrap => OpKind::Bootstrap(self.boot.ok_or_else(|| {
                    schema(format!("op {id}: `bootstrap` needs `boot` parameters"))
                })?),
                OpName::ModRaise => OpKind::ModRaise,
            };
        Ok(Op {
            id,
            kind,
            args,
            level,
            layer,
        })
    }
}

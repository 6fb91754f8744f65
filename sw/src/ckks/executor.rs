//! Runs the ops of an HE-op trace on real ciphertexts.
//!
//! The trace carries no payloads: plaintext operands are referenced by id and constants by the
//! id of the op that uses them, and the caller supplies both through [`Payloads`].
//!
//! [`execute`] runs the ops in order and returns the values marked `output`.
//!
//! **Scales.** Every value stays on the canonical schedule of [`Context::scale_at`]: inputs
//! are expected at Δ_ℓ of their level, `mul_plain` / `mul_const` operands are encoded at Δ_ℓ so
//! that the following `rescale` lands on Δ_{ℓ−1} exactly (as a ct×ct product does),
//! `add_plain` / `add_const` operands at the ciphertext's current scale, and `level_down`
//! moves to the target level's canonical scale ([`Evaluator::level_down`]).
//!
//! **Memory.** A value is dropped right after its last use. Rotations sharing a `hoist` group
//! and a source are computed together with one ModUp ([`Evaluator::rotate_hoisted`]).

use std::collections::HashMap;

use std::time::Duration;

use cpu_time::ThreadTime;

use hesim_traces::{Op, OpKind, ValueId};
use num_complex::Complex64;

use super::bootstrap::Bootstrappers;
use super::evaluator::Automorphism;
use super::{Ciphertext, CkksError, Context, Evaluator, Plaintext};

/// The plaintext data a trace refers to.
pub trait Payloads {
    /// Real slot values of plaintext `id` (length ≤ slots). The executor encodes them at the
    /// op's level and at the scale that keeps the computation on the canonical scale schedule.
    fn plaintext(&self, id: u32) -> &[f64];
    /// The scalar of the `add_const` / `mul_const` op whose result id is `op`.
    fn constant(&self, op: ValueId) -> f64;
    /// Plaintext `id` already encoded for a `mul_plain` at `level`, if the caller keeps one: a
    /// program's plaintexts are the same for every input, and encoding them is about a sixth
    /// of an inference. Used only if its level and scale are the ones the executor would
    /// encode at (`level`, [`Context::scale_at`]). Default: none.
    fn encoded(&self, _id: u32, _level: usize) -> Option<&Plaintext> {
        None
    }
    /// Complex slot values of plaintext `id`, for payloads that are not real (the DFT
    /// diagonals of a bootstrap); used instead of [`Payloads::plaintext`] when present. The
    /// slot count is the context's (values beyond the given ones are zero). Default: none.
    fn complex_plaintext(&self, _id: u32) -> Option<Vec<Complex64>> {
        None
    }
    /// The power k of i that the result of op `op` is multiplied by after the op (the
    /// monomial X^(k·N/2): no key switch, no level, so traces do not carry it as an op; the
    /// real/imaginary split of a bootstrap needs it). Default: 0.
    fn imaginary_power(&self, _op: ValueId) -> u32 {
        0
    }
}

/// [`Payloads`] held in hash maps (tests, small programs).
#[derive(Clone, Debug, Default)]
pub struct MapPayloads {
    pub plaintexts: HashMap<u32, Vec<f64>>,
    pub constants: HashMap<ValueId, f64>,
}

impl Payloads for MapPayloads {
    /// Panics if the plaintext is missing: a program referencing an unknown payload is a bug of
    /// the program builder, not an input error.
    fn plaintext(&self, id: u32) -> &[f64] {
        self.plaintexts
            .get(&id)
            .unwrap_or_else(|| panic!("no payload for plaintext {id}"))
    }

    fn constant(&self, op: ValueId) -> f64 {
        *self
            .constants
            .get(&op)
            .unwrap_or_else(|| panic!("no constant for op {op}"))
    }
}

/// Runs `ops` (a trace's op sequence) on real ciphertexts.
///
/// `inputs` maps the id of each `input` op to its ciphertext (at the op's level and canonical
/// scale). Returns, for each `output` op, its id → the ciphertext it marks. Every op's level is
/// checked against the trace. An expanded bootstrap (`mod_raise` and the rest) runs here; a
/// single `bootstrap` op needs keys: [`execute_with_bootstraps`] (here it is a typed error).
pub fn execute<'a>(
    eval: &Evaluator,
    ops: impl IntoIterator<Item = &'a Op>,
    inputs: HashMap<ValueId, Ciphertext>,
    payloads: &dyn Payloads,
) -> Result<HashMap<ValueId, Ciphertext>, CkksError> {
    run(eval, ops, inputs, payloads, None, &mut Vec::new())
}

/// The profile entry of [`execute_with_bootstraps`] that adds up every `bootstrap` op.
pub const BOOTSTRAP_LAYER: &str = "bootstrap";

/// [`execute`] for traces with `bootstrap` ops: each is run by the bootstrapper for its
/// parameters (the shared expansion of `hesim_traces::bootstrap`, executed op by op with its
/// own keys) and brought down to the op's level. Adds each op's thread CPU time to `profile`
/// under its layer, as [`execute_profiled`], except the bootstraps' which go to
/// [`BOOTSTRAP_LAYER`].
pub fn execute_with_bootstraps<'a>(
    eval: &Evaluator,
    ops: impl IntoIterator<Item = &'a Op>,
    inputs: HashMap<ValueId, Ciphertext>,
    payloads: &dyn Payloads,
    bootstrappers: &Bootstrappers,
    profile: &mut Vec<(String, Duration)>,
) -> Result<HashMap<ValueId, Ciphertext>, CkksError> {
    run(eval, ops, inputs, payloads, Some(bootstrappers), profile)
}

/// [`execute`], adding each op's CPU time on this thread to `profile` under the op's layer (in
/// first-seen layer order): thread CPU time, because the machines this runs on are shared and
/// the executor is single-threaded.
pub fn execute_profiled<'a>(
    eval: &Evaluator,
    ops: impl IntoIterator<Item = &'a Op>,
    inputs: HashMap<ValueId, Ciphertext>,
    payloads: &dyn Payloads,
    profile: &mut Vec<(String, Duration)>,
) -> Result<HashMap<ValueId, Ciphertext>, CkksError> {
    run(eval, ops, inputs, payloads, None, profile)
}

fn run<'a>(
    eval: &Evaluator,
    ops: impl IntoIterator<Item = &'a Op>,
    mut inputs: HashMap<ValueId, Ciphertext>,
    payloads: &dyn Payloads,
    bootstrappers: Option<&Bootstrappers>,
    profile: &mut Vec<(String, Duration)>,
) -> Result<HashMap<ValueId, Ciphertext>, CkksError> {
    let ops: Vec<&Op> = ops.into_iter().collect();
    let ctx: &Context = eval.context();
    let mut last_use: HashMap<ValueId, usize> = HashMap::new();
    // Hoist groups: (group, source) → the rotations in it, in program order.
    let mut groups: HashMap<(u32, ValueId), Vec<(ValueId, Automorphism)>> = HashMap::new();
    for (index, op) in ops.iter().enumerate() {
        for &arg in &op.args {
            last_use.insert(arg, index);
        }
        let source = op.args.first().copied();
        match (&op.kind, source) {
            (
                OpKind::Rotate {
                    step,
                    hoist: Some(h),
                },
                Some(src),
            ) => {
                groups
                    .entry((*h, src))
                    .or_default()
                    .push((op.id, Automorphism::Rotate(i64::from(*step))));
            }
            (OpKind::Conjugate { hoist: Some(h) }, Some(src)) => {
                groups
                    .entry((*h, src))
                    .or_default()
                    .push((op.id, Automorphism::Conjugate));
            }
            _ => {}
        }
    }
    let mut values: HashMap<ValueId, Ciphertext> = HashMap::new();
    let mut hoisted: HashMap<ValueId, Ciphertext> = HashMap::new();
    let mut outputs = HashMap::new();
    for (index, op) in ops.iter().enumerate() {
        let started = ThreadTime::now();
        let name = op.kind.name();
        if op.args.len() != name.arity() {
            return Err(CkksError::Arity {
                id: op.id,
                op: name,
                expected: name.arity(),
                found: op.args.len(),
            });
        }
        // Ops with an in-place form consume their first operand when this is its last use
        // (and it is not also the second operand), instead of copying it.
        let in_place = matches!(
            op.kind,
            OpKind::Add
                | OpKind::Sub
                | OpKind::AddPlain { .. }
                | OpKind::MulPlain { .. }
                | OpKind::AddConst
                | OpKind::MulConst
                | OpKind::Rescale
        );
        let mut first: Option<Ciphertext> = None;
        if in_place {
            let id = op.args[0];
            let dead = last_use.get(&id) == Some(&index) && !op.args[1..].contains(&id);
            let taken = if dead {
                values.remove(&id)
            } else {
                values.get(&id).cloned()
            };
            first = Some(taken.ok_or(CkksError::UndefinedValue {
                id: op.id,
                operand: id,
            })?);
        }
        let arg = |i: usize| -> Result<&Ciphertext, CkksError> {
            values.get(&op.args[i]).ok_or(CkksError::UndefinedValue {
                id: op.id,
                operand: op.args[i],
            })
        };
        let mut owned = || first.take().expect("in-place ops took their first operand");
        let result = match &op.kind {
            OpKind::Input => inputs
                .remove(&op.id)
                .ok_or(CkksError::MissingInput { id: op.id })?,
            OpKind::Output => {
                outputs.insert(op.id, arg(0)?.clone());
                free_dead(&mut values, &last_use, op, index);
                continue;
            }
            OpKind::Add => {
                let mut ct = owned();
                eval.add_assign(&mut ct, arg(1)?)?;
                ct
            }
            OpKind::Sub => {
                let mut ct = owned();
                eval.sub_assign(&mut ct, arg(1)?)?;
                ct
            }
            OpKind::AddPlain { plain } => {
                let mut ct = owned();
                let pt = encode_payload(ctx, payloads, plain.id, ct.level(), ct.scale())?;
                eval.add_plain_assign(&mut ct, &pt)?;
                ct
            }
            OpKind::MulPlain { plain } => {
                let mut ct = owned();
                let (level, scale) = (ct.level(), ctx.scale_at(ct.level()));
                let fresh;
                let pt = match payloads.encoded(plain.id, level) {
                    Some(pt) if pt.level() == level && pt.scale() == scale => pt,
                    _ => {
                        fresh = encode_payload(ctx, payloads, plain.id, level, scale)?;
                        &fresh
                    }
                };
                eval.mul_plain_assign(&mut ct, pt)?;
                ct
            }
            OpKind::AddConst => {
                let mut ct = owned();
                eval.add_const_assign(&mut ct, payloads.constant(op.id))?;
                ct
            }
            OpKind::MulConst => {
                let mut ct = owned();
                let scale = ctx.scale_at(ct.level());
                eval.mul_const_assign(&mut ct, payloads.constant(op.id), scale)?;
                ct
            }
            OpKind::Mul => eval.mul(arg(0)?, arg(1)?)?,
            OpKind::Relin => eval.relinearize(arg(0)?)?,
            OpKind::Rescale => {
                let mut ct = owned();
                eval.rescale_assign(&mut ct)?;
                snap_to_canonical(ctx, &mut ct);
                ct
            }
            OpKind::LevelDown => eval.level_down(arg(0)?, op.level as usize)?,
            OpKind::ModRaise => eval.mod_raise(arg(0)?, op.level as usize)?,
            OpKind::Rotate { hoist: Some(h), .. } | OpKind::Conjugate { hoist: Some(h) } => {
                if let Some(done) = hoisted.remove(&op.id) {
                    done
                } else {
                    let members = &groups[&(*h, op.args[0])];
                    let kinds: Vec<Automorphism> = members.iter().map(|m| m.1).collect();
                    let mut results = eval.automorphisms(arg(0)?, &kinds)?;
                    // Members are in program order and this is the first one.
                    let own = results.remove(0);
                    for ((id, _), ct) in members[1..].iter().zip(results) {
                        hoisted.insert(*id, ct);
                    }
                    own
                }
            }
            OpKind::Rotate { step, hoist: None } => eval.rotate(arg(0)?, i64::from(*step))?,
            OpKind::Conjugate { hoist: None } => eval.conjugate(arg(0)?)?,
            OpKind::Bootstrap(params) => {
                let boot = bootstrappers
                    .and_then(|b| b.get(params))
                    .ok_or(CkksError::MissingBootstrapKeys { id: op.id })?;
                let (refreshed, _) = boot.bootstrap(arg(0)?)?;
                if refreshed.level() < op.level as usize {
                    return Err(CkksError::TraceLevel {
                        id: op.id,
                        op: name,
                        expected: op.level,
                        found: refreshed.level(),
                    });
                }
                eval.level_down(&refreshed, op.level as usize)?
            }
            _ => {
                return Err(CkksError::UnsupportedOp {
                    id: op.id,
                    op: name,
                });
            }
        };
        if result.level() != op.level as usize {
            return Err(CkksError::TraceLevel {
                id: op.id,
                op: name,
                expected: op.level,
                found: result.level(),
            });
        }
        let mut result = result;
        eval.mul_imaginary_unit_assign(&mut result, payloads.imaginary_power(op.id));
        free_dead(&mut values, &last_use, op, index);
        if last_use.contains_key(&op.id) {
            values.insert(op.id, result);
        }
        let elapsed = started.elapsed();
        let layer = match op.kind {
            OpKind::Bootstrap(_) => BOOTSTRAP_LAYER,
            _ => &op.layer,
        };
        match profile.iter_mut().find(|(l, _)| l == layer) {
            Some((_, total)) => *total += elapsed,
            None => profile.push((layer.to_string(), elapsed)),
        }
    }
    Ok(outputs)
}

/// Relative distance from its level's canonical scale below which a rescaled value is put on
/// it. A ct × ct product squares its operands' relative scale error, so the rounding of the
/// scale's f64 bookkeeping (one ulp per op) doubles with every level of a deep polynomial and
/// would reach the evaluator's 2^−40 match tolerance after ≈ 12 levels (Lee et al.'s depth-14
/// AppReLU), while the message it describes is off by far less than the CKKS noise.
const CANONICAL_SNAP: f64 = 1.0 / (1u64 << 30) as f64;

/// Labels `ct` with the canonical scale of its level when it is within [`CANONICAL_SNAP`] of it.
fn snap_to_canonical(ctx: &Context, ct: &mut Ciphertext) {
    let canonical = ctx.scale_at(ct.level);
    if (ct.scale - canonical).abs() <= canonical * CANONICAL_SNAP {
        ct.scale = canonical;
    }
}

/// Encodes plaintext `id` (complex payload if the provider has one, else real) at `level` and
/// `scale`.
fn encode_payload(
    ctx: &Context,
    payloads: &dyn Payloads,
    id: u32,
    level: usize,
    scale: f64,
) -> Result<Plaintext, CkksError> {
    match payloads.complex_plaintext(id) {
        Some(values) => ctx.encode(&values, level, scale),
        None => ctx.encode_real(payloads.plaintext(id), level, scale),
    }
}

/// Drops the operands of `op` whose last use it is.
fn free_dead(
    values: &mut HashMap<ValueId, Ciphertext>,
    last_use: &HashMap<ValueId, usize>,
    op: &Op,
    index: usize,
) {
    for arg in &op.args {
        if last_use.get(arg) == Some(&index) {
            values.remove(arg);
        }
    }
}

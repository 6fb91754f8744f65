use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{Rule, TraceError, Violation};
use crate::header::Header;
use crate::op::{Op, OpKind, OpName, ValueId};
use crate::reader::TraceReader;
use crate::values::ValueTable;

/// Violations kept in full; past this only the count grows (a broken generator can produce
/// millions and the first ones are the useful ones).
const MAX_KEPT_VIOLATIONS: usize = 1000;

/// Op counts of one layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    pub layer: String,
    pub ops: u64,
    pub by_kind: BTreeMap<OpName, u64>,
    pub key_switches: u64,
}

/// What a trace asks of an evaluator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceStats {
    pub ops: u64,
    pub by_kind: BTreeMap<OpName, u64>,
    /// Layers in order of first appearance.
    pub by_layer: Vec<LayerStats>,
    /// Ops by the level (active limbs) of their result.
    pub by_level: BTreeMap<u32, u64>,
    /// relin + rotate + conjugate: each needs a key switch.
    pub key_switches: u64,
    /// Distinct hoist groups (one shared ModUp each).
    pub hoist_groups: u64,
    /// Rotations that belong to a hoist group.
    pub hoisted_rotations: u64,
    /// Distinct rotation steps: one Galois key each.
    pub rotation_steps: BTreeSet<i32>,
    /// Galois keys needed: the distinct steps, plus one if any conjugation.
    pub galois_keys: u64,
    /// Levels consumed on the longest dependency path (rescales since the last input or
    /// bootstrap).
    pub depth: u32,
}

impl TraceStats {
    pub fn count(&self, kind: OpName) -> u64 {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }
}

/// The result of one pass over a trace.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub header: Header,
    pub stats: TraceStats,
    /// The first violations found (at most a thousand are kept).
    pub violations: Vec<Violation>,
    /// All violations, including those not kept.
    pub violation_count: u64,
}

impl Analysis {
    pub fn is_valid(&self) -> bool {
        self.violation_count == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Value {
    level: u32,
    /// Polynomials in the ciphertext: 2 normally, 3 after `mul` until `relin`.
    size: u8,
    output: bool,
    depth: u32,
}

/// Validates ops one at a time and gathers their stats: the streaming core of [`analyze`],
/// usable by producers that hold ops in memory.
#[derive(Debug)]
pub struct Analyzer {
    header: Header,
    values: ValueTable<Value>,
    hoist_sources: FxHashMap<u32, ValueId>,
    layer_index: FxHashMap<Arc<str>, usize>,
    last_layer: Option<(Arc<str>, usize)>,
    stats: TraceStats,
    /// Hot-path counters, folded into `stats` by `finish`.
    kind_counts: [u64; OpName::ALL.len()],
    level_counts: Vec<u64>,
    layer_kind_counts: Vec<[u64; OpName::ALL.len()]>,
    conjugates: bool,
    violations: Vec<Violation>,
    violation_count: u64,
}

impl Analyzer {
    pub fn new(header: Header) -> Self {
        Self {
            level_counts: vec![0; header.max_level() as usize + 1],
            header,
            values: ValueTable::default(),
            hoist_sources: FxHashMap::default(),
            layer_index: FxHashMap::default(),
            last_layer: None,
            stats: TraceStats::default(),
            kind_counts: [0; OpName::ALL.len()],
            layer_kind_counts: Vec::new(),
            conjugates: false,
            violations: Vec::new(),
            violation_count: 0,
        }
    }

    /// Records a violation found outside the analyzer (e.g. a line that did not parse).
    pub fn report(&mut self, v: Violation) {
        self.violation_count += 1;
        if self.violations.len() < MAX_KEPT_VIOLATIONS {
            self.violations.push(v);
        }
    }

    /// Violations found so far (a caller can stop using ops once this grows).
    pub fn violation_count(&self) -> u64 {
        self.violation_count
    }

    /// Checks one op read at `line` and adds it to the stats.
    pub fn check(&mut self, line: u64, op: &Op) {
        self.count(op);
        let name = op.kind.name();
        let bad = |rule: Rule, msg: String| Violation::new(line, rule, msg);
        let mut found: Vec<Violation> = Vec::new();

        if op.level == 0 || op.level > self.header.max_level() {
            found.push(bad(
                Rule::LevelRange,
                format!(
                    "op {} ({name}) is at level {}, outside 1..={} (the chain has {} primes)",
                    op.id,
                    op.level,
                    self.header.max_level(),
                    self.header.max_level()
                ),
            ));
        }
        if (name.is_key_switch() || name == OpName::Bootstrap) && self.header.p_bits.is_empty() {
            found.push(bad(
                Rule::KeySwitchPrimes,
                format!(
                    "op {} ({name}) needs a key switch but the header lists no special primes \
                     (p_bits)",
                    op.id
                ),
            ));
        }

        let mut operands: Vec<Value> = Vec::with_capacity(2);
        if op.args.len() != name.arity() {
            found.push(bad(
                Rule::Arity,
                format!(
                    "op {} ({name}) takes {} operand(s), got {}",
                    op.id,
                    name.arity(),
                    op.args.len()
                ),
            ));
        } else {
            for &arg in &op.args {
                match self.values.get(arg) {
                    None => found.push(bad(
                        Rule::UseBeforeDefine,
                        format!(
                            "op {} ({name}) uses value {arg}, which no earlier line defines",
                            op.id
                        ),
                    )),
                    Some(v) if v.output => found.push(bad(
                        Rule::OutputUse,
                        format!("op {} ({name}) uses value {arg}, which is an output", op.id),
                    )),
                    Some(v) => operands.push(*v),
                }
            }
        }

        let mut result = Value {
            level: op.level,
            size: 2,
            output: false,
            depth: 0,
        };
        if operands.len() == name.arity() {
            result.depth = operands.iter().map(|v| v.depth).max().unwrap_or(0);
            result.size = operands.iter().map(|v| v.size).max().unwrap_or(2);
            self.check_kind(line, op, &operands, &mut result, &mut found);
        }
        self.stats.depth = self.stats.depth.max(result.depth);

        if self.values.contains(op.id) {
            found.push(bad(
                Rule::DuplicateId,
                format!("id {} is defined twice; SSA ids must be unique", op.id),
            ));
        } else {
            self.values.insert(op.id, result, self.stats.ops);
        }
        for v in found {
            self.report(v);
        }
    }

    fn check_kind(
        &mut self,
        line: u64,
        op: &Op,
        operands: &[Value],
        result: &mut Value,
        found: &mut Vec<Violation>,
    ) {
        let name = op.kind.name();
        let bad = |rule: Rule, msg: String| Violation::new(line, rule, msg);
        let same_level = |found: &mut Vec<Violation>| {
            for (arg, v) in op.args.iter().zip(operands) {
                if v.level != op.level {
                    found.push(bad(
                        Rule::LevelMismatch,
                        format!(
                            "op {} ({name}) is at level {} but operand {arg} is at level {}; \
                             bring them to one level with level_down first",
                            op.id, op.level, v.level
                        ),
                    ));
                }
            }
        };
        let needs_size2 = |found: &mut Vec<Violation>| {
            for (arg, v) in op.args.iter().zip(operands) {
                if v.size != 2 {
                    found.push(bad(
                        Rule::CiphertextSize,
                        format!(
                            "op {} ({name}) needs a relinearised ciphertext but operand {arg} \
                             is the unrelinearised product of a mul; relin it first",
                            op.id
                        ),
                    ));
                }
            }
        };
        let hoist = |this: &mut Self, group: Option<u32>, found: &mut Vec<Violation>| {
            if let Some(g) = group {
                this.stats.hoisted_rotations += 1;
                let source = op.args[0];
                match this.hoist_sources.get(&g) {
                    None => {
                        this.hoist_sources.insert(g, source);
                        this.stats.hoist_groups += 1;
                    }
                    Some(&s) if s != source => found.push(bad(
                        Rule::HoistGroup,
                        format!(
                            "op {} rotates value {source} in hoist group {g}, which hoists \
                             value {s}; a hoist group shares one source",
                            op.id
                        ),
                    )),
                    Some(_) => {}
                }
            }
        };
        match &op.kind {
            OpKind::Input => {}
            OpKind::Output => {
                same_level(found);
                needs_size2(found);
                result.output = true;
            }
            OpKind::Add | OpKind::Sub | OpKind::AddConst | OpKind::MulConst => same_level(found),
            OpKind::AddPlain { plain } | OpKind::MulPlain { plain } => {
                same_level(found);
                if plain.level != op.level {
                    found.push(bad(
                        Rule::LevelMismatch,
                        format!(
                            "op {} ({name}) is at level {} but plaintext {} is encoded at \
                             level {}; encode it at the ciphertext's level",
                            op.id, op.level, plain.id, plain.level
                        ),
                    ));
                }
            }
            OpKind::Mul => {
                same_level(found);
                needs_size2(found);
                result.size = 3;
            }
            OpKind::Relin => {
                same_level(found);
                if operands[0].size != 3 {
                    found.push(bad(
                        Rule::CiphertextSize,
                        format!(
                            "op {} relinearises value {}, which is not the product of a mul",
                            op.id, op.args[0]
                        ),
                    ));
                }
                result.size = 2;
            }
            OpKind::Rescale => {
                let from = operands[0].level;
                if from <= 1 {
                    found.push(bad(
                        Rule::LevelDrop,
                        format!(
                            "op {} rescales value {} at level {from}: no limb left to drop \
                             (out of levels: bootstrap first or use a longer chain)",
                            op.id, op.args[0]
                        ),
                    ));
                } else if op.level.checked_add(1) != Some(from) {
                    found.push(bad(
                        Rule::LevelDrop,
                        format!(
                            "op {} rescales level {from} to level {}; a rescale drops exactly \
                             one limb (to {})",
                            op.id,
                            op.level,
                            from - 1
                        ),
                    ));
                }
                result.depth += 1;
            }
            OpKind::LevelDown => {
                if op.level >= operands[0].level {
                    found.push(bad(
                        Rule::LevelDrop,
                        format!(
                            "op {} level_down from level {} to {} drops no limb",
                            op.id, operands[0].level, op.level
                        ),
                    ));
                }
            }
            OpKind::Rotate { step, hoist: group } => {
                same_level(found);
                needs_size2(found);
                let slots = self.header.slots;
                if *step == 0 || step.unsigned_abs() as u64 >= slots {
                    found.push(bad(
                        Rule::RotationRange,
                        format!(
                            "op {} rotates by {step}; steps must be non-zero and within \
                             (-{slots}, {slots}) for {slots} slots",
                            op.id
                        ),
                    ));
                }
                self.stats.rotation_steps.insert(*step);
                hoist(self, *group, found);
            }
            OpKind::Conjugate { hoist: group } => {
                same_level(found);
                needs_size2(found);
                self.conjugates = true;
                hoist(self, *group, found);
            }
            OpKind::ModRaise => {
                needs_size2(found);
                if op.level <= operands[0].level {
                    found.push(bad(
                        Rule::LevelDrop,
                        format!(
                            "op {} mod_raise from level {} to {} raises no limb; it must go up",
                            op.id, operands[0].level, op.level
                        ),
                    ));
                }
                result.depth = 0;
            }
            OpKind::Bootstrap(p) => {
                needs_size2(found);
                if let Err(e) = p.check(&self.header, op.level) {
                    found.push(bad(
                        Rule::BootstrapParams,
                        format!("op {} bootstraps to level {}: {e}", op.id, op.level),
                    ));
                }
                result.depth = 0;
            }
        }
    }

    fn count(&mut self, op: &Op) {
        let name = op.kind.name();
        let s = &mut self.stats;
        s.ops += 1;
        self.kind_counts[name as usize] += 1;
        // Levels beyond the chain are violations; they are counted in a map so that a huge
        // level cannot size the vector.
        match self.level_counts.get_mut(op.level as usize) {
            Some(n) => *n += 1,
            None => *s.by_level.entry(op.level).or_insert(0) += 1,
        }
        let ks = u64::from(name.is_key_switch());
        s.key_switches += ks;
        let idx = match &self.last_layer {
            Some((l, i)) if Arc::ptr_eq(l, &op.layer) || **l == *op.layer => *i,
            _ => {
                let next = s.by_layer.len();
                let i = *self.layer_index.entry(op.layer.clone()).or_insert(next);
                if i == next {
                    s.by_layer.push(LayerStats {
                        layer: op.layer.to_string(),
                        ..Default::default()
                    });
                    self.layer_kind_counts.push([0; OpName::ALL.len()]);
                }
                self.last_layer = Some((op.layer.clone(), i));
                i
            }
        };
        let layer = &mut s.by_layer[idx];
        layer.ops += 1;
        layer.key_switches += ks;
        self.layer_kind_counts[idx][name as usize] += 1;
    }

    pub fn finish(mut self) -> Analysis {
        let nonzero = |counts: &[u64; OpName::ALL.len()]| -> BTreeMap<OpName, u64> {
            OpName::ALL
                .into_iter()
                .zip(*counts)
                .filter(|&(_, n)| n > 0)
                .collect()
        };
        self.stats.by_kind = nonzero(&self.kind_counts);
        for (layer, counts) in self.stats.by_layer.iter_mut().zip(&self.layer_kind_counts) {
            layer.by_kind = nonzero(counts);
        }
        self.stats.by_level.extend(
            (0u32..)
                .zip(&self.level_counts)
                .filter(|&(_, &n)| n > 0)
                .map(|(l, &n)| (l, n)),
        );
        self.stats.galois_keys =
            self.stats.rotation_steps.len() as u64 + u64::from(self.conjugates);
        Analysis {
            header: self.header,
            stats: self.stats,
            violations: self.violations,
            violation_count: self.violation_count,
        }
    }
}

/// Reads a whole trace once, validating every op and gathering its stats. Violations are
/// collected (not returned as `Err`); only I/O failures are errors.
pub fn analyze<R: BufRead>(mut reader: TraceReader<R>) -> Result<Analysis, TraceError> {
    let mut analyzer = Analyzer::new(reader.header().clone());
    while let Some(item) = reader.next() {
        match item {
            Ok(op) => analyzer.check(reader.line(), &op),
            Err(TraceError::Invalid(v)) => analyzer.report(v),
            Err(e) => return Err(e),
        }
    }
    Ok(analyzer.finish())
}

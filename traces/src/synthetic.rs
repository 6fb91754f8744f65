//! Valid traces built from arbitrary choices: for property tests (every choice sequence gives a
//! valid trace, so a proptest strategy over choices is a strategy over traces) and for
//! benchmarks that need large traces.

use std::sync::Arc;

use crate::header::Header;
use crate::op::{BootstrapParams, Hoisting, Op, OpKind, PlainRef, ValueId};

/// One step of the builder: which op to try, two operand picks, and a rotation step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub kind: u8,
    pub pick_a: u32,
    pub pick_b: u32,
    pub step: i32,
}

/// A header that every synthetic trace is valid under: N = 2^16, 2^15 slots, 24 36-bit limbs,
/// dnum 3.
pub fn header() -> Header {
    Header::new(
        16,
        1 << 15,
        vec![36; 24],
        vec![36; 8],
        3,
        36,
        "synthetic",
        "synthetic",
        "hesim-traces",
    )
}

#[derive(Clone, Copy)]
struct Live {
    id: ValueId,
    level: u32,
}

/// Builds a valid op sequence for [`header`]: each choice becomes one op (two for `mul`, which is
/// followed by its `relin`); choices that do not apply to the picked operand (a rescale at level
/// 1, ...) fall back to an `add_const`.
pub fn build(choices: impl IntoIterator<Item = Choice>) -> Vec<Op> {
    let header = header();
    let top = header.max_level();
    let slots = header.slots as i64;
    let boot = BootstrapParams {
        slots: header.slots,
        cts_levels: 3,
        stc_levels: 3,
        eval_mod_degree: 31,
        double_angle: 2,
        hoisting: Hoisting::Single,
        key_reuse: false,
        baby_step: 0,
        double_prime_scaling: false,
        eval_mod_range: crate::LEGACY_EVAL_MOD_RANGE,
    };
    let boot_level = top - boot.level_budget();
    let layers: Vec<Arc<str>> = (0..8).map(|i| Arc::from(format!("layer{i}"))).collect();
    let mut live: Vec<Live> = Vec::new();
    let mut ops = Vec::new();
    let mut next_id: ValueId = 0;
    let mut next_plain = 0u32;
    for (n, c) in choices.into_iter().enumerate() {
        let layer = layers[(n / 64) % layers.len()].clone();
        let mut push = |ops: &mut Vec<Op>, kind: OpKind, args: Vec<ValueId>, level: u32| {
            let id = next_id;
            next_id += 1;
            ops.push(Op::new(id, kind, args, level, layer.clone()));
            id
        };
        if live.is_empty() || c.kind % 16 == 15 {
            let id = push(&mut ops, OpKind::Input, vec![], top);
            live.push(Live { id, level: top });
            continue;
        }
        let ia = c.pick_a as usize % live.len();
        let x = live[ia];
        let peer = live
            .iter()
            .cycle()
            .skip(c.pick_b as usize % live.len())
            .take(live.len())
            .find(|v| v.level == x.level)
            .copied()
            .unwrap_or(x);
        let mut plain = |level| {
            next_plain += 1;
            PlainRef {
                id: next_plain,
                level,
            }
        };
        let (kind, args, level) = match c.kind % 16 {
            0 if live.len() > 1 => {
                push(&mut ops, OpKind::Output, vec![x.id], x.level);
                live.swap_remove(ia);
                continue;
            }
            1 => (OpKind::Add, vec![x.id, peer.id], x.level),
            2 => (OpKind::Sub, vec![x.id, peer.id], x.level),
            3 => (
                OpKind::AddPlain {
                    plain: plain(x.level),
                },
                vec![x.id],
                x.level,
            ),
            4 => (
                OpKind::MulPlain {
                    plain: plain(x.level),
                },
                vec![x.id],
                x.level,
            ),
            5 => (OpKind::MulConst, vec![x.id], x.level),
            6 => {
                let product = push(&mut ops, OpKind::Mul, vec![x.id, peer.id], x.level);
                (OpKind::Relin, vec![product], x.level)
            }
            7 | 8 if x.level >= 2 => (OpKind::Rescale, vec![x.id], x.level - 1),
            9 if x.level >= 2 => (
                OpKind::LevelDown,
                vec![x.id],
                x.level - 1 - c.pick_b % (x.level - 1),
            ),
            10..=12 => {
                let step = (i64::from(c.step) % slots) as i32;
                let step = if step == 0 { 1 } else { step };
                let hoist = (c.pick_b % 2 == 0).then_some(x.id);
                (OpKind::Rotate { step, hoist }, vec![x.id], x.level)
            }
            13 => (OpKind::Conjugate { hoist: None }, vec![x.id], x.level),
            14 if x.level < 4 => (OpKind::Bootstrap(boot), vec![x.id], boot_level),
            _ => (OpKind::AddConst, vec![x.id], x.level),
        };
        let id = push(&mut ops, kind, args, level);
        live.push(Live { id, level });
    }
    ops
}

/// A deterministic pseudo-random trace of about `n` ops (SplitMix64 choices), for benchmarks.
pub fn generate(n: usize, seed: u64) -> Vec<Op> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let choices = (0..n).map(|_| {
        let r = next();
        Choice {
            kind: r as u8,
            pick_a: (r >> 8) as u32 % 16,
            pick_b: (r >> 24) as u32,
            step: (r >> 40) as i32,
        }
    });
    build(choices)
}

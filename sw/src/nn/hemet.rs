//! HEMET's published per-layer numbers (Lou & Jiang, ICML 2021; `qianlou/HEMET`
//! `src/8_squeezenet.cpp` @2054ecb, read, not copied into hesim) and hesim's compiled
//! programs grouped into the same blocks, for the regression table of `hesim trace hemet`.
//!
//! HEMET's code is a latency estimator: per block it multiplies a measured SEAL op latency at
//! the block's level by the `Mul_number` / `Rot_number` arrays (thousands of ops). The levels
//! are the project figure's (`shared/docs/seed-related.md` §3.2).

use std::collections::HashMap;

use hesim_traces::{OpKind, ValueId};

use super::NnError;
use super::params::max_log_qp;
use super::program::Program;

/// One block of HEMET's table: its name and, for SqueezeNet-CIFAR (HEMET's `squeeze`) and for
/// HEMET's network (`remove_fire34`), the figure's level and the code's op counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Block {
    /// The baseline's block name and HEMET's where it differs.
    pub name: &'static str,
    pub baseline: Reference,
    pub hemet: Reference,
}

/// HEMET's numbers for one block of one network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reference {
    /// The levels the block runs at in the project figure (`"11–14"`).
    pub levels: &'static str,
    /// `Mul_number` × 1000 (plaintext multiplies).
    pub pmult: u64,
    /// `Rot_number` × 1000.
    pub rot: u64,
}

const fn r(levels: &'static str, pmult: u64, rot: u64) -> Reference {
    Reference { levels, pmult, rot }
}

/// HEMET's blocks. The code lists a Fire module as squeeze + expand (summed here) and the
/// final 1×1 conv and the global pooling separately (summed here: hesim writes them as global
/// pooling + one linear layer, the same function).
pub const BLOCKS: [Block; 8] = [
    Block {
        name: "Conv1",
        baseline: r("15", 1_728, 27),
        hemet: r("12", 1_728, 27),
    },
    Block {
        name: "Pool1",
        baseline: r("14", 256, 256),
        hemet: r("11", 256, 256),
    },
    Block {
        name: "Fire1",
        baseline: r("11–14", 2_048 + 20_470, 64 + 320),
        hemet: r("8–10", 2_048 + 20_470, 64 + 320),
    },
    Block {
        name: "Fire2",
        baseline: r("8–10", 2_048 + 20_470, 64 + 320),
        hemet: r("5–7", 2_048 + 20_470, 64 + 320),
    },
    Block {
        name: "Pool2",
        baseline: r("7", 256, 256),
        hemet: r("4", 256, 256),
    },
    Block {
        name: "Fire3 / Conv2",
        baseline: r("5–7", 2_048 + 40_960, 64 + 320),
        hemet: r("2–3", 73_000, 576),
    },
    Block {
        name: "Fire4 / Conv3",
        baseline: r("2–4", 4_096 + 40_960, 128 + 320),
        hemet: r("1", 90_000, 800),
    },
    Block {
        name: "Conv4 + Pool3",
        baseline: r("1", 2_560 + 1_280, 256 + 128),
        hemet: r("1", 2_560 + 1_280, 256 + 128),
    },
];

/// The block of [`BLOCKS`] a layer of `squeezenet-cifar` or `hemet` belongs to.
pub fn block_of(layer: &str) -> Option<usize> {
    Some(match layer {
        "conv1" | "act1" => 0,
        "pool1" => 1,
        "pool2" => 4,
        "conv2" | "act2" => 5,
        "conv3" | "act3" => 6,
        "pool" | "fc" => 7,
        l if l.starts_with("f1") => 2,
        l if l.starts_with("f2") => 3,
        l if l.starts_with("f3") => 5,
        l if l.starts_with("f4") => 6,
        _ => return None,
    })
}

/// hesim's numbers for one block of a compiled program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    pub pmult: u64,
    pub rot: u64,
    pub bootstraps: u64,
    /// Levels the block consumes on its longest path (bootstraps do not count as refreshing).
    pub levels: u32,
    /// Levels consumed from the program input to the block's entry.
    pub entry_depth: u32,
}

/// `program` (of `squeezenet-cifar` or `hemet`) grouped into [`BLOCKS`], and its total depth
/// as if it never bootstrapped: each value's depth is its operands' depth plus the levels its
/// op drops, a bootstrap passing its operand's depth on.
pub fn measure(program: &Program) -> (Vec<Measured>, u32) {
    let mut out = vec![Measured::default(); BLOCKS.len()];
    let mut level: HashMap<ValueId, u32> = HashMap::new();
    let mut depth: HashMap<ValueId, u32> = HashMap::new();
    let mut owner: HashMap<ValueId, Option<usize>> = HashMap::new();
    let mut entry: Vec<Option<u32>> = vec![None; BLOCKS.len()];
    let mut exit = vec![0u32; BLOCKS.len()];
    let mut total = 0;
    for op in &program.ops {
        let block = block_of(&op.layer);
        let d = match op.kind {
            OpKind::Bootstrap(_) => depth[&op.args[0]],
            _ => op
                .args
                .iter()
                .map(|a| depth[a] + level[a] - op.level)
                .max()
                .unwrap_or(0),
        };
        level.insert(op.id, op.level);
        depth.insert(op.id, d);
        owner.insert(op.id, block);
        total = total.max(d);
        let Some(b) = block else { continue };
        let m = &mut out[b];
        match op.kind {
            OpKind::MulPlain { .. } => m.pmult += 1,
            OpKind::Rotate { .. } => m.rot += 1,
            OpKind::Bootstrap(_) => m.bootstraps += 1,
            _ => {}
        }
        // operands from outside the block mark its entry
        for a in &op.args {
            if owner[a] != Some(b) {
                let e = entry[b].get_or_insert(depth[a]);
                *e = (*e).max(depth[a]);
            }
        }
        exit[b] = exit[b].max(d);
    }
    for (b, m) in out.iter_mut().enumerate() {
        m.entry_depth = entry[b].unwrap_or(0);
        m.levels = exit[b].saturating_sub(m.entry_depth);
    }
    (out, total)
}

/// One of the SEAL parameter sets in HEMET's code (all run with `sec_level_type::none`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    /// The function of `src/8_squeezenet.cpp` that uses it.
    pub name: &'static str,
    pub log_n: u32,
    /// Bit sizes of the coefficient modulus (SEAL's last prime is the special one).
    pub primes: &'static [u32],
}

impl Variant {
    pub fn log_qp(&self) -> u32 {
        self.primes.iter().sum()
    }

    /// Levels of the chain: the data primes but the last.
    pub fn levels(&self) -> u32 {
        self.primes.len() as u32 - 2
    }

    /// The HE standard's 128-bit bound on log QP at this ring degree.
    pub fn bound(&self) -> u32 {
        max_log_qp(self.log_n).unwrap_or(0)
    }

    pub fn is_secure(&self) -> bool {
        self.log_qp() <= self.bound()
    }

    /// Refuses a variant above the 128-bit bound unless `allow_insecure`.
    pub fn check(&self, allow_insecure: bool) -> Result<(), NnError> {
        if self.is_secure() || allow_insecure {
            return Ok(());
        }
        Err(NnError::Insecure {
            what: format!(
                "HEMET's `{}` parameters ({} primes, N = 2^{})",
                self.name,
                self.primes.len(),
                self.log_n
            ),
            log_n: self.log_n,
            log_qp: self.log_qp(),
            bound: self.bound(),
        })
    }
}

const P60: u32 = 60;

/// HEMET's parameter sets, in the order of its code.
pub const VARIANTS: [Variant; 7] = [
    Variant {
        name: "squeeze",
        log_n: 16,
        primes: &[P60; 17],
    },
    Variant {
        name: "remove_fire4",
        log_n: 15,
        primes: &[P60; 15],
    },
    Variant {
        name: "remove_fire34",
        log_n: 15,
        primes: &[P60; 14],
    },
    Variant {
        name: "remove_fire34_merge",
        log_n: 13,
        primes: &[P60; 12],
    },
    Variant {
        name: "remove_fire34_merge_eager",
        log_n: 13,
        primes: &[60, 60, 60, 60, 60, 60, 30, 60, 60, 60, 60, 60],
    },
    Variant {
        name: "remove_fire234",
        log_n: 15,
        primes: &[P60; 13],
    },
    Variant {
        name: "remove_fire1234",
        log_n: 13,
        primes: &[60, 60, 40, 60, 40, 60, 40, 60, 40, 60, 60, 60, 60],
    },
];

/// The variant called `name`.
pub fn variant(name: &str) -> Result<&'static Variant, NnError> {
    VARIANTS
        .iter()
        .find(|v| v.name == name)
        .ok_or_else(|| NnError::Option {
            message: format!(
                "unknown HEMET variant `{name}`: use one of {}",
                VARIANTS.map(|v| v.name).join(", ")
            ),
        })
}

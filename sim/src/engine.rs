//! The timing engine: list-schedules a [`LoweredProgram`]'s tasks on an [`Arch`]'s units.
//!
//! Model (each assumption is a choice a reader can disagree with; none is tuned to a number):
//! - **Units.** Each unit class (all NTT units of all clusters, all multipliers, ...) is one
//!   pipelined resource. A task's work on a class takes `work / throughput` cycles (limb-granular
//!   for NTT and automorphism units: ⌈limbs / units⌉ · cycles per limb). The class is then free
//!   for the next task: pipelining.
//! - **Chaining.** The phases of one task (ModUp NTTs, inner product, ModDown, ...) stream into
//!   each other (CraterLake's vector chaining, F1's decoupled pipelines), so a task lasts as long
//!   as its busiest class, plus the pipeline latencies of the classes it uses.
//! - **Dependencies.** A task starts when its operands are done (the trace is SSA) and all the
//!   classes it uses are free; tasks are considered in trace order, but a task that uses other
//!   classes than its predecessor overlaps with it.
//! - **HBM** is a shared port of `bandwidth / clock` bytes per cycle. Key and plaintext loads
//!   do not depend on data, so a task's transfer may start as soon as its operands' producers
//!   have *started* (one task of prefetch, double buffering); the task cannot finish before its
//!   transfer has arrived (plus the HBM latency). Program outputs are written once ready.
//! - **Scratchpad.** Ciphertexts are resident from definition to last use. When the resident set
//!   exceeds the capacity, the resident values whose next use is furthest away (Belady's choice,
//!   what a compiler-managed scratchpad such as F1's can approach) are spilled (written to HBM)
//!   and read back on their next use. With `on_chip` keys, keys are cached in the
//!   capacity the ciphertexts leave, least recently used first.
//!
//! The schedule is a fixed-order composition of `max` and `+` over non-negative durations, so
//! making any unit faster never makes the total slower (property-tested).

use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashMap;

use crate::SimError;
use crate::arch::{Arch, KeyStorage, NttAlgorithm};
use crate::lower::{LowerOptions, LoweredProgram, NONE, Work};
use crate::result::{
    Bound, KindStats, LayerStats, MemoryStats, SimResult, TimelineEntry, TraceSummary, Unit,
    UnitCycles, UnitStats,
};

const UNITS: usize = Unit::ALL.len();
const HBM: usize = Unit::Hbm as usize;
const SPAD: usize = Unit::Scratchpad as usize;

/// Options of one engine run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// Record a per-task timeline in [`SimResult::timeline`].
    pub timeline: bool,
}

/// Checks that `arch` can run the trace of `prog` at all.
pub fn check_compatible(arch: &Arch, prog: &LoweredProgram) -> Result<(), SimError> {
    let h = &prog.header;
    let widest = h.q_bits.iter().chain(&h.p_bits).copied().max().unwrap_or(0);
    if widest > arch.word_bits {
        return Err(SimError::WordTooSmall {
            arch: arch.name.clone(),
            word_bits: arch.word_bits,
            prime_bits: widest,
        });
    }
    if h.log_n > arch.ntt.max_log_n {
        return Err(SimError::RingTooLarge {
            arch: arch.name.clone(),
            log_n: h.log_n,
            max_log_n: arch.ntt.max_log_n,
        });
    }
    if arch.policy.dnum > h.max_level() {
        return Err(SimError::DnumTooLarge {
            arch: arch.name.clone(),
            dnum: arch.policy.dnum,
            limbs: h.max_level(),
        });
    }
    let wanted = LowerOptions::from_arch(arch);
    if wanted != prog.options {
        return Err(SimError::OptionsMismatch {
            lowered: prog.options,
            wanted,
        });
    }
    Ok(())
}

/// Throughputs of one architecture for one ring degree.
struct Rates {
    n: u64,
    ntt_units: u64,
    ntt_limb_cycles: u64,
    auto_units: u64,
    auto_limb_cycles: u64,
    mul_per_cycle: u64,
    add_per_cycle: u64,
    bconv_per_cycle: Option<u64>,
    ip_per_cycle: Option<u64>,
    spad_bytes_per_cycle: f64,
    /// Bytes per cycle leaving clusters, and the share of redistributed data that leaves one:
    /// (clusters − 1) / clusters.
    noc_bytes_per_cycle: f64,
    noc_share: f64,
    prng_words_per_cycle: u64,
    hbm_bytes_per_cycle: f64,
    latency: [u64; UNITS],
    limb_bytes: u64,
    log_n: u64,
}

impl Rates {
    fn new(arch: &Arch, log_n: u32) -> Rates {
        let n = 1u64 << log_n;
        let c = u64::from(arch.clusters);
        let ntt_lanes = u64::from(arch.ntt.lanes);
        let ntt_limb_cycles = match arch.ntt.algorithm {
            NttAlgorithm::FourStep => n.div_ceil(ntt_lanes),
            NttAlgorithm::Radix2 => (n / 2 * u64::from(log_n)).div_ceil(ntt_lanes),
        };
        let ew = &arch.elementwise;
        let mut latency = [0u64; UNITS];
        latency[Unit::Ntt as usize] = u64::from(arch.ntt.latency_cycles);
        latency[Unit::Automorphism as usize] = u64::from(arch.automorphism.latency_cycles);
        latency[Unit::Bconv as usize] = u64::from(arch.bconv.latency_cycles);
        latency[Unit::InnerProduct as usize] = u64::from(ew.mul_latency_cycles);
        latency[Unit::Mul as usize] = u64::from(ew.mul_latency_cycles);
        latency[Unit::Add as usize] = u64::from(ew.add_latency_cycles);
        latency[HBM] = arch.hbm_latency_cycles();
        Rates {
            n,
            ntt_units: c * u64::from(arch.ntt.units),
            ntt_limb_cycles,
            auto_units: c * u64::from(arch.automorphism.units),
            auto_limb_cycles: n.div_ceil(u64::from(arch.automorphism.lanes)),
            mul_per_cycle: c * u64::from(ew.mul_units) * u64::from(ew.lanes),
            add_per_cycle: c * u64::from(ew.add_units) * u64::from(ew.lanes),
            bconv_per_cycle: arch
                .bconv
                .dedicated
                .then(|| c * u64::from(arch.bconv.macs_per_cycle)),
            ip_per_cycle: arch
                .keyswitch
                .dedicated_inner_product
                .then(|| c * u64::from(arch.keyswitch.inner_product_lanes)),
            spad_bytes_per_cycle: arch.scratchpad.bandwidth_bytes_per_cycle,
            noc_bytes_per_cycle: arch.noc.bandwidth_bytes_per_cycle,
            noc_share: (c - 1) as f64 / c as f64,
            prng_words_per_cycle: u64::from(arch.keyswitch.prng_words_per_cycle.max(1)),
            hbm_bytes_per_cycle: arch.hbm_bytes_per_cycle(),
            latency,
            limb_bytes: n * u64::from(arch.word_bits) / 8,
            log_n: u64::from(log_n),
        }
    }

    /// Busy cycles per compute unit for `w` (memory ports are filled in by the caller).
    fn compute_cycles(&self, w: &Work) -> [u64; UNITS] {
        let mut cyc = [0u64; UNITS];
        let n = self.n;
        cyc[Unit::Ntt as usize] = w.ntt.div_ceil(self.ntt_units) * self.ntt_limb_cycles;
        cyc[Unit::Automorphism as usize] =
            w.automorphism.div_ceil(self.auto_units) * self.auto_limb_cycles;
        let (mut mul, mut add) = (w.mul, w.add);
        match self.bconv_per_cycle {
            Some(r) => cyc[Unit::Bconv as usize] = (w.bconv * n).div_ceil(r),
            None => {
                mul += w.bconv;
                add += w.bconv;
            }
        }
        match self.ip_per_cycle {
            Some(r) => cyc[Unit::InnerProduct as usize] = (w.ks_mul * n).div_ceil(r),
            None => {
                mul += w.ks_mul;
                add += w.ks_add;
            }
        }
        cyc[Unit::Mul as usize] = (mul * n).div_ceil(self.mul_per_cycle);
        cyc[Unit::Add as usize] = (add * n).div_ceil(self.add_per_cycle);
        let noc_bytes = (w.redistribute_limbs * self.limb_bytes) as f64 * self.noc_share;
        cyc[Unit::Noc as usize] = (noc_bytes / self.noc_bytes_per_cycle).ceil() as u64;
        cyc
    }

    /// Cycles of the PRNG regenerating `limbs` key limbs.
    fn prng_cycles(&self, limbs: u64) -> u64 {
        (limbs * self.n).div_ceil(self.prng_words_per_cycle)
    }

    /// Modular operations of `w` (roofline ops): butterflies count 3, MACs 2.
    fn mod_ops(&self, w: &Work) -> u64 {
        let n = self.n;
        w.ntt * (n / 2) * self.log_n * 3 + (w.bconv + w.ks_mul) * n * 2 + (w.mul + w.add) * n
    }

    /// Upper bounds, in f64 (which cannot overflow), on what tasks of total work `t` add to
    /// the makespan, to the bytes moved and to the modular operations: all their compute (every
    /// limb rounded up a whole unit pass per task), all their traffic at the slower of HBM and
    /// scratchpad, and every pipeline latency once per task. The bound is affine in the work,
    /// so it is taken once on the totals.
    fn bounds(&self, t: &WorkTotal) -> Bounds {
        let f = |v: u64| v as f64;
        let n = f(self.n);
        let rate = |r: Option<u64>| f(r.unwrap_or(self.mul_per_cycle.min(self.add_per_cycle)));
        let elementwise = t.mul + t.add + t.bconv + t.ks_mul + t.ks_add;
        let compute = (t.ntt / f(self.ntt_units) + t.tasks) * f(self.ntt_limb_cycles)
            + (t.automorphism / f(self.auto_units) + t.tasks) * f(self.auto_limb_cycles)
            + t.bconv * n / rate(self.bconv_per_cycle)
            + t.ks_mul * n / rate(self.ip_per_cycle)
            + elementwise * n / f(self.mul_per_cycle.min(self.add_per_cycle))
            + 4.0 * t.tasks;
        let bytes = (t.moved_limbs + 3.0 * t.extra_limbs) * f(self.limb_bytes);
        let transfer =
            bytes / self.hbm_bytes_per_cycle + bytes / self.spad_bytes_per_cycle + 2.0 * t.tasks;
        Bounds {
            cycles: compute + transfer + t.tasks * self.latency.iter().map(|&l| f(l)).sum::<f64>(),
            bytes,
            mod_ops: t.ntt * n * f(self.log_n) * 1.5
                + (t.bconv + t.ks_mul) * n * 2.0
                + (t.mul + t.add) * n,
        }
    }
}

/// Work summed over tasks for [`Rates::bounds`], in f64 so that no sum wraps. `extra_limbs`
/// are limbs of operands and results that may be spilled and reloaded.
#[derive(Clone, Copy, Debug, Default)]
struct WorkTotal {
    tasks: f64,
    ntt: f64,
    automorphism: f64,
    bconv: f64,
    ks_mul: f64,
    ks_add: f64,
    mul: f64,
    add: f64,
    /// Key, plaintext, input and output limbs.
    moved_limbs: f64,
    extra_limbs: f64,
}

impl WorkTotal {
    fn add(&mut self, w: &Work) {
        let f = |v: u64| v as f64;
        self.ntt += f(w.ntt);
        self.automorphism += f(w.automorphism);
        self.bconv += f(w.bconv);
        self.ks_mul += f(w.ks_mul);
        self.ks_add += f(w.ks_add);
        self.mul += f(w.mul);
        self.add += f(w.add);
        self.moved_limbs +=
            f(w.key_limbs) + f(w.plain_limbs) + f(w.input_limbs) + f(w.output_limbs);
    }
}

/// Bounds on a run's counts ([`Rates::bounds`]).
#[derive(Clone, Copy, Debug, Default)]
struct Bounds {
    cycles: f64,
    bytes: f64,
    mod_ops: f64,
}

impl Bounds {
    fn plus(self, o: Bounds) -> Bounds {
        Bounds {
            cycles: self.cycles + o.cycles,
            bytes: self.bytes + o.bytes,
            mod_ops: self.mod_ops + o.mod_ops,
        }
    }

    /// The largest of the three.
    fn max(&self) -> f64 {
        self.cycles.max(self.bytes).max(self.mod_ops)
    }
}

/// The counts (cycles, bytes, modular operations) a run may reach: far enough below
/// `u64::MAX` that no sum of the schedule can wrap or saturate.
const MAX_COUNT: f64 = (1u64 << 62) as f64;

/// Bounds on a whole schedule of `tasks`: list scheduling never exceeds running every task
/// back to back, each value is spilled and reloaded at most once per use, and a block task
/// costs its block's own bound.
fn schedule_bounds(
    rates: &Rates,
    tasks: &[crate::lower::Task],
    works: &[Work],
    blocks: &[Bounds],
) -> Bounds {
    let n_tasks = tasks.len();
    let mut total = WorkTotal::default();
    let mut in_blocks = Bounds::default();
    for t in tasks {
        let operands: u64 = t
            .deps
            .iter()
            .filter(|&&d| (d as usize) < n_tasks)
            .map(|&d| tasks[d as usize].out_limbs)
            .sum();
        total.tasks += 1.0;
        total.extra_limbs += (operands + t.out_limbs) as f64;
        if t.block == NONE {
            total.add(&works[t.work as usize]);
        } else {
            in_blocks = in_blocks.plus(blocks[t.block as usize]);
        }
    }
    rates.bounds(&total).plus(in_blocks)
}

/// Least-recently-used cache of keys, each holding the limbs loaded so far and reserving a
/// full key's room. A miss loads only the limbs the key switch needs (what streaming would
/// read), so caching never costs more traffic than streaming, and a room at least as large at
/// every step holds a superset of the smaller one's keys (both are prefixes of one recency order).
#[derive(Default)]
struct KeyCache {
    /// Key → (stamp of its last use, limbs cached).
    entry_of: FxHashMap<u32, (u64, u64)>,
    /// (stamp, key) in use order, oldest first; an entry whose key has been used again since
    /// (a newer stamp) is stale and skipped.
    by_stamp: VecDeque<(u64, u32)>,
    clock: u64,
}

impl KeyCache {
    /// Uses `limbs` limbs of `key`; returns how many of them were not cached (to load).
    fn touch(&mut self, key: u32, limbs: u64) -> u64 {
        self.clock += 1;
        let cached = self.entry_of.get(&key).map_or(0, |&(_, cached)| cached);
        self.entry_of.insert(key, (self.clock, cached.max(limbs)));
        self.by_stamp.push_back((self.clock, key));
        limbs.saturating_sub(cached)
    }

    fn evict_to(&mut self, max_keys: u64) {
        while self.entry_of.len() as u64 > max_keys {
            let Some((stamp, key)) = self.by_stamp.pop_front() else {
                break;
            };
            if self
                .entry_of
                .get(&key)
                .is_some_and(|&(last, _)| last != stamp)
            {
                continue;
            }
            self.entry_of.remove(&key);
        }
    }
}

/// The scratchpad's spill candidates, furthest next use first (Belady). Entries are (next use,
/// value) packed into one `u64` (the same order as the pair); an entry whose value is no longer
/// resident, or whose next use has moved on since, is stale and skipped by the caller. Most
/// runs never spill, so entries wait unordered in `pending` and are heap-ordered only when a
/// spill asks for one: the same entries, so the same order of pops.
#[derive(Default)]
struct SpillQueue {
    heap: BinaryHeap<u64>,
    pending: Vec<u64>,
}

impl SpillQueue {
    fn push(&mut self, next: u32, value: u32) {
        self.pending.push(u64::from(next) << 32 | u64::from(value));
    }

    fn pop(&mut self) -> Option<(u32, u32)> {
        if !self.pending.is_empty() {
            self.heap.extend(self.pending.drain(..));
        }
        self.heap.pop().map(|e| ((e >> 32) as u32, e as u32))
    }
}

#[derive(Clone, Copy, Default)]
struct Acc {
    ops: u64,
    critical: u64,
    busy: [u64; UNITS],
    hbm_bytes: u64,
    onchip_bytes: u64,
    mod_ops: u64,
    start: u64,
    end: u64,
    seen: bool,
}

/// What scheduling one task gave.
struct Outcome {
    start: u64,
    end: u64,
    hbm_start: Option<u64>,
    cyc: [u64; UNITS],
    hbm_bytes: u64,
    onchip: u64,
    mod_ops: u64,
}

/// A block (expanded bootstrap) scheduled in isolation: how long it takes and what it uses.
#[derive(Default)]
struct BlockCost {
    makespan: u64,
    busy: [u64; UNITS],
    hbm_bytes: u64,
    onchip: u64,
    mod_ops: u64,
    mem: MemoryStats,
}

/// What one work-table entry costs on the architecture, computed once per entry.
struct WorkCost {
    /// Busy cycles per compute unit ([`Rates::compute_cycles`]).
    cyc: [u64; UNITS],
    mod_ops: u64,
}

fn work_costs(rates: &Rates, works: &[Work]) -> Vec<WorkCost> {
    works
        .iter()
        .map(|w| WorkCost {
            cyc: rates.compute_cycles(w),
            mod_ops: rates.mod_ops(w),
        })
        .collect()
}

/// The tasks of a program or block with their work table and value lifetimes.
#[derive(Clone, Copy)]
struct Program<'a> {
    tasks: &'a [crate::lower::Task],
    works: &'a [Work],
    first_use: &'a [u32],
    next_use: &'a [[u32; 2]],
}

/// The fixed inputs of a schedule.
struct Ctx<'a> {
    arch: &'a Arch,
    rates: Rates,
    capacity: u64,
    full_key_bytes: u64,
    blocks: &'a [crate::lower::Block],
}

/// List-schedules `tasks` (with their value lifetimes) from an idle machine, adding memory
/// traffic to `mem` and reporting every task to `sink`; returns the makespan. Blocks are
/// scheduled in isolation once (cached in `block_costs`) and placed as one task.
fn schedule(
    ctx: &Ctx<'_>,
    program: Program<'_>,
    block_costs: &mut [Option<BlockCost>],
    mem: &mut MemoryStats,
    mut sink: impl FnMut(usize, &Outcome, u64),
) -> u64 {
    let Program {
        tasks,
        works,
        first_use,
        next_use,
    } = program;
    let rates = &ctx.rates;
    let limb = rates.limb_bytes;
    let capacity = ctx.capacity;
    let n_tasks = tasks.len();
    let mut finish = vec![0u64; n_tasks];
    let mut start_at = vec![0u64; n_tasks];
    let mut free_at = [0u64; UNITS];
    let mut makespan = 0u64;
    let mut resident = vec![false; n_tasks];
    let mut spilled = vec![false; n_tasks];
    let mut queue = SpillQueue::default();
    let mut next_of = first_use.to_vec();
    let mut live = 0u64;
    let mut keys = KeyCache::default();
    let costs = work_costs(rates, works);

    for (i, t) in tasks.iter().enumerate() {
        let w = &works[t.work as usize];
        let cost_of_work = &costs[t.work as usize];
        let out_bytes = t.out_limbs * limb;
        let deps = t.deps.iter().copied().filter(|&d| (d as usize) < n_tasks);

        // Memory: reload spilled operands, define the result, spill if over capacity.
        let mut reload = 0u64;
        let mut operand_bytes = 0u64;
        for d in deps.clone() {
            let d = d as usize;
            let bytes = tasks[d].out_limbs * limb;
            operand_bytes += bytes;
            if spilled[d] {
                spilled[d] = false;
                resident[d] = true;
                live += bytes;
                reload += bytes;
            }
        }
        resident[i] = true;
        live += out_bytes;
        queue.push(next_of[i], i as u32);
        for (slot, &d) in t.deps.iter().enumerate() {
            if (d as usize) < n_tasks {
                next_of[d as usize] = next_use[i][slot];
                queue.push(next_of[d as usize], d);
            }
        }
        let mut spill = 0u64;
        if live > capacity {
            let mut in_use = Vec::new();
            while live > capacity {
                let Some((next, v)) = queue.pop() else { break };
                let vu = v as usize;
                if !resident[vu] || next_of[vu] != next {
                    continue;
                }
                if vu == i || t.deps.contains(&v) {
                    in_use.push((next, v));
                    continue;
                }
                let bytes = tasks[vu].out_limbs * limb;
                resident[vu] = false;
                spilled[vu] = true;
                live -= bytes;
                spill += bytes;
            }
            for (next, v) in in_use {
                queue.push(next, v);
            }
        }
        mem.peak_live_bytes = mem.peak_live_bytes.max(live);
        mem.spill_bytes += spill;
        mem.reload_bytes += reload;

        let ready = deps.clone().map(|d| finish[d as usize]).max().unwrap_or(0);
        let outcome = if t.block != NONE {
            let b = t.block as usize;
            let cost = &*block_costs[b].get_or_insert_with(|| block_cost(ctx, b));
            mem.key_bytes += cost.mem.key_bytes;
            mem.plaintext_bytes += cost.mem.plaintext_bytes;
            mem.io_bytes += cost.mem.io_bytes;
            mem.spill_bytes += cost.mem.spill_bytes;
            mem.reload_bytes += cost.mem.reload_bytes;
            mem.hbm_read_bytes += cost.mem.hbm_read_bytes + reload;
            mem.hbm_write_bytes += cost.mem.hbm_write_bytes + spill;
            mem.onchip_bytes += cost.onchip;
            mem.key_cache_hits += cost.mem.key_cache_hits;
            mem.key_cache_misses += cost.mem.key_cache_misses;
            mem.peak_live_bytes = mem.peak_live_bytes.max(live + cost.mem.peak_live_bytes);
            let mut cyc = cost.busy;
            let extra = reload + spill;
            cyc[HBM] += (extra as f64 / rates.hbm_bytes_per_cycle).ceil() as u64;
            let mut start = ready;
            for u in 0..UNITS {
                if u != HBM && cyc[u] > 0 {
                    start = start.max(free_at[u]);
                }
            }
            let mut end = start + cost.makespan;
            let mut hbm_start = None;
            if cyc[HBM] > 0 {
                let s = free_at[HBM].max(start);
                free_at[HBM] = s + cyc[HBM];
                end = end.max(s + cyc[HBM] + rates.latency[HBM]);
                hbm_start = Some(s);
            }
            for u in 0..UNITS {
                if u != HBM && cyc[u] > 0 {
                    free_at[u] = start + cyc[u];
                }
            }
            Outcome {
                start,
                end,
                hbm_start,
                cyc,
                hbm_bytes: cost.hbm_bytes + extra,
                onchip: cost.onchip,
                mod_ops: cost.mod_ops,
            }
        } else {
            // Keys: the limbs to bring on chip; with a PRNG only their "b" half is loaded and
            // the uniform "a" half is generated.
            let mut key_limbs = 0u64;
            if t.key != NONE {
                match ctx.arch.policy.key_storage {
                    KeyStorage::Streamed => key_limbs = w.key_limbs,
                    KeyStorage::OnChip => {
                        let room = capacity.saturating_sub(live) / ctx.full_key_bytes.max(1);
                        let missing = keys.touch(t.key, w.key_limbs);
                        keys.evict_to(room);
                        if missing == 0 {
                            mem.key_cache_hits += 1;
                        } else {
                            key_limbs = missing;
                            mem.key_cache_misses += 1;
                        }
                    }
                }
            }
            let prng = ctx.arch.policy.evk_prng;
            let key_bytes = if prng { key_limbs / 2 } else { key_limbs } * limb;
            let generated_limbs = if prng { key_limbs - key_limbs / 2 } else { 0 };
            let plain_bytes = w.plain_limbs * limb;
            let hbm_read = key_bytes + plain_bytes + w.input_limbs * limb + reload;
            let hbm_write = w.output_limbs * limb + spill;
            let hbm_bytes = hbm_read + hbm_write;
            mem.key_bytes += key_bytes;
            mem.plaintext_bytes += plain_bytes;
            mem.io_bytes += (w.input_limbs + w.output_limbs) * limb;
            mem.hbm_read_bytes += hbm_read;
            mem.hbm_write_bytes += hbm_write;

            // Timing.
            let mut cyc = cost_of_work.cyc;
            cyc[Unit::Prng as usize] = rates.prng_cycles(generated_limbs);
            let compute = cyc.iter().any(|&c| c > 0);
            let onchip = if compute {
                operand_bytes + out_bytes + key_bytes + plain_bytes
            } else {
                0
            };
            mem.onchip_bytes += onchip;
            cyc[SPAD] = (onchip as f64 / rates.spad_bytes_per_cycle).ceil() as u64;
            cyc[HBM] = (hbm_bytes as f64 / rates.hbm_bytes_per_cycle).ceil() as u64;

            let mut start = ready;
            for u in 0..UNITS {
                if u != HBM && cyc[u] > 0 {
                    start = start.max(free_at[u]);
                }
            }
            let mut end = start;
            if compute {
                let longest = (0..UNITS)
                    .filter(|&u| u != HBM)
                    .map(|u| cyc[u])
                    .max()
                    .unwrap_or(0);
                let fill: u64 = (0..UNITS)
                    .filter(|&u| u != HBM && cyc[u] > 0)
                    .map(|u| rates.latency[u])
                    .sum();
                end = start + longest + fill;
            }
            let mut hbm_start = None;
            if cyc[HBM] > 0 {
                let earliest = if w.output_limbs > 0 || !compute {
                    ready
                } else if ctx.arch.policy.key_prefetch {
                    0
                } else {
                    deps.clone()
                        .map(|d| start_at[d as usize])
                        .max()
                        .unwrap_or(0)
                };
                let s = free_at[HBM].max(earliest);
                free_at[HBM] = s + cyc[HBM];
                end = end.max(s + cyc[HBM] + rates.latency[HBM]);
                if !compute {
                    start = start.max(s);
                }
                hbm_start = Some(s);
            }
            for u in 0..UNITS {
                if u != HBM && cyc[u] > 0 {
                    free_at[u] = start + cyc[u];
                }
            }
            Outcome {
                start,
                end,
                hbm_start,
                cyc,
                hbm_bytes,
                onchip,
                mod_ops: cost_of_work.mod_ops,
            }
        };
        start_at[i] = outcome.start;
        finish[i] = outcome.end;

        // Free values whose last use this was.
        for d in deps {
            let d = d as usize;
            if next_of[d] == NONE && resident[d] {
                resident[d] = false;
                live -= tasks[d].out_limbs * limb;
            }
        }
        if next_of[i] == NONE && resident[i] {
            resident[i] = false;
            live -= out_bytes;
        }

        let critical = outcome.end.saturating_sub(makespan);
        makespan = makespan.max(outcome.end);
        sink(i, &outcome, critical);
    }
    makespan
}

/// Schedules block `b` alone on an idle machine with the whole scratchpad.
fn block_cost(ctx: &Ctx<'_>, b: usize) -> BlockCost {
    let block = &ctx.blocks[b];
    let mut cost = BlockCost::default();
    let mut mem = MemoryStats::default();
    let (busy, hbm, onchip, ops) = (
        &mut cost.busy,
        &mut cost.hbm_bytes,
        &mut cost.onchip,
        &mut cost.mod_ops,
    );
    cost.makespan = schedule(
        ctx,
        Program {
            tasks: &block.tasks,
            works: &block.works,
            first_use: &block.first_use,
            next_use: &block.next_use,
        },
        &mut [],
        &mut mem,
        |_, o, _| {
            for (b, c) in busy.iter_mut().zip(&o.cyc) {
                *b += c;
            }
            *hbm += o.hbm_bytes;
            *onchip += o.onchip;
            *ops += o.mod_ops;
        },
    );
    cost.mem = mem;
    cost
}

/// Schedules `prog` on `arch`.
pub fn run(
    arch: &Arch,
    prog: &LoweredProgram,
    options: EngineOptions,
) -> Result<SimResult, SimError> {
    check_compatible(arch, prog)?;
    let ctx = Ctx {
        arch,
        rates: Rates::new(arch, prog.header.log_n),
        capacity: arch.scratchpad_bytes(),
        full_key_bytes: prog.params.full_key_limbs()
            * (1u64 << prog.header.log_n)
            * u64::from(arch.word_bits)
            / 8,
        blocks: &prog.blocks,
    };
    let tasks = &prog.tasks;
    let block_bounds: Vec<Bounds> = prog
        .blocks
        .iter()
        .map(|b| schedule_bounds(&ctx.rates, &b.tasks, &b.works, &[]))
        .collect();
    let bound = schedule_bounds(&ctx.rates, tasks, &prog.works, &block_bounds);
    if bound.max() > MAX_COUNT {
        return Err(SimError::CountOverflow {
            arch: arch.name.clone(),
            cycles: bound.cycles,
            bytes: bound.bytes,
        });
    }
    let mut mem = MemoryStats {
        scratchpad_bytes: ctx.capacity,
        ..MemoryStats::default()
    };
    let mut kinds: Vec<Acc> = vec![Acc::default(); hesim_traces::OpName::ALL.len()];
    let mut layers = vec![Acc::default(); prog.layers.len()];
    let mut total_busy = [0u64; UNITS];
    let mut op_seen = vec![false; prog.ops.len()];
    let mut timeline = options.timeline.then(|| Vec::with_capacity(tasks.len()));
    let mut block_costs: Vec<Option<BlockCost>> = prog.blocks.iter().map(|_| None).collect();

    let cycles = schedule(
        &ctx,
        Program {
            tasks,
            works: &prog.works,
            first_use: &prog.first_use,
            next_use: &prog.next_use,
        },
        &mut block_costs,
        &mut mem,
        |i, o, critical| {
            let t = &tasks[i];
            let info = prog.ops[t.origin as usize];
            let first_of_op = !op_seen[t.origin as usize];
            op_seen[t.origin as usize] = true;
            let first_start = o.hbm_start.map_or(o.start, |h| h.min(o.start));
            for acc in [
                &mut kinds[info.kind as usize],
                &mut layers[info.layer as usize],
            ] {
                acc.ops += u64::from(first_of_op);
                acc.critical += critical;
                for (b, c) in acc.busy.iter_mut().zip(&o.cyc) {
                    *b += c;
                }
                acc.hbm_bytes += o.hbm_bytes;
                acc.onchip_bytes += o.onchip;
                acc.mod_ops += o.mod_ops;
                if !acc.seen {
                    acc.start = first_start;
                    acc.seen = true;
                }
                acc.start = acc.start.min(first_start);
                acc.end = acc.end.max(o.end);
            }
            for (b, c) in total_busy.iter_mut().zip(&o.cyc) {
                *b += c;
            }
            if let Some(tl) = timeline.as_mut() {
                tl.push(TimelineEntry {
                    op: info.id,
                    kind: info.kind,
                    layer: prog.layers[info.layer as usize].to_string(),
                    start_cycle: o.start,
                    end_cycle: o.end,
                    busy_cycles: unit_cycles(&o.cyc),
                    hbm_start_cycle: o.hbm_start,
                });
            }
        },
    );

    let share = |busy: u64, span: u64| {
        if span == 0 {
            0.0
        } else {
            busy as f64 / span as f64
        }
    };
    let units = Unit::ALL
        .iter()
        .map(|&u| UnitStats {
            unit: u,
            busy_cycles: total_busy[u as usize],
            utilization: share(total_busy[u as usize], cycles),
        })
        .collect();
    let by_kind = hesim_traces::OpName::ALL
        .iter()
        .zip(&kinds)
        .filter(|(_, a)| a.seen)
        .map(|(&kind, a)| KindStats {
            kind,
            ops: a.ops,
            critical_cycles: a.critical,
            busy_cycles: unit_cycles(&a.busy),
            hbm_bytes: a.hbm_bytes,
        })
        .collect();
    let layers = layers
        .iter()
        .zip(&prog.layers)
        .map(|(a, name)| {
            let span = a.end - a.start;
            let busiest_compute = Unit::ALL
                .iter()
                .filter(|u| u.is_compute())
                .map(|&u| a.busy[u as usize])
                .max();
            LayerStats {
                layer: name.to_string(),
                ops: a.ops,
                start_cycle: a.start,
                end_cycle: a.end,
                critical_cycles: a.critical,
                busy_cycles: unit_cycles(&a.busy),
                utilization: Unit::ALL
                    .iter()
                    .filter(|&&u| a.busy[u as usize] > 0)
                    .map(|&u| (u, share(a.busy[u as usize], span)))
                    .collect(),
                hbm_bytes: a.hbm_bytes,
                onchip_bytes: a.onchip_bytes,
                mod_ops: a.mod_ops,
                ops_per_byte: (a.hbm_bytes > 0).then(|| a.mod_ops as f64 / a.hbm_bytes as f64),
                bound: if a.busy[HBM] > busiest_compute.unwrap_or(0) {
                    Bound::Memory
                } else {
                    Bound::Compute
                },
            }
        })
        .collect();
    let h = &prog.header;
    Ok(SimResult {
        arch: arch.name.clone(),
        trace: TraceSummary {
            network: h.network.clone(),
            packing: h.packing.clone(),
            generator: h.generator.clone(),
            log_n: h.log_n,
            slots: h.slots,
            limbs: h.max_level(),
            dnum: prog.params.dnum,
            special_primes: prog.params.k,
            ops: prog.ops.len() as u64,
            tasks: tasks.len() as u64,
        },
        clock_ghz: arch.clock_ghz,
        cycles,
        time_ms: cycles as f64 / (arch.clock_ghz * 1e6),
        units,
        by_kind,
        layers,
        memory: mem,
        counts: prog.counts.clone(),
        timeline,
    })
}

fn unit_cycles(c: &[u64; UNITS]) -> UnitCycles {
    Unit::ALL
        .iter()
        .filter(|&&u| c[u as usize] > 0)
        .map(|&u| (u, c[u as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::ArchLoader;
    use crate::lower::tests::header;
    use crate::lower::{Task, lower};
    use crate::pattern::ProgramBuilder;

    /// The default preset (32-bit words): 2 NTT units × 512 lanes (latency 64), 1
    /// automorphism unit × 512 lanes (latency 16); N = 2^14 → 32 cycles per limb on either.
    fn arch(sets: &[&str]) -> Arch {
        let mut l = ArchLoader::new("default").unwrap();
        l.set("word_bits=32").unwrap();
        for s in sets {
            l.set(s).unwrap();
        }
        l.build().unwrap()
    }

    /// A program of hand-made tasks (no operands, no results, so no memory traffic).
    fn program(works: &[Work]) -> LoweredProgram {
        let mut b = ProgramBuilder::new(header(), "l");
        for _ in works {
            b.input(12);
        }
        let mut p = lower(
            &header(),
            &b.into_ops(),
            LowerOptions {
                dnum: 0,
                hoisting: true,
                of_limb: false,
                double_prime_unit: false,
            },
        )
        .unwrap();
        p.works = works.to_vec();
        p.tasks = (0..works.len())
            .map(|i| Task {
                origin: i as u32,
                deps: [NONE; 2],
                work: i as u32,
                out_limbs: 0,
                key: NONE,
                block: NONE,
            })
            .collect();
        p.first_use = vec![NONE; works.len()];
        p.next_use = vec![[NONE; 2]; works.len()];
        p
    }

    fn cycles(a: &Arch, works: &[Work]) -> u64 {
        run(a, &program(works), EngineOptions::default())
            .unwrap()
            .cycles
    }

    /// One limb NTT on one unit: N / lanes = 2^14 / 512 = 32 cycles plus the 64-cycle pipeline.
    #[test]
    fn one_ntt_on_one_unit() {
        let a = arch(&["ntt.units=1"]);
        assert_eq!(
            cycles(
                &a,
                &[Work {
                    ntt: 1,
                    ..Work::default()
                }]
            ),
            32 + 64
        );
        // 8 limbs on 2 units: ⌈8/2⌉·32 + 64.
        assert_eq!(
            cycles(
                &arch(&[]),
                &[Work {
                    ntt: 8,
                    ..Work::default()
                }]
            ),
            4 * 32 + 64
        );
    }

    /// Independent work on different units overlaps; on the same unit it queues.
    #[test]
    fn independent_ops_on_two_units_overlap() {
        let a = arch(&[]);
        let ntt = Work {
            ntt: 8,
            ..Work::default()
        }; // 4·32 + 64 = 192 alone
        let auto = Work {
            automorphism: 8,
            ..Work::default()
        }; // 8·32 + 16 = 272 alone
        assert_eq!(cycles(&a, &[ntt]), 192);
        assert_eq!(cycles(&a, &[auto]), 272);
        assert_eq!(
            cycles(&a, &[ntt, auto]),
            272,
            "overlapped: the longer of the two"
        );
        // Same unit: the second NTT enters when the first has streamed through (128 cycles).
        assert_eq!(cycles(&a, &[ntt, ntt]), 128 + 128 + 64);
    }

    /// Redistribution over the inter-cluster network: 8 limbs of 64 KiB, of which 3/4 leave a
    /// cluster with 4 clusters, at 1,024 B/cycle: 8 · 65,536 · 3/4 / 1,024 = 384 cycles (no
    /// pipeline latency). One cluster moves nothing.
    #[test]
    fn redistribution_uses_the_network() {
        let w = Work {
            redistribute_limbs: 8,
            ..Work::default()
        };
        let four = arch(&["clusters=4", "noc.bandwidth_bytes_per_cycle=1024"]);
        assert_eq!(cycles(&four, &[w]), 384);
        let one = arch(&["clusters=1", "noc.bandwidth_bytes_per_cycle=1024"]);
        assert_eq!(cycles(&one, &[w]), 0);
    }

    /// Min-KS key reuse: five rotations by one step load their key once (96 limbs = 6,291,456 B
    /// at ℓ = 12, see below) and hit four times; five different steps load five keys.
    #[test]
    fn reused_rotation_key_loads_once() {
        let a = arch(&["policy.key_storage=on_chip"]);
        let run = |steps: &[i64]| {
            let mut b = ProgramBuilder::new(header(), "rot");
            let mut x = b.input(12);
            for &s in steps {
                x = b.rotate(x, s, None);
            }
            crate::simulate(&a, &header(), &b.into_ops())
                .unwrap()
                .memory
        };
        let m = run(&[1, 1, 1, 1, 1]);
        assert_eq!((m.key_cache_misses, m.key_cache_hits), (1, 4));
        assert_eq!(m.key_bytes, 6_291_456);
        let m = run(&[1, 2, 3, 4, 5]);
        assert_eq!((m.key_cache_misses, m.key_bytes), (5, 5 * 6_291_456));
    }

    /// A slow key generator bounds a key switch: half of the 96 key limbs (48 × 2^14 words) at
    /// 1 word/cycle is 786,432 cycles, more than anything else the rotation does.
    #[test]
    fn key_generator_throughput_counts() {
        let a = arch(&[
            "policy.key_storage=streamed",
            "policy.evk_prng=true",
            "keyswitch.prng_words_per_cycle=1",
        ]);
        let mut b = ProgramBuilder::new(header(), "rot");
        let x = b.input(12);
        b.rotate(x, 1, None);
        let r = crate::simulate(&a, &header(), &b.into_ops()).unwrap();
        assert_eq!(r.memory.key_bytes, 6_291_456 / 2);
        let prng = r.units.iter().find(|u| u.unit == Unit::Prng).unwrap();
        assert_eq!(prng.busy_cycles, 786_432);
        assert!(r.cycles >= 786_432);
    }

    /// Key prefetch: a rotation after two compute-only rescales may load its key while they
    /// run (from cycle 0 instead of when the second rescale starts), so the program finishes
    /// earlier when the key stream is long.
    #[test]
    fn key_prefetch_overlaps_compute() {
        let time = |prefetch: bool| {
            let prefetch = format!("policy.key_prefetch={prefetch}");
            let a = arch(&[
                "policy.key_storage=streamed",
                "hbm.bandwidth_gb_s=100",
                &prefetch,
            ]);
            let mut b = ProgramBuilder::new(header(), "p");
            let x = b.input(12);
            let x = b.rescale(x);
            let x = b.rescale(x);
            b.rotate(x, 1, None);
            crate::simulate(&a, &header(), &b.into_ops())
                .unwrap()
                .cycles
        };
        assert!(
            time(true) < time(false),
            "{} vs {}",
            time(true),
            time(false)
        );
    }

    /// A rotation whose key streams from a slow HBM: input load then key load, back to back on
    /// the port. N = 2^14, 32-bit words → 64 KiB limbs; ℓ = 12, β = 3, k = 4: the input is
    /// 2·12 = 24 limbs (1,572,864 B), the key 2·3·16 = 96 limbs (6,291,456 B). At 10 GB/s and
    /// 1 GHz (10 B/cycle): 157,287 + 629,146 cycles, plus 100 cycles of HBM latency.
    #[test]
    fn bandwidth_bound_key_stream() {
        let a = arch(&["hbm.bandwidth_gb_s=10", "policy.key_storage=streamed"]);
        let mut b = ProgramBuilder::new(header(), "rot");
        let x = b.input(12);
        b.rotate(x, 1, None);
        let r = crate::simulate(&a, &header(), &b.into_ops()).unwrap();
        assert_eq!(r.memory.key_bytes, 6_291_456);
        assert_eq!(r.cycles, 157_287 + 629_146 + 100);
        assert_eq!(r.layers[0].bound, Bound::Memory);
        // Regenerating the uniform halves on chip halves the key stream (the PRNG's 48 limbs
        // × 2^14 words / 1,024 per cycle = 768 cycles hide under the transfer).
        let s = arch(&[
            "hbm.bandwidth_gb_s=10",
            "policy.key_storage=streamed",
            "policy.evk_prng=true",
            "keyswitch.prng_words_per_cycle=1024",
        ]);
        let r = crate::simulate(&s, &header(), &{
            let mut b = ProgramBuilder::new(header(), "rot");
            let x = b.input(12);
            b.rotate(x, 1, None);
            b.into_ops()
        })
        .unwrap();
        assert_eq!(r.cycles, 157_287 + 314_573 + 100);
    }

    /// A scratchpad too small for the working set spills and reloads, and the extra traffic
    /// costs time.
    #[test]
    fn small_scratchpad_spills() {
        let (h, ops) = crate::pattern::cnn_trace(400);
        let big = crate::simulate(&arch(&[]), &h, &ops).unwrap();
        let small = crate::simulate(&arch(&["scratchpad.capacity_mib=8"]), &h, &ops).unwrap();
        assert_eq!(big.memory.spill_bytes, 0);
        assert!(small.memory.spill_bytes > 0 && small.memory.reload_bytes > 0);
        // Every op's operands and result fit in 8 MiB, so the resident set never exceeds it.
        assert!(small.memory.peak_live_bytes <= 8 << 20);
        assert!(small.cycles >= big.cycles);
    }

    /// The critical-cycle breakdowns sum to the total, per kind and per layer.
    #[test]
    fn breakdowns_sum_to_total() {
        let (h, ops) = crate::pattern::cnn_trace(600);
        let r = crate::simulate(&arch(&[]), &h, &ops).unwrap();
        assert_eq!(
            r.by_kind.iter().map(|k| k.critical_cycles).sum::<u64>(),
            r.cycles
        );
        assert_eq!(
            r.layers.iter().map(|k| k.critical_cycles).sum::<u64>(),
            r.cycles
        );
        assert_eq!(
            r.by_kind.iter().map(|k| k.ops).sum::<u64>(),
            ops.len() as u64
        );
        for u in &r.units {
            assert!(u.utilization <= 1.0, "{u:?}");
        }
    }

    #[test]
    fn word_too_small_and_ring_too_large_are_errors() {
        let (h, ops) = crate::pattern::cnn_trace(100); // 30-bit primes, N = 2^14
        let err = crate::simulate(&Arch::preset("craterlake").unwrap(), &h, &ops).unwrap_err();
        assert!(
            matches!(
                err,
                SimError::WordTooSmall {
                    word_bits: 28,
                    prime_bits: 30,
                    ..
                }
            ),
            "{err}"
        );
        let p = hesim_traces::bootstrap::default_params(1 << 15);
        let (h, ops) = hesim_traces::bootstrap::standalone(16, &p, 16, false, false).unwrap();
        let err = crate::simulate(&Arch::preset("f1").unwrap(), &h, &ops).unwrap_err();
        assert!(
            matches!(
                err,
                SimError::RingTooLarge {
                    log_n: 16,
                    max_log_n: 14,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[cfg(test)]
mod monotonicity {
    use super::*;
    use crate::arch::ArchLoader;
    use crate::pattern::ProgramBuilder;
    use hesim_traces::{Header, ValueId};
    use proptest::prelude::*;

    /// A random valid program: each choice applies one op to values from a pool.
    fn program(choices: &[(u8, u8)]) -> (Header, Vec<hesim_traces::Op>) {
        let h = Header::new(
            13,
            1 << 12,
            vec![30; 10],
            vec![30; 2],
            5,
            24,
            "p",
            "p",
            "prop",
        );
        let mut b = ProgramBuilder::new(h.clone(), "p");
        let mut pool: Vec<ValueId> = vec![b.input(10), b.input(10)];
        for (i, &(op, pick)) in choices.iter().enumerate() {
            if i % 16 == 15 {
                b.set_layer(&format!("p{i}"));
            }
            let a = pool[pick as usize % pool.len()];
            let c = pool[(pick as usize / 3) % pool.len()];
            let v = match op % 7 {
                0 => b.add(a, c),
                1 if b.level(a) > 1 && b.level(c) > 1 => b.mul(a, c),
                2 if b.level(a) > 1 => {
                    let m = b.mul_plain(a);
                    b.rescale(m)
                }
                3 => b.rotate(a, i64::from(pick % 7) + 1, None),
                4 => {
                    let g = b.hoist_group();
                    let r1 = b.rotate(a, 1, Some(g));
                    let r2 = b.rotate(a, 2, Some(g));
                    b.add(r1, r2)
                }
                5 => b.input(10),
                _ => b.add_plain(a),
            };
            pool.push(v);
        }
        let last = pool[pool.len() - 1];
        b.output(last);
        (h, b.into_ops())
    }

    fn arch(sets: &[String]) -> Arch {
        let mut l = ArchLoader::new("default").unwrap();
        for s in sets {
            l.set(s).unwrap();
        }
        l.build().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// More NTT lanes or units, or more HBM bandwidth, never makes a trace slower — on
        /// random programs, with random scratchpad sizes (so spills are exercised) and key
        /// policies (streamed or cached, with or without on-chip generation and prefetch). (A larger scratchpad is not yet checked here: with spills, rare cases are
        /// still a few cycles slower; see the sim README.)
        #[test]
        fn faster_units_never_slow_a_trace(
            choices in proptest::collection::vec((any::<u8>(), any::<u8>()), 1..120),
            lanes in 1u32..1024, more_lanes in 0u32..2048,
            units in 1u32..4, more_units in 0u32..4,
            bw in 1.0f64..2000.0, more_bw in 0.0f64..4000.0,
            cap in 1.0f64..64.0,
            policy in 0usize..8,
        ) {
            let (h, ops) = program(&choices);
            let storage = ["streamed", "on_chip"][policy % 2];
            let base = |l: u32, u: u32, b: f64| arch(&[
                format!("ntt.lanes={l}"), format!("ntt.units={u}"),
                format!("hbm.bandwidth_gb_s={b}"), format!("scratchpad.capacity_mib={cap}"),
                format!("policy.key_storage={storage}"),
                format!("policy.evk_prng={}", policy / 2 % 2 == 1),
                "keyswitch.prng_words_per_cycle=512".to_owned(),
                format!("policy.key_prefetch={}", policy / 4 == 1),
            ]);
            let slow = crate::simulate(&base(lanes, units, bw), &h, &ops).unwrap().cycles;
            let faster_ntt =
                crate::simulate(&base(lanes + more_lanes, units + more_units, bw), &h, &ops).unwrap().cycles;
            let faster_hbm = crate::simulate(&base(lanes, units, bw + more_bw), &h, &ops).unwrap().cycles;
            prop_assert!(faster_ntt <= slow, "NTT {faster_ntt} > {slow}");
            prop_assert!(faster_hbm <= slow, "HBM {faster_hbm} > {slow}");
        }

        /// Extreme but valid rates (HBM bandwidth 1 MB/s – 1 PB/s, latency 0 – 1 ms,
        /// scratchpad 1 – 2^30 bytes per cycle): a slower setting never gives fewer cycles
        /// (no wrap or saturation reduces them), and the run finishes or names the overflow.
        #[test]
        fn extreme_rates_never_reduce_cycles(
            choices in proptest::collection::vec((any::<u8>(), any::<u8>()), 1..60),
            bw_exp in -3.0f64..6.0, slower_bw in 1.0f64..1e3,
            latency in 0.0f64..1e6, more_latency in 0.0f64..1e6,
            spad_exp in 0.0f64..30.0,
        ) {
            let (h, ops) = program(&choices);
            let bw = 10f64.powf(bw_exp);
            let spad = 2f64.powf(spad_exp);
            let run = |b: f64, l: f64| crate::simulate(&arch(&[
                format!("hbm.bandwidth_gb_s={b:?}"),
                format!("hbm.latency_ns={:?}", l.min(1e6)),
                format!("scratchpad.bandwidth_bytes_per_cycle={spad:?}"),
            ]), &h, &ops).unwrap().cycles;
            let fast = run(bw, latency);
            let slow = run((bw / slower_bw).max(1e-3), latency + more_latency);
            prop_assert!(fast <= slow, "{fast} > {slow}");
            prop_assert!(fast < u64::MAX / 4);
        }
    }

    /// Every bootstrap the simulator expands stays within the shared bound
    /// (`BootstrapParams::expanded_ops_bound`, the cap's basis) across stage splits, EvalMod
    /// degrees, double angles and sparse and full packing.
    #[test]
    fn expanded_bootstraps_stay_within_their_bound() {
        let a = arch(&["word_bits=64".to_owned()]);
        for log_n in [6u32, 11] {
            let h = Header::new(
                log_n,
                1 << (log_n - 1),
                vec![30; 40],
                vec![30; 4],
                4,
                30,
                "b",
                "b",
                "t",
            );
            for log_slots in [2, log_n - 1] {
                for stages in [1, 2, log_slots] {
                    for (degree, double_angle) in [(2, 0), (31, 3), (255, 1)] {
                        let p = hesim_traces::BootstrapParams {
                            slots: 1 << log_slots,
                            cts_levels: stages,
                            stc_levels: stages.min(2),
                            eval_mod_degree: degree,
                            double_angle,
                            hoisting: hesim_traces::Hoisting::Single,
                            key_reuse: stages == 2,
                            baby_step: 0,
                            double_prime_scaling: false,
                            eval_mod_range: hesim_traces::LEGACY_EVAL_MOD_RANGE,
                        };
                        p.check(&h, 1).unwrap();
                        let layer: std::sync::Arc<str> = "b".into();
                        let ops = vec![
                            hesim_traces::Op::new(
                                0,
                                hesim_traces::OpKind::Input,
                                vec![],
                                1,
                                layer.clone(),
                            ),
                            hesim_traces::Op::new(
                                1,
                                hesim_traces::OpKind::Bootstrap(p),
                                vec![0],
                                1,
                                layer.clone(),
                            ),
                            hesim_traces::Op::new(
                                2,
                                hesim_traces::OpKind::Output,
                                vec![1],
                                1,
                                layer,
                            ),
                        ];
                        let prog =
                            crate::lower::lower(&h, &ops, LowerOptions::from_arch(&a)).unwrap();
                        let tasks = prog.blocks[0].tasks.len() as u64;
                        assert!(tasks <= p.expanded_ops_bound(log_n), "{p:?}: {tasks} tasks");
                    }
                }
            }
        }
    }
}

//! Level management: where to bootstrap a network's tensors so that every layer has the
//! levels it consumes, at the least estimated cost.
//!
//! The model: a program is a sequence of steps (layers in topological order); step `s` reads
//! tensors, consumes `depth` levels and writes one tensor whose level is the smallest input
//! level minus `depth`. A step of depth d > 0 needs each input at level ≥ d + 1 (the result
//! keeps level ≥ 1). Before a step, any of its inputs may be bootstrapped: that tensor is
//! replaced for every later reader by one at the refreshed level, at the tensor's bootstrap
//! cost (cheaper for tensors whose layout leaves slots unused: sparse-slot bootstrapping).
//! Bootstrapping a tensor anywhere else is never better than just before its next reader, as
//! nothing consumes levels in between, so the model loses no placement.
//!
//! The algorithm: dynamic programming over the steps with the levels of the live tensors
//! (those a later step still reads) as the state, keeping the cheapest way to reach each
//! state. It is exact — optimal on chains of layers and on any graph — and fast while few
//! tensors are live at once (one on a chain, two across a residual block: at most L² states
//! for L levels). Checked against brute force on small chains and graphs in the tests.

use std::collections::BTreeMap;

/// One step: reads `inputs` (tensor ids), consumes `depth` levels, writes tensor `output`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub inputs: Vec<usize>,
    pub depth: u32,
    pub output: usize,
}

/// A placement problem. Tensor 0 is the program input.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub steps: Vec<Step>,
    /// Level of the program input.
    pub input_level: u32,
    /// Level of a freshly bootstrapped tensor.
    pub refreshed: u32,
    /// Estimated cost of bootstrapping each tensor (indexed by tensor id).
    pub cost: Vec<f64>,
    /// Whether bootstrapping is allowed at all.
    pub allow_bootstrap: bool,
}

/// Where to bootstrap: before step `s`, the tensors `boot[s]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub boot: Vec<Vec<usize>>,
    pub cost: f64,
    pub count: usize,
}

/// Why no placement exists.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LevelError {
    /// Step `step` consumes more levels than even a freshly bootstrapped tensor keeps.
    #[error(
        "it consumes {depth} levels but a bootstrapped tensor keeps only {available} usable levels"
    )]
    TooDeep {
        step: usize,
        depth: u32,
        available: u32,
    },
    /// Bootstrapping is off and the chain's levels run out at step `step`.
    #[error("the chain's {available} usable levels run out here and bootstrapping is off")]
    OutOfLevels { step: usize, available: u32 },
}

impl LevelError {
    /// The step that cannot be placed.
    pub fn step(&self) -> usize {
        match self {
            Self::TooDeep { step, .. } | Self::OutOfLevels { step, .. } => *step,
        }
    }
}

/// Live tensors and their levels, sorted by tensor id.
type State = Vec<(usize, u32)>;

/// One decision in the search: parent entry, step and the tensors bootstrapped before it.
struct Entry {
    parent: Option<usize>,
    step: usize,
    booted: Vec<usize>,
}

/// The cheapest placement (ties: fewer bootstraps).
pub fn plan(p: &Problem) -> Result<Plan, LevelError> {
    let n = p.steps.len();
    let tensors = p.cost.len();
    // last reader of every tensor; the last step's output lives to the end
    let mut last_use = vec![None; tensors];
    for (s, step) in p.steps.iter().enumerate() {
        for &t in &step.inputs {
            last_use[t] = Some(s);
        }
    }
    let mut arena: Vec<Entry> = Vec::new();
    // state → (cost, bootstraps, arena entry)
    let mut frontier: BTreeMap<State, (f64, usize, Option<usize>)> =
        BTreeMap::from([(vec![(0, p.input_level)], (0.0, 0, None))]);
    for (s, step) in p.steps.iter().enumerate() {
        let mut inputs = step.inputs.clone();
        inputs.sort_unstable();
        inputs.dedup();
        let mut next: BTreeMap<State, (f64, usize, Option<usize>)> = BTreeMap::new();
        for (state, &(cost, count, entry)) in &frontier {
            let masks = if p.allow_bootstrap {
                1usize << inputs.len()
            } else {
                1
            };
            for mask in 0..masks {
                let booted: Vec<usize> = inputs
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask >> i & 1 == 1)
                    .map(|(_, &t)| t)
                    .collect();
                let level_of = |t: usize| {
                    if booted.contains(&t) {
                        p.refreshed
                    } else {
                        state.iter().find(|e| e.0 == t).map_or(0, |e| e.1)
                    }
                };
                let low = inputs.iter().map(|&t| level_of(t)).min().unwrap_or(0);
                if step.depth > 0 && low < step.depth + 1 {
                    continue;
                }
                let mut new: State = state
                    .iter()
                    .map(|&(t, l)| (t, if booted.contains(&t) { p.refreshed } else { l }))
                    .filter(|&(t, _)| last_use[t].is_some_and(|u| u > s))
                    .collect();
                if last_use[step.output].is_some_and(|u| u > s) || s + 1 == n {
                    new.push((step.output, low - step.depth));
                }
                new.sort_unstable();
                let c = cost + booted.iter().map(|&t| p.cost[t]).sum::<f64>();
                let k = count + booted.len();
                let better = next
                    .get(&new)
                    .is_none_or(|&(bc, bk, _)| c < bc || (c == bc && k < bk));
                if better {
                    let id = if booted.is_empty() {
                        entry
                    } else {
                        arena.push(Entry {
                            parent: entry,
                            step: s,
                            booted: booted.clone(),
                        });
                        Some(arena.len() - 1)
                    };
                    next.insert(new, (c, k, id));
                }
            }
        }
        if next.is_empty() {
            return Err(if p.allow_bootstrap {
                LevelError::TooDeep {
                    step: s,
                    depth: step.depth,
                    available: p.refreshed.saturating_sub(1),
                }
            } else {
                LevelError::OutOfLevels {
                    step: s,
                    available: p.input_level.saturating_sub(1),
                }
            });
        }
        frontier = next;
    }
    let (_, &(cost, count, mut entry)) = frontier
        .iter()
        .min_by(|a, b| a.1.0.total_cmp(&b.1.0).then(a.1.1.cmp(&b.1.1)))
        .expect("a non-empty frontier");
    let mut boot = vec![Vec::new(); n];
    while let Some(id) = entry {
        boot[arena[id].step].clone_from(&arena[id].booted);
        entry = arena[id].parent;
    }
    Ok(Plan { boot, cost, count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    /// Every subset of (step, input) bootstrap decisions, simulated directly: the cheapest
    /// feasible cost, or `None`.
    fn brute_force(p: &Problem) -> Option<f64> {
        let pairs: Vec<(usize, usize)> = p
            .steps
            .iter()
            .enumerate()
            .flat_map(|(s, st)| {
                let mut ins = st.inputs.clone();
                ins.sort_unstable();
                ins.dedup();
                ins.into_iter().map(move |t| (s, t))
            })
            .collect();
        let mut best: Option<f64> = None;
        for mask in 0u32..1 << pairs.len() {
            let mut level = vec![0u32; p.cost.len()];
            level[0] = p.input_level;
            let mut cost = 0.0;
            let mut ok = true;
            for (s, st) in p.steps.iter().enumerate() {
                for (i, &(ps, t)) in pairs.iter().enumerate() {
                    if ps == s && mask >> i & 1 == 1 {
                        level[t] = p.refreshed;
                        cost += p.cost[t];
                    }
                }
                let low = st.inputs.iter().map(|&t| level[t]).min().unwrap_or(0);
                if st.depth > 0 && low < st.depth + 1 {
                    ok = false;
                    break;
                }
                level[st.output] = low - st.depth;
            }
            if ok && best.is_none_or(|b| cost < b) {
                best = Some(cost);
            }
        }
        best
    }

    fn chain(depths: &[u32]) -> Vec<Step> {
        depths
            .iter()
            .enumerate()
            .map(|(i, &d)| Step {
                inputs: vec![i],
                depth: d,
                output: i + 1,
            })
            .collect()
    }

    /// On random chains the DP's cost equals the brute-force optimum, and its plan is
    /// feasible at that cost.
    #[test]
    fn chains_match_brute_force() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for _ in 0..200 {
            let n = rng.random_range(1..=9);
            let depths: Vec<u32> = (0..n).map(|_| rng.random_range(0..=4)).collect();
            let p = Problem {
                steps: chain(&depths),
                input_level: rng.random_range(1..=8),
                refreshed: rng.random_range(5..=8),
                cost: (0..=n).map(|_| rng.random_range(1.0..3.0)).collect(),
                allow_bootstrap: true,
            };
            let want = brute_force(&p);
            match plan(&p) {
                Ok(plan) => {
                    let w = want.expect("brute force finds a placement too");
                    assert!((plan.cost - w).abs() < 1e-9, "{p:?}: {} vs {w}", plan.cost);
                    assert_eq!(plan.count, plan.boot.iter().map(Vec::len).sum::<usize>());
                }
                Err(_) => assert!(want.is_none(), "{p:?}"),
            }
        }
    }

    /// Residual blocks (a tensor read by a conv branch and a later add) match brute force.
    #[test]
    fn residual_graphs_match_brute_force() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        for _ in 0..100 {
            // x -> a (d1) -> b (d2) ; add(b, x) ; c (d3)
            let d: Vec<u32> = (0..3).map(|_| rng.random_range(1..=3)).collect();
            let steps = vec![
                Step {
                    inputs: vec![0],
                    depth: d[0],
                    output: 1,
                },
                Step {
                    inputs: vec![1],
                    depth: d[1],
                    output: 2,
                },
                Step {
                    inputs: vec![2, 0],
                    depth: 0,
                    output: 3,
                },
                Step {
                    inputs: vec![3],
                    depth: d[2],
                    output: 4,
                },
            ];
            let p = Problem {
                steps,
                input_level: rng.random_range(1..=6),
                refreshed: 6,
                cost: (0..5).map(|_| rng.random_range(1.0..3.0)).collect(),
                allow_bootstrap: true,
            };
            let want = brute_force(&p);
            match plan(&p) {
                Ok(plan) => assert!((plan.cost - want.unwrap()).abs() < 1e-9, "{p:?}"),
                Err(_) => assert!(want.is_none(), "{p:?}"),
            }
        }
    }

    /// Without bootstrapping a program deeper than the chain runs out of levels; with it, six
    /// 3-level steps on 7-level tensors (6 usable) need two bootstraps, before steps 2 and 4.
    #[test]
    fn forbidding_bootstraps_makes_deep_programs_fail() {
        let p = Problem {
            steps: chain(&[3; 6]),
            input_level: 7,
            refreshed: 7,
            cost: vec![1.0; 7],
            allow_bootstrap: false,
        };
        assert!(matches!(
            plan(&p),
            Err(LevelError::OutOfLevels { step: 2, .. })
        ));
        let plan = plan(&Problem {
            allow_bootstrap: true,
            ..p
        })
        .unwrap();
        assert_eq!(plan.count, 2);
        assert_eq!(plan.boot[2], vec![2]);
        assert_eq!(plan.boot[4], vec![4]);
    }
}

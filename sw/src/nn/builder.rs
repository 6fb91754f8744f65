//! The one program builder: walks a network and emits CKKS ops under a packing.
//!
//! Every conv and linear layer becomes a set of *diagonals* `(a, b, R)`: input ciphertext `a`
//! contributes to output ciphertext `b` through slot rotation `R`. Each diagonal's rotation is
//! split into an input-side part (shared by all outputs, hoisted) and an output-side part
//! (applied once to a partial sum); the split is chosen per layer to minimise rotations.
//! Ciphertexts hold `factor ×` the logical tensor; factors are folded into the next layer's
//! weights so that pooling is a plain sum and a quadratic activation costs one level.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use hesim_traces::{BootstrapParams, Header, Op, OpKind, PlainRef, ValueId};

use crate::boot::{self, Emitter};

use super::NnError;
use super::layout::{Geometry, SpatialLayout, assign, group_order, pooled};
use super::levels::{self, Problem, Step};
use super::multiplexed::{MuxOptions, activation as emit_activation, bootstrap_cost};
use super::network::{LayerKind, Network, Shape, Source};
use super::params::HeParams;
use super::program::{
    ConvStage, ConvTerm, IoLayout, LayerReport, LinearStage, PlainRecipe, Program, Stage,
};
use super::reference::PruneMasks;
use super::weights::Params;

/// How convolutions are packed into slots.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Packing {
    /// Channel-packed convolution on the dense equivalent of the model (grouped layers as dense
    /// layers with zero weights).
    Dense,
    /// HE-group convolution with group-interleaved encoding: only in-group diagonals.
    Group,
    /// `Group` plus sub-block pruning of the given fraction of each conv layer's weights (first
    /// conv excepted).
    Spencnn { sparsity: f64 },
    /// HEAR's channel-packed convolution (SpENCNN's baseline, `nn::hear`): the ungrouped model
    /// like `Dense`, but every conv evaluated in HEAR's fixed mode instead of the best split.
    Hear,
    /// `Group`, and a channel pair (conv) or element pair (linear) whose weights are all zero is
    /// no term: the structurally sparse DFT and spectral layers of `nn::circulant`.
    Circulant,
}

impl Packing {
    pub fn name(&self) -> &'static str {
        match self {
            Packing::Dense => "dense",
            Packing::Group => "group",
            Packing::Spencnn { .. } => "spencnn",
            Packing::Hear => "hear",
            Packing::Circulant => super::circulant::NAME,
        }
    }

    /// Whether grouped layers run as dense layers with zero weights (no group interleaving).
    fn ungrouped(&self) -> bool {
        matches!(self, Packing::Dense | Packing::Hear)
    }

    /// Parses `dense`, `group`, `spencnn` (with `sparsity` in [0, 1)) or `hear`.
    pub fn parse(name: &str, sparsity: f64) -> Result<Self, NnError> {
        if !(0.0..1.0).contains(&sparsity) {
            return Err(NnError::Option {
                message: format!("sparsity {sparsity} must be in [0, 1)"),
            });
        }
        match name {
            "dense" => Ok(Packing::Dense),
            "group" => Ok(Packing::Group),
            "spencnn" => Ok(Packing::Spencnn { sparsity }),
            "hear" => Ok(Packing::Hear),
            _ => Err(NnError::Option {
                message: format!(
                    "unknown packing `{name}`: use dense, group, spencnn, hear, multiplexed, \
                     hyphen-recon or circulant"
                ),
            }),
        }
    }
}

/// The power-of-two block of slots one channel of `net`'s input takes, or why `slots` slots
/// cannot hold one.
pub(crate) fn input_block(net: &Network, slots: usize) -> Result<usize, NnError> {
    let s = net.input;
    let block = (s.h * s.w).next_power_of_two();
    if block > slots {
        return Err(NnError::TooLarge {
            layer: "input".into(),
            message: format!(
                "one {}×{} channel needs {block} slots but a ciphertext has {slots}",
                s.h, s.w
            ),
        });
    }
    Ok(block)
}

/// Compiles `net` with `params` under `packing` into a program on N = 2^`he.log_n` with a
/// chain sized to its depth (no bootstraps: [`NnError::TooDeep`] when the chain cannot hold it).
pub fn build(
    net: &Network,
    params: &Params,
    packing: Packing,
    he: &HeParams,
) -> Result<Program, NnError> {
    let mut b = Builder::new(net, params, packing, he.slots())?;
    let (input, out) = b.run()?;
    let depth = b.ops.iter().map(|o| o.level).max().unwrap_or(0);
    let header = he.header(depth, &net.name, packing.name())?;
    Ok(b.finish(header, depth + 1, input, out, net))
}

/// Compiles `net` under `packing` on the bootstrappable chain of `opts` (N, limbs, bootstrap
/// parameters; the multiplexed packing's options), with bootstraps placed by
/// [`levels::plan`]: a first walk measures each step's depth (a conv with its batch norm, an
/// activation, a pooling, a residual add...), the planner chooses which tensors to refresh
/// before which step at the least key-switch cost (every ciphertext of a tensor is
/// bootstrapped over all slots), and a second walk emits the program with those bootstraps.
pub fn build_bootstrapped(
    net: &Network,
    params: &Params,
    packing: Packing,
    opts: &MuxOptions,
) -> Result<Program, NnError> {
    let option = |message: String| NnError::Option { message };
    let header = opts.header(&net.name, packing.name())?;
    let slots = header.slots as usize;
    let top = header.max_level();
    let boot_level = top - opts.boot.level_budget();
    let mut probe = Builder::new(net, params, packing, slots)?;
    probe.run()?;
    let per_ct = bootstrap_cost(&header, &opts.boot).map_err(|e| option(e.to_string()))?;
    let mut cost = vec![0.0; net.layers.len() + 1];
    for (&t, &cts) in &probe.tensor_cts {
        cost[t] = per_ct * cts as f64;
    }
    let problem = Problem {
        steps: probe.steps.iter().map(|s| s.1.clone()).collect(),
        input_level: top,
        refreshed: boot_level,
        cost,
        allow_bootstrap: opts.bootstrap,
    };
    let plan = levels::plan(&problem).map_err(|e| {
        let hint = if opts.bootstrap {
            "use more limbs or a shallower activation"
        } else {
            "drop --no-bootstrap or use more limbs"
        };
        NnError::Levels {
            layer: net.layers[probe.steps[e.step()].0].name.clone(),
            message: format!("{e}; {hint}"),
        }
    })?;
    let mut b = Builder::new(net, params, packing, slots)?;
    b.boot = Some(BootPlan {
        before: plan.boot,
        params: opts.boot,
        consumed: top - boot_level,
    });
    let (input, out) = b.run()?;
    Ok(b.finish(header, top, input, out, net))
}

/// Where the second walk of [`build_bootstrapped`] bootstraps: the tensors `before[s]` before
/// step `s`, to `consumed` levels below the top.
struct BootPlan {
    before: Vec<Vec<usize>>,
    params: BootstrapParams,
    consumed: u32,
}

/// Factor ratios closer to 1 than this need no rescaling.
const RATIO_TOLERANCE: f64 = 1e-12;

/// A ciphertext value and the levels consumed to reach it.
#[derive(Clone, Copy, Debug)]
struct Ct {
    id: ValueId,
    lvl: u32,
}

#[derive(Clone, Debug)]
enum Layout {
    Spatial(SpatialLayout),
    /// Element `e` at `(ciphertext, slot)`.
    Flat {
        pos: Vec<(u32, u32)>,
        n_ct: usize,
    },
}

#[derive(Clone, Debug)]
struct HeTensor {
    cts: Vec<Ct>,
    layout: Layout,
    factor: f64,
}

/// How a diagonal's rotation `R` is split: `In(b)` keeps `R mod b` (centred) on the input
/// side, `Out(b)` keeps it on the output side.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Split {
    In(usize),
    Out(usize),
}

type Diag = (u32, u32, u32);

/// Products of one output ciphertext, by output-side rotation: `(a, r_in, R)` each.
type OutputGroups = BTreeMap<i64, Vec<(u32, i64, u32)>>;

/// A conv between two layouts: weight `(o, i, di, dj)` lies on diagonal
/// `(a, b, (delta + shift) mod n)` where `(o, i, a, b, delta)` is its channel pair and
/// `(di, dj, shift)` its kernel tap.
struct ConvGeometry {
    n: usize,
    out_place: Vec<(usize, usize)>,
    pairs: Vec<(u32, u32, u32, u32, i64)>,
    taps: Vec<(u16, u16, i64)>,
}

impl ConvGeometry {
    /// The diagonal of channel-pair base `(a, b, delta)` and a tap's slot shift.
    fn diagonal(&self, (a, b, delta): (u32, u32, i64), shift: i64) -> Diag {
        (a, b, (delta + shift).rem_euclid(self.n as i64) as u32)
    }

    /// The distinct pair bases `(a, b, delta)` and the distinct diagonals, both sorted. Pairs
    /// sharing a base are merged before the taps expand them.
    fn diagonals(&self) -> (Vec<(u32, u32, i64)>, Vec<Diag>) {
        let mut bases: Vec<(u32, u32, i64)> = self
            .pairs
            .iter()
            .map(|&(_, _, a, b, d)| (a, b, d))
            .collect();
        bases.sort_unstable();
        bases.dedup();
        let mut diags: Vec<Diag> = bases
            .iter()
            .flat_map(|&base| self.taps.iter().map(move |t| self.diagonal(base, t.2)))
            .collect();
        diags.sort_unstable();
        diags.dedup();
        (bases, diags)
    }
}

/// A conv layer's attributes.
#[derive(Clone, Copy)]
struct ConvSpec {
    out: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    groups: usize,
}

/// Conv weights by diagonal with the conv's best split.
struct ConvPlan {
    terms: BTreeMap<Diag, Vec<ConvTerm>>,
    out_place: Vec<(usize, usize)>,
    split: Split,
}

struct Builder<'a> {
    net: &'a Network,
    params: &'a Params,
    packing: Packing,
    n: usize,
    in_shapes: Vec<Shape>,
    ops: Vec<Op>,
    next_id: ValueId,
    next_hoist: u32,
    layer: Arc<str>,
    input_ids: Vec<ValueId>,
    recipes: Vec<PlainRecipe>,
    stages: Vec<Stage>,
    masks: Vec<SpatialLayout>,
    constants: HashMap<ValueId, f64>,
    reports: Vec<LayerReport>,
    pruned: PruneMasks,
    /// Outputs of layers a residual add reads later.
    saved: HashMap<usize, HeTensor>,
    /// The walk as level-plan steps: first layer and step (tensor 0 is the input, tensor
    /// `j + 1` the output of the step ending at layer `j`).
    steps: Vec<(usize, Step)>,
    /// Ciphertexts of each tensor.
    tensor_cts: BTreeMap<usize, usize>,
    /// Bootstraps to emit (second walk of [`build_bootstrapped`]).
    boot: Option<BootPlan>,
}

/// `v` modulo the power of two `m`, in `[-m/2, m/2)`; a mask rather than a division, as split
/// selection runs this for every diagonal under ~30 candidate splits.
fn centred(v: i64, m: i64) -> i64 {
    debug_assert!(m > 0 && m & (m - 1) == 0, "{m} is not a power of two");
    let r = v & (m - 1);
    if m > 1 && r >= m / 2 { r - m } else { r }
}

impl<'a> Builder<'a> {
    fn new(
        net: &'a Network,
        params: &'a Params,
        packing: Packing,
        n: usize,
    ) -> Result<Self, NnError> {
        // rotation arithmetic masks with n − 1
        debug_assert!(n.is_power_of_two(), "slot count {n} is not a power of two");
        if params.layers.len() != net.layers.len() {
            return Err(NnError::Weights {
                source_name: params.source.clone(),
                message: format!(
                    "{} layer parameter sets for a {}-layer network",
                    params.layers.len(),
                    net.layers.len()
                ),
            });
        }
        Ok(Self {
            net,
            params,
            packing,
            n,
            in_shapes: net.input_shapes()?,
            ops: Vec::new(),
            next_id: 0,
            next_hoist: 0,
            layer: Arc::from("input"),
            input_ids: Vec::new(),
            recipes: Vec::new(),
            stages: Vec::new(),
            masks: Vec::new(),
            constants: HashMap::new(),
            reports: Vec::new(),
            pruned: PruneMasks::new(),
            saved: HashMap::new(),
            steps: Vec::new(),
            tensor_cts: BTreeMap::new(),
            boot: None,
        })
    }

    /// The program, with consumed levels turned into levels below `top`.
    fn finish(
        mut self,
        header: Header,
        top: u32,
        input: IoLayout,
        (output, output_ids): (IoLayout, Vec<ValueId>),
        net: &Network,
    ) -> Program {
        for op in &mut self.ops {
            op.level = top - op.level;
            if let OpKind::AddPlain { plain } | OpKind::MulPlain { plain } = &mut op.kind {
                plain.level = top - plain.level;
            }
        }
        Program {
            header,
            ops: self.ops,
            input,
            output,
            input_ids: self.input_ids,
            output_ids,
            layers: self.reports,
            pruned: self.pruned,
            substitutions: net.substitutions(),
            recipes: self.recipes,
            stages: self.stages,
            masks: self.masks,
            constants: self.constants,
            client_transform: None,
        }
    }

    /// Every ciphertext of `x` bootstrapped (second walk only).
    fn bootstrap(&mut self, x: &HeTensor) -> HeTensor {
        let plan = self
            .boot
            .as_ref()
            .expect("bootstraps only in the planned walk");
        let (params, consumed) = (plan.params, plan.consumed);
        let cts = x
            .cts
            .iter()
            .map(|c| self.push(OpKind::Bootstrap(params), vec![c.id], consumed))
            .collect();
        HeTensor { cts, ..x.clone() }
    }

    // ---- op emission -------------------------------------------------------------------

    fn push(&mut self, kind: OpKind, args: Vec<ValueId>, lvl: u32) -> Ct {
        let id = self.next_id;
        self.next_id += 1;
        self.ops
            .push(Op::new(id, kind, args, lvl, self.layer.clone()));
        Ct { id, lvl }
    }

    /// `step` as the equivalent rotation in `(-n/2, n/2]` (`n` is a power of two).
    fn normalise(&self, step: i64) -> i32 {
        let n = self.n as i64;
        let s = step & (n - 1);
        (if s > n / 2 { s - n } else { s }) as i32
    }

    fn rotate(&mut self, x: Ct, step: i64, hoist: Option<u32>) -> Ct {
        let step = self.normalise(step);
        if step == 0 {
            return x;
        }
        self.push(OpKind::Rotate { step, hoist }, vec![x.id], x.lvl)
    }

    fn hoist_group(&mut self) -> u32 {
        self.next_hoist += 1;
        self.next_hoist - 1
    }

    fn level_to(&mut self, x: Ct, lvl: u32) -> Ct {
        if x.lvl == lvl {
            x
        } else {
            self.push(OpKind::LevelDown, vec![x.id], lvl)
        }
    }

    fn add(&mut self, x: Ct, y: Ct) -> Ct {
        let lvl = x.lvl.max(y.lvl);
        let (x, y) = (self.level_to(x, lvl), self.level_to(y, lvl));
        self.push(OpKind::Add, vec![x.id, y.id], lvl)
    }

    fn add_opt(&mut self, acc: Option<Ct>, y: Ct) -> Option<Ct> {
        Some(match acc {
            None => y,
            Some(x) => self.add(x, y),
        })
    }

    fn plain(&mut self, recipe: PlainRecipe, lvl: u32) -> PlainRef {
        self.recipes.push(recipe);
        PlainRef {
            id: self.recipes.len() as u32 - 1,
            level: lvl,
        }
    }

    fn mul_plain(&mut self, x: Ct, recipe: PlainRecipe) -> Ct {
        let plain = self.plain(recipe, x.lvl);
        self.push(OpKind::MulPlain { plain }, vec![x.id], x.lvl)
    }

    fn add_plain(&mut self, x: Ct, recipe: PlainRecipe) -> Ct {
        let plain = self.plain(recipe, x.lvl);
        self.push(OpKind::AddPlain { plain }, vec![x.id], x.lvl)
    }

    fn rescale(&mut self, x: Ct) -> Ct {
        self.push(OpKind::Rescale, vec![x.id], x.lvl + 1)
    }

    fn add_const(&mut self, x: Ct, c: f64) -> Ct {
        let y = self.push(OpKind::AddConst, vec![x.id], x.lvl);
        self.constants.insert(y.id, c);
        y
    }

    fn mul_const(&mut self, x: Ct, c: f64) -> Ct {
        let y = self.push(OpKind::MulConst, vec![x.id], x.lvl);
        self.constants.insert(y.id, c);
        self.rescale(y)
    }

    fn square_like(&mut self, x: Ct, y: Ct) -> Ct {
        let lvl = x.lvl.max(y.lvl);
        let (x, y) = (self.level_to(x, lvl), self.level_to(y, lvl));
        let m = self.push(OpKind::Mul, vec![x.id, y.id], lvl);
        let r = self.push(OpKind::Relin, vec![m.id], lvl);
        self.rescale(r)
    }

    fn report(&mut self, li: usize, detail: String) {
        let l = &self.net.layers[li];
        self.reports.push(LayerReport {
            name: l.name.clone(),
            kind: l.kind.type_name(),
            detail,
        });
    }

    // ---- the walk ----------------------------------------------------------------------

    fn run(&mut self) -> Result<(IoLayout, (IoLayout, Vec<ValueId>)), NnError> {
        let x = self.input()?;
        let input = self.io_layout(&x, true);
        let keep: HashSet<usize> = self.net.branch_sources();
        let mut network_input = x.clone();
        self.tensor_cts.insert(0, x.cts.len());
        let mut cur = x;
        // tensor ids (see `steps`): of `cur`, and of each layer's output
        let mut cur_tensor = 0;
        let mut tensor_of: HashMap<usize, usize> = HashMap::new();
        let mut li = 0;
        while li < self.net.layers.len() {
            let layer = &self.net.layers[li];
            self.layer = Arc::from(layer.name.as_str());
            if !self.net.reads_previous(li) {
                (cur, cur_tensor) = match self.net.source(li) {
                    Source::Input => (network_input.clone(), 0),
                    Source::Layer(j) => (self.saved[&j].clone(), tensor_of[&j]),
                };
            }
            let bn = matches!(
                self.net.layers.get(li + 1).map(|l| &l.kind),
                Some(LayerKind::BatchNorm { .. })
            );
            if bn && keep.contains(&li) {
                return Err(NnError::Unsupported {
                    layer: layer.name.clone(),
                    message: "another layer reads this layer's output before the batchnorm \
                              folded into it"
                        .into(),
                });
            }
            let consumed = match layer.kind {
                LayerKind::Conv { .. } | LayerKind::Linear { .. } => 1 + usize::from(bn),
                _ => 1,
            };
            let mut inputs = vec![cur_tensor];
            if let LayerKind::Residual { from } = &layer.kind {
                inputs.push(self.net.layer_index(from).map_or(0, |j| tensor_of[&j]));
            }
            let s = self.steps.len();
            let booted = self.boot.as_ref().map(|b| b.before[s].clone());
            for t in booted.unwrap_or_default() {
                let source = if t == cur_tensor {
                    cur.clone()
                } else if t == 0 {
                    network_input.clone()
                } else {
                    let k = tensor_of
                        .iter()
                        .find(|e| *e.1 == t && self.saved.contains_key(e.0))
                        .map(|e| *e.0)
                        .expect("a bootstrapped tensor is live");
                    self.saved[&k].clone()
                };
                let refreshed = self.bootstrap(&source);
                if t == cur_tensor {
                    cur = refreshed.clone();
                }
                if t == 0 {
                    network_input = refreshed.clone();
                }
                for (k, _) in tensor_of.iter().filter(|e| *e.1 == t) {
                    if let Some(v) = self.saved.get_mut(k) {
                        *v = refreshed.clone();
                    }
                }
            }
            let top_in = |t: &HeTensor| t.cts.iter().map(|c| c.lvl).max().unwrap_or(0);
            let operand = |name: &str| match self.net.layer_index(name) {
                Some(j) => self.saved[&j].clone(),
                None => network_input.clone(),
            };
            let mut level_in = top_in(&cur);
            let mut residual_depth = None;
            cur = match &layer.kind {
                LayerKind::Conv { .. } => self.conv(li, cur, bn)?,
                LayerKind::Linear { .. } => self.linear(li, cur, bn)?,
                LayerKind::AvgPool { kernel } => self.pool(li, cur, *kernel)?,
                LayerKind::GlobalAvgPool => {
                    let kernel = self.global_pool_kernel(li)?;
                    self.pool(li, cur, kernel)?
                }
                LayerKind::Poly { .. } | LayerKind::Relu { .. } => self.activation(li, cur)?,
                LayerKind::Flatten => self.flatten(cur),
                LayerKind::BatchNorm { .. } => unreachable!("folded into the previous layer"),
                LayerKind::Residual { from } => {
                    let other = operand(from);
                    level_in = level_in.max(top_in(&other));
                    // only a factor mismatch costs a level (the branch is rescaled)
                    residual_depth = Some(u32::from(
                        (other.factor / cur.factor - 1.0).abs() > RATIO_TOLERANCE,
                    ));
                    self.residual(li, cur, other)?
                }
                LayerKind::Concat { .. } | LayerKind::Downsample { .. } => {
                    return Err(NnError::Unsupported {
                        layer: layer.name.clone(),
                        message: format!(
                            "{} is not supported by the {} packing yet",
                            layer.kind.type_name(),
                            self.packing.name()
                        ),
                    });
                }
            };
            let output = li + consumed;
            let depth = residual_depth.unwrap_or_else(|| top_in(&cur).saturating_sub(level_in));
            self.steps.push((
                li,
                Step {
                    inputs,
                    depth,
                    output,
                },
            ));
            self.tensor_cts.insert(output, cur.cts.len());
            cur_tensor = output;
            for k in li..li + consumed {
                tensor_of.insert(k, output);
                if keep.contains(&k) {
                    self.saved.insert(k, cur.clone());
                }
            }
            li += consumed;
        }
        self.layer = Arc::from("output");
        let out_layout = self.io_layout(&cur, false);
        let lvl = cur.cts.iter().map(|c| c.lvl).max().unwrap_or(0);
        for c in cur.cts {
            let c = self.level_to(c, lvl);
            self.push(OpKind::Output, vec![c.id], lvl);
        }
        let final_ids = self
            .ops
            .iter()
            .filter(|o| o.kind == OpKind::Output)
            .map(|o| o.args[0])
            .collect();
        Ok((input, (out_layout, final_ids)))
    }

    fn io_layout(&self, t: &HeTensor, all_places: bool) -> IoLayout {
        let positions = match &t.layout {
            Layout::Flat { pos, .. } => pos.iter().map(|&p| vec![p]).collect(),
            Layout::Spatial(l) => {
                let c = l.chan_at.iter().flatten().max().map_or(0, |m| m + 1);
                let places = l.placements(c);
                let mut v = Vec::with_capacity(c * l.geom.h * l.geom.w);
                for pl in &places {
                    for y in 0..l.geom.h {
                        for x in 0..l.geom.w {
                            let take = if all_places { pl.len() } else { 1 };
                            v.push(
                                pl[..take]
                                    .iter()
                                    .map(|&(ct, base)| {
                                        (ct as u32, (base + l.geom.offset(y, x)) as u32)
                                    })
                                    .collect(),
                            );
                        }
                    }
                }
                v
            }
        };
        IoLayout {
            positions,
            cts: t.cts.len(),
            factor: t.factor,
        }
    }

    fn input(&mut self) -> Result<HeTensor, NnError> {
        let s = self.net.input;
        let block = input_block(self.net, self.n)?;
        let geom = Geometry {
            h: s.h,
            w: s.w,
            pitch: s.w,
            dil: 1,
            block,
            lanes: (0..self.n / block).map(|i| i * block).collect(),
            n_ct: 1,
        }
        .with_channels(s.c);
        let order = self.order_for_consumer(0, &geom, s.c);
        let mut chan_at = assign(&order, &geom);
        let lanes = geom.lanes_per_ct();
        let pad = s.c.next_power_of_two();
        if geom.n_ct == 1 && pad < lanes {
            chan_at = (0..lanes)
                .map(|l| {
                    if l % pad < s.c {
                        Some(order[l % pad])
                    } else {
                        None
                    }
                })
                .collect();
        }
        let cts: Vec<Ct> = (0..geom.n_ct)
            .map(|_| self.push(OpKind::Input, vec![], 0))
            .collect();
        self.input_ids = cts.iter().map(|c| c.id).collect();
        Ok(HeTensor {
            cts,
            layout: Layout::Spatial(SpatialLayout::new(geom, chan_at)),
            factor: 1.0,
        })
    }

    /// The attributes of conv layer `li` (the walk asks only at conv layers).
    fn conv_spec(&self, li: usize) -> ConvSpec {
        match self.net.layers[li].kind {
            LayerKind::Conv {
                out,
                kernel,
                stride,
                pad,
                groups,
                ..
            } => ConvSpec {
                out,
                kernel,
                stride,
                pad,
                groups,
            },
            _ => unreachable!("layer {li} is not a conv"),
        }
    }

    /// Whether conv `li` is the network's first conv.
    fn is_first_conv(&self, li: usize) -> bool {
        !self.net.layers[..li]
            .iter()
            .any(|l| matches!(l.kind, LayerKind::Conv { .. }))
    }

    /// The window of global pooling layer `li`: its whole (square) input map.
    fn global_pool_kernel(&self, li: usize) -> Result<usize, NnError> {
        let s = self.in_shapes[li];
        if s.h != s.w {
            return Err(NnError::Unsupported {
                layer: self.net.layers[li].name.clone(),
                message: format!(
                    "global pooling of a non-square {}×{} map is not supported by the {} packing",
                    s.h,
                    s.w,
                    self.packing.name()
                ),
            });
        }
        Ok(s.h)
    }

    /// Whether pooling layer `li` interlaces its output (some conv or linear layer follows).
    fn interlaces(&self, li: usize) -> bool {
        self.net.layers[li + 1..]
            .iter()
            .any(|l| matches!(l.kind, LayerKind::Conv { .. } | LayerKind::Linear { .. }))
    }

    /// The channel order the first conv reached from layer `from` (through channel-wise
    /// layers and pooling) wants for its input; plain order otherwise.
    fn order_for_consumer(&self, from: usize, geom: &Geometry, c: usize) -> Vec<usize> {
        self.consumer_order(from, geom)
            .unwrap_or_else(|| (0..c).collect())
    }

    /// The input order of the first conv reached from layer `from`, if any.
    fn consumer_order(&self, from: usize, geom: &Geometry) -> Option<Vec<usize>> {
        let mut g = geom.clone();
        for j in from..self.net.layers.len() {
            if j > 0 && !self.net.reads_previous(j) {
                break;
            }
            match &self.net.layers[j].kind {
                LayerKind::Poly { .. } | LayerKind::Relu { .. } | LayerKind::BatchNorm { .. } => {}
                LayerKind::AvgPool { kernel } => g = pooled(&g, *kernel, self.interlaces(j)).0,
                LayerKind::Conv { .. } => return Some(self.desired_input_order(j, &g)),
                _ => break,
            }
        }
        None
    }

    /// Group-interleaving units worth trying for groups of `s` channels: the powers of two
    /// dividing `s`, and `s`.
    fn units(s: usize) -> Vec<usize> {
        let mut units: Vec<usize> = (0..usize::BITS)
            .map(|b| 1usize << b)
            .take_while(|&u| u <= s)
            .filter(|&u| s.is_multiple_of(u))
            .collect();
        units.push(s);
        units.dedup();
        units
    }

    /// The input channel order conv `li` prefers on geometry `g`: plain for dense layers and
    /// the dense packing; for grouped layers the group-interleaving unit with fewest rotations.
    fn desired_input_order(&self, li: usize, g: &Geometry) -> Vec<usize> {
        let ConvSpec { out, groups, .. } = self.conv_spec(li);
        let cin = self.in_shapes[li].c;
        if groups == 1 || self.packing.ungrouped() {
            return (0..cin).collect();
        }
        let (s_in, s_out) = (cin / groups, out / groups);
        let Ok(gout) = self.conv_out_geometry(li, g) else {
            return (0..cin).collect();
        };
        let mut best: Option<(usize, Vec<usize>)> = None;
        let fit = |u: usize, s: usize| if u <= s && s.is_multiple_of(u) { u } else { s };
        let units = Self::units(s_in);
        for unit in units {
            let in_order = group_order(cin, groups, unit);
            let out_order = group_order(out, groups, fit(unit, s_out));
            let gin = g.clone().with_channels(cin);
            let input = SpatialLayout::new(gin.clone(), assign(&in_order, &gin));
            let output = SpatialLayout::new(gout.clone(), assign(&out_order, &gout));
            let rotations = self.conv_rotations(li, &input, &output);
            if best.as_ref().is_none_or(|(r, _)| rotations < *r) {
                best = Some((rotations, in_order));
            }
        }
        best.map(|b| b.1).unwrap_or_else(|| (0..cin).collect())
    }

    fn conv_out_geometry(&self, li: usize, gin: &Geometry) -> Result<Geometry, NnError> {
        let ConvSpec { out, stride, .. } = self.conv_spec(li);
        let shape = self.net.shapes()?[li];
        let mut g = gin.clone();
        g.h = shape.h;
        g.w = shape.w;
        let rows = g.block / g.pitch;
        // Checked: strides multiply along a network, and a fuzzed chain of strided convs
        // overflowed here (fuzz/regressions/network_structured).
        let within = |dil: usize, extent: usize, room: usize| {
            dil.checked_mul(extent).is_some_and(|used| used <= room)
        };
        let Some(dil) = gin
            .dil
            .checked_mul(stride)
            .filter(|&dil| within(dil, g.h, rows) && within(dil, g.w, g.pitch))
        else {
            return Err(NnError::Unsupported {
                layer: self.net.layers[li].name.clone(),
                message: format!(
                    "its {}×{} output (dilation {} × stride {}) does not fit the {}×{} raster of \
                     its channel block; hesim's packings need pad ≤ (kernel − stride)/2",
                    g.h, g.w, gin.dil, stride, rows, g.pitch
                ),
            });
        };
        g.dil = dil;
        Ok(g.with_channels(out))
    }

    // ---- linear stages ---------------------------------------------------------------------

    fn split_parts(&self, split: Split, r: u32) -> (i64, i64) {
        let r = i64::from(r);
        let norm = |v: i64| i64::from(self.normalise(v));
        match split {
            Split::In(b) => {
                let rin = centred(r, b as i64);
                (rin, norm(r - rin))
            }
            Split::Out(b) => {
                let rout = centred(r, b as i64);
                (norm(r - rout), rout)
            }
        }
    }

    /// Rotations under `split`: the distinct nonzero input-side steps per input ciphertext plus
    /// the distinct nonzero output-side steps per output ciphertext, from the distinct `R` per
    /// input ciphertext (`(a, R)` sorted) and per output ciphertext (`(b, R)` sorted).
    fn rotations_for(
        &self,
        per_input: &[(u32, u32)],
        per_output: &[(u32, u32)],
        split: Split,
        steps: &mut StepSet,
    ) -> usize {
        let count = |runs: &[(u32, u32)], side: fn((i64, i64)) -> i64, steps: &mut StepSet| {
            runs.chunk_by(|x, y| x.0 == y.0)
                .map(|run| {
                    steps.count_nonzero(run.iter().map(|&(_, r)| side(self.split_parts(split, r))))
                })
                .sum::<usize>()
        };
        count(per_input, |(ri, _)| ri, steps) + count(per_output, |(_, ro)| ro, steps)
    }

    /// The split with fewest rotations (ties: the earlier candidate).
    fn choose_split(&self, diags: &[Diag]) -> (Split, usize) {
        // the rotations depend only on the distinct R per input and per output ciphertext
        let distinct = |key: fn(&Diag) -> (u32, u32)| {
            let mut v: Vec<(u32, u32)> = diags.iter().map(key).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let per_input = distinct(|&(a, _, r)| (a, r));
        let per_output = distinct(|&(_, b, r)| (b, r));
        let mut steps = StepSet::new(self.n);
        let mut best = (Split::Out(1), usize::MAX);
        let mut b = 1;
        while b <= self.n {
            for s in [Split::In(b), Split::Out(b)] {
                let r = self.rotations_for(&per_input, &per_output, s, &mut steps);
                if r < best.1 {
                    best = (s, r);
                }
            }
            b *= 2;
        }
        best
    }

    /// Emits the products and rotations of a linear stage, then its bias (if any); returns the
    /// outputs.
    fn emit_diagonals(
        &mut self,
        stage: u32,
        xs: &[Ct],
        diags: &[Diag],
        split: Split,
        n_out: usize,
    ) -> Vec<Ct> {
        let mut by_out: Vec<OutputGroups> = vec![BTreeMap::new(); n_out];
        let mut in_rots: Vec<Vec<i64>> = vec![Vec::new(); xs.len()];
        for &(a, b, r) in diags {
            let (ri, ro) = self.split_parts(split, r);
            by_out[b as usize].entry(ro).or_default().push((a, ri, r));
            in_rots[a as usize].push(ri);
        }
        let mut rotated: HashMap<(u32, i64), Ct> = HashMap::new();
        for (a, rots) in in_rots.iter_mut().enumerate() {
            rots.sort_unstable();
            rots.dedup();
            let nonzero = rots.iter().filter(|&&r| r != 0).count();
            let hoist = (nonzero >= 2).then(|| self.hoist_group());
            for &r in rots.iter() {
                let y = self.rotate(xs[a], r, hoist);
                rotated.insert((a as u32, r), y);
            }
        }
        let mut outs = Vec::with_capacity(n_out);
        for (b, groups) in by_out.into_iter().enumerate() {
            let mut total: Option<Ct> = None;
            for (ro, list) in groups {
                let mut acc: Option<Ct> = None;
                for (a, ri, r) in list {
                    let x = rotated[&(a, ri)];
                    let recipe = PlainRecipe::Diagonal {
                        stage,
                        a,
                        b: b as u32,
                        r,
                        r_out: ro as i32,
                    };
                    let p = self.mul_plain(x, recipe);
                    acc = self.add_opt(acc, p);
                }
                let acc = acc.expect("non-empty group");
                let acc = self.rotate(acc, ro, None);
                total = self.add_opt(total, acc);
            }
            let total = match total {
                Some(t) => t,
                None => {
                    // every diagonal of this output was pruned: an explicit zero
                    let z = self.push(OpKind::MulConst, vec![xs[0].id], xs[0].lvl);
                    self.constants.insert(z.id, 0.0);
                    z
                }
            };
            outs.push(self.rescale(total));
        }
        if !self.stages[stage as usize].has_bias() {
            return outs;
        }
        outs.into_iter()
            .enumerate()
            .map(|(b, y)| self.add_plain(y, PlainRecipe::Bias { stage, b: b as u32 }))
            .collect()
    }

    /// The saved tensor a residual add at layer `li` reads, if layer `li` is one.
    fn residual_partner(&self, li: usize) -> Option<HeTensor> {
        match &self.net.layers.get(li)?.kind {
            LayerKind::Residual { from } => self.saved.get(&self.net.layer_index(from)?).cloned(),
            _ => None,
        }
    }

    /// Target factor for the output of linear layer `li`: what the next activation wants
    /// (√|c2|, divided by the pooling sums in between), the residual partner's factor, or 1.
    fn target_factor(&self, li: usize, outs_factor: Option<f64>) -> f64 {
        let mut mult = 1.0;
        for j in li + 1..self.net.layers.len() {
            if !self.net.reads_previous(j) {
                break;
            }
            match &self.net.layers[j].kind {
                LayerKind::BatchNorm { .. } | LayerKind::Flatten => {}
                LayerKind::AvgPool { kernel } => mult *= (kernel * kernel) as f64,
                LayerKind::GlobalAvgPool => {
                    let s = self.in_shapes[j];
                    mult *= (s.h * s.w) as f64;
                }
                LayerKind::Poly { .. } | LayerKind::Relu { .. } => {
                    let Some([_, c1, c2]) = self.params.quadratic(j) else {
                        break;
                    };
                    return if c2 != 0.0 {
                        c2.abs().sqrt() / mult
                    } else {
                        c1.abs().max(1e-300).recip() / mult
                    };
                }
                LayerKind::Residual { .. } => return outs_factor.unwrap_or(1.0) / mult,
                _ => break,
            }
        }
        1.0 / mult
    }

    /// Output scale and bias (per channel) of affine layer `li`, with batch norm folded.
    fn folded(
        &self,
        li: usize,
        bn: bool,
        out: usize,
        factor_in: f64,
        target: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        let (_, bias) = self.params.affine(li);
        let (mut scale, mut shift) = (vec![1.0; out], bias.to_vec());
        if bn {
            let (s, t) = self.params.batchnorm_affine(li + 1);
            for o in 0..out {
                scale[o] = s[o];
                shift[o] = s[o] * bias[o] + t[o];
            }
        }
        let w_scale = scale.iter().map(|s| s * target / factor_in).collect();
        let bias = shift.iter().map(|b| b * target).collect();
        (w_scale, bias)
    }

    // ---- layers ------------------------------------------------------------------------------

    /// Where conv `li`'s weights go between two layouts, per channel pair and kernel tap.
    fn conv_geometry(
        &self,
        li: usize,
        input: &SpatialLayout,
        output: &SpatialLayout,
    ) -> ConvGeometry {
        let ConvSpec {
            out,
            kernel,
            stride,
            pad,
            groups,
        } = self.conv_spec(li);
        let n = self.n as i64;
        let cin = self.in_shapes[li].c;
        let (gin, gout) = (&input.geom, &output.geom);
        let places_in = input.placements(cin);
        let out_place: Vec<(usize, usize)> =
            output.placements(out).into_iter().map(|p| p[0]).collect();
        let valid = |d: usize, len_in: usize, len_out: usize| {
            (0..len_out).any(|o| {
                let i = (o * stride + d) as isize - pad as isize;
                i >= 0 && i < len_in as isize
            })
        };
        let rows: Vec<usize> = (0..kernel).filter(|&d| valid(d, gin.h, gout.h)).collect();
        let cols: Vec<usize> = (0..kernel).filter(|&d| valid(d, gin.w, gout.w)).collect();
        let taps = rows
            .iter()
            .flat_map(|&di| cols.iter().map(move |&dj| (di, dj)))
            .map(|(di, dj)| {
                let shift = gin.dil as i64
                    * ((di as i64 - pad as i64) * gin.pitch as i64 + dj as i64 - pad as i64);
                (di as u16, dj as u16, shift)
            })
            .collect();
        let (cin_g, cout_g) = (cin / groups, out / groups);
        let dense = self.packing.ungrouped();
        let (weight, _) = self.params.affine(li);
        let zero_pair = |o: usize, i: usize| {
            let first = (o * cin_g + i % cin_g) * kernel * kernel;
            self.packing == Packing::Circulant
                && (first..first + kernel * kernel).all(|w| weight.get(w) == 0.0)
        };
        let mut pairs = Vec::new();
        for (o, &(b, bo)) in out_place.iter().enumerate() {
            let g = o / cout_g;
            let ins = if dense {
                0..cin
            } else {
                g * cin_g..(g + 1) * cin_g
            };
            for i in ins.filter(|&i| !zero_pair(o, i)) {
                let &(a, bi) = places_in[i]
                    .iter()
                    .min_by_key(|&&(a, bi)| (((bi + self.n - bo) % self.n), a))
                    .expect("every input channel is placed");
                let delta = (bi as i64 - bo as i64).rem_euclid(n);
                pairs.push((o as u32, i as u32, a as u32, b as u32, delta));
            }
        }
        ConvGeometry {
            n: self.n,
            out_place,
            pairs,
            taps,
        }
    }

    /// Rotations of conv `li` between two layouts under its best split (layout searches call
    /// this for every candidate; only the distinct diagonals matter).
    fn conv_rotations(&self, li: usize, input: &SpatialLayout, output: &SpatialLayout) -> usize {
        let (_, diags) = self.conv_geometry(li, input, output).diagonals();
        self.choose_split(&diags).1
    }

    fn plan_conv(&self, li: usize, input: &SpatialLayout, output: &SpatialLayout) -> ConvPlan {
        let geo = self.conv_geometry(li, input, output);
        let (bases, diags) = geo.diagonals();
        let taps = geo.taps.len();
        // diagonal index of every (base, tap); then a counting sort of the weights by diagonal,
        // which keeps each diagonal's terms in (o, i, di, dj) order (a comparison sort of all
        // weights dominated building the dense packing)
        let mut tap_diag = Vec::with_capacity(bases.len() * taps);
        for &base in &bases {
            for tap in &geo.taps {
                let d = geo.diagonal(base, tap.2);
                tap_diag.push(diags.binary_search(&d).expect("every diagonal is listed"));
            }
        }
        let pair_diags = |&(_, _, a, b, delta): &(u32, u32, u32, u32, i64)| {
            let base = bases
                .binary_search(&(a, b, delta))
                .expect("every base is listed");
            &tap_diag[base * taps..(base + 1) * taps]
        };
        let mut start = vec![0usize; diags.len() + 1];
        for pair in &geo.pairs {
            for &d in pair_diags(pair) {
                start[d + 1] += 1;
            }
        }
        for d in 0..diags.len() {
            start[d + 1] += start[d];
        }
        let mut sorted: Vec<ConvTerm> = vec![(0, 0, 0, 0); start[diags.len()]];
        let mut next = start.clone();
        for pair in &geo.pairs {
            for (&d, &(di, dj, _)) in pair_diags(pair).iter().zip(&geo.taps) {
                sorted[next[d]] = (pair.0, pair.1, di, dj);
                next[d] += 1;
            }
        }
        let terms: BTreeMap<Diag, Vec<ConvTerm>> = diags
            .iter()
            .enumerate()
            .map(|(k, &d)| (d, sorted[start[k]..start[k + 1]].to_vec()))
            .collect();
        let split = match self.packing {
            Packing::Hear => hear_split(self.is_first_conv(li), input.geom.block),
            _ => self.choose_split(&diags).0,
        };
        ConvPlan {
            terms,
            out_place: geo.out_place,
            split,
        }
    }

    /// Sub-block pruning: the weights sharing one output-side rotation `(b, r_out)` form a
    /// sub-block; remove the lowest mean-|w| sub-blocks until `sparsity` of the layer's
    /// in-group weights are gone.
    fn prune(&mut self, li: usize, plan: &mut ConvPlan, sparsity: f64) -> String {
        let ConvSpec {
            kernel,
            groups,
            out,
            ..
        } = self.conv_spec(li);
        let cin = self.in_shapes[li].c;
        let (cin_g, cout_g) = (cin / groups, out / groups);
        let (w, _) = self.params.affine(li);
        let widx = |&(o, i, di, dj): &ConvTerm| {
            ((o as usize * cin_g + i as usize % cin_g) * kernel + di as usize) * kernel
                + dj as usize
        };
        let mut blocks: BTreeMap<(u32, i64), Vec<Diag>> = BTreeMap::new();
        let mut total = 0usize;
        for (&key, ts) in &plan.terms {
            let (_, ro) = self.split_parts(plan.split, key.2);
            blocks.entry((key.1, ro)).or_default().push(key);
            total += ts
                .iter()
                .filter(|t| t.1 as usize / cin_g == t.0 as usize / cout_g)
                .count();
        }
        let mut scored: Vec<(f64, (u32, i64), usize)> = blocks
            .iter()
            .map(|(k, ds)| {
                let ws: Vec<f64> = ds
                    .iter()
                    .flat_map(|d| plan.terms[d].iter().map(|t| w.get(widx(t)).abs()))
                    .collect();
                (
                    ws.iter().sum::<f64>() / ws.len().max(1) as f64,
                    *k,
                    ws.len(),
                )
            })
            .collect();
        scored.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let goal = (sparsity * total as f64).ceil() as usize;
        let mut mask = vec![false; w.len()];
        let (mut removed, mut blocks_removed, mut rot_removed) = (0usize, 0usize, 0usize);
        for (_, key, size) in scored {
            if removed >= goal {
                break;
            }
            for d in &blocks[&key] {
                for t in plan.terms.remove(d).unwrap_or_default() {
                    mask[widx(&t)] = true;
                }
            }
            removed += size;
            blocks_removed += 1;
            rot_removed += usize::from(key.1 != 0);
        }
        let count = mask.iter().filter(|&&m| m).count();
        self.pruned.insert(li, mask);
        format!(
            "pruned {blocks_removed} sub-blocks ({rot_removed} with a rotation), {count}/{total} weights"
        )
    }

    /// Output layout of a conv whose consumer has no channel preference: the group-interleaved
    /// order with fewest rotations for this conv (plain order for dense layers).
    fn best_output_layout(
        &self,
        li: usize,
        input: &SpatialLayout,
        gout: &Geometry,
    ) -> SpatialLayout {
        let ConvSpec { out, groups, .. } = self.conv_spec(li);
        let plain = SpatialLayout::new(gout.clone(), assign(&(0..out).collect::<Vec<_>>(), gout));
        if groups == 1 || self.packing.ungrouped() {
            return plain;
        }
        Self::units(out / groups)
            .into_iter()
            .map(|u| SpatialLayout::new(gout.clone(), assign(&group_order(out, groups, u), gout)))
            .min_by_key(|l| self.conv_rotations(li, input, l))
            .unwrap_or(plain)
    }

    fn conv(&mut self, li: usize, x: HeTensor, bn: bool) -> Result<HeTensor, NnError> {
        let ConvSpec {
            out,
            kernel,
            stride,
            pad,
            groups,
        } = self.conv_spec(li);
        let Layout::Spatial(input) = x.layout.clone() else {
            return Err(NnError::Unsupported {
                layer: self.net.layers[li].name.clone(),
                message: "conv on a flattened tensor".into(),
            });
        };
        let gout = self.conv_out_geometry(li, &input.geom)?;
        let after = li + 1 + usize::from(bn);
        let skip = self.residual_partner(after);
        let output = match skip.as_ref().map(|t| &t.layout) {
            // a residual add follows: adopt the skip tensor's layout when the geometry allows
            Some(Layout::Spatial(l)) if l.geom == gout => l.clone(),
            _ => match self.consumer_order(after, &gout) {
                Some(order) => SpatialLayout::new(gout.clone(), assign(&order, &gout)),
                None => self.best_output_layout(li, &input, &gout),
            },
        };
        let mut plan = self.plan_conv(li, &input, &output);
        let mut detail = format!("split {:?}", plan.split);
        if let Packing::Spencnn { sparsity } = self.packing
            && sparsity > 0.0
            && !self.is_first_conv(li)
        {
            detail.push_str(&format!(", {}", self.prune(li, &mut plan, sparsity)));
        }
        let diags: Vec<Diag> = plan.terms.keys().copied().collect();
        let target = self.target_factor(li + usize::from(bn), skip.map(|t| t.factor));
        let (w_scale, bias) = self.folded(li, bn, out, x.factor, target);
        let (weight, _) = self.params.affine(li);
        let stage = self.stages.len() as u32;
        self.stages.push(Stage::Conv(Box::new(ConvStage {
            weight: weight.clone(),
            cin: self.in_shapes[li].c,
            groups,
            cout: out,
            kernel,
            stride,
            pad,
            w_scale,
            bias,
            input: input.clone(),
            output: output.clone(),
            out_place: plan.out_place.clone(),
            terms: std::mem::take(&mut plan.terms),
        })));
        let ys = self.emit_diagonals(stage, &x.cts, &diags, plan.split, gout.n_ct);
        detail.push_str(&format!(
            ", {} diagonals, {} → {} ciphertexts",
            diags.len(),
            x.cts.len(),
            ys.len()
        ));
        self.report(li, detail);
        Ok(HeTensor {
            cts: ys,
            layout: Layout::Spatial(output),
            factor: target,
        })
    }

    fn flatten(&mut self, x: HeTensor) -> HeTensor {
        let layout = match x.layout {
            Layout::Flat { .. } => x.layout,
            Layout::Spatial(l) => {
                let c = l.chan_at.iter().flatten().max().map_or(0, |m| m + 1);
                let places = l.placements(c);
                let mut pos = Vec::with_capacity(c * l.geom.h * l.geom.w);
                for ch in 0..c {
                    for y in 0..l.geom.h {
                        for xx in 0..l.geom.w {
                            let (t, s) = l.slot_of(&places, ch, y, xx);
                            pos.push((t as u32, s as u32));
                        }
                    }
                }
                Layout::Flat {
                    pos,
                    n_ct: l.geom.n_ct,
                }
            }
        };
        HeTensor { layout, ..x }
    }

    fn linear(&mut self, li: usize, x: HeTensor, bn: bool) -> Result<HeTensor, NnError> {
        let LayerKind::Linear { out, .. } = self.net.layers[li].kind else {
            unreachable!()
        };
        let x = self.flatten(x);
        let Layout::Flat { pos, n_ct } = &x.layout else {
            unreachable!()
        };
        let (n, m) = (self.n, pos.len());
        // outputs go to the lowest slots the input occupies in ciphertext 0, then further
        // ciphertexts slot by slot
        let mut first: Vec<u32> = pos.iter().filter(|p| p.0 == 0).map(|p| p.1).collect();
        first.sort_unstable();
        let out_pos: Vec<(u32, u32)> = if first.len() >= out {
            first[..out].iter().map(|&s| (0, s)).collect()
        } else {
            (0..out).map(|j| ((j / n) as u32, (j % n) as u32)).collect()
        };
        let n_out = out_pos.iter().map(|p| p.0 as usize + 1).max().unwrap_or(1);
        let mut slot_elem = vec![vec![u32::MAX; n]; *n_ct];
        for (e, &(t, s)) in pos.iter().enumerate() {
            slot_elem[t as usize][s as usize] = e as u32;
        }
        let mut out_slots: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n_out];
        for (j, &(t, s)) in out_pos.iter().enumerate() {
            out_slots[t as usize].push((s, j as u32));
        }
        let (weight, _) = self.params.affine(li);
        let diags = if self.packing == Packing::Circulant {
            nonzero_diagonals(weight, pos, &out_pos, n)
        } else {
            all_diagonals(&slot_elem, &out_slots, n)
        };
        let (split, rots) = self.choose_split(&diags);
        let skip = self
            .residual_partner(li + 1 + usize::from(bn))
            .map(|t| t.factor);
        let target = self.target_factor(li + usize::from(bn), skip);
        let (w_scale, bias) = self.folded(li, bn, out, x.factor, target);
        let stage = self.stages.len() as u32;
        self.stages.push(Stage::Linear(LinearStage {
            weight: weight.clone(),
            m,
            w_scale,
            bias,
            slot_elem,
            out_slots,
        }));
        let ys = self.emit_diagonals(stage, &x.cts, &diags, split, n_out);
        self.report(
            li,
            format!(
                "split {split:?}, {} diagonals, {rots} rotations",
                diags.len()
            ),
        );
        Ok(HeTensor {
            cts: ys,
            layout: Layout::Flat {
                pos: out_pos,
                n_ct: n_out,
            },
            factor: target,
        })
    }

    fn pool(&mut self, li: usize, x: HeTensor, k: usize) -> Result<HeTensor, NnError> {
        let Layout::Spatial(l) = x.layout else {
            return Err(NnError::Unsupported {
                layer: self.net.layers[li].name.clone(),
                message: "pooling a flattened tensor".into(),
            });
        };
        let g = &l.geom;
        let (step_x, step_y) = (g.dil as i64, (g.dil * g.pitch) as i64);
        let mut summed = Vec::with_capacity(x.cts.len());
        for &c in &x.cts {
            let mut acc = c;
            for step in [step_x, step_y] {
                let src = acc;
                let hoist = (k > 2).then(|| self.hoist_group());
                let mut sum = src;
                for d in 1..k as i64 {
                    let r = self.rotate(src, d * step, hoist);
                    sum = self.add(sum, r);
                }
                acc = sum;
            }
            summed.push(acc);
        }
        let interlace = self.interlaces(li);
        let (geom, shifts) = pooled(g, k, interlace);
        let factor = x.factor * (k * k) as f64;
        let mut chan_at = l.chan_at.clone();
        chan_at.resize(geom.n_ct * geom.lanes_per_ct(), None);
        let cts = if shifts.len() > 1 {
            // interlace: mask each ciphertext to its valid slots, shift it to its sub-pixel
            // position and add
            let mut before = l.clone();
            before.geom.h = geom.h;
            before.geom.w = geom.w;
            before.geom.dil = geom.dil;
            self.masks.push(before);
            let layout = self.masks.len() as u32 - 1;
            let mut merged = Vec::with_capacity(geom.n_ct);
            for (t, chunk) in summed.chunks(shifts.len()).enumerate() {
                let mut acc: Option<Ct> = None;
                for (i, &c) in chunk.iter().enumerate() {
                    let ct = (t * shifts.len() + i) as u32;
                    let m = self.mul_plain(c, PlainRecipe::Mask { layout, ct });
                    let m = self.rescale(m);
                    let m = self.rotate(m, -(shifts[i] as i64), None);
                    acc = self.add_opt(acc, m);
                }
                merged.push(acc.expect("non-empty chunk"));
            }
            self.report(
                li,
                format!(
                    "sum pool {k}×{k}, interlaced {} → {} ciphertexts",
                    summed.len(),
                    merged.len()
                ),
            );
            merged
        } else {
            self.report(li, format!("sum pool {k}×{k}"));
            summed
        };
        Ok(HeTensor {
            cts,
            layout: Layout::Spatial(SpatialLayout::new(geom, chan_at)),
            factor,
        })
    }

    /// `c0 + c1·x + c2·x²` in one level when the input factor is √|c2| (the previous linear
    /// layer arranges that): with y = a·x, σ = sign(c2), the output is σ·(y·(y + σc1/a) + σc0).
    fn activation(&mut self, li: usize, x: HeTensor) -> Result<HeTensor, NnError> {
        let Some([c0, c1, c2]) = self.params.quadratic(li) else {
            return Ok(self.deep_activation(li, x));
        };
        let mut factor = x.factor;
        let cts = if c2 != 0.0 {
            let a = c2.abs().sqrt();
            let sigma = c2.signum();
            let rescale_needed = ((factor - a) / a).abs() > 1e-12;
            let out: Vec<Ct> = x
                .cts
                .iter()
                .map(|&c| {
                    let y = if rescale_needed {
                        self.mul_const(c, a / factor)
                    } else {
                        c
                    };
                    let t = if c1 != 0.0 {
                        self.add_const(y, sigma * c1 / a)
                    } else {
                        y
                    };
                    let m = self.square_like(y, t);
                    if c0 != 0.0 {
                        self.add_const(m, sigma * c0)
                    } else {
                        m
                    }
                })
                .collect();
            factor = sigma;
            out
        } else {
            // affine: c0 + c1·x = (c1/s)·(y + c0·s/c1) with y = s·x
            let out = x
                .cts
                .iter()
                .map(|&c| self.add_const(c, c0 * factor / c1))
                .collect();
            factor /= c1;
            out
        };
        self.report(li, format!("poly [{c0:.4}, {c1:.4}, {c2:.4}]"));
        Ok(HeTensor { cts, factor, ..x })
    }

    /// An activation of degree > 2 (or a composite one) on the unscaled tensor, evaluated as
    /// the multiplexed packing evaluates it: the emitter's ops continue this program, with its
    /// levels (counted down from an arbitrary top) turned into consumed levels.
    fn deep_activation(&mut self, li: usize, x: HeTensor) -> HeTensor {
        const TOP: u32 = 1 << 20;
        let unscale = (x.factor - 1.0).abs() > RATIO_TOLERANCE;
        let mut cts = Vec::with_capacity(x.cts.len());
        let mut levels = 0;
        for &c in &x.cts {
            let c = if unscale {
                self.mul_const(c, x.factor.recip())
            } else {
                c
            };
            let mut e = Emitter::new(self.n as u64, self.next_id, self.next_hoist, 0);
            e.set_layer(&self.layer);
            let input = boot::Ct {
                id: c.id,
                level: TOP - c.lvl,
            };
            let y = emit_activation(&mut e, self.params, li, input);
            debug_assert!(e.plains.is_empty() && e.imaginary.is_empty());
            self.next_id = y.id + 1;
            for mut op in e.ops {
                op.level = TOP - op.level;
                self.next_id = self.next_id.max(op.id + 1);
                self.ops.push(op);
            }
            self.constants.extend(e.constants);
            levels = input.level - y.level;
            cts.push(Ct {
                id: y.id,
                lvl: TOP - y.level,
            });
        }
        let what = match self.params.polynomial(li) {
            Some(c) => format!("degree {} polynomial", c.len() - 1),
            None => "AppReLU (composite sign)".into(),
        };
        self.report(li, format!("{what}, {levels} levels"));
        HeTensor {
            cts,
            factor: 1.0,
            ..x
        }
    }

    fn residual(&mut self, li: usize, x: HeTensor, other: HeTensor) -> Result<HeTensor, NnError> {
        let same = match (&x.layout, &other.layout) {
            (Layout::Spatial(a), Layout::Spatial(b)) => a == b,
            (Layout::Flat { pos: a, .. }, Layout::Flat { pos: b, .. }) => a == b,
            _ => false,
        };
        let bad = |message: String| NnError::Unsupported {
            layer: self.net.layers[li].name.clone(),
            message,
        };
        if !same {
            return Err(bad(
                "the two branches have different slot layouts; residual adds need the \
                            branch to end in a conv that can adopt the skip's layout"
                    .into(),
            ));
        }
        let ratio = other.factor / x.factor;
        let cts = x
            .cts
            .iter()
            .zip(&other.cts)
            .map(|(&a, &b)| {
                let a = if (ratio - 1.0).abs() > RATIO_TOLERANCE {
                    self.mul_const(a, ratio)
                } else {
                    a
                };
                self.add(a, b)
            })
            .collect();
        self.report(li, "residual add".into());
        Ok(HeTensor {
            cts,
            layout: x.layout,
            factor: other.factor,
        })
    }
}

/// HEAR's fixed conv mode as its example run uses it (`baby giant giant`, see `nn::hear`):
/// the first conv in `baby` mode (the in-block part of each rotation on the inputs, the
/// channel-block part on the output partial sums), every later conv in `giant` mode (the
/// reverse), with blocks of `block` slots.
fn hear_split(first_conv: bool, block: usize) -> Split {
    if first_conv {
        Split::In(block)
    } else {
        Split::Out(block)
    }
}

/// The diagonals `(a, b, R)` of a linear layer: every `(p − q) mod n` between an input slot
/// `p` and an output slot `q`, via bitsets (weights are not looked at).
fn all_diagonals(slot_elem: &[Vec<u32>], out_slots: &[Vec<(u32, u32)>], n: usize) -> Vec<Diag> {
    let words = n.div_ceil(64);
    let bits: Vec<Vec<u64>> = slot_elem
        .iter()
        .map(|se| {
            let mut b = vec![0u64; words];
            for (s, &e) in se.iter().enumerate() {
                if e != u32::MAX {
                    b[s / 64] |= 1 << (s % 64);
                }
            }
            b
        })
        .collect();
    let mut diags: Vec<Diag> = Vec::new();
    for (a, ba) in bits.iter().enumerate() {
        for (b, outs) in out_slots.iter().enumerate() {
            let mut acc = vec![0u64; words];
            for &(q, _) in outs {
                or_rotated(&mut acc, ba, q as usize, n);
            }
            for (wi, &word) in acc.iter().enumerate() {
                let mut w = word;
                while w != 0 {
                    let bit = w.trailing_zeros() as usize;
                    diags.push((a as u32, b as u32, (wi * 64 + bit) as u32));
                    w &= w - 1;
                }
            }
        }
    }
    diags
}

/// The diagonals of a linear layer that carry a nonzero weight: `(p − q) mod n` for every input
/// element at `(a, p)` and output `j` at `(b, q)` with `weight[j][e] ≠ 0`, in sorted order.
fn nonzero_diagonals(
    weight: &super::weights::Tensor,
    input: &[(u32, u32)],
    output: &[(u32, u32)],
    n: usize,
) -> Vec<Diag> {
    let m = input.len();
    let mut diags = std::collections::BTreeSet::new();
    for (j, &(b, q)) in output.iter().enumerate() {
        for (e, &(a, p)) in input.iter().enumerate() {
            if weight.get(j * m + e) != 0.0 {
                diags.insert((a, b, ((p as usize + n - q as usize) % n) as u32));
            }
        }
    }
    diags.into_iter().collect()
}

/// `dst[t] |= src[(t + shift) mod n]` on bitsets of `n` bits: the slots `p − shift` for every
/// set slot `p` of `src`.
fn or_rotated(dst: &mut [u64], src: &[u64], shift: usize, n: usize) {
    let words = src.len();
    if !n.is_multiple_of(64) {
        for t in 0..n {
            let s = (t + shift) % n;
            if src[s / 64] >> (s % 64) & 1 == 1 {
                dst[t / 64] |= 1 << (t % 64);
            }
        }
        return;
    }
    let (ws, bs) = (shift / 64, shift % 64);
    for (t, d) in dst.iter_mut().enumerate() {
        let lo = src[(t + ws) % words];
        let v = if bs == 0 {
            lo
        } else {
            (lo >> bs) | (src[(t + ws + 1) % words] << (64 - bs))
        };
        *d |= v;
    }
}

/// Counts distinct rotation steps with a reusable bitset over the `n` slot rotations: hash sets
/// here dominated program building, as every layer tries ~30 splits of thousands of diagonals.
struct StepSet {
    bits: Vec<u64>,
    /// `n − 1` for the power of two `n`.
    mask: i64,
}

impl StepSet {
    fn new(n: usize) -> Self {
        Self {
            bits: vec![0; n.div_ceil(64)],
            mask: n as i64 - 1,
        }
    }

    /// The number of distinct nonzero values among `steps`, which must be distinct modulo `n`
    /// when distinct (they lie in a window of at most `n`, as rotation steps do).
    fn count_nonzero(&mut self, steps: impl Iterator<Item = i64> + Clone) -> usize {
        let index = |s: i64| (s & self.mask) as usize;
        let mut count = 0;
        for s in steps.clone().filter(|&s| s != 0) {
            let k = index(s);
            let bit = 1u64 << (k % 64);
            if self.bits[k / 64] & bit == 0 {
                self.bits[k / 64] |= bit;
                count += 1;
            }
        }
        for s in steps {
            self.bits[index(s) / 64] = 0;
        }
        count
    }
}

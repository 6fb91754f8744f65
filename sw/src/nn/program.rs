//! The HE program: one op list with its payloads, run by three backends (trace emission,
//! the slot interpreter, CKKS).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use hesim_traces::{Analysis, Analyzer, Header, Op, OpKind, TraceWriter, ValueId};

use super::NnError;
use super::layout::{Geometry, SpatialLayout};
use super::reference::PruneMasks;
use super::weights::Tensor;
use crate::boot::{Ct, Emitter};

/// How a plaintext's slot vector is computed (payloads are produced on demand: VGG-5's fully
/// connected layers alone would need gigabytes if stored).
#[derive(Clone, Debug)]
pub(crate) enum PlainRecipe {
    /// Weights of one diagonal `(a, b, R)` of a linear stage, placed for output rotation
    /// `r_out` (slot `q + r_out` holds the weight that output slot `q` needs from input slot
    /// `q + R`).
    Diagonal {
        stage: u32,
        a: u32,
        b: u32,
        r: u32,
        r_out: i32,
    },
    /// Bias of output ciphertext `b` of a stage, at the valid output slots.
    Bias { stage: u32, b: u32 },
    /// 1 at the valid slots of the occupied lanes of ciphertext `ct` of a layout.
    Mask { layout: u32, ct: u32 },
    /// Plaintext `index` of a packing that computes its own payloads (ResNet-20's multiplexed
    /// packings, `nn::multiplexed`).
    External {
        source: std::sync::Arc<dyn PlainSource>,
        index: u32,
    },
}

/// A packing that computes plaintext payloads on demand.
pub(crate) trait PlainSource: std::fmt::Debug + Send + Sync {
    /// Writes plaintext `index` into the zeroed slot vector `slots`.
    fn fill(&self, index: u32, slots: &mut [f64]);
}

/// A builder that records the payload of each plaintext operand it emits, in the emitter's
/// plaintext order (payload `i` is the [`PlainRecipe::External`] index of plaintext `i`).
pub(crate) trait RecordsPlains {
    type Payload;
    /// The emitter and the payloads recorded so far.
    fn recorder(&mut self) -> (&mut Emitter, &mut Vec<Self::Payload>);

    /// `x × plaintext p` (not rescaled).
    fn mul_plain(&mut self, x: Ct, p: Self::Payload) -> Ct {
        let (e, list) = self.recorder();
        debug_assert_eq!(e.next_plain() as usize, list.len());
        list.push(p);
        e.mul_plain(x).0
    }

    /// `x + plaintext p`.
    fn add_plain(&mut self, x: Ct, p: Self::Payload) -> Ct {
        let (e, list) = self.recorder();
        debug_assert_eq!(e.next_plain() as usize, list.len());
        list.push(p);
        e.add_plain(x).0
    }
}

/// The recipes of plaintexts 0..`count` of `source`.
pub(crate) fn external_recipes(
    source: std::sync::Arc<dyn PlainSource>,
    count: usize,
) -> Vec<PlainRecipe> {
    (0..count as u32)
        .map(|index| PlainRecipe::External {
            source: source.clone(),
            index,
        })
        .collect()
}

/// Where a 3×32×32 CIFAR image sits in one ciphertext replicated `copies` times:
/// `slot(copy, channel, y, x)`.
pub(crate) fn cifar_input_positions(
    copies: usize,
    slot: impl Fn(usize, usize, usize, usize) -> usize,
) -> Vec<Vec<(u32, u32)>> {
    (0..3)
        .flat_map(|c| (0..32).flat_map(move |y| (0..32).map(move |x| (c, y, x))))
        .map(|(c, y, x)| {
            (0..copies)
                .map(|copy| (0, slot(copy, c, y, x) as u32))
                .collect()
        })
        .collect()
}

/// The weights and layouts of one conv or linear layer, kept to compute its payloads.
#[derive(Clone, Debug)]
pub(crate) enum Stage {
    Conv(Box<ConvStage>),
    Linear(LinearStage),
}

impl Stage {
    /// Whether the stage adds a nonzero bias.
    pub fn has_bias(&self) -> bool {
        let bias = match self {
            Stage::Conv(s) => &s.bias,
            Stage::Linear(s) => &s.bias,
        };
        bias.iter().any(|&b| b != 0.0)
    }
}

/// One `(o, i, di, dj)` weight of a conv diagonal.
pub(crate) type ConvTerm = (u32, u32, u16, u16);

#[derive(Clone, Debug)]
pub(crate) struct ConvStage {
    pub weight: Tensor,
    pub cin: usize,
    pub groups: usize,
    pub cout: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    /// Per output channel multiplier (batch-norm scale × factor change).
    pub w_scale: Vec<f64>,
    /// Per output channel bias (already scaled).
    pub bias: Vec<f64>,
    pub input: SpatialLayout,
    pub output: SpatialLayout,
    /// Output placement `(ciphertext, base)` per output channel.
    pub out_place: Vec<(usize, usize)>,
    /// The weights of every diagonal `(a, b, R)`.
    pub terms: BTreeMap<(u32, u32, u32), Vec<ConvTerm>>,
}

#[derive(Clone, Debug)]
pub(crate) struct LinearStage {
    pub weight: Tensor,
    pub m: usize,
    pub w_scale: Vec<f64>,
    pub bias: Vec<f64>,
    /// Input element at each slot of each input ciphertext (`u32::MAX` = none).
    pub slot_elem: Vec<Vec<u32>>,
    /// Output element slots per output ciphertext: `(slot, element)`.
    pub out_slots: Vec<Vec<(u32, u32)>>,
}

/// Where the program's input and output elements sit.
#[derive(Clone, Debug, PartialEq)]
pub struct IoLayout {
    /// Every `(ciphertext, slot)` holding each element (inputs may be replicated).
    pub positions: Vec<Vec<(u32, u32)>>,
    pub cts: usize,
    /// Ciphertexts hold `factor ×` the logical values.
    pub factor: f64,
}

/// What the builder chose for one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerReport {
    pub name: String,
    pub kind: &'static str,
    /// Chosen rotation split / interleave unit / pruning, for humans.
    pub detail: String,
}

/// An HE program for one network under one packing.
#[derive(Clone, Debug)]
pub struct Program {
    pub header: Header,
    pub ops: Vec<Op>,
    pub input: IoLayout,
    pub output: IoLayout,
    /// Value ids of the input ciphertexts, in order.
    pub input_ids: Vec<ValueId>,
    /// Value ids the `output` ops mark, in order.
    pub output_ids: Vec<ValueId>,
    pub layers: Vec<LayerReport>,
    /// Weights removed by sub-block pruning (`spencnn` packing).
    pub pruned: PruneMasks,
    /// Activations replaced by polynomials.
    pub substitutions: Vec<String>,
    pub(crate) recipes: Vec<PlainRecipe>,
    pub(crate) stages: Vec<Stage>,
    pub(crate) masks: Vec<SpatialLayout>,
    pub(crate) constants: HashMap<ValueId, f64>,
    /// What the client applies to the input before encoding it (`None`: nothing).
    pub(crate) client_transform: Option<ChannelBlockTransform>,
}

/// A linear map the client applies to every block of `matrix.len()` consecutive input channels
/// at every pixel before encrypting: PrivCirNet's client-side DFT (`nn::circulant`).
#[derive(Clone, Debug)]
pub(crate) struct ChannelBlockTransform {
    pub matrix: Vec<Vec<f64>>,
    /// Pixels per channel (`H·W`).
    pub pixels: usize,
}

impl ChannelBlockTransform {
    fn apply(&self, input: &[f64]) -> Vec<f64> {
        let b = self.matrix.len();
        (0..input.len())
            .map(|e| {
                let (c, p) = (e / self.pixels, e % self.pixels);
                let (first, k) = (c - c % b, c % b);
                (0..b)
                    .map(|t| self.matrix[k][t] * input[(first + t) * self.pixels + p])
                    .sum()
            })
            .collect()
    }
}

impl Program {
    pub fn slots(&self) -> usize {
        self.header.slots as usize
    }

    /// Number of plaintexts the ops reference.
    pub fn plaintext_count(&self) -> usize {
        self.recipes.len()
    }

    /// The scalar of an `add_const` / `mul_const` op.
    pub fn constant(&self, op: ValueId) -> f64 {
        self.constants[&op]
    }

    /// The slot vector of plaintext `id`.
    pub fn plaintext(&self, id: u32) -> Vec<f64> {
        let n = self.slots();
        let mut v = vec![0.0; n];
        match &self.recipes[id as usize] {
            PlainRecipe::Diagonal {
                stage,
                a,
                b,
                r,
                r_out,
            } => {
                let shift = r_out.rem_euclid(n as i32) as usize;
                match &self.stages[*stage as usize] {
                    Stage::Conv(s) => conv_diagonal(s, (*a, *b, *r), shift, n, &mut v),
                    Stage::Linear(s) => {
                        for &(q, j) in &s.out_slots[*b as usize] {
                            let p = (q as usize + *r as usize) % n;
                            let e = s.slot_elem[*a as usize][p];
                            if e != u32::MAX {
                                v[(q as usize + shift) % n] =
                                    s.weight.get(j as usize * s.m + e as usize)
                                        * s.w_scale[j as usize];
                            }
                        }
                    }
                }
            }
            PlainRecipe::Bias { stage, b } => match &self.stages[*stage as usize] {
                Stage::Conv(s) => {
                    for (o, &(t, base)) in s.out_place.iter().enumerate() {
                        if t == *b as usize {
                            for off in s.output.geom.offsets() {
                                v[base + off] = s.bias[o];
                            }
                        }
                    }
                }
                Stage::Linear(s) => {
                    for &(q, j) in &s.out_slots[*b as usize] {
                        v[q as usize] = s.bias[j as usize];
                    }
                }
            },
            PlainRecipe::Mask { layout, ct } => {
                let l = &self.masks[*layout as usize];
                let lanes = l.geom.lanes_per_ct();
                let ct = *ct as usize;
                for (lane, base) in l.geom.lanes.iter().enumerate() {
                    if l.chan_at[ct * lanes + lane].is_some() {
                        for off in l.geom.offsets() {
                            v[base + off] = 1.0;
                        }
                    }
                }
            }
            PlainRecipe::External { source, index } => source.fill(*index, &mut v),
        }
        v
    }

    /// Slot vectors of the input ciphertexts for one input (`C·H·W` values), after the
    /// client's transform if the packing has one.
    pub fn encode_input(&self, input: &[f64]) -> Vec<Vec<f64>> {
        let transformed = self.client_transform.as_ref().map(|t| t.apply(input));
        let input = transformed.as_deref().unwrap_or(input);
        let n = self.slots();
        let mut cts = vec![vec![0.0; n]; self.input.cts];
        for (e, places) in self.input.positions.iter().enumerate() {
            for &(t, s) in places {
                cts[t as usize][s as usize] = input[e] * self.input.factor;
            }
        }
        cts
    }

    /// The logical output from the output ciphertexts' slots.
    pub fn decode_output(&self, cts: &[Vec<f64>]) -> Vec<f64> {
        self.output
            .positions
            .iter()
            .map(|p| cts[p[0].0 as usize][p[0].1 as usize] / self.output.factor)
            .collect()
    }

    /// Validates the ops against the trace rules and gathers their statistics.
    pub fn analyze(&self) -> Analysis {
        let mut a = Analyzer::new(self.header.clone());
        for (i, op) in self.ops.iter().enumerate() {
            a.check(i as u64 + 2, op);
        }
        a.finish()
    }

    /// Writes the program as a trace.
    pub fn write_trace<W: Write>(&self, out: W) -> Result<W, NnError> {
        let mut w = TraceWriter::new(out, &self.header).map_err(NnError::trace)?;
        for op in &self.ops {
            w.write_op(op).map_err(NnError::trace)?;
        }
        w.finish().map_err(NnError::trace)
    }

    /// Writes the trace to `path` atomically (temporary file in the same folder, then rename).
    pub fn write_trace_file(&self, path: &Path) -> Result<(), NnError> {
        let io = |e: std::io::Error| NnError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let result = (|| {
            let file = std::fs::File::create(&tmp).map_err(io)?;
            let w = self.write_trace(std::io::BufWriter::with_capacity(1 << 20, file))?;
            w.into_inner()
                .map_err(|e| io(e.into_error()))?
                .sync_all()
                .map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Ops whose kind is `rotate`.
    pub fn count(&self, pred: impl Fn(&OpKind) -> bool) -> usize {
        self.ops.iter().filter(|o| pred(&o.kind)).count()
    }
}

fn conv_diagonal(s: &ConvStage, key: (u32, u32, u32), shift: usize, n: usize, v: &mut [f64]) {
    let Some(terms) = s.terms.get(&key) else {
        return;
    };
    let gin = &s.input.geom;
    let gout: &Geometry = &s.output.geom;
    let cin_g = s.cin / s.groups;
    let cout_g = s.cout / s.groups;
    let k = s.kernel;
    for &(o, i, di, dj) in terms {
        let (o, i, di, dj) = (o as usize, i as usize, di as usize, dj as usize);
        let g = o / cout_g;
        if i / cin_g != g {
            continue; // a zero weight of the dense equivalent
        }
        let widx = ((o * cin_g + i % cin_g) * k + di) * k + dj;
        let w = s.weight.get(widx) * s.w_scale[o];
        let base_o = s.out_place[o].1;
        for oy in 0..gout.h {
            let iy = (oy * s.stride + di) as isize - s.pad as isize;
            if iy < 0 || iy >= gin.h as isize {
                continue;
            }
            for ox in 0..gout.w {
                let ix = (ox * s.stride + dj) as isize - s.pad as isize;
                if ix < 0 || ix >= gin.w as isize {
                    continue;
                }
                let q = base_o + gin.offset(oy * s.stride, ox * s.stride);
                v[(q + shift) % n] = w;
            }
        }
    }
}

//! The bodies of hesim's fuzz targets, shared by `cargo fuzz` (`fuzz/fuzz_targets/*.rs`) and
//! the stable test that replays the committed corpus (`tests/fuzz_regressions.rs`), so CI needs
//! no nightly. A body returns normally on every input; a panic, an abort or a runaway
//! allocation is a bug.
//!
//! Byte-level targets hand raw bytes to a parser. Structure-aware ones (`*_structured`,
//! `bootstrap_params`) decode the bytes into schema keys × boundary values (0, 2^32 − 1,
//! 1e-300, 1e300, NaN, ...): inputs that parse fine and then reach arithmetic and allocation,
//! where the bugs of issue #17 were. Some also check a property (a faster architecture is
//! never slower; an accepted bootstrap expands within its stated bound).

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use hesim_sim::engine::{self, EngineOptions};
use hesim_sim::lower::{self, LoweredProgram};
use hesim_sim::{Arch, ArchLoader, LowerOptions};
use hesim_sw::nn::{self, HeParams, Network, Packing, Params};
use hesim_traces::{
    Analyzer, BootstrapParams, Header, Hoisting, Op, OpKind, OpName, PlainRef, TraceError,
    TraceReader, TraceWriter,
};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target by name: the names of `fuzz/fuzz_targets/*.rs`, `fuzz/corpus/*` and
/// `fuzz/regressions/*`.
pub const TARGETS: &[(&str, Target)] = &[
    ("trace_validate", trace_validate),
    ("trace_sim", trace_sim),
    ("trace_structured", trace_structured),
    ("bootstrap_params", bootstrap_params),
    ("arch_toml", arch_toml),
    ("arch_structured", arch_structured),
    ("network_toml", network_toml),
    ("network_structured", network_structured),
    ("sweep_spec", sweep_spec),
    ("sweep_structured", sweep_structured),
    ("mnist", mnist),
    ("safetensors", safetensors),
    ("onnx", onnx),
    ("onnx_structured", onnx_structured),
];

/// The seed corpus of each byte-level target: folders relative to the repository root, the
/// repository's own fixtures where there are some.
pub const SEEDS: &[(&str, &[&str])] = &[
    (
        "trace_validate",
        &[
            "traces/fixtures/valid",
            "traces/fixtures/invalid",
            "tests/fixtures/robustness",
        ],
    ),
    (
        "trace_sim",
        &[
            "traces/fixtures/valid",
            "traces/fixtures/invalid",
            "tests/fixtures/robustness",
        ],
    ),
    ("arch_toml", &["sim/presets", "fuzz/seeds/arch_toml"]),
    (
        "network_toml",
        &["fuzz/seeds/network_toml", "tests/fixtures/robustness"],
    ),
    ("sweep_spec", &["sweeps", "tests/fixtures/robustness"]),
    ("safetensors", &["tests/fixtures/robustness"]),
    ("onnx", &["tests/fixtures/onnx"]),
];

/// Largest ring degree (log2) whose valid traces the targets also lower and simulate: larger
/// rings only make each run slower, not different.
const MAX_SIM_LOG_N: u32 = 12;
/// Most ops of a valid trace the targets lower and simulate.
const MAX_SIM_OPS: usize = 256;
/// Largest bootstrap (by [`BootstrapParams::expanded_ops_bound`]) `bootstrap_params` lowers
/// and simulates: EvalMod's coefficients cost O(degree²) cosines and the engine time grows with
/// the expansion, so the rare huge ones would dominate the run; every size is still checked.
const MAX_SIM_BOOTSTRAP_OPS: u64 = 16_384;
/// Largest tensor (elements) of a network the targets also compile to an HE program.
const MAX_BUILD_ELEMENTS: usize = 256;

// ---------------------------------------------------------------------------------------------
// Structured choices

/// Integer boundary values: powers of two and their neighbours, the u32/i32/u64 limits.
const INT_EDGES: [u64; 28] = [
    0,
    1,
    2,
    3,
    7,
    8,
    15,
    16,
    31,
    63,
    64,
    255,
    1023,
    1024,
    4095,
    4096,
    65535,
    65536,
    (1 << 24) + 1,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    1 << 53,
    (1 << 63) - 1,
    1 << 63,
    u64::MAX - 1,
    u64::MAX,
];

/// Float boundary values.
const FLOAT_EDGES: [f64; 20] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e-300,
    1e300,
    -1e300,
    f64::MIN_POSITIVE,
    5e-324,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e20,
    1e-15,
    9007199254740992.0,
    1e6,
    1e-3,
    100.0,
    1.5,
];

/// Reads structured choices from fuzz bytes; past the end every read gives 0.
struct Choices<'a> {
    data: &'a [u8],
}

impl<'a> Choices<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// Uniform-ish in 0..n (n ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        let v = usize::from(self.byte()) | usize::from(self.byte()) << 8;
        v % n.max(1)
    }

    /// A boundary value, a small value, or 8 raw bytes.
    fn int(&mut self) -> u64 {
        let pick = usize::from(self.byte());
        match pick {
            p if p < INT_EDGES.len() => INT_EDGES[p],
            p if p < 192 => u64::from(self.byte()),
            _ => (0..8).fold(0u64, |v, _| v << 8 | u64::from(self.byte())),
        }
    }

    fn u32(&mut self) -> u32 {
        let v = self.int();
        u32::try_from(v).unwrap_or(v as u32)
    }

    fn i32(&mut self) -> i32 {
        let v = self.int() as i64;
        if self.bool() {
            (v as i32).wrapping_neg()
        } else {
            v as i32
        }
    }

    fn float(&mut self) -> f64 {
        let pick = usize::from(self.byte());
        match pick {
            p if p < FLOAT_EDGES.len() => FLOAT_EDGES[p],
            p if p < 160 => self.int() as f64 * if self.bool() { -1.0 } else { 1.0 },
            _ => f64::from_bits(self.int()),
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn rest(&self) -> &'a [u8] {
        self.data
    }
}

/// A TOML value literal for `v` (TOML spells the special floats `nan`, `inf`, `-inf`).
fn toml_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
}

/// A TOML value of any type for a structured key.
fn toml_value(c: &mut Choices<'_>) -> String {
    match c.below(8) {
        0..=2 => c.int().to_string(),
        3 => format!("-{}", c.int()),
        4..=5 => toml_float(c.float()),
        6 => c.bool().to_string(),
        _ => format!(
            "{:?}",
            c.pick(&[
                "on_chip",
                "streamed",
                "seeded",
                "four_step",
                "radix2",
                "",
                "x"
            ])
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Traces

/// A small valid architecture for simulating fuzzed traces: the default preset with 64-bit
/// words (every prime fits).
fn sim_arch() -> &'static Arch {
    static ARCH: OnceLock<Arch> = OnceLock::new();
    ARCH.get_or_init(|| {
        let mut l = ArchLoader::new("default").expect("preset");
        l.set("word_bits=64").expect("key");
        l.build().expect("valid")
    })
}

/// Reads a trace; if it is valid, small and on a small ring, lowers and simulates it (what
/// `hesim sim` and sweeps do with a validated trace).
fn read_validate_simulate(bytes: &[u8]) {
    let Ok(mut reader) = TraceReader::new(Cursor::new(bytes)) else {
        return;
    };
    let header = reader.header().clone();
    let mut analyzer = Analyzer::new(header.clone());
    let mut ops = Vec::new();
    while let Some(item) = reader.next() {
        match item {
            Ok(op) => {
                analyzer.check(reader.line(), &op);
                if ops.len() <= MAX_SIM_OPS {
                    ops.push(op);
                }
            }
            Err(TraceError::Invalid(v)) => analyzer.report(v),
            Err(_) => return,
        }
    }
    let analysis = analyzer.finish();
    if !analysis.is_valid() || ops.len() > MAX_SIM_OPS || header.log_n > MAX_SIM_LOG_N {
        return;
    }
    simulate(&header, &ops);
}

fn simulate(header: &Header, ops: &[Op]) -> Option<LoweredProgram> {
    let arch = sim_arch();
    let prog = lower::lower(header, ops, LowerOptions::from_arch(arch)).ok()?;
    let _ = engine::run(arch, &prog, EngineOptions { timeline: true });
    Some(prog)
}

/// Byte-level: the trace reader and validator.
pub fn trace_validate(data: &[u8]) {
    if let Ok(reader) = TraceReader::new(Cursor::new(data)) {
        let _ = hesim_traces::analyze(reader);
    }
}

/// Byte-level: trace → validation → lowering → engine on a small preset.
pub fn trace_sim(data: &[u8]) {
    read_validate_simulate(data);
}

fn structured_header(c: &mut Choices<'_>) -> Header {
    let edge = c.bool();
    let log_n = if edge {
        c.u32()
    } else {
        2 + c.below(MAX_SIM_LOG_N as usize - 1) as u32
    };
    let slots = if c.bool() {
        c.int()
    } else {
        1u64 << c.below(log_n.clamp(1, 17) as usize)
    };
    let long = c.bool();
    let q = 1 + c.below(if long { 40 } else { 8 });
    let p = c.below(4);
    let bits = |c: &mut Choices<'_>| {
        if c.bool() {
            c.u32()
        } else {
            20 + c.below(40) as u32
        }
    };
    let q_bits = (0..q).map(|_| bits(c)).collect();
    let p_bits = (0..p).map(|_| bits(c)).collect();
    let dnum = if c.bool() {
        c.u32()
    } else {
        1 + c.below(q) as u32
    };
    let log_scale = if c.bool() { c.u32() } else { 20 };
    Header::new(
        log_n, slots, q_bits, p_bits, dnum, log_scale, "f", "f", "fuzz",
    )
}

fn structured_boot(c: &mut Choices<'_>, header: &Header) -> BootstrapParams {
    let small = |c: &mut Choices<'_>| c.below(6) as u32;
    let pick = |c: &mut Choices<'_>, small_value: u32| if c.bool() { c.u32() } else { small_value };
    let slots = if c.bool() {
        c.int()
    } else {
        1u64 << c.below(header.log_n.clamp(1, 17) as usize)
    };
    let cts = small(c);
    let stc = small(c);
    let degree = [2, 7, 15, 31, 63][c.below(5)];
    let double_angle = small(c);
    BootstrapParams {
        slots,
        cts_levels: pick(c, cts),
        stc_levels: pick(c, stc),
        eval_mod_degree: pick(c, degree),
        double_angle: pick(c, double_angle),
        hoisting: c.pick(&[Hoisting::None, Hoisting::Single, Hoisting::Double]),
        key_reuse: c.bool(),
        // Fixed, so that the stored regression inputs keep their paths.
        baby_step: 0,
        double_prime_scaling: false,
        eval_mod_range: hesim_traces::LEGACY_EVAL_MOD_RANGE,
    }
}

/// Structure-aware: a header and ops whose every field is a boundary value or a plausible
/// one, written with the trace writer, then read, validated, lowered and simulated.
pub fn trace_structured(data: &[u8]) {
    let mut c = Choices::new(data);
    let header = structured_header(&mut c);
    let top = header.max_level();
    let mut ops: Vec<Op> = Vec::new();
    let count = c.below(24);
    for i in 0..count {
        let name = c.pick(&OpName::ALL);
        let id = if c.below(8) == 0 { c.u32() } else { i as u32 };
        let arg = |c: &mut Choices<'_>| {
            if c.below(8) == 0 || i == 0 {
                c.u32()
            } else {
                c.below(i) as u32
            }
        };
        let args = (0..name.arity()).map(|_| arg(&mut c)).collect();
        let level = if c.below(4) == 0 {
            c.u32()
        } else {
            1 + c.below(top.max(1) as usize) as u32
        };
        let plain = PlainRef {
            id: c.u32(),
            level: if c.bool() { level } else { c.u32() },
        };
        let hoist = c.bool().then(|| c.u32());
        let kind = match name {
            OpName::Input => OpKind::Input,
            OpName::Output => OpKind::Output,
            OpName::Add => OpKind::Add,
            OpName::Sub => OpKind::Sub,
            OpName::AddPlain => OpKind::AddPlain { plain },
            OpName::MulPlain => OpKind::MulPlain { plain },
            OpName::AddConst => OpKind::AddConst,
            OpName::MulConst => OpKind::MulConst,
            OpName::Mul => OpKind::Mul,
            OpName::Relin => OpKind::Relin,
            OpName::Rescale => OpKind::Rescale,
            OpName::LevelDown => OpKind::LevelDown,
            OpName::Rotate => OpKind::Rotate {
                step: c.i32(),
                hoist,
            },
            OpName::Conjugate => OpKind::Conjugate { hoist },
            OpName::Bootstrap => OpKind::Bootstrap(structured_boot(&mut c, &header)),
            OpName::ModRaise => OpKind::ModRaise,
        };
        let layer = c.pick(&["a", "b", "a\tb", "\u{1b}[31m", "é", "\"q\""]);
        ops.push(Op::new(id, kind, args, level, layer.into()));
    }
    let mut bytes = Vec::new();
    let Ok(mut w) = TraceWriter::new(&mut bytes, &header) else {
        return;
    };
    for op in &ops {
        if w.write_op(op).is_err() {
            return;
        }
    }
    if w.finish().is_err() {
        return;
    }
    read_validate_simulate(&bytes);
}

/// Structure-aware: bootstrap parameters at boundary values against a small header. Whenever
/// the one shared check accepts them, the validator must accept the op, and the expansion the
/// simulator lowers must stay within [`BootstrapParams::expanded_ops_bound`].
pub fn bootstrap_params(data: &[u8]) {
    let mut c = Choices::new(data);
    let log_n = 2 + c.below(MAX_SIM_LOG_N as usize - 1) as u32;
    let limbs = 2 + c.below(63) as u32;
    let header = Header::new(
        log_n,
        1 << (log_n - 1),
        vec![30; limbs as usize],
        vec![30; 1 + c.below(4)],
        1 + c.below(3) as u32,
        30,
        "f",
        "f",
        "fuzz",
    );
    let params = structured_boot(&mut c, &header);
    let out_level = if c.bool() {
        c.u32()
    } else {
        1 + c.below(limbs as usize) as u32
    };
    let in_level = 1 + c.below(limbs as usize) as u32;
    let accepted = params.check(&header, out_level).is_ok();
    let layer: std::sync::Arc<str> = "b".into();
    let ops = vec![
        Op::new(0, OpKind::Input, vec![], in_level, layer.clone()),
        Op::new(
            1,
            OpKind::Bootstrap(params),
            vec![0],
            out_level,
            layer.clone(),
        ),
        Op::new(2, OpKind::Output, vec![1], out_level, layer),
    ];
    let mut analyzer = Analyzer::new(header.clone());
    for (line, op) in (2..).zip(&ops) {
        analyzer.check(line, op);
    }
    let analysis = analyzer.finish();
    if !accepted {
        assert!(
            !analysis.is_valid(),
            "validator accepted rejected {params:?}"
        );
        return;
    }
    assert!(analysis.is_valid(), "{params:?}: {:?}", analysis.violations);
    let bound = params.expanded_ops_bound(header.log_n);
    if bound > MAX_SIM_BOOTSTRAP_OPS {
        return;
    }
    let Some(prog) = simulate(&header, &ops) else {
        return;
    };
    for block in &prog.blocks {
        assert!(
            block.tasks.len() as u64 <= bound,
            "{params:?}: {} tasks > bound {bound}",
            block.tasks.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Architectures

/// Every leaf key of the architecture schema, and one that is not.
const ARCH_KEYS: [&str; 32] = [
    "name",
    "description",
    "clock_ghz",
    "word_bits",
    "clusters",
    "ntt.algorithm",
    "ntt.units",
    "ntt.lanes",
    "ntt.latency_cycles",
    "ntt.max_log_n",
    "ntt.butterfly_variant",
    "automorphism.units",
    "automorphism.lanes",
    "automorphism.latency_cycles",
    "elementwise.mul_units",
    "elementwise.add_units",
    "elementwise.lanes",
    "elementwise.mul_latency_cycles",
    "elementwise.add_latency_cycles",
    "bconv.dedicated",
    "bconv.macs_per_cycle",
    "bconv.latency_cycles",
    "keyswitch.dedicated_inner_product",
    "keyswitch.inner_product_lanes",
    "scratchpad.capacity_mib",
    "scratchpad.bandwidth_bytes_per_cycle",
    "hbm.bandwidth_gb_s",
    "hbm.latency_ns",
    "policy.key_storage",
    "policy.hoisting",
    "policy.dnum",
    "ntt.lane",
];

/// A small valid program (30-bit primes, N = 2^14) to simulate fuzzed architectures on.
fn small_program() -> &'static (Header, Vec<Op>) {
    static PROGRAM: OnceLock<(Header, Vec<Op>)> = OnceLock::new();
    PROGRAM.get_or_init(|| hesim_sim::pattern::cnn_trace(40))
}

/// Simulates the small program on `loader`'s architecture if it builds; with a valid
/// architecture, doubling the HBM bandwidth (within its range) must not add cycles.
fn simulate_arch(loader: &mut ArchLoader) {
    let Ok(arch) = loader.build() else {
        return;
    };
    let (header, ops) = small_program();
    let Ok(slow) = hesim_sim::simulate(&arch, header, ops) else {
        return;
    };
    let doubled = arch.hbm.bandwidth_gb_s * 2.0;
    if doubled <= 1e6
        && loader
            .set(&format!("hbm.bandwidth_gb_s={doubled:?}"))
            .is_ok()
    {
        let fast = loader.build().expect("a doubled valid bandwidth is valid");
        let fast = hesim_sim::simulate(&fast, header, ops).expect("same program, same checks");
        assert!(
            fast.cycles <= slow.cycles,
            "doubling the HBM bandwidth of {arch:?} went from {} to {} cycles",
            slow.cycles,
            fast.cycles
        );
    }
}

/// Byte-level: an architecture file (before a line `---`) and `--set` assignments (one per
/// line after it).
pub fn arch_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (file, sets) = text.split_once("\n---\n").unwrap_or((&text, ""));
    let Ok(mut loader) = ArchLoader::from_text(file, "fuzz.toml") else {
        return;
    };
    for line in sets.lines() {
        if loader.set(line).is_err() {
            return;
        }
    }
    simulate_arch(&mut loader);
}

/// Structure-aware: a preset, then `--set KEY=VALUE` with schema keys × boundary values.
pub fn arch_structured(data: &[u8]) {
    let mut c = Choices::new(data);
    let preset = c.pick(&hesim_sim::arch::PRESETS).0;
    let Ok(mut loader) = ArchLoader::new(preset) else {
        return;
    };
    for _ in 0..1 + c.below(5) {
        let key = c.pick(&ARCH_KEYS);
        let value = toml_value(&mut c);
        if loader.set(&format!("{key}={value}")).is_err() {
            return;
        }
    }
    simulate_arch(&mut loader);
}

// ---------------------------------------------------------------------------------------------
// Networks

/// Builds a network's parameters and, when it is small, its HE program (what `trace gen`
/// does).
fn use_network(net: &Network) {
    let Ok(params) = Params::random(net, 1) else {
        return;
    };
    let Ok(shapes) = net.shapes() else {
        return;
    };
    let small = net.layers.len() <= 8
        && net.input.len() <= MAX_BUILD_ELEMENTS
        && shapes.iter().all(|s| s.len() <= MAX_BUILD_ELEMENTS);
    if small {
        let _ = nn::build(net, &params, Packing::Dense, &HeParams::default());
    }
}

/// Byte-level: a network TOML file.
pub fn network_toml(data: &[u8]) {
    if let Ok(net) = Network::from_toml(&String::from_utf8_lossy(data), "fuzz.toml") {
        use_network(&net);
    }
}

/// Structure-aware: a network of fuzzed layers whose every number is a boundary value or a
/// small one.
pub fn network_structured(data: &[u8]) {
    let mut c = Choices::new(data);
    let dim = |c: &mut Choices<'_>| {
        if c.below(4) == 0 {
            c.int().to_string()
        } else {
            (1 + c.below(16)).to_string()
        }
    };
    let mut text = format!(
        "input = [{}, {}, {}]\n",
        dim(&mut c),
        dim(&mut c),
        dim(&mut c)
    );
    for _ in 0..c.below(7) {
        let layer = match c.below(8) {
            0 => format!(
                "type = \"conv\"\nout = {}\nkernel = {}\nstride = {}\npad = {}\ngroups = {}",
                dim(&mut c),
                dim(&mut c),
                dim(&mut c),
                c.below(3),
                dim(&mut c)
            ),
            1 => format!("type = \"avgpool\"\nkernel = {}", dim(&mut c)),
            2 => format!(
                "type = \"poly\"\ncoefficients = [{}, {}, {}]",
                toml_float(c.float()),
                toml_float(c.float()),
                toml_float(c.float())
            ),
            3 => "type = \"relu\"".into(),
            4 => format!("type = \"batchnorm\"\neps = {}", toml_float(c.float())),
            5 => "type = \"flatten\"".into(),
            6 => format!("type = \"linear\"\nout = {}", dim(&mut c)),
            _ => format!(
                "type = \"residual\"\nfrom = \"{}\"",
                c.pick(&["conv1", "relu2"])
            ),
        };
        text.push_str(&format!("[[layers]]\n{layer}\n"));
    }
    network_toml(text.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Sweeps

/// Byte-level: a sweep spec.
pub fn sweep_spec(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(spec) = hesim_sim::sweep::SweepSpec::parse(&text, "fuzz.toml", Path::new("/")) {
        let _ = spec.grid_len();
        let _ = spec.hash();
    }
}

/// Structure-aware: axes over schema keys with boundary values and ranges, and workloads.
pub fn sweep_structured(data: &[u8]) {
    let mut c = Choices::new(data);
    let mut text = String::from("base = \"default\"\n");
    for _ in 0..c.below(5) {
        let key = c.pick(&ARCH_KEYS);
        let body = if c.bool() {
            let values: Vec<String> = (0..c.below(6)).map(|_| toml_value(&mut c)).collect();
            format!("values = [{}]", values.join(", "))
        } else {
            let (start, stop) = (toml_value(&mut c), toml_value(&mut c));
            let step = toml_value(&mut c);
            let which = c.pick(&["step", "factor"]);
            format!("range = {{ start = {start}, stop = {stop}, {which} = {step} }}")
        };
        text.push_str(&format!("[[axis]]\nkey = \"{key}\"\n{body}\n"));
    }
    for _ in 0..c.below(4) {
        let sparsity = toml_float(c.float());
        text.push_str(&format!(
            "[[workload]]\nnet = \"lenet\"\npacking = [\"dense\", \"group\"]\nsparsity = {sparsity}\n"
        ));
    }
    sweep_spec(text.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Data loaders

/// Byte-level and structured: the MNIST loader. The first byte picks the form: gzip bytes of
/// both files (split where the second byte says), or IDX headers with boundary dimensions.
pub fn mnist(data: &[u8]) {
    let mut c = Choices::new(data);
    let offset = c.int() as usize;
    let limit = c.int() as usize;
    if c.bool() {
        let rest = c.rest();
        let split = usize::from(rest.first().copied().unwrap_or(0)).min(rest.len());
        let _ = nn::mnist::Mnist::from_gz_bytes(&rest[split..], &rest[..split], offset, limit);
    } else {
        let n = c.u32();
        let mut images = vec![0, 0, 8, 3];
        images.extend(n.to_be_bytes());
        images.extend(c.u32().to_be_bytes());
        images.extend(c.u32().to_be_bytes());
        images.extend(std::iter::repeat_n(7u8, c.below(4096)));
        let mut labels = vec![0, 0, 8, 1];
        labels.extend(if c.bool() { n } else { c.u32() }.to_be_bytes());
        labels.extend(std::iter::repeat_n(1u8, c.below(64)));
        let _ = nn::mnist::Mnist::from_idx_bytes(&images, &labels, offset, limit);
    }
}

/// Byte-level: a safetensors checkpoint for LeNet.
pub fn safetensors(data: &[u8]) {
    static LENET: OnceLock<Network> = OnceLock::new();
    let net = LENET.get_or_init(|| Network::builtin("lenet").expect("built-in"));
    let _ = Params::from_safetensors_bytes(net, data, "fuzz.safetensors");
}

// ---------------------------------------------------------------------------------------------
// ONNX

/// What hesim does with an imported model: the shapes, and (when small) the plaintext
/// network and a compiled program, so parameters that disagree with the network panic here.
fn use_onnx(bytes: &[u8]) {
    let Ok(model) = nn::onnx::Model::decode(bytes, "fuzz.onnx") else {
        return;
    };
    let Ok(imported) = nn::onnx::to_network(&model, &nn::ReluApprox::Quadratic) else {
        return;
    };
    let net = &imported.network;
    let Ok(shapes) = net.shapes() else {
        return;
    };
    if net.layers.len() <= 8
        && net.input.len() <= MAX_BUILD_ELEMENTS
        && shapes.iter().all(|s| s.len() <= MAX_BUILD_ELEMENTS)
    {
        let x = nn::synthetic_input(net.input.len(), 0);
        let _ = nn::forward(net, &imported.params, &nn::PruneMasks::new(), &x);
        let _ = nn::build(net, &imported.params, Packing::Dense, &HeParams::default());
    }
}

/// Byte-level: an ONNX model file.
pub fn onnx(data: &[u8]) {
    use_onnx(data);
}

/// A protobuf message under construction (ONNX's wire format, written by hand so the
/// structured target needs no protobuf crate of its own).
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn int(&mut self, tag: u32, v: i64) {
        self.varint(u64::from(tag) << 3);
        self.varint(v as u64);
    }

    fn bytes(&mut self, tag: u32, b: &[u8]) {
        self.varint(u64::from(tag) << 3 | 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn float(&mut self, tag: u32, v: f32) {
        self.varint(u64::from(tag) << 3 | 5);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn message(&mut self, tag: u32, m: Pb) {
        self.bytes(tag, &m.0);
    }
}

/// A dimension or attribute integer: mostly small, sometimes a boundary value (negative too).
fn onnx_int(c: &mut Choices<'_>) -> i64 {
    match c.below(8) {
        0 => c.int() as i64,
        1 => -(c.below(3) as i64),
        _ => 1 + c.below(6) as i64,
    }
}

/// An initializer `name` of fuzzed dims and values (float32 data, raw or typed, sometimes
/// of the wrong length, or int64 for reshape targets).
fn onnx_tensor(c: &mut Choices<'_>, name: &str) -> Pb {
    let mut t = Pb::default();
    let rank = c.below(5);
    let dims: Vec<i64> = (0..rank).map(|_| onnx_int(c)).collect();
    for &d in &dims {
        t.int(1, d);
    }
    let count = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(u64::try_from(d).ok()?))
        .filter(|&n| n <= 4096)
        .unwrap_or(c.below(8) as u64);
    let count = if c.below(8) == 0 { count + 1 } else { count };
    t.bytes(8, name.as_bytes());
    if c.below(6) == 0 {
        t.int(2, 7); // INT64
        for _ in 0..count {
            t.int(7, if c.bool() { -1 } else { onnx_int(c) });
        }
    } else {
        t.int(2, 1); // FLOAT
        let values: Vec<f32> = (0..count).map(|_| c.float() as f32).collect();
        if c.bool() {
            t.bytes(
                9,
                &values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<_>>(),
            );
        } else {
            for v in values {
                t.float(4, v);
            }
        }
    }
    t
}

/// An operator type: one hesim imports or one of a few it refuses.
fn onnx_op(c: &mut Choices<'_>) -> &'static str {
    const OTHERS: [&str; 3] = ["MaxPool", "Loop", "Identity"];
    let supported = &nn::onnx::SUPPORTED_OPS;
    let i = c.below(supported.len() + OTHERS.len());
    supported
        .get(i)
        .copied()
        .unwrap_or_else(|| OTHERS[i - supported.len()])
}

/// Attribute names the structured target sets (INTS or INT or FLOAT, by a choice).
const ONNX_ATTRIBUTES: [&str; 14] = [
    "kernel_shape",
    "strides",
    "pads",
    "dilations",
    "group",
    "axis",
    "transA",
    "transB",
    "alpha",
    "beta",
    "epsilon",
    "ceil_mode",
    "count_include_pad",
    "auto_pad",
];

/// Structure-aware: a graph of fuzzed nodes over the supported operators (and some others)
/// whose inputs are earlier tensors, initializers with boundary dims and values, the graph
/// input, names no one writes (dangling) or later outputs (cycles), with boundary-valued
/// attributes and a fuzzed input shape.
pub fn onnx_structured(data: &[u8]) {
    let mut c = Choices::new(data);
    let mut graph = Pb::default();
    let mut tensors = vec!["x".to_owned()];
    let node_count = 1 + c.below(8);
    for i in 0..node_count {
        let op = onnx_op(&mut c);
        let mut node = Pb::default();
        for k in 0..1 + c.below(5) {
            let input = match c.below(10) {
                0 => {
                    let name = format!("w{i}_{k}");
                    graph.message(5, onnx_tensor(&mut c, &name));
                    name
                }
                1 => format!("t{}", c.below(node_count + 2)), // later or never written
                2 => String::new(),
                _ => tensors[c.below(tensors.len())].clone(),
            };
            node.bytes(1, input.as_bytes());
        }
        let output = format!("t{i}");
        node.bytes(2, output.as_bytes());
        node.bytes(3, format!("n{i}").as_bytes());
        node.bytes(4, op.as_bytes());
        for _ in 0..c.below(4) {
            let mut a = Pb::default();
            a.bytes(1, c.pick(&ONNX_ATTRIBUTES).as_bytes());
            match c.below(5) {
                0 => {
                    a.int(20, 2);
                    a.int(3, onnx_int(&mut c));
                }
                1 => {
                    a.int(20, 1);
                    a.float(2, c.float() as f32);
                }
                2 => {
                    a.int(20, 3);
                    a.bytes(4, c.pick(&[&b"NOTSET"[..], b"VALID", b"SAME_UPPER"]));
                }
                3 => {
                    a.int(20, 4);
                    a.message(5, onnx_tensor(&mut c, "value"));
                }
                _ => {
                    a.int(20, 7);
                    for _ in 0..c.below(5) {
                        a.int(8, onnx_int(&mut c));
                    }
                }
            }
            node.message(5, a);
        }
        graph.message(1, node);
        tensors.push(output);
    }
    let value_info = |c: &mut Choices<'_>, name: &str, dims: &[Option<i64>]| {
        let mut shape = Pb::default();
        for d in dims {
            let mut dim = Pb::default();
            match d {
                Some(v) => dim.int(1, *v),
                None => dim.bytes(2, b"batch"),
            }
            shape.message(1, dim);
        }
        let mut tensor_type = Pb::default();
        tensor_type.int(1, if c.below(16) == 0 { 7 } else { 1 });
        tensor_type.message(2, shape);
        let mut ty = Pb::default();
        ty.message(1, tensor_type);
        let mut v = Pb::default();
        v.bytes(1, name.as_bytes());
        v.message(2, ty);
        v
    };
    let rank = c.pick(&[4, 4, 4, 2, 3]);
    let dims: Vec<Option<i64>> = (0..rank)
        .map(|axis| match c.below(16) {
            0 => None,
            _ if axis == 0 => Some(1),
            _ => Some(onnx_int(&mut c)),
        })
        .collect();
    let input = value_info(&mut c, "x", &dims);
    graph.message(11, input);
    let output_name = tensors[tensors.len() - 1 - c.below(2).min(tensors.len() - 1)].clone();
    let output = value_info(&mut c, &output_name, &[Some(1)]);
    graph.message(12, output);
    let mut model = Pb::default();
    model.int(1, 8);
    model.message(7, graph);
    let mut opset = Pb::default();
    opset.int(2, 17);
    model.message(8, opset);
    use_onnx(&model.0);
}

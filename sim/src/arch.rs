//! Architecture descriptions: what units an accelerator has, how fast they are, how much memory
//! it has and which policies it follows.
//!
//! A description is TOML, built in layers ([`ArchLoader`]): a named preset (embedded from
//! `sim/presets/*.toml`, each citing its sources), then an override file, then `--set a.b=v`
//! assignments. Every key is checked against the schema with its full path, so a typo is an
//! error naming the key rather than a silently ignored setting, and every value is range-checked
//! by [`Arch::validate`]. [`Arch::to_toml`] writes the resolved description, which is valid input
//! again.

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// The built-in presets: name and embedded TOML.
pub const PRESETS: [(&str, &str); 7] = [
    ("default", include_str!("../presets/default.toml")),
    ("f1", include_str!("../presets/f1.toml")),
    ("craterlake", include_str!("../presets/craterlake.toml")),
    ("sharp", include_str!("../presets/sharp.toml")),
    ("ark", include_str!("../presets/ark.toml")),
    ("bts", include_str!("../presets/bts.toml")),
    ("fpga", include_str!("../presets/fpga.toml")),
];

/// An accelerator: clock, word size, per-cluster units, memories and policies.
///
/// Unit counts and widths are *per cluster*; the machine has `clusters` identical clusters and
/// the model spreads each op's limbs over all of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    /// Short name (the preset's, unless overridden).
    pub name: String,
    /// One line on what the design is and where its numbers come from.
    pub description: String,
    /// Logic clock in GHz (cycles are converted to time with it).
    pub clock_ghz: f64,
    /// Datapath and storage word in bits; every prime of a trace must fit in it.
    pub word_bits: u32,
    /// Identical compute clusters.
    pub clusters: u32,
    pub ntt: Ntt,
    pub automorphism: Automorphism,
    pub elementwise: Elementwise,
    pub bconv: Bconv,
    pub keyswitch: Keyswitch,
    pub scratchpad: Scratchpad,
    pub noc: Noc,
    pub hbm: Hbm,
    pub policy: Policy,
}

/// How an NTT unit computes a transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NttAlgorithm {
    /// Fully pipelined four-step NTT (F1, CraterLake, SHARP): `lanes` coefficients enter per
    /// cycle, so a limb occupies the unit for N / lanes cycles.
    FourStep,
    /// Radix-2 butterfly array (FPGA designs, BTS PEs): `lanes` butterflies per cycle, so a limb
    /// takes (N/2)·log2(N) / lanes cycles.
    Radix2,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ntt {
    pub algorithm: NttAlgorithm,
    /// NTT units per cluster; each transforms one limb at a time.
    pub units: u32,
    /// Coefficients per cycle (four-step) or butterflies per cycle (radix-2), per unit.
    pub lanes: u32,
    /// Pipeline fill: cycles from the first coefficient in to the first out.
    pub latency_cycles: u32,
    /// Largest log2(N) the unit supports (twiddle storage, transpose size).
    pub max_log_n: u32,
    /// Butterfly implementation, for area look-ups by hesim-hw (not used by the timing model).
    pub butterfly_variant: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Automorphism {
    /// Automorphism (permutation) units per cluster.
    pub units: u32,
    /// Coefficients permuted per cycle per unit.
    pub lanes: u32,
    pub latency_cycles: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Elementwise {
    /// Modular-multiplier vector units per cluster.
    pub mul_units: u32,
    /// Modular-adder vector units per cluster.
    pub add_units: u32,
    /// Lanes (coefficients per cycle) of each multiplier or adder unit.
    pub lanes: u32,
    pub mul_latency_cycles: u32,
    pub add_latency_cycles: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bconv {
    /// A dedicated base-conversion MAC array (CraterLake CRB, ARK BConvU). Without one, base
    /// conversion runs on the element-wise multipliers and adders (one mul + one add per MAC).
    pub dedicated: bool,
    /// Multiply-accumulates per cycle per cluster of the dedicated array (ignored otherwise).
    pub macs_per_cycle: u32,
    pub latency_cycles: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyswitch {
    /// A dedicated key-switch inner-product unit (Homulator's HPIP); without one the inner
    /// product with the key runs on the element-wise multipliers and adders.
    pub dedicated_inner_product: bool,
    /// Multiply-accumulates per cycle per cluster of that unit (ignored otherwise).
    pub inner_product_lanes: u32,
    /// Words per cycle (whole machine) of the generator that regenerates the uniform half of
    /// evaluation keys on chip (used with `policy.evk_prng`).
    pub prng_words_per_cycle: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scratchpad {
    /// On-chip capacity for ciphertexts, plaintexts and cached keys, in MiB (whole machine).
    pub capacity_mib: f64,
    /// Scratchpad/register-file bandwidth to the units, bytes per cycle (whole machine).
    pub bandwidth_bytes_per_cycle: f64,
}

/// The network between clusters, for limb-wise ↔ coefficient-wise redistribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noc {
    /// Bytes per cycle leaving clusters (whole machine); unused with one cluster.
    pub bandwidth_bytes_per_cycle: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hbm {
    /// Off-chip bandwidth in GB/s (10^9 bytes per second).
    pub bandwidth_gb_s: f64,
    /// Latency of a transfer in ns, paid once per op that moves data.
    pub latency_ns: f64,
}

/// Where key-switch keys live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStorage {
    /// Every key switch streams the digits and limbs it needs from HBM.
    Streamed,
    /// Keys are cached in the scratchpad (whole key, at the top level) and loaded on a miss;
    /// the cache gets whatever capacity live ciphertexts leave free, least recently used first.
    OnChip,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub key_storage: KeyStorage,
    /// Share one ModUp among the rotations of a trace hoist group; `false` gives every rotation
    /// its own ModUp.
    pub hoisting: bool,
    /// Key-switching digits; 0 takes the trace's `dnum` (and its special primes).
    pub dnum: u32,
    /// Only the "b" half of each key is stored and loaded: the uniform "a" half is regenerated
    /// on chip from a seed by the PRNG (CraterLake KSHGen, ARK, SHARP), halving key traffic.
    pub evk_prng: bool,
    /// Key loads start as soon as the HBM port is free, ahead of the key switch's operands
    /// (keys do not depend on data; SHARP's "evk-flowing" prefetch). Off: a load starts when
    /// the operands' producers start (one task ahead).
    pub key_prefetch: bool,
    /// Plaintexts are stored as one limb and extended on chip (ARK's OF-Limb).
    pub of_limb: bool,
    /// A double-prime-scaling unit fuses two `rescale`s in a row (SHARP's DPS).
    pub double_prime_unit: bool,
}

/// Errors of building an architecture description.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchError {
    #[error("unknown preset {name:?}; the presets are: {available}")]
    UnknownPreset { name: String, available: String },
    #[error("cannot read architecture file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: not valid TOML: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: unknown key `{path}`{hint}")]
    UnknownKey {
        origin: String,
        path: String,
        hint: String,
    },
    #[error("{origin}: `{path}` must be {expected}, got {found}")]
    WrongType {
        origin: String,
        path: String,
        expected: String,
        found: String,
    },
    #[error(
        "{origin}: missing key `{path}` (a file without `preset = \"NAME\"` must be complete; \
         add `preset = \"default\"` to override a preset instead)"
    )]
    MissingKey { origin: String, path: String },
    #[error("`--set {assignment}`: expected KEY=VALUE, e.g. `--set ntt.lanes=512`")]
    BadAssignment { assignment: String },
    #[error("architecture: {message}")]
    Schema { message: String },
    #[error("architecture: `{path}` = {value} {reason}")]
    InvalidValue {
        path: String,
        value: String,
        reason: String,
    },
}

/// Builds an [`Arch`] from a preset or file, then overrides.
#[derive(Debug)]
pub struct ArchLoader {
    table: Table,
}

impl ArchLoader {
    /// Starts from a preset name or a TOML file path. A file that has a top-level
    /// `preset = "NAME"` key overrides that preset; one without must be complete (like a
    /// `resolved.toml`).
    pub fn new(preset_or_file: &str) -> Result<Self, ArchError> {
        if let Some(text) = preset_text(preset_or_file) {
            return Ok(Self {
                table: parse(text, &format!("preset {preset_or_file}"))?,
            });
        }
        let looks_like_file =
            preset_or_file.ends_with(".toml") || std::path::Path::new(preset_or_file).exists();
        if !looks_like_file {
            return Err(unknown_preset(preset_or_file));
        }
        let text = std::fs::read_to_string(preset_or_file).map_err(|source| ArchError::Read {
            path: preset_or_file.to_owned(),
            source,
        })?;
        Self::from_text(&text, preset_or_file)
    }

    /// [`ArchLoader::new`] on the text of an architecture file; `origin` names it in errors.
    pub fn from_text(text: &str, origin: &str) -> Result<Self, ArchError> {
        let preset_or_file = origin;
        let mut file = parse(text, preset_or_file)?;
        match file.remove("preset") {
            Some(Value::String(name)) => {
                let base = preset_text(&name).ok_or_else(|| unknown_preset(&name))?;
                let mut loader = Self {
                    table: parse(base, &format!("preset {name}"))?,
                };
                loader.merge(file, preset_or_file)?;
                Ok(loader)
            }
            Some(other) => Err(ArchError::WrongType {
                origin: preset_or_file.to_owned(),
                path: "preset".into(),
                expected: "a preset name (string)".into(),
                found: describe(&other),
            }),
            None => {
                check_schema(&file, schema(), "", preset_or_file)?;
                check_complete(&file, schema(), "", preset_or_file)?;
                Ok(Self { table: file })
            }
        }
    }

    /// Merges an override file's table (its keys replace the current ones).
    pub fn merge_file(&mut self, path: &str) -> Result<&mut Self, ArchError> {
        let text = std::fs::read_to_string(path).map_err(|source| ArchError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table = parse(&text, path)?;
        self.merge(table, path)?;
        Ok(self)
    }

    /// Applies one `a.b.c=value` assignment. The value is read as TOML (`512`, `1.5`, `true`,
    /// `"x"`); anything that is not TOML is taken as a bare string (`key_storage=on_chip`).
    pub fn set(&mut self, assignment: &str) -> Result<&mut Self, ArchError> {
        let bad = || ArchError::BadAssignment {
            assignment: assignment.to_owned(),
        };
        let (key, raw) = assignment.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(bad());
        }
        let raw = raw.trim();
        let value = toml::from_str::<Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| Value::String(raw.to_owned()));
        let mut patch = Table::new();
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().ok_or_else(bad)?;
        let mut leaf = Table::new();
        leaf.insert(last.to_owned(), value);
        let mut node = leaf;
        while let Some(part) = parts.pop() {
            let mut t = Table::new();
            t.insert(part.to_owned(), Value::Table(node));
            node = t;
        }
        patch.extend(node);
        self.merge(patch, &format!("--set {assignment}"))?;
        Ok(self)
    }

    /// Deserialises and validates the merged description.
    pub fn build(&self) -> Result<Arch, ArchError> {
        let arch: Arch = Value::Table(self.table.clone()).try_into().map_err(
            |e: toml::de::Error| match bad_leaf(&self.table) {
                Some((path, value)) => ArchError::InvalidValue {
                    path,
                    value: value.to_string(),
                    reason: format!("is not allowed: {}", e.message()),
                },
                None => ArchError::Schema {
                    message: e.message().to_owned(),
                },
            },
        )?;
        arch.validate()?;
        Ok(arch)
    }

    fn merge(&mut self, patch: Table, origin: &str) -> Result<(), ArchError> {
        check_schema(&patch, schema(), "", origin)?;
        merge_into(&mut self.table, patch);
        Ok(())
    }
}

fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn unknown_preset(name: &str) -> ArchError {
    ArchError::UnknownPreset {
        name: name.to_owned(),
        available: PRESETS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn parse(text: &str, origin: &str) -> Result<Table, ArchError> {
    toml::from_str(text).map_err(|e| ArchError::Syntax {
        origin: origin.to_owned(),
        message: e.to_string(),
    })
}

/// The schema: the default preset's table (every key present, with its type), parsed once
/// (every `--set` checks against it).
fn schema() -> &'static Table {
    static SCHEMA: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| parse(PRESETS[0].1, "preset default").unwrap_or_default())
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("the integer {i}"),
        // `{:?}` keeps the decimal point: `1.0` is not the integer 1.
        Value::Float(f) => format!("the number {f:?}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "an array".into(),
        Value::Table(_) => "a table".into(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean (true/false)",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Checks every key of `t` against `schema`, recursively, naming the full key path on error.
/// Integers are accepted (and converted) where numbers are expected.
fn check_schema(t: &Table, schema: &Table, prefix: &str, origin: &str) -> Result<(), ArchError> {
    for (key, value) in t {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let Some(expected) = schema.get(key) else {
            let known: Vec<&str> = schema.keys().map(String::as_str).collect();
            return Err(ArchError::UnknownKey {
                origin: origin.to_owned(),
                path,
                hint: format!(" (known keys here: {})", known.join(", ")),
            });
        };
        match (expected, value) {
            (Value::Table(s), Value::Table(v)) => check_schema(v, s, &path, origin)?,
            (Value::Float(_), Value::Integer(_)) => {}
            (e, v) if std::mem::discriminant(e) == std::mem::discriminant(v) => {}
            (e, v) => {
                return Err(ArchError::WrongType {
                    origin: origin.to_owned(),
                    path,
                    expected: type_name(e).into(),
                    found: describe(v),
                });
            }
        }
    }
    Ok(())
}

/// The key whose value makes deserialisation fail: each leaf of `t` is put alone into the
/// (valid) schema table and tried. Only called on error.
fn bad_leaf(t: &Table) -> Option<(String, Value)> {
    fn leaves(t: &Table, prefix: &[String], out: &mut Vec<(Vec<String>, Value)>) {
        for (k, v) in t {
            let mut path = prefix.to_vec();
            path.push(k.clone());
            match v {
                Value::Table(sub) => leaves(sub, &path, out),
                _ => out.push((path, v.clone())),
            }
        }
    }
    let mut all = Vec::new();
    leaves(t, &[], &mut all);
    let base = schema();
    all.into_iter().find_map(|(path, value)| {
        let (last, parents) = path.split_last()?;
        let mut trial = base.clone();
        let mut node = &mut trial;
        for part in parents {
            node = node.get_mut(part)?.as_table_mut()?;
        }
        node.insert(last.clone(), value.clone());
        Value::Table(trial)
            .try_into::<Arch>()
            .is_err()
            .then(|| (path.join("."), value))
    })
}

/// A file without `preset = ...` must set every key; names the first missing one.
fn check_complete(t: &Table, schema: &Table, prefix: &str, origin: &str) -> Result<(), ArchError> {
    for (key, expected) in schema {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (t.get(key), expected) {
            (None, _) => {
                return Err(ArchError::MissingKey {
                    origin: origin.to_owned(),
                    path,
                });
            }
            (Some(Value::Table(v)), Value::Table(s)) => check_complete(v, s, &path, origin)?,
            _ => {}
        }
    }
    Ok(())
}

/// Recursive merge: tables merge key by key, anything else replaces. Integers that land on a
/// number key become floats so deserialisation accepts `--set clock_ghz=2`.
fn merge_into(base: &mut Table, patch: Table) {
    for (key, value) in patch {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(p)) => merge_into(b, p),
            (Some(slot @ Value::Float(_)), Value::Integer(i)) => *slot = Value::Float(i as f64),
            (Some(slot), v) => *slot = v,
            (None, v) => {
                base.insert(key, v);
            }
        }
    }
}

impl Arch {
    /// A built-in preset.
    pub fn preset(name: &str) -> Result<Arch, ArchError> {
        ArchLoader::new(name)?.build()
    }

    /// The resolved description as TOML (valid input to [`ArchLoader::new`]).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Range checks, each an error naming its key: every number finite and within a physical
    /// range (the bounds below are far beyond any built or proposed design, and they keep every
    /// cycle and byte count of the engine well inside 64 bits per task).
    pub fn validate(&self) -> Result<(), ArchError> {
        let bad = |path: &str, value: String, reason: String| {
            Err(ArchError::InvalidValue {
                path: path.into(),
                value,
                reason,
            })
        };
        let real = |path: &str, v: f64, lo: f64, hi: f64, unit: &str| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                bad(
                    path,
                    v.to_string(),
                    format!("must be a number between {lo} and {hi} {unit}"),
                )
            }
        };
        let count = |path: &str, v: u32, lo: u32, hi: u32| {
            if v < lo {
                bad(path, v.to_string(), format!("must be at least {lo}"))
            } else if v > hi {
                bad(path, v.to_string(), format!("must be at most {hi}"))
            } else {
                Ok(())
            }
        };
        const MAX_UNITS: u32 = 1 << 16;
        const MAX_LANES: u32 = 1 << 20;
        const MAX_MACS: u32 = 1 << 24;
        const MAX_LATENCY: u32 = 1_000_000;
        real("clock_ghz", self.clock_ghz, 1e-3, 100.0, "GHz")?;
        count("word_bits", self.word_bits, 8, 64)?;
        count("clusters", self.clusters, 1, 4096)?;
        count("ntt.units", self.ntt.units, 1, MAX_UNITS)?;
        count("ntt.lanes", self.ntt.lanes, 1, MAX_LANES)?;
        count(
            "ntt.latency_cycles",
            self.ntt.latency_cycles,
            0,
            MAX_LATENCY,
        )?;
        count("ntt.max_log_n", self.ntt.max_log_n, 1, 17)?;
        count("automorphism.units", self.automorphism.units, 1, MAX_UNITS)?;
        count("automorphism.lanes", self.automorphism.lanes, 1, MAX_LANES)?;
        count(
            "automorphism.latency_cycles",
            self.automorphism.latency_cycles,
            0,
            MAX_LATENCY,
        )?;
        let ew = &self.elementwise;
        count("elementwise.mul_units", ew.mul_units, 1, MAX_UNITS)?;
        count("elementwise.add_units", ew.add_units, 1, MAX_UNITS)?;
        count("elementwise.lanes", ew.lanes, 1, MAX_LANES)?;
        count(
            "elementwise.mul_latency_cycles",
            ew.mul_latency_cycles,
            0,
            MAX_LATENCY,
        )?;
        count(
            "elementwise.add_latency_cycles",
            ew.add_latency_cycles,
            0,
            MAX_LATENCY,
        )?;
        let min_macs = u32::from(self.bconv.dedicated);
        count(
            "bconv.macs_per_cycle",
            self.bconv.macs_per_cycle,
            min_macs,
            MAX_MACS,
        )?;
        count(
            "bconv.latency_cycles",
            self.bconv.latency_cycles,
            0,
            MAX_LATENCY,
        )?;
        count(
            "keyswitch.inner_product_lanes",
            self.keyswitch.inner_product_lanes,
            u32::from(self.keyswitch.dedicated_inner_product),
            MAX_MACS,
        )?;
        real(
            "scratchpad.capacity_mib",
            self.scratchpad.capacity_mib,
            1.0 / 1024.0,
            1024.0 * 1024.0,
            "MiB (1 KiB to 1 TiB)",
        )?;
        real(
            "scratchpad.bandwidth_bytes_per_cycle",
            self.scratchpad.bandwidth_bytes_per_cycle,
            1.0,
            f64::from(1u32 << 30),
            "bytes per cycle",
        )?;
        real(
            "noc.bandwidth_bytes_per_cycle",
            self.noc.bandwidth_bytes_per_cycle,
            1.0,
            f64::from(1u32 << 30),
            "bytes per cycle",
        )?;
        if self.policy.evk_prng {
            count(
                "keyswitch.prng_words_per_cycle",
                self.keyswitch.prng_words_per_cycle,
                1,
                MAX_LANES,
            )?;
        }
        real(
            "hbm.bandwidth_gb_s",
            self.hbm.bandwidth_gb_s,
            1e-3,
            1e6,
            "GB/s (1 MB/s to 1 PB/s)",
        )?;
        real(
            "hbm.latency_ns",
            self.hbm.latency_ns,
            0.0,
            1e6,
            "ns (up to 1 ms)",
        )?;
        count("policy.dnum", self.policy.dnum, 0, 1 << 16)?;
        Ok(())
    }

    /// HBM bytes per cycle at this clock.
    pub fn hbm_bytes_per_cycle(&self) -> f64 {
        self.hbm.bandwidth_gb_s / self.clock_ghz
    }

    /// HBM latency in cycles (rounded up).
    pub fn hbm_latency_cycles(&self) -> u64 {
        (self.hbm.latency_ns * self.clock_ghz).ceil() as u64
    }

    /// Scratchpad capacity in bytes.
    pub fn scratchpad_bytes(&self) -> u64 {
        (self.scratchpad.capacity_mib * 1024.0 * 1024.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every embedded preset parses, passes the schema (the default preset is the schema, so
    /// this catches presets drifting from it) and validates.
    #[test]
    fn every_preset_loads() {
        for (name, text) in PRESETS {
            let table = parse(text, name).unwrap();
            check_schema(&table, schema(), "", name).unwrap();
            let arch = Arch::preset(name).unwrap();
            assert_eq!(arch.name, name);
        }
    }

    #[test]
    fn resolved_toml_round_trips() {
        let arch = Arch::preset("sharp").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolved.toml");
        std::fs::write(&path, arch.to_toml()).unwrap();
        let again = ArchLoader::new(path.to_str().unwrap())
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(arch, again);
    }

    #[test]
    fn set_overrides_and_types() {
        let mut l = ArchLoader::new("f1").unwrap();
        l.set("ntt.lanes=512").unwrap();
        l.set("clock_ghz=2").unwrap();
        l.set("policy.key_storage=streamed").unwrap();
        let a = l.build().unwrap();
        assert_eq!(a.ntt.lanes, 512);
        assert_eq!(a.clock_ghz, 2.0);
        assert_eq!(a.policy.key_storage, KeyStorage::Streamed);
    }

    #[test]
    fn unknown_key_names_its_path() {
        let err = ArchLoader::new("f1")
            .unwrap()
            .set("ntt.lane=512")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown key `ntt.lane`"), "{msg}");
        assert!(msg.contains("lanes"), "{msg}");
    }

    #[test]
    fn wrong_type_names_its_path() {
        let err = ArchLoader::new("f1")
            .unwrap()
            .set("ntt.lanes=wide")
            .unwrap_err();
        assert!(
            err.to_string().contains("`ntt.lanes` must be an integer"),
            "{err}"
        );
    }

    #[test]
    fn zero_lanes_is_rejected() {
        let mut l = ArchLoader::new("default").unwrap();
        l.set("automorphism.lanes=0").unwrap();
        let err = l.build().unwrap_err();
        assert!(
            err.to_string()
                .contains("`automorphism.lanes` = 0 must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn bad_enum_value_lists_the_choices() {
        let mut l = ArchLoader::new("default").unwrap();
        l.set("policy.key_storage=cloud").unwrap();
        let err = l.build().unwrap_err().to_string();
        assert!(
            err.contains("`policy.key_storage`") && err.contains("on_chip"),
            "{err}"
        );
        let mut l = ArchLoader::new("default").unwrap();
        l.set("ntt.lanes=-3").unwrap();
        let err = l.build().unwrap_err().to_string();
        assert!(err.contains("`ntt.lanes` = -3"), "{err}");
    }

    #[test]
    fn override_file_on_a_preset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "preset = \"craterlake\"\nname = \"mine\"\n[hbm]\nbandwidth_gb_s = 2000\n",
        )
        .unwrap();
        let a = ArchLoader::new(path.to_str().unwrap())
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(a.name, "mine");
        assert_eq!(a.hbm.bandwidth_gb_s, 2000.0);
        assert_eq!(a.word_bits, 28);
    }

    #[test]
    fn unknown_preset_lists_presets() {
        let err = ArchLoader::new("f2").unwrap_err().to_string();
        assert!(err.contains("craterlake"), "{err}");
    }
}

//! The sweep specification: a TOML file naming a base architecture, the axes to vary, the
//! workloads to run and optional constraints.
//!
//! ```toml
//! name = "lanes-x-bandwidth"
//! base = "default"                      # preset name, or an architecture file (relative to this file)
//! set = ["policy.hoisting=true"]        # fixed overrides for every point (optional)
//!
//! [[axis]]
//! key = "ntt.lanes"                     # any architecture key, as for `--set`
//! values = [128, 256, 512]
//!
//! [[axis]]
//! key = "hbm.bandwidth_gb_s"
//! range = { start = 256, stop = 1024, step = 256 }   # arithmetic, stop included
//!
//! [[axis]]
//! key = "scratchpad.capacity_mib"
//! range = { start = 16, stop = 128, factor = 2 }     # geometric, stop included
//!
//! [[workload]]
//! net = "lenet"
//! packing = ["dense", "group", "spencnn"]           # string or list
//! sparsity = 0.5                                    # number or list (optional)
//!
//! [[workload]]
//! trace = "traces/mine.jsonl"                       # relative to this file
//!
//! [constraints]
//! max_area_mm2 = 200.0                              # points above are not simulated
//!
//! [fpga]
//! device = "u280"              # LUT/FF/DSP/BRAM/URAM columns and a fits-the-device flag
//! ```
//!
//! Points are the Cartesian product of the axes (the first axis varies slowest) times the
//! workloads (innermost), in that fixed order.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Value;

use super::SweepError;

/// Most values one axis may have (a typo such as `step = 0.0001` should not hang enumeration).
pub const MAX_AXIS_VALUES: usize = 100_000;

/// Most points a sweep grid may have (designs × workloads), checked when the spec is read,
/// before anything is enumerated or allocated.
pub const MAX_GRID_POINTS: usize = 1_000_000;

/// A parsed sweep specification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// Short name, for reports.
    pub name: String,
    /// Base architecture: a preset name or a TOML file path (made absolute on load).
    pub base: String,
    /// `key=value` overrides applied to every point before the axes.
    pub set: Vec<String>,
    pub axes: Vec<Axis>,
    pub workloads: Vec<WorkloadSpec>,
    pub constraints: Constraints,
    /// The FPGA whose resources the points are costed in (`[fpga] device`); the CLI supplies
    /// the model ([`super::FpgaModel`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fpga_device: Option<String>,
}

/// One architecture key and the values it takes, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    pub key: String,
    pub values: Vec<Value>,
}

/// One workload of the sweep (after expanding lists of packings and sparsities).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadSpec {
    /// A trace file (absolute path after loading).
    Trace { path: PathBuf },
    /// A network compiled under a packing; the CLI generates its trace (the simulator crate does
    /// not depend on the compiler).
    Net {
        net: String,
        packing: String,
        sparsity: Option<f64>,
    },
}

impl WorkloadSpec {
    /// A short stable label: `lenet/spencnn`, `lenet/spencnn/s0.5`, or the trace's file name.
    pub fn label(&self) -> String {
        match self {
            WorkloadSpec::Trace { path } => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            WorkloadSpec::Net {
                net,
                packing,
                sparsity: None,
            } => format!("{net}/{packing}"),
            WorkloadSpec::Net {
                net,
                packing,
                sparsity: Some(s),
            } => format!("{net}/{packing}/s{s}"),
        }
    }
}

/// Constraints on design points; points violating them are left out of the grid (and counted).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Largest allowed area (same model as the `area_mm2` column).
    pub max_area_mm2: Option<f64>,
}

/// The file's shape, before checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    base: String,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default)]
    axis: Vec<RawAxis>,
    #[serde(default)]
    workload: Vec<RawWorkload>,
    #[serde(default)]
    constraints: RawConstraints,
    fpga: Option<RawFpga>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFpga {
    device: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAxis {
    key: String,
    values: Option<Vec<Value>>,
    range: Option<RawRange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    start: Value,
    stop: Value,
    step: Option<Value>,
    factor: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    trace: Option<PathBuf>,
    net: Option<String>,
    packing: Option<OneOrMany<String>>,
    sparsity: Option<OneOrMany<f64>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraints {
    max_area_mm2: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

impl SweepSpec {
    /// Reads and checks a spec file; relative paths in it are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|source| SweepError::Io {
            path: path.to_owned(),
            source,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        Self::parse(&text, &path.display().to_string(), dir)
    }

    /// Parses spec text; `origin` names it in errors and `dir` anchors relative paths.
    pub fn parse(text: &str, origin: &str, dir: &Path) -> Result<Self, SweepError> {
        let bad = |message: String| SweepError::Spec {
            origin: origin.to_owned(),
            message,
        };
        let raw: RawSpec = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let base = if raw.base.ends_with(".toml") {
            absolute(dir, Path::new(&raw.base)).display().to_string()
        } else {
            raw.base
        };
        let mut axes = Vec::with_capacity(raw.axis.len());
        for (i, a) in raw.axis.into_iter().enumerate() {
            let key = a.key.trim().to_owned();
            if key.is_empty() {
                return Err(bad(format!("axis {}: `key` is empty", i + 1)));
            }
            if axes.iter().any(|b: &Axis| b.key == key) {
                return Err(bad(format!(
                    "axis `{key}` appears twice; give each key one axis with all its values"
                )));
            }
            let values = match (a.values, a.range) {
                (Some(v), None) => v,
                (None, Some(r)) => {
                    expand_range(&r).map_err(|m| bad(format!("axis `{key}`: {m}")))?
                }
                _ => {
                    return Err(bad(format!(
                        "axis `{key}`: give exactly one of `values = [...]` or `range = {{ start, stop, step | factor }}`"
                    )));
                }
            };
            if values.is_empty() {
                return Err(bad(format!("axis `{key}` has no values")));
            }
            if values.len() > MAX_AXIS_VALUES {
                return Err(bad(format!(
                    "axis `{key}` has {} values, more than {MAX_AXIS_VALUES}; split the sweep",
                    values.len()
                )));
            }
            let mut seen = std::collections::HashSet::with_capacity(values.len());
            for v in &values {
                let Some(equality) = equality_key(v) else {
                    return Err(bad(format!(
                        "axis `{key}`: value {v} must be a number, string or boolean"
                    )));
                };
                if !seen.insert(equality) {
                    return Err(bad(format!("axis `{key}`: value {v} appears twice")));
                }
            }
            axes.push(Axis { key, values });
        }
        let mut workloads = Vec::new();
        for (i, w) in raw.workload.into_iter().enumerate() {
            let n = i + 1;
            match (w.trace, w.net) {
                (Some(path), None) => {
                    if w.packing.is_some() || w.sparsity.is_some() {
                        return Err(bad(format!(
                            "workload {n}: `packing`/`sparsity` go with `net`, not with `trace`"
                        )));
                    }
                    workloads.push(WorkloadSpec::Trace {
                        path: absolute(dir, &path),
                    });
                }
                (None, Some(net)) => {
                    let packings = w.packing.map(OneOrMany::into_vec).ok_or_else(|| {
                        bad(format!(
                            "workload {n} (`net = \"{net}\"`): missing `packing` (dense, group or spencnn, or a list)"
                        ))
                    })?;
                    let sparsities: Vec<Option<f64>> = match w.sparsity {
                        None => vec![None],
                        Some(s) => s.into_vec().into_iter().map(Some).collect(),
                    };
                    if packings.is_empty() || sparsities.is_empty() {
                        return Err(bad(format!(
                            "workload {n} (`net = \"{net}\"`): an empty `packing` or `sparsity` \
                             list makes no workload; list at least one value"
                        )));
                    }
                    for s in sparsities.iter().flatten() {
                        if !(0.0..1.0).contains(s) {
                            return Err(bad(format!(
                                "workload {n}: sparsity {s} must be in [0, 1)"
                            )));
                        }
                    }
                    for packing in &packings {
                        for &sparsity in &sparsities {
                            workloads.push(WorkloadSpec::Net {
                                net: net.clone(),
                                packing: packing.clone(),
                                sparsity,
                            });
                        }
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "workload {n}: give exactly one of `trace = \"FILE\"` or `net = \"NAME\"`"
                    )));
                }
            }
        }
        if workloads.is_empty() {
            return Err(bad(
                "no workloads: add at least one `[[workload]]` with `trace` or `net`".into(),
            ));
        }
        for (j, w) in workloads.iter().enumerate() {
            if workloads[..j].contains(w) {
                return Err(bad(format!("workload {} appears twice", w.label())));
            }
        }
        let points = axes
            .iter()
            .try_fold(workloads.len(), |n: usize, a: &Axis| {
                n.checked_mul(a.values.len())
            })
            .filter(|&n| n <= MAX_GRID_POINTS);
        if points.is_none() {
            let factors: Vec<String> = axes
                .iter()
                .map(|a| format!("{} ({})", a.values.len(), a.key))
                .chain(std::iter::once(format!("{} workload(s)", workloads.len())))
                .collect();
            return Err(bad(format!(
                "the grid has {} points, above the cap of {MAX_GRID_POINTS}: use fewer axis \
                 values or split the sweep into several specs",
                factors.join(" × ")
            )));
        }
        if let Some(a) = raw.constraints.max_area_mm2
            && !(a.is_finite() && a > 0.0)
        {
            return Err(bad(format!(
                "constraints.max_area_mm2 = {a} must be a positive number"
            )));
        }
        Ok(SweepSpec {
            name: raw.name.unwrap_or_else(|| "sweep".into()),
            base,
            set: raw.set,
            axes,
            workloads,
            constraints: Constraints {
                max_area_mm2: raw.constraints.max_area_mm2,
            },
            fpga_device: raw.fpga.map(|f| f.device.trim().to_owned()),
        })
    }

    /// Points of the full grid before constraints: product of axis lengths × workloads (at
    /// most [`MAX_GRID_POINTS`] for a parsed spec).
    pub fn grid_len(&self) -> usize {
        self.axes
            .iter()
            .map(|a| a.values.len())
            .product::<usize>()
            .saturating_mul(self.workloads.len())
    }

    /// blake3 of the canonical (re-serialised) spec: formatting and comments do not change it.
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        blake3::hash(canonical.as_bytes()).to_hex().to_string()
    }
}

/// A key equal for exactly the values `==` calls equal (integers and floats stay apart, as
/// they do for `==`; 0.0 and −0.0 meet; NaNs meet, so a repeated NaN is a duplicate too), so
/// duplicates are found with a hash set without formatting every value. `None` for the types
/// an axis cannot hold (arrays, tables, dates).
fn equality_key(v: &Value) -> Option<EqualityKey<'_>> {
    Some(match v {
        Value::Integer(i) => EqualityKey::Integer(*i),
        Value::Float(f) if *f == 0.0 => EqualityKey::Float(0),
        Value::Float(f) if f.is_nan() => EqualityKey::Float(f64::NAN.to_bits()),
        Value::Float(f) => EqualityKey::Float(f.to_bits()),
        Value::String(s) => EqualityKey::String(s),
        Value::Boolean(b) => EqualityKey::Boolean(*b),
        Value::Array(_) | Value::Table(_) | Value::Datetime(_) => return None,
    })
}

/// See [`equality_key`].
#[derive(PartialEq, Eq, Hash)]
enum EqualityKey<'a> {
    Integer(i64),
    Float(u64),
    String(&'a str),
    Boolean(bool),
}

fn absolute(dir: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        dir.join(p)
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Expands `{start, stop, step}` (arithmetic) or `{start, stop, factor}` (geometric); `stop` is
/// included when the sequence hits it. All-integer bounds give integer values.
fn expand_range(r: &RawRange) -> Result<Vec<Value>, String> {
    let num = |name: &str, v: &Value| as_f64(v).ok_or_else(|| format!("`{name}` must be a number"));
    let start = num("start", &r.start)?;
    let stop = num("stop", &r.stop)?;
    if !(start.is_finite() && stop.is_finite()) || stop < start {
        return Err(format!("needs start ≤ stop, got {start} and {stop}"));
    }
    let mut ints = matches!(r.start, Value::Integer(_)) && matches!(r.stop, Value::Integer(_));
    let mut out = Vec::new();
    // Relative tolerance so that 0.1-steps reach their stop despite rounding.
    let eps = 1e-9 * stop.abs().max(1.0);
    match (&r.step, &r.factor) {
        (Some(step), None) => {
            ints &= matches!(step, Value::Integer(_));
            let step = num("step", step)?;
            if !(step.is_finite() && step > 0.0) {
                return Err(format!("`step` must be positive, got {step}"));
            }
            // Counted before any value is made, so an oversized range fails at once.
            if (stop + eps - start) / step > MAX_AXIS_VALUES as f64 {
                return Err(format!("more than {MAX_AXIS_VALUES} values"));
            }
            let mut i = 0u64;
            loop {
                let v = start + step * i as f64;
                if v > stop + eps {
                    break;
                }
                out.push(v);
                i += 1;
                if out.len() > MAX_AXIS_VALUES {
                    return Err(format!("more than {MAX_AXIS_VALUES} values"));
                }
            }
        }
        (None, Some(factor)) => {
            ints &= matches!(factor, Value::Integer(_));
            let factor = num("factor", factor)?;
            if !(factor.is_finite() && factor > 1.0) || start <= 0.0 {
                return Err(format!(
                    "a geometric range needs factor > 1 and start > 0, got factor {factor}, start {start}"
                ));
            }
            if ((stop + eps) / start).ln() / factor.ln() > MAX_AXIS_VALUES as f64 {
                return Err(format!("more than {MAX_AXIS_VALUES} values"));
            }
            let mut v = start;
            while v <= stop + eps {
                out.push(v);
                v *= factor;
                if out.len() > MAX_AXIS_VALUES {
                    return Err(format!("more than {MAX_AXIS_VALUES} values"));
                }
            }
        }
        _ => return Err("a range needs exactly one of `step` or `factor`".into()),
    }
    Ok(out
        .into_iter()
        .map(|v| {
            if ints {
                Value::Integer(v.round() as i64)
            } else {
                Value::Float(v)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SweepSpec, SweepError> {
        SweepSpec::parse(text, "test.toml", Path::new("/tmp"))
    }

    /// Long explicit axes: 100,000 distinct values parse (the duplicate check is a hash set,
    /// not quadratic), 300,000 are refused naming the cap, and a duplicate is still found.
    #[test]
    fn long_axes_are_checked_linearly_and_capped() {
        let axis = |n: usize, dup: bool| {
            let mut values: Vec<String> = (1..=n).map(|v| v.to_string()).collect();
            if dup {
                values.push("7".into());
            }
            format!(
                "base = \"default\"\n[[axis]]\nkey = \"ntt.lanes\"\nvalues = [{}]\n\
                 [[workload]]\ntrace = \"t.jsonl\"\n",
                values.join(",")
            )
        };
        assert_eq!(
            parse(&axis(MAX_AXIS_VALUES, false)).unwrap().grid_len(),
            MAX_AXIS_VALUES
        );
        let err = parse(&axis(300_000, false)).unwrap_err().to_string();
        assert!(err.contains("300000 values, more than 100000"), "{err}");
        let err = parse(&axis(10, true)).unwrap_err().to_string();
        assert!(err.contains("value 7 appears twice"), "{err}");
    }

    #[test]
    fn ranges_expand_inclusively() {
        let s = parse(
            r#"
base = "default"
[[axis]]
key = "hbm.bandwidth_gb_s"
range = { start = 256, stop = 1024, step = 256 }
[[axis]]
key = "scratchpad.capacity_mib"
range = { start = 16, stop = 128, factor = 2 }
[[axis]]
key = "clock_ghz"
range = { start = 0.5, stop = 1.0, step = 0.1 }
[[workload]]
net = "lenet"
packing = ["dense", "spencnn"]
"#,
        )
        .unwrap();
        let ints = |a: &Axis| {
            a.values
                .iter()
                .map(|v| v.as_integer().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(ints(&s.axes[0]), [256, 512, 768, 1024]);
        assert_eq!(ints(&s.axes[1]), [16, 32, 64, 128]);
        assert_eq!(
            s.axes[2].values.len(),
            6,
            "0.5..=1.0 by 0.1 despite rounding"
        );
        assert_eq!(s.workloads.len(), 2);
        assert_eq!(s.grid_len(), 4 * 4 * 6 * 2);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("base = \"default\"\n", "no workloads"),
            (
                "base = \"default\"\n[[axis]]\nkey = \"ntt.lanes\"\n[[workload]]\nnet = \"lenet\"\npacking = \"dense\"\n",
                "exactly one of `values",
            ),
            (
                "base = \"default\"\n[[axis]]\nkey = \"ntt.lanes\"\nvalues = [1, 1]\n[[workload]]\nnet = \"lenet\"\npacking = \"dense\"\n",
                "appears twice",
            ),
            (
                "base = \"default\"\n[[workload]]\nnet = \"lenet\"\n",
                "missing `packing`",
            ),
            (
                "base = \"default\"\nbogus = 1\n[[workload]]\nnet = \"lenet\"\npacking = \"dense\"\n",
                "bogus",
            ),
            (
                "base = \"default\"\n[[axis]]\nkey = \"x\"\nrange = { start = 1, stop = 4, step = 0 }\n[[workload]]\ntrace = \"t.jsonl\"\n",
                "`step` must be positive",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{want:?} not in {err:?}");
            assert!(err.contains("test.toml"), "{err}");
        }
    }

    #[test]
    fn hash_ignores_formatting() {
        let a = parse("base = \"default\"\n[[workload]]\nnet = \"lenet\"\npacking = \"dense\"\n")
            .unwrap();
        let b = parse("# comment\nbase   =   \"default\"\n\n[[workload]]\npacking = [\"dense\"]\nnet = \"lenet\"\n")
            .unwrap();
        assert_eq!(a.hash(), b.hash());
        let c =
            parse("base = \"f1\"\n[[workload]]\nnet = \"lenet\"\npacking = \"dense\"\n").unwrap();
        assert_ne!(a.hash(), c.hash());
    }
}

//! Enumerating a sweep: every combination of axis values (first axis slowest) × every workload
//! (innermost), each resolved to a complete architecture and named by its `point_id`.

use std::path::Path;
use std::sync::Arc;

use hesim_traces::{Analyzer, Header, Op, TraceError, TraceWriter};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use super::area::{AreaBreakdown, AreaModel};
use super::fpga::{FpgaModel, FpgaUsage};
use super::spec::{SweepSpec, WorkloadSpec};
use super::{SweepError, write_atomically};
use crate::arch::{Arch, ArchLoader};
use crate::{SimError, Simulator};

/// Hex digits of blake3 kept in ids (64 bits: collisions are not a concern below 10^9 points).
const ID_HEX: usize = 16;

/// A workload ready to simulate: its trace in memory, lowered lazily once per lowering option.
#[derive(Debug, Clone)]
pub struct Workload {
    pub spec: WorkloadSpec,
    pub info: WorkloadInfo,
    pub simulator: Arc<Simulator>,
}

/// What identifies a workload in results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub label: String,
    pub network: String,
    pub packing: String,
    pub sparsity: Option<f64>,
    /// blake3 of the trace as hesim writes it (canonical JSON Lines).
    pub trace_blake3: String,
    pub ops: u64,
}

impl Workload {
    /// Validates a trace held in memory and takes it as a workload.
    pub fn from_ops(spec: WorkloadSpec, header: Header, ops: Vec<Op>) -> Result<Self, SweepError> {
        let label = spec.label();
        let wrap = |source: SimError| SweepError::Workload {
            label: label.clone(),
            source: Box::new(source),
        };
        let mut analyzer = Analyzer::new(header.clone());
        for (i, op) in ops.iter().enumerate() {
            analyzer.check(i as u64 + 2, op);
        }
        let analysis = analyzer.finish();
        if let Some(first) = analysis.violations.first() {
            return Err(wrap(SimError::InvalidTrace {
                count: analysis.violation_count,
                first: first.clone(),
            }));
        }
        let mut bytes = Vec::new();
        let mut w = TraceWriter::new(&mut bytes, &header).map_err(|e| wrap(e.into()))?;
        for op in &ops {
            w.write_op(op).map_err(|e| wrap(e.into()))?;
        }
        w.finish().map_err(|e| wrap(e.into()))?;
        let sparsity = match &spec {
            WorkloadSpec::Net { sparsity, .. } => *sparsity,
            WorkloadSpec::Trace { .. } => None,
        };
        let info = WorkloadInfo {
            label,
            network: header.network.clone(),
            packing: header.packing.clone(),
            sparsity,
            trace_blake3: blake3::hash(&bytes).to_hex().to_string(),
            ops: ops.len() as u64,
        };
        Ok(Self {
            spec,
            info,
            simulator: Arc::new(Simulator::new(header, ops)),
        })
    }

    /// Reads a trace file (streaming) and takes it as a workload.
    pub fn from_file(spec: WorkloadSpec, path: &Path) -> Result<Self, SweepError> {
        let wrap = |source: SimError| SweepError::Workload {
            label: spec.label(),
            source: Box::new(source),
        };
        let mut reader = hesim_traces::open(path).map_err(|e| wrap(e.into()))?;
        let header = reader.header().clone();
        let mut ops = Vec::new();
        for op in reader.by_ref() {
            ops.push(op.map_err(|e: TraceError| wrap(e.into()))?);
        }
        Self::from_ops(spec, header, ops)
    }
}

/// One design point.
#[derive(Clone, Debug)]
pub struct Point {
    /// Position in the canonical order (over the points that satisfy the constraints).
    pub index: usize,
    pub point_id: String,
    /// blake3 of the resolved architecture alone (equal for all workloads of a design).
    pub arch_hash: String,
    /// Index into the sweep's workloads.
    pub workload: usize,
    /// One value per axis, in axis order.
    pub axis_values: Arc<[Value]>,
    pub arch: Arc<Arch>,
    pub area: Arc<AreaBreakdown>,
    /// Resources on the sweep's FPGA (when it names one).
    pub fpga: Option<Arc<FpgaUsage>>,
}

/// The enumerated sweep.
#[derive(Debug)]
pub struct Grid {
    pub spec: SweepSpec,
    pub spec_hash: String,
    pub workloads: Vec<WorkloadInfo>,
    pub area_model: AreaModel,
    pub fpga_model: Option<FpgaModel>,
    pub points: Vec<Point>,
    /// Designs left out by the constraints (each would have had one point per workload).
    pub excluded_designs: usize,
    /// blake3 over all point ids in order: equal grids have equal hashes.
    pub grid_hash: String,
}

/// `grid.json`: the grid as written beside results, for resuming and merging.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridFile {
    pub name: String,
    pub spec_hash: String,
    pub grid_hash: String,
    pub axes: Vec<String>,
    pub workloads: Vec<WorkloadInfo>,
    pub area_model: AreaModel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fpga_model: Option<FpgaModel>,
    pub max_area_mm2: Option<f64>,
    pub excluded_designs: usize,
    /// Point ids in canonical order.
    pub points: Vec<GridPoint>,
}

/// One entry of [`GridFile::points`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    pub point_id: String,
    pub workload: String,
    pub axes: Vec<Value>,
}

impl Grid {
    /// Resolves every point of `spec` over `workloads` (which must be `spec.workloads`, in
    /// order, loaded). Each axis value is first checked alone through [`ArchLoader`] so that a
    /// bad key or value is reported with its path.
    pub fn build(
        spec: &SweepSpec,
        workloads: &[Workload],
        area_model: &AreaModel,
    ) -> Result<Grid, SweepError> {
        Self::build_on_fpga(spec, workloads, area_model, None)
    }

    /// [`Grid::build`], costing every point's resources with `fpga_model`, which must be for
    /// the device `spec` names (`[fpga] device`); a point the model has no units for is an
    /// error naming it.
    pub fn build_on_fpga(
        spec: &SweepSpec,
        workloads: &[Workload],
        area_model: &AreaModel,
        fpga_model: Option<&FpgaModel>,
    ) -> Result<Grid, SweepError> {
        let named = spec.fpga_device.as_deref();
        if named != fpga_model.map(|m| m.device.name.as_str()) {
            return Err(SweepError::Spec {
                origin: spec.name.clone(),
                message: format!(
                    "the spec's [fpga] device is {named:?} but the resource model given is for \
                     {:?}",
                    fpga_model.map(|m| &m.device.name)
                ),
            });
        }
        let loader = || -> Result<ArchLoader, SweepError> {
            let mut l = ArchLoader::new(&spec.base).map_err(base_err)?;
            for s in &spec.set {
                l.set(s).map_err(base_err)?;
            }
            Ok(l)
        };
        let base = loader()?.build().map_err(base_err)?;
        for axis in &spec.axes {
            for v in &axis.values {
                let assignment = format!("{}={}", axis.key, v);
                let axis_err = |source| SweepError::Axis {
                    key: axis.key.clone(),
                    value: v.to_string(),
                    source: Box::new(source),
                };
                let mut l = loader()?;
                l.set(&assignment).map_err(axis_err)?;
                l.build().map_err(axis_err)?;
            }
        }
        let base_table = Table::try_from(&base).map_err(|e| SweepError::Spec {
            origin: spec.base.clone(),
            message: e.to_string(),
        })?;
        // At most MAX_GRID_POINTS (checked when the spec was read); the points vector grows
        // as designs pass the constraints rather than being sized for the whole grid.
        let designs: usize = spec.axes.iter().map(|a| a.values.len()).product();
        let mut points = Vec::new();
        let mut excluded = 0;
        let mut digits = vec![0usize; spec.axes.len()];
        let mut ids = blake3::Hasher::new();
        for design in 0..designs {
            // Mixed-radix counter, last axis fastest.
            let mut rest = design;
            for (d, axis) in digits.iter_mut().zip(&spec.axes).rev() {
                *d = rest % axis.values.len();
                rest /= axis.values.len();
            }
            let values: Arc<[Value]> = digits
                .iter()
                .zip(&spec.axes)
                .map(|(&d, a)| a.values[d].clone())
                .collect();
            let describe = || describe_axes(spec, &values);
            let mut table = base_table.clone();
            for (axis, v) in spec.axes.iter().zip(values.iter()) {
                patch(&mut table, &axis.key, v.clone());
            }
            let arch: Arch = Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| SweepError::Point {
                    index: design,
                    axes: describe(),
                    message: e.message().to_owned(),
                })?;
            arch.validate().map_err(|e| SweepError::Point {
                index: design,
                axes: describe(),
                message: e.to_string(),
            })?;
            let area = area_model.area(&arch);
            let fpga = fpga_model
                .map(|m| m.usage(&arch))
                .transpose()
                .map_err(|e| SweepError::Point {
                    index: design,
                    axes: describe(),
                    message: e.to_string(),
                })?
                .map(Arc::new);
            if spec
                .constraints
                .max_area_mm2
                .is_some_and(|max| area.total_mm2 > max)
            {
                excluded += 1;
                continue;
            }
            let arch_toml = arch.to_toml();
            let arch_hash = short_hash(arch_toml.as_bytes());
            let arch = Arc::new(arch);
            let area = Arc::new(area);
            for (w, workload) in workloads.iter().enumerate() {
                let canonical = canonical_point(&arch_toml, &workload.info);
                let point_id = short_hash(canonical.as_bytes());
                ids.update(point_id.as_bytes());
                points.push(Point {
                    index: points.len(),
                    point_id,
                    arch_hash: arch_hash.clone(),
                    workload: w,
                    axis_values: values.clone(),
                    arch: arch.clone(),
                    area: area.clone(),
                    fpga: fpga.clone(),
                });
            }
        }
        Ok(Grid {
            spec: spec.clone(),
            spec_hash: spec.hash(),
            workloads: workloads.iter().map(|w| w.info.clone()).collect(),
            area_model: area_model.clone(),
            fpga_model: fpga_model.cloned(),
            points,
            excluded_designs: excluded,
            grid_hash: ids.finalize().to_hex()[..ID_HEX].to_owned(),
        })
    }

    /// The grid's file form.
    pub fn to_file(&self) -> GridFile {
        GridFile {
            name: self.spec.name.clone(),
            spec_hash: self.spec_hash.clone(),
            grid_hash: self.grid_hash.clone(),
            axes: self.spec.axes.iter().map(|a| a.key.clone()).collect(),
            workloads: self.workloads.clone(),
            area_model: self.area_model.clone(),
            fpga_model: self.fpga_model.clone(),
            max_area_mm2: self.spec.constraints.max_area_mm2,
            excluded_designs: self.excluded_designs,
            points: self
                .points
                .iter()
                .map(|p| GridPoint {
                    point_id: p.point_id.clone(),
                    workload: self.workloads[p.workload].label.clone(),
                    axes: p.axis_values.to_vec(),
                })
                .collect(),
        }
    }

    /// `key = value, ...` for one point.
    pub fn describe(&self, p: &Point) -> String {
        describe_axes(&self.spec, &p.axis_values)
    }

    /// The resolved configuration written as `points/<id>/resolved.toml`: the complete
    /// architecture (valid `--arch` input) with the workload and axes in comments.
    pub fn resolved_toml(&self, p: &Point) -> String {
        let w = &self.workloads[p.workload];
        format!(
            "# hesim sweep {:?}, point {} ({}), id {}\n# workload: {} (trace blake3 {})\n# axes: \
             {}\n# reproduce: hesim sim --arch points/{}/resolved.toml --trace TRACE\n{}",
            self.spec.name,
            p.index,
            self.grid_hash,
            p.point_id,
            w.label,
            w.trace_blake3,
            self.describe(p),
            p.point_id,
            p.arch.to_toml()
        )
    }
}

impl GridFile {
    /// Reads `DIR/grid.json`.
    pub fn load(dir: &Path) -> Result<GridFile, SweepError> {
        let path = dir.join("grid.json");
        let text = std::fs::read_to_string(&path).map_err(SweepError::io(&path))?;
        serde_json::from_str(&text).map_err(|e| SweepError::Corrupt {
            path,
            what: "grid file (written by `hesim sweep`)",
            message: e.to_string(),
        })
    }

    /// Writes `DIR/grid.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), SweepError> {
        let json = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        write_atomically(&dir.join("grid.json"), json.as_bytes())
    }
}

fn base_err(e: crate::ArchError) -> SweepError {
    SweepError::Base(Box::new(e))
}

fn describe_axes(spec: &SweepSpec, values: &[Value]) -> String {
    if spec.axes.is_empty() {
        return "base design".into();
    }
    spec.axes
        .iter()
        .zip(values)
        .map(|(a, v)| format!("{} = {v}", a.key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text a `point_id` hashes: the resolved architecture and the workload's identity.
fn canonical_point(arch_toml: &str, w: &WorkloadInfo) -> String {
    format!(
        "{arch_toml}\n[workload]\nlabel = {:?}\ntrace_blake3 = {:?}\n",
        w.label, w.trace_blake3
    )
}

fn short_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..ID_HEX].to_owned()
}

/// Sets `a.b.c = v` in `t`; integers landing on float keys become floats (as `--set` does).
fn patch(t: &mut Table, key: &str, v: Value) {
    let mut parts = key.split('.').peekable();
    let mut node = t;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            let v = match (node.get(part), v) {
                (Some(Value::Float(_)), Value::Integer(i)) => Value::Float(i as f64),
                (_, v) => v,
            };
            node.insert(part.to_owned(), v);
            return;
        }
        match node.get_mut(part) {
            Some(Value::Table(next)) => node = next,
            // Checked by `ArchLoader` before enumeration; nothing to patch otherwise.
            _ => return,
        }
    }
}

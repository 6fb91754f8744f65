//! Area from yosys synthesis, and the committed area table that `sim` reads.
//!
//! `synthesize` runs `synth_xilinx` (xc7 → DSP48E1, xcup → DSP48E2) or `synth_ice40 -dsp`
//! (SB_MAC16) on the flattened design without I/O buffers and sorts the cells into LUT, FF,
//! DSP, CARRY and BRAM. Yosys tiles products conservatively, so the counts are upper bounds for
//! relative comparisons (docs/hw-ntt.md §4.3), not vendor-tool results.
//!
//! The committed table (`hw/area/area_table.json`) lets sweeps use area without yosys; a test
//! regenerates it and fails when it drifts from the design.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::emit::{DESIGN_FILE, TOP_MODULE, butterfly_verilog, write_all_atomically};
use crate::tools::{Tool, tail};
use crate::{HwError, Variant, Width};

/// The families the area table covers (xcup is available on the command line).
pub const TABLE_FAMILIES: [Family; 2] = [Family::Xc7, Family::Ice40];

/// A yosys target family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Xilinx 7-series (DSP48E1, CARRY4).
    Xc7,
    /// Xilinx UltraScale+ (DSP48E2, CARRY8).
    Xcup,
    /// Lattice iCE40 UltraPlus (SB_MAC16, SB_CARRY).
    Ice40,
}

impl Family {
    /// Parses `xc7`, `xcup` or `ice40`.
    pub fn parse(name: &str) -> Result<Self, HwError> {
        match name {
            "xc7" => Ok(Family::Xc7),
            "xcup" => Ok(Family::Xcup),
            "ice40" => Ok(Family::Ice40),
            _ => Err(HwError::UnsupportedFamily {
                name: name.to_string(),
            }),
        }
    }

    /// The family's name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Xc7 => "xc7",
            Family::Xcup => "xcup",
            Family::Ice40 => "ice40",
        }
    }

    fn synth_command(self, hierarchy: Hierarchy) -> String {
        let (xilinx, ice40) = match hierarchy {
            Hierarchy::Flatten => (" -flatten", ""),
            Hierarchy::Keep => ("", " -noflatten"),
        };
        match self {
            Family::Xc7 => format!("synth_xilinx -top {TOP_MODULE}{xilinx} -noiopad -family xc7"),
            Family::Xcup => {
                format!("synth_xilinx -top {TOP_MODULE}{xilinx} -noiopad -family xcup -uram")
            }
            Family::Ice40 => format!("synth_ice40 -top {TOP_MODULE}{ice40} -dsp"),
        }
    }

    /// Which resource class a cell type belongs to (`None`: routing helpers such as MUXF7).
    fn classify(self, cell: &str) -> Option<Resource> {
        match self {
            Family::Xc7 | Family::Xcup => match cell {
                c if c.starts_with("LUT") || c == "INV" || c.starts_with("SRL") => {
                    Some(Resource::Lut)
                }
                c if c.starts_with("FD") => Some(Resource::Ff),
                c if c.starts_with("DSP48") => Some(Resource::Dsp),
                c if c.starts_with("CARRY") => Some(Resource::Carry),
                c if c.starts_with("RAMB") => Some(Resource::Bram),
                c if c.starts_with("URAM") => Some(Resource::Uram),
                _ => None,
            },
            Family::Ice40 => match cell {
                "SB_LUT4" => Some(Resource::Lut),
                c if c.starts_with("SB_DFF") => Some(Resource::Ff),
                "SB_MAC16" => Some(Resource::Dsp),
                "SB_CARRY" => Some(Resource::Carry),
                c if c.starts_with("SB_RAM") || c.starts_with("SB_SPRAM") => Some(Resource::Bram),
                _ => None,
            },
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource {
    Lut,
    Ff,
    Dsp,
    Carry,
    Bram,
    Uram,
}

/// Resource counts of one synthesized design. LUT includes inverters and LUTs used as shift
/// registers (SRL16E/SRLC32E); CARRY counts CARRY4/CARRY8 or SB_CARRY cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub struct CellCounts {
    /// Look-up tables.
    pub lut: u64,
    /// Flip-flops.
    pub ff: u64,
    /// DSP / multiplier blocks.
    pub dsp: u64,
    /// Carry-chain cells.
    pub carry: u64,
    /// Block RAMs (RAMB18 and RAMB36 cells alike).
    pub bram: u64,
    /// UltraRAMs (URAM288, xcup with `-uram` only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub uram: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// One `synth` run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthReport {
    /// Target family.
    pub family: Family,
    /// Yosys version line.
    pub yosys: String,
    /// The yosys synthesis command.
    pub command: String,
    /// Counts by resource class.
    pub cells: CellCounts,
    /// Every cell type yosys reported, with its count.
    pub cells_by_type: BTreeMap<String, u64>,
}

/// Whether yosys flattens the design before mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    /// One flat netlist: optimizations cross module boundaries (the butterfly table).
    Flatten,
    /// Every module mapped once, counts summed over its instances (`stat` from the top): the
    /// multi-lane units, after [`share_identical_modules`], so P identical lanes cost one
    /// synthesis. Nothing is optimized across a module boundary, so counts are upper bounds.
    Keep,
}

/// Synthesizes the Verilog in `verilog` (top module `top`) for `family`, flattened; files it
/// loads with `$readmemh` are read from its directory.
pub fn synthesize(verilog: &Path, family: Family) -> Result<SynthReport, HwError> {
    synthesize_with(verilog, family, Hierarchy::Flatten)
}

/// [`synthesize`] with a choice of [`Hierarchy`].
pub fn synthesize_with(
    verilog: &Path,
    family: Family,
    hierarchy: Hierarchy,
) -> Result<SynthReport, HwError> {
    let dir = verilog
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = verilog
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| HwError::BadDesignDir {
            path: verilog.to_path_buf(),
            reason: "not a file".into(),
        })?;
    let stats = tempfile::tempdir().map_err(HwError::io(std::env::temp_dir()))?;
    let stats_file = stats.path().join("stat.json");
    let command = family.synth_command(hierarchy);
    // yosys 0.23 prints the hierarchy into `stat -json`'s output, so a hierarchical netlist is
    // flattened after mapping (instances become copies of their mapped cells) to be counted.
    let count = match hierarchy {
        Hierarchy::Flatten => "",
        Hierarchy::Keep => "flatten; ",
    };
    let script = format!(
        "read_verilog {file}; {command}; {count}tee -q -o {} stat -json",
        stats_file.to_string_lossy()
    );
    Tool::Yosys.run(&["-q", "-p", &script], dir)?;
    let text = std::fs::read_to_string(&stats_file).map_err(HwError::io(&stats_file))?;
    parse_stat_json(&text, family, command)
}

/// Reads `stat -json` output: the `design` section's `num_cells_by_type`.
fn parse_stat_json(text: &str, family: Family, command: String) -> Result<SynthReport, HwError> {
    let unexpected = || HwError::UnexpectedOutput {
        command: "yosys stat -json".into(),
        expected: "design.num_cells_by_type",
        output: tail(text),
    };
    let json: serde_json::Value = serde_json::from_str(text).map_err(|_| unexpected())?;
    let by_type = json
        .get("design")
        .and_then(|d| d.get("num_cells_by_type"))
        .and_then(|c| c.as_object())
        .ok_or_else(unexpected)?;
    let mut cells = CellCounts::default();
    let mut cells_by_type = BTreeMap::new();
    for (cell, count) in by_type {
        let count = count.as_u64().ok_or_else(unexpected)?;
        cells_by_type.insert(cell.clone(), count);
        match family.classify(cell) {
            Some(Resource::Lut) => cells.lut += count,
            Some(Resource::Ff) => cells.ff += count,
            Some(Resource::Dsp) => cells.dsp += count,
            Some(Resource::Carry) => cells.carry += count,
            Some(Resource::Bram) => cells.bram += count,
            Some(Resource::Uram) => cells.uram += count,
            None => {}
        }
    }
    let yosys = json
        .get("creator")
        .and_then(|c| c.as_str())
        .unwrap_or("yosys")
        .to_string();
    Ok(SynthReport {
        family,
        yosys,
        command,
        cells,
        cells_by_type,
    })
}

/// `hesim verilog synth DIR`: synthesizes the directory's design (`butterfly.v`, `ntt.v` in an
/// NTT-core directory, `ntt_unit.v` or `automorphism.v` in a unit directory) and writes
/// `DIR/area_<family>.json`.
pub fn synth_dir(dir: &Path, family: Family) -> Result<SynthReport, HwError> {
    let design = if dir
        .join(crate::automorphism::AUTOMORPHISM_MANIFEST_FILE)
        .is_file()
    {
        dir.join(crate::automorphism::AUTOMORPHISM_DESIGN_FILE)
    } else if dir.join(crate::ntt_unit::UNIT_MANIFEST_FILE).is_file() {
        dir.join(crate::ntt_unit::UNIT_DESIGN_FILE)
    } else if dir.join(crate::ntt_core::NTT_MANIFEST_FILE).is_file() {
        dir.join(crate::ntt_core::NTT_DESIGN_FILE)
    } else {
        dir.join(DESIGN_FILE)
    };
    if !design.is_file() {
        return Err(HwError::BadDesignDir {
            path: design,
            reason: "missing; make the directory with `hesim verilog butterfly --out DIR`".into(),
        });
    }
    let report = synthesize(&design, family)?;
    let json = serde_json::to_string_pretty(&report).map_err(|source| HwError::Serialize {
        what: "synthesis report",
        source,
    })?;
    write_all_atomically(dir, &[(&format!("area_{family}.json"), json + "\n")])?;
    Ok(report)
}

/// One row of the area table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaEntry {
    /// Word width.
    pub width: Width,
    /// Reduction variant.
    pub variant: Variant,
    /// Target family.
    pub family: Family,
    /// Pipeline latency in cycles.
    pub latency: usize,
    /// Initiation interval in cycles.
    pub initiation_interval: usize,
    /// Resource counts.
    #[serde(flatten)]
    pub cells: CellCounts,
}

/// Area of every shipped butterfly variant on every table family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaTable {
    /// The yosys that produced the numbers.
    pub yosys: String,
    /// Rows, ordered by width, variant, family.
    pub entries: Vec<AreaEntry>,
}

impl AreaTable {
    /// The row for one design and family.
    pub fn get(&self, width: Width, variant: Variant, family: Family) -> Option<&AreaEntry> {
        self.entries
            .iter()
            .find(|e| e.width == width && e.variant == variant && e.family == family)
    }

    /// Parses the table's JSON.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The table as pretty JSON with a trailing newline (the committed file's format).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the table to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), HwError> {
        save_atomically(path, &self.to_json())
    }
}

/// The committed area table, compiled in so sweeps need no yosys.
pub fn area_table() -> AreaTable {
    // The `committed_area_table_parses` test guards this file; it is data of this crate.
    AreaTable::from_json(include_str!("../area/area_table.json"))
        .expect("hw/area/area_table.json is valid (checked by the crate's tests)")
}

/// Synthesizes one butterfly (in a temporary directory): one row of the committed table.
pub fn synthesize_butterfly(
    width: Width,
    variant: Variant,
    family: Family,
) -> Result<AreaEntry, HwError> {
    butterfly_report(width, variant, family)
        .map(|report| butterfly_entry(width, variant, family, &report))
}

/// The table row of a synthesized butterfly.
fn butterfly_entry(
    width: Width,
    variant: Variant,
    family: Family,
    report: &SynthReport,
) -> AreaEntry {
    AreaEntry {
        width,
        variant,
        family,
        latency: crate::butterfly::BUTTERFLY_LATENCY,
        initiation_interval: 1,
        cells: report.cells,
    }
}

fn butterfly_report(
    width: Width,
    variant: Variant,
    family: Family,
) -> Result<SynthReport, HwError> {
    let work = tempfile::tempdir().map_err(HwError::io(std::env::temp_dir()))?;
    let design = work.path().join(format!("butterfly_{width}_{variant}.v"));
    std::fs::write(&design, butterfly_verilog(width, variant)).map_err(HwError::io(&design))?;
    synthesize(&design, family)
}

/// Synthesizes every shipped variant for `families` (what the committed table holds).
pub fn regenerate_area_table(families: &[Family]) -> Result<AreaTable, HwError> {
    let rows: Vec<(Width, Variant, Family)> = Width::ALL
        .into_iter()
        .flat_map(|width| {
            Variant::ALL.into_iter().flat_map(move |variant| {
                families.iter().map(move |&family| (width, variant, family))
            })
        })
        .collect();
    // One yosys process per row, all at once: synthesis is single-threaded and the rows are
    // independent, so the table regenerates in the time of its slowest row.
    let reports: Vec<Result<SynthReport, HwError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .iter()
            .map(|&(width, variant, family)| {
                scope.spawn(move || butterfly_report(width, variant, family))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut entries = Vec::new();
    let mut yosys = String::new();
    for ((width, variant, family), report) in rows.into_iter().zip(reports) {
        let report = report?;
        entries.push(butterfly_entry(width, variant, family, &report));
        yosys = report.yosys;
    }
    Ok(AreaTable { yosys, entries })
}

/// One row of the NTT/automorphism unit area table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitAreaEntry {
    /// `ntt` or `automorphism`.
    pub unit: UnitKind,
    /// log2 N.
    pub log_n: u32,
    /// Butterflies (NTT) or lanes (automorphism) per cycle.
    pub lanes: u32,
    /// Word width.
    pub width: Width,
    /// Target family.
    pub family: Family,
    /// Busy cycles per limb: (N/2)·log2 N / P (NTT) or N/P (automorphism).
    pub limb_cycles: u64,
    /// Cycles beyond those: start, stage gaps, pipeline drain.
    pub latency_cycles: u64,
    /// Resource counts.
    #[serde(flatten)]
    pub cells: CellCounts,
}

/// Which unit a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// [`crate::ntt_unit`].
    Ntt,
    /// [`crate::automorphism`].
    Automorphism,
}

impl UnitKind {
    /// The unit's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            UnitKind::Ntt => "ntt",
            UnitKind::Automorphism => "automorphism",
        }
    }
}

/// Synthesized units: what `hesim verilog fit` chooses from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitAreaTable {
    /// The yosys that produced the numbers.
    pub yosys: String,
    /// The prime the NTT rows were built for: `modulus_bits`-bit, the largest NTT prime.
    pub modulus_bits: BTreeMap<String, u32>,
    /// Rows.
    pub entries: Vec<UnitAreaEntry>,
}

impl UnitAreaTable {
    /// The row for one unit shape.
    pub fn get(
        &self,
        unit: UnitKind,
        log_n: u32,
        lanes: u32,
        width: Width,
    ) -> Option<&UnitAreaEntry> {
        self.entries
            .iter()
            .find(|e| e.unit == unit && e.log_n == log_n && e.lanes == lanes && e.width == width)
    }

    /// The table as pretty JSON with a trailing newline (the committed file's format).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the table to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), HwError> {
        save_atomically(path, &self.to_json())
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so the file is either the
/// old table or the new one.
fn save_atomically(path: &Path, text: &str) -> Result<(), HwError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(HwError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(HwError::io(path))
}

/// The committed unit area table (`hw/area/unit_table.json`), compiled in so `fit` needs no
/// yosys.
pub fn unit_area_table() -> UnitAreaTable {
    // The `committed_unit_table_parses` test guards this file; it is data of this crate.
    serde_json::from_str(include_str!("../area/unit_table.json"))
        .expect("hw/area/unit_table.json is valid (checked by the crate's tests)")
}

/// The shapes of the committed unit table: NTT units and automorphism units (P ≥ 2; one lane
/// needs no network) at N = 2^16 (the simulator's ring) on xcup, for the lane counts of
/// [`UNIT_TABLE_LANES`] per word, after [`DRIFT_CHECK_SHAPES`].
pub fn unit_table_shapes() -> Vec<(UnitKind, u32, u32, Width)> {
    let mut shapes = DRIFT_CHECK_SHAPES.to_vec();
    for (width, lanes) in UNIT_TABLE_LANES {
        for &lanes in lanes {
            shapes.push((UnitKind::Ntt, 16, lanes, width));
            if lanes > 1 {
                shapes.push((UnitKind::Automorphism, 16, lanes, width));
            }
        }
    }
    shapes
}

/// The lane counts the unit table holds per word: the 64-bit word (the `fpga` preset's 54-bit
/// primes) and the 32-bit word (primes up to 31 bits), both at P = 64 … 1.
pub const UNIT_TABLE_LANES: [(Width, &[u32]); 2] = [
    (Width::W64, &[64, 32, 16, 8, 4, 2, 1]),
    (Width::W32, &[64, 32, 16, 8, 4, 2, 1]),
];

/// Small rows the crate's tests re-synthesize in seconds and compare with the committed table,
/// so a design change that moves the area fails CI even though the N = 2^16 rows take minutes.
pub const DRIFT_CHECK_SHAPES: [(UnitKind, u32, u32, Width); 2] = [
    (UnitKind::Ntt, 4, 2, Width::W32),
    (UnitKind::Automorphism, 4, 2, Width::W32),
];

/// The largest NTT prime bit size the table's NTT units are built for (the word's bound).
fn table_modulus_bits(width: Width) -> u32 {
    width.max_modulus_bits()
}

/// Synthesizes one unit shape for `family` (in a temporary directory).
pub fn synthesize_unit(
    unit: UnitKind,
    log_n: u32,
    lanes: u32,
    width: Width,
    family: Family,
) -> Result<UnitAreaEntry, HwError> {
    let work = tempfile::tempdir().map_err(HwError::io(std::env::temp_dir()))?;
    let (files, limb_cycles, latency_cycles) = match unit {
        UnitKind::Ntt => {
            let config = crate::ntt_unit::NttUnitConfig::new(log_n, lanes, width)?;
            let plan = crate::ntt_unit::unit_plan(config, table_modulus_bits(width))?;
            (
                crate::ntt_unit::unit_files(config, &plan),
                config.issue_cycles(),
                config.latency_cycles(),
            )
        }
        UnitKind::Automorphism => {
            let config = crate::automorphism::AutomorphismConfig::new(log_n, lanes, width)?;
            (
                vec![(
                    crate::automorphism::AUTOMORPHISM_DESIGN_FILE.to_string(),
                    crate::automorphism::automorphism_verilog(config),
                )],
                config.issue_cycles(),
                config.latency_cycles(),
            )
        }
    };
    for (index, (name, text)) in files.iter().enumerate() {
        let path = work.path().join(name);
        // The design comes first; the rest are its ROM images.
        let text = if index == 0 {
            share_identical_modules(&with_lane_zero_twiddles(text, lanes))
        } else {
            text.clone()
        };
        std::fs::write(&path, text).map_err(HwError::io(&path))?;
    }
    let report = synthesize_with(&work.path().join(&files[0].0), family, Hierarchy::Keep)?;
    Ok(UnitAreaEntry {
        unit,
        log_n,
        lanes,
        width,
        family,
        limb_cycles,
        latency_cycles,
        cells: report.cells,
    })
}

/// Points every lane's twiddle ROM at lane 0's image, so the P lanes' ROMs (equal in depth and
/// width, different in contents) become one module for [`share_identical_modules`]. A ROM of
/// at least N/64 = 1024 words maps to block RAM or UltraRAM, whose count does not depend on the
/// contents (they are INIT attributes), so this changes the synthesis time, not the counts.
fn with_lane_zero_twiddles(design: &str, lanes: u32) -> String {
    let mut text = design.to_string();
    for lane in 1..lanes {
        for direction in ["forward", "inverse"] {
            text = text.replace(
                &format!("\"twiddles_{direction}_{lane}.hex\""),
                &format!("\"twiddles_{direction}_0.hex\""),
            );
        }
    }
    text
}

/// Synthesizes `shapes` on xcup one after another (a row can take minutes and gigabytes), calling
/// `row_done` with the table so far after each row so a long run can save its progress.
pub fn regenerate_unit_table(
    shapes: &[(UnitKind, u32, u32, Width)],
    row_done: impl FnMut(&UnitAreaTable) -> Result<(), HwError>,
) -> Result<UnitAreaTable, HwError> {
    let yosys = Tool::Yosys.run(&["-V"], Path::new("."))?.trim().to_string();
    let modulus_bits = Width::ALL
        .iter()
        .map(|&w| (w.to_string(), table_modulus_bits(w)))
        .collect();
    let empty = UnitAreaTable {
        yosys,
        modulus_bits,
        entries: Vec::new(),
    };
    complete_unit_table(empty, shapes, row_done)
}

/// Synthesizes the rows of `shapes` that `table` lacks, widest units first (the narrow ones'
/// deep memories take yosys longest), calling `row_done` after each row; the result lists the
/// rows in `shapes` order, then any others `table` held. A table made by another yosys is
/// refused (its rows would not be comparable).
pub fn complete_unit_table(
    mut table: UnitAreaTable,
    shapes: &[(UnitKind, u32, u32, Width)],
    mut row_done: impl FnMut(&UnitAreaTable) -> Result<(), HwError>,
) -> Result<UnitAreaTable, HwError> {
    let yosys = Tool::Yosys.run(&["-V"], Path::new("."))?.trim().to_string();
    if table.yosys != yosys {
        return Err(HwError::YosysMismatch {
            table: table.yosys,
            installed: yosys,
        });
    }
    let mut missing: Vec<_> = shapes
        .iter()
        .copied()
        .filter(|&(unit, log_n, lanes, width)| table.get(unit, log_n, lanes, width).is_none())
        .collect();
    missing.sort_by_key(|&(_, _, lanes, _)| std::cmp::Reverse(lanes));
    let position = |e: &UnitAreaEntry| {
        shapes
            .iter()
            .position(|&(u, n, p, w)| (u, n, p, w) == (e.unit, e.log_n, e.lanes, e.width))
            .unwrap_or(shapes.len())
    };
    for (unit, log_n, lanes, width) in missing {
        table
            .entries
            .push(synthesize_unit(unit, log_n, lanes, width, Family::Xcup)?);
        table.entries.sort_by_key(position);
        row_done(&table)?;
    }
    Ok(table)
}

/// Rewrites rust-hdl Verilog so identical modules are defined once. rust-hdl emits one module
/// per instance (`top$lanes$0`, `top$lanes$1`, …) even when their text is the same; yosys
/// synthesizes every module definition separately, so a P-lane unit would be synthesized P
/// times. Modules whose text is equal once their own name and their submodules' names are
/// replaced by the shared ones collapse into the first; instances are renamed to it. Modules
/// that differ in anything (a ROM's `$readmemh` file, a constant) stay apart.
pub fn share_identical_modules(verilog: &str) -> String {
    let Some(modules) = split_modules(verilog) else {
        return verilog.to_string();
    };
    let names: std::collections::HashSet<&str> = modules.iter().map(|(name, _)| *name).collect();
    let by_name: BTreeMap<&str, &str> = modules.iter().copied().collect();
    let mut shared: BTreeMap<String, String> = BTreeMap::new();
    let mut canonical_owner: BTreeMap<String, String> = BTreeMap::new();
    let mut kept: Vec<(String, String)> = Vec::new();
    // Submodules first, so a module's instances are renamed before it is compared.
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (name, _) in &modules {
        visit_module(name, &by_name, &names, &mut seen, &mut order);
    }
    for name in order {
        let text = rename_instances(by_name[name], &names, &shared);
        let key = without_own_name(&text, name);
        match canonical_owner.get(&key) {
            Some(owner) => {
                shared.insert(name.to_string(), owner.clone());
            }
            None => {
                canonical_owner.insert(key, name.to_string());
                shared.insert(name.to_string(), name.to_string());
                kept.push((name.to_string(), text));
            }
        }
    }
    kept.into_iter().map(|(_, text)| text + "\n").collect()
}

/// The module's text with its own name blanked in the header and the `endmodule` comment (the
/// name also prefixes its submodules' names, which must stay).
fn without_own_name(text: &str, name: &str) -> String {
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    let (body, last) = body
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", body.trim_end()));
    format!(
        "{}\n{body}\n{}",
        header.replacen(name, "", 1),
        last.replacen(name, "", 1)
    )
}

/// `(name, text)` of every `module … endmodule` block, in file order; `None` when anything
/// but whitespace lies outside the modules (then the text is left alone).
fn split_modules(verilog: &str) -> Option<Vec<(&str, &str)>> {
    let mut modules = Vec::new();
    let mut rest = verilog.trim_start();
    while !rest.is_empty() {
        let block = rest.strip_prefix("module ")?;
        let name_end = block.find(|c: char| c == '(' || c == ';' || c.is_whitespace())?;
        let end_line = rest.find("\nendmodule")? + 1;
        let end = rest[end_line..]
            .find('\n')
            .map_or(rest.len(), |j| end_line + j + 1);
        modules.push((&block[..name_end], &rest[..end]));
        rest = rest[end..].trim_start();
    }
    Some(modules)
}

fn visit_module<'a>(
    name: &'a str,
    by_name: &BTreeMap<&'a str, &'a str>,
    names: &std::collections::HashSet<&'a str>,
    seen: &mut std::collections::HashSet<&'a str>,
    order: &mut Vec<&'a str>,
) {
    if !seen.insert(name) {
        return;
    }
    for line in by_name[name].lines().skip(1) {
        if let Some(child) = instance_module(line, names)
            && child != name
        {
            visit_module(child, by_name, names, seen, order);
        }
    }
    order.push(name);
}

/// The module an instance line (`    top$lanes$0 lanes$0(`) instantiates.
fn instance_module<'a>(line: &str, names: &std::collections::HashSet<&'a str>) -> Option<&'a str> {
    let first = line.split_whitespace().next()?;
    names.get(first).copied()
}

fn rename_instances(
    text: &str,
    names: &std::collections::HashSet<&str>,
    shared: &BTreeMap<String, String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        match (index > 0)
            .then(|| instance_module(line, names))
            .flatten()
            .and_then(|child| shared.get(child).map(|to| (child, to)))
        {
            Some((child, to)) => out.push_str(&line.replacen(child, to, 1)),
            None => out.push_str(line),
        }
    }
    out
}

//! Prints the simulator's validation table (markdown) against published latencies:
//! `cargo run --release -p hesim-sim --example validation`.
//!
//! Workloads are synthetic traces from `hesim_sim::pattern` (documented there); presets are the
//! embedded ones, unmodified. No calibration: the table reports whatever the model predicts.

use hesim_sim::{Arch, SimResult, pattern, simulate};

struct Row {
    design: &'static str,
    workload: String,
    published_ms: f64,
    source: &'static str,
    result: SimResult,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rows = Vec::new();
    let cl = Arch::preset("craterlake")?;
    let limbs = 32;
    let (h, ops) = pattern::packed_bootstrap_trace(limbs, true);
    rows.push(Row {
        design: "craterlake",
        workload: format!(
            "packed CKKS bootstrap, N = 2^16, 2^15 slots, {limbs} × 28-bit limbs, dnum 3 \
             ({} ops, expanded)",
            ops.len()
        ),
        published_ms: 3.91,
        source: "CraterLake ISCA'22 [S-CL]",
        result: simulate(&cl, &h, &ops)?,
    });
    let f1 = Arch::preset("f1")?;
    let (h, ops) = pattern::lola_cifar_trace();
    rows.push(Row {
        design: "f1",
        workload: format!(
            "LoLa-CIFAR-shaped, N = 2^14, 8 × 30-bit limbs ({} ops)",
            ops.len()
        ),
        published_ms: 241.0,
        source: "F1 MICRO'21 [S-F1]",
        result: simulate(&f1, &h, &ops)?,
    });

    println!("| preset | workload | simulated | published | error | bound by | source |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        let sim = r.result.time_ms;
        let err = (sim - r.published_ms) / r.published_ms * 100.0;
        let busiest = r
            .result
            .units
            .iter()
            .max_by(|a, b| a.utilization.total_cmp(&b.utilization))
            .map(|u| format!("{} ({:.0}% busy)", u.unit, u.utilization * 100.0))
            .unwrap_or_default();
        println!(
            "| {} | {} | {:.3} ms | {} ms | {:+.1}% | {} | {} |",
            r.design, r.workload, sim, r.published_ms, err, busiest, r.source
        );
    }
    println!();
    for r in &rows {
        let m = &r.result.memory;
        println!(
            "{}: {} cycles; unit utilisation: {}; HBM {:.1} MB read ({:.1} MB keys, {:.1} MB plaintexts), {:.1} MB spilled",
            r.design,
            r.result.cycles,
            r.result
                .units
                .iter()
                .filter(|u| u.busy_cycles > 0)
                .map(|u| format!("{} {:.0}%", u.unit, u.utilization * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
            m.hbm_read_bytes as f64 / 1e6,
            m.key_bytes as f64 / 1e6,
            m.plaintext_bytes as f64 / 1e6,
            m.spill_bytes as f64 / 1e6,
        );
    }
    Ok(())
}

//! Prints the simulator's validation table (markdown) against published latencies, and how the
//! prediction moves with the workload and policy choices the comparison cannot pin down:
//! `cargo run --release -p hesim-sim --example validation`.
//!
//! Workloads are the shared bootstrap expansion (`hesim_traces::bootstrap`) and synthetic traces
//! from `hesim_sim::pattern` (documented there); presets are the
//! embedded ones. No calibration: the table reports whatever the model predicts.

use hesim_sim::{Arch, ArchLoader, SimResult, pattern, simulate};
use hesim_traces::bootstrap::{default_params, standalone};

/// The packed bootstrap at N = 2^16, 2^15 slots, on a chain of `limbs` 28-bit limbs.
fn packed_bootstrap_trace(
    limbs: u32,
    expanded: bool,
) -> Result<(hesim_traces::Header, Vec<hesim_traces::Op>), Box<dyn std::error::Error>> {
    let p = default_params(1 << 15);
    Ok(standalone(
        16,
        &p,
        limbs - p.level_budget(),
        expanded,
        false,
    )?)
}

fn arch(preset: &str, sets: &[&str]) -> Result<Arch, Box<dyn std::error::Error>> {
    let mut l = ArchLoader::new(preset)?;
    for s in sets {
        l.set(s)?;
    }
    Ok(l.build()?)
}

fn busiest(r: &SimResult) -> String {
    r.units
        .iter()
        .max_by(|a, b| a.utilization.total_cmp(&b.utilization))
        .map(|u| format!("{} {:.0}%", u.unit, u.utilization * 100.0))
        .unwrap_or_default()
}

fn traffic(r: &SimResult) -> String {
    let m = &r.memory;
    format!(
        "{:.2} GB (keys {:.2}, plaintexts {:.2}, spill+reload {:.2})",
        (m.hbm_read_bytes + m.hbm_write_bytes) as f64 / 1e9,
        m.key_bytes as f64 / 1e9,
        m.plaintext_bytes as f64 / 1e9,
        (m.spill_bytes + m.reload_bytes) as f64 / 1e9
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cl = arch("craterlake", &[])?;
    let (bh, boot) = packed_bootstrap_trace(32, true)?;
    let boot_result = simulate(&cl, &bh, &boot)?;
    let f1 = arch("f1", &[])?;
    let (lh, lola) = pattern::lola_cifar_trace();
    let lola_result = simulate(&f1, &lh, &lola)?;

    println!("| preset | workload | simulated | published | error | busiest unit | HBM traffic |");
    println!("|---|---|---|---|---|---|---|");
    let rows = [
        (
            "craterlake",
            format!(
                "packed bootstrap, N = 2^16, 2^15 slots, 32 × 28-bit limbs, dnum 3 ({} ops)",
                boot.len()
            ),
            &boot_result,
            3.91,
            "CraterLake (ISCA'22) [S-CL]",
        ),
        (
            "f1",
            format!(
                "LoLa-CIFAR-shaped, N = 2^14, 8 × 30-bit limbs ({} ops)",
                lola.len()
            ),
            &lola_result,
            241.0,
            "F1 (MICRO'21) [S-F1]",
        ),
    ];
    for (design, workload, r, published, source) in rows {
        println!(
            "| {design} | {workload} | {:.3} ms | {published} ms ({source}) | {:+.1}% | {} | {} |",
            r.time_ms,
            (r.time_ms - published) / published * 100.0,
            busiest(r),
            traffic(r)
        );
    }

    println!("\nSensitivity (same model, one assumption changed):\n");
    println!("| preset | change | simulated | vs published | busiest unit | HBM traffic |");
    println!("|---|---|---|---|---|---|");
    let sensitivity = |preset: &str,
                       change: &str,
                       sets: &[&str],
                       trace: &(hesim_traces::Header, Vec<hesim_traces::Op>),
                       published: f64|
     -> Result<(), Box<dyn std::error::Error>> {
        let r = simulate(&arch(preset, sets)?, &trace.0, &trace.1)?;
        println!(
            "| {preset} | {change} | {:.2} ms | {:+.0}% | {} | {} |",
            r.time_ms,
            (r.time_ms - published) / published * 100.0,
            busiest(&r),
            traffic(&r)
        );
        Ok(())
    };
    for limbs in [24, 40] {
        let t = packed_bootstrap_trace(limbs, true)?;
        sensitivity(
            "craterlake",
            &format!("chain of {limbs} limbs"),
            &[],
            &t,
            3.91,
        )?;
    }
    let t = (bh.clone(), boot.clone());
    sensitivity(
        "craterlake",
        "keys streamed whole (no KSHGen)",
        &["policy.key_storage=streamed"],
        &t,
        3.91,
    )?;
    sensitivity(
        "craterlake",
        "keys cached on chip (LRU)",
        &["policy.key_storage=on_chip"],
        &t,
        3.91,
    )?;
    sensitivity(
        "craterlake",
        "HBM 2 TB/s",
        &["hbm.bandwidth_gb_s=2000"],
        &t,
        3.91,
    )?;
    sensitivity(
        "craterlake",
        "bootstrap as one `bootstrap` op",
        &[],
        &packed_bootstrap_trace(32, false)?,
        3.91,
    )?;
    let t = (lh.clone(), lola.clone());
    sensitivity(
        "f1",
        "keys streamed",
        &["policy.key_storage=streamed"],
        &t,
        241.0,
    )?;
    sensitivity(
        "f1",
        "256 MiB scratchpad",
        &["scratchpad.capacity_mib=256"],
        &t,
        241.0,
    )?;
    sensitivity("f1", "HBM 2 TB/s", &["hbm.bandwidth_gb_s=2000"], &t, 241.0)?;
    Ok(())
}

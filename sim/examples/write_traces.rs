//! Writes the synthetic workloads of `hesim_sim::pattern` as trace files, for `hesim sim`:
//! `cargo run --release -p hesim-sim --example write_traces -- OUT_DIR` (bootstrap traces come
//! from `hesim trace gen --net bootstrap`).

use hesim_sim::pattern;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let traces = [
        ("lola-cifar-shaped.jsonl", pattern::lola_cifar_trace()),
        ("cnn-3k.jsonl", pattern::cnn_trace(3000)),
    ];
    for (name, (header, ops)) in traces {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut w = hesim_traces::create(&tmp, &header)?;
        for op in &ops {
            w.write_op(op)?;
        }
        w.finish()?;
        std::fs::rename(&tmp, &path)?;
        println!("{} ({} ops)", path.display(), ops.len());
    }
    Ok(())
}

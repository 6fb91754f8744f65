//! Writes a valid synthetic trace of about N ops, for timing the reader on large inputs:
//! `cargo run --release -p hesim-traces --example synthetic_trace -- 1000000 big.jsonl`
//! then `time hesim trace stats big.jsonl`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(n), Some(path)) = (args.first().and_then(|n| n.parse().ok()), args.get(1)) else {
        eprintln!("usage: synthetic_trace OPS FILE");
        return ExitCode::from(2);
    };
    let ops = hesim_traces::synthetic::generate(n, 7);
    let result =
        hesim_traces::create(path, &hesim_traces::synthetic::header()).and_then(|mut w| {
            ops.iter().try_for_each(|op| w.write_op(op))?;
            w.finish().map(drop)
        });
    match result {
        Ok(()) => {
            println!("{path}: {} ops", ops.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

//! Prints the CKKS precision table at hesim's default parameter set (N = 2^14): each operation
//! run encrypted on random slot vectors and compared with f64, mean and worst over the trials.
//! Keys and encryptions use OS randomness.
//!
//! Run: `cargo run --release -p hesim-sw --example ckks_precision [TRIALS]` (default 100).

use hesim_sw::ckks::{Sampler, default_builder, precision};

fn main() {
    let trials = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 100,
        Some(Ok(t)) if t > 0 => t,
        Some(_) => {
            eprintln!("error: TRIALS must be a positive integer (e.g. `ckks_precision 100`)");
            std::process::exit(2);
        }
    };
    let mut sampler = Sampler::from_os();
    match precision::measure(&default_builder(), trials, &mut sampler, 1) {
        Ok((ctx, rows)) => print!("{}", precision::markdown(&ctx, &rows, trials)),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

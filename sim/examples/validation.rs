//! Scratch: prints the bootstrap validation rows.
use hesim_sim::validate::{BOOTSTRAP_DESIGNS, bootstrap_case, run, to_markdown};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cases: Vec<_> = BOOTSTRAP_DESIGNS
        .iter()
        .map(|d| bootstrap_case(d, &Default::default()))
        .collect::<Result<_, _>>()?;
    let rows = run(&cases, &[])?;
    println!("{}", to_markdown(&rows));
    Ok(())
}

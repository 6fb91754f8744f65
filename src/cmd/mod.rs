//! One module per subcommand group.

pub mod nn;
pub mod trace;
pub mod verilog;

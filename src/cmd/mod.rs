//! One module per subcommand group.

pub mod trace;
pub mod verilog;

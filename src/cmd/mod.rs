//! One module per subcommand group.

pub mod nn;
pub mod resnet;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod verilog;

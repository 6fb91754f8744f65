//! One module per subcommand group.

pub mod demo;
pub mod nn;
pub mod report;
pub mod resnet;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod verilog;

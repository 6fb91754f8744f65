//! One module per subcommand group.

pub mod sim;
pub mod trace;

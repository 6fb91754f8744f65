//! hesim's plotted latency reports, drawn from result files.

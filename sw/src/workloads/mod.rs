//! `sw::workloads`: the accelerator field's benchmark applications as trace generators. Each
//! generator takes the design's [`Header`](hesim_traces::Header) and bootstrap recipe
//! ([`BootstrapParams`](hesim_traces::BootstrapParams)) as inputs and never picks a design's
//! parameters itself.

pub mod helr;

pub use helr::{HelrOptions, HelrTrace, helr};

/// Errors of the workload generators: a parameter outside its bound.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadError {
    #[error("{workload}: {parameter} = {value} is out of bounds: {bound}")]
    Param {
        workload: &'static str,
        parameter: &'static str,
        value: u64,
        bound: String,
    },
    #[error("{workload}: the bootstrap recipe does not fit: {source}")]
    Bootstrap {
        workload: &'static str,
        #[source]
        source: crate::boot::BootError,
    },
}

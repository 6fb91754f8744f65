//! `sw::boot`: the bootstrap expansion, which lives in [`hesim_traces::bootstrap`] so that the
//! simulator lowers a `bootstrap` op through the same op sequence the software emits.

pub use hesim_traces::bootstrap::*;

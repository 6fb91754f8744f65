//! CNNs to HE programs: networks as data, weights, the diagonal packings (`dense`, `group`,
//! `spencnn`, `hear`), the block-circulant packing (`circulant`) and the one program builder. The packing interpretation is documented in
//! `sw/PACKING.md`.

pub mod activation;
mod builder;
pub mod circulant;
pub mod compile;
pub mod encrypted;
pub mod hear;
pub mod hemet;
pub mod layout;
pub mod levels;
pub mod merge;
pub mod mnist;
pub mod multiplexed;
pub mod network;
pub mod onnx;
mod params;
mod program;
pub mod reference;
pub mod resnet_lee;
pub mod weights;

use std::path::PathBuf;

pub use activation::ReluApprox;
pub use builder::{Packing, build, build_bootstrapped};
pub use compile::{CompileOptions, PACKINGS, Strategy, compile_named, strategy};
pub use network::{BUILTINS, INPUT, Layer, LayerKind, Network, Shape, Source};
pub use params::{HeParams, max_log_qp};
pub use program::{IoLayout, LayerReport, Program};
pub use reference::{PruneMasks, argmax, forward, max_abs_error, nan_max};
pub use weights::{Params, Tensor, checkpoint_path, data_root, synthetic_input};

/// Errors of network loading and program building.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("layer `{layer}`: {message}")]
    Shape { layer: String, message: String },
    #[error(
        "unknown network `{name}`: use one of lenet, vgg5, hefnet, resnet20, resnet18, \
         squeezenet-cifar, hemet or a .toml file"
    )]
    UnknownNetwork { name: String },
    #[error("weights {source_name}: {message}")]
    Weights {
        source_name: String,
        message: String,
    },
    #[error("layer `{layer}` does not fit: {message}")]
    TooLarge { layer: String, message: String },
    #[error("layer `{layer}`: {message}")]
    Unsupported { layer: String, message: String },
    #[error(
        "the program needs {depth} levels (log Q = {log_q} bits) but no dnum keeps log QP within \
         the 128-bit bound of {bound} bits without bootstrapping; {remedy}"
    )]
    TooDeep {
        depth: u32,
        log_q: u32,
        bound: u32,
        /// What the user can change: it depends on whether the packing can bootstrap.
        remedy: &'static str,
    },
    #[error("layer `{layer}`: {message}")]
    Levels { layer: String, message: String },
    #[error(
        "{what}: log QP = {log_qp} bits exceeds the HE standard's 128-bit bound of {bound} bits \
         at N = 2^{log_n}; pass --allow-insecure to use them anyway"
    )]
    Insecure {
        what: String,
        log_n: u32,
        log_qp: u32,
        bound: u32,
    },
    #[error("invalid packing option: {message}")]
    Option { message: String },
    #[error("CKKS: {message}")]
    Ckks { message: String },
    #[error("trace: {message}")]
    Trace { message: String },
}

impl NnError {
    fn trace(e: hesim_traces::TraceError) -> Self {
        NnError::Trace {
            message: e.to_string(),
        }
    }
}

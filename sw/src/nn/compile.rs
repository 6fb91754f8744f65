//! The one network compiler: a packing is a [`Strategy`] chosen by name, and every strategy
//! compiles any network of the graph IR (or says which layer it cannot pack and why).
//!
//! - `dense`, `group`, `spencnn`: the diagonal builder ([`super::build`]) on N = 2^14 with a
//!   chain sized to the program's depth; a program deeper than that chain allows is compiled
//!   on the multiplexed packing's bootstrappable chain with bootstraps placed by the level
//!   planner ([`super::build_bootstrapped`]);
//! - `hear`: HEAR's fixed conv modes on the same builder, with HEAR's parameters
//!   ([`super::hear`]);
//! - `multiplexed`: Lee et al.'s multiplexed parallel convolution with bootstrapping
//!   ([`super::multiplexed`]);
//! - `hyphen-recon`: a reconstruction of HyPHEN's CAConv / RAConv alternation from its
//!   abstracts, not HyPHEN's published algorithm, on the multiplexed packing
//!   ([`super::multiplexed::hyphen`]);
//! - `circulant`: block-circulant weights evaluated in the frequency domain (Falcon /
//!   PrivCirNet, reconstructed) on the diagonal builder ([`super::circulant`]).

use super::NnError;
use super::builder::{Packing, build, build_bootstrapped};
use super::circulant::{self, CirculantOptions};
use super::multiplexed::{self, MuxOptions};
use super::network::Network;
use super::params::HeParams;
use super::program::Program;
use super::weights::Params;

/// The packings by name.
pub const PACKINGS: [&str; 7] = [
    "dense",
    "group",
    "spencnn",
    "hear",
    "multiplexed",
    "hyphen-recon",
    "circulant",
];

/// How a network's tensors are laid out in slots and its layers become CKKS ops.
pub trait Strategy {
    /// The packing's name (as in [`PACKINGS`]).
    fn name(&self) -> &'static str;
    /// Compiles `net` with `params` into a program.
    fn compile(&self, net: &Network, params: &Params) -> Result<Program, NnError>;
}

/// `dense`, `group` and `spencnn`: conv and linear layers as diagonals.
#[derive(Clone, Debug)]
pub struct Diagonal {
    pub packing: Packing,
    /// Parameters of the chain without bootstrapping.
    pub he: HeParams,
    /// The bootstrappable chain (and whether bootstrapping is allowed) for deeper programs.
    pub boot: MuxOptions,
}

impl Strategy for Diagonal {
    fn name(&self) -> &'static str {
        self.packing.name()
    }

    fn compile(&self, net: &Network, params: &Params) -> Result<Program, NnError> {
        match build(net, params, self.packing, &self.he) {
            Err(NnError::TooDeep { .. }) if self.boot.bootstrap => {
                build_bootstrapped(net, params, self.packing, &self.boot)
            }
            built => built,
        }
    }
}

/// `multiplexed`: Lee et al.'s layout with bootstrapping; `hyphen-recon` when
/// `options.hybrid`.
#[derive(Clone, Debug)]
pub struct Multiplexed {
    pub options: MuxOptions,
}

impl Strategy for Multiplexed {
    fn name(&self) -> &'static str {
        if self.options.hybrid {
            multiplexed::hyphen::NAME
        } else {
            "multiplexed"
        }
    }

    fn compile(&self, net: &Network, params: &Params) -> Result<Program, NnError> {
        multiplexed::build(net, params, &self.options)
    }
}

/// The options every strategy draws from.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Fraction of each conv layer's weights removed by sub-block pruning (`spencnn`).
    pub sparsity: f64,
    /// Parameters of the diagonal packings.
    pub he: HeParams,
    /// Parameters of the multiplexed packing, and the bootstrappable chain of every packing.
    pub mux: MuxOptions,
    /// Block size and mode of the `circulant` packing.
    pub circulant: CirculantOptions,
}

/// The strategy called `name` (one of [`PACKINGS`]).
pub fn strategy(name: &str, options: &CompileOptions) -> Result<Box<dyn Strategy>, NnError> {
    if name == "multiplexed" || name == multiplexed::hyphen::NAME {
        if options.sparsity != 0.0 {
            return Err(NnError::Option {
                message: "sparsity applies to the spencnn packing only".into(),
            });
        }
        return Ok(Box::new(Multiplexed {
            options: MuxOptions {
                hybrid: name != "multiplexed",
                ..options.mux.clone()
            },
        }));
    }
    if name == circulant::NAME {
        if options.sparsity != 0.0 {
            return Err(NnError::Option {
                message: "sparsity applies to the spencnn packing only".into(),
            });
        }
        return Ok(Box::new(circulant::Circulant {
            options: options.circulant,
            he: options.he.clone(),
            boot: options.mux.clone(),
        }));
    }
    let packing = Packing::parse(name, options.sparsity)?;
    if options.sparsity > 0.0 && !matches!(packing, Packing::Spencnn { .. }) {
        return Err(NnError::Option {
            message: format!("sparsity applies to the spencnn packing only (got {name})"),
        });
    }
    if packing == Packing::Hear {
        return Ok(Box::new(super::hear::Hear::within(&options.he)));
    }
    Ok(Box::new(Diagonal {
        packing,
        he: options.he.clone(),
        boot: options.mux.clone(),
    }))
}

/// A built-in network by name (or a TOML file's path) with deterministic random weights from
/// `seed`, compiled under the packing called `packing`: the program `hesim trace gen` writes
/// and encrypted execution runs.
pub fn compile_named(
    net: &str,
    packing: &str,
    seed: u64,
    options: &CompileOptions,
) -> Result<(Network, Params, Program), NnError> {
    let network = if net.ends_with(".toml") {
        Network::load(std::path::Path::new(net))?
    } else {
        Network::builtin(net)?
    };
    let params = Params::random(&network, seed)?;
    let program = strategy(packing, options)?.compile(&network, &params)?;
    Ok((network, params, program))
}

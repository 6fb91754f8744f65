//! `hear`: HEAR's channel-packed "general HE conv", the baseline SpENCNN measured its speedups
//! against (its latency code is a fork of HEAR; `../shared/docs/spencnn.md` §2.3, §8).
//!
//! Facts taken from HEAR's code (K-miran/HEAR @ df675ba, `testing/src/param.cpp`,
//! `HECNNevaluator_conv2d.cpp`, `Test_HEAR.cpp`, `README.md`; read, not copied):
//! - N = 2^14; primes of 31 bits for every rescaling level (`logq = logqc = 31`), a base prime
//!   and a special prime of 33 bits (`logq0 = logp0 = logq + 2`), one special prime (SEAL 3.4:
//!   dnum = chain length); the fast variant `fhear` uses 28-bit primes (`logqc_small`, "should be
//!   larger than 25") for its interlacing levels;
//! - channels packed `npacked = slots / shift` per ciphertext, one power-of-two block of
//!   `shift` slots per channel (16 blocks of 512 slots for HEAR's 32×16 frames);
//! - a conv is the channel-packed diagonal method with hoisted rotations, in one of three modes
//!   (`fully`, `baby`, `giant`); the README's example run, `fhear ... baby giant giant`,
//!   evaluates the first conv in `baby` mode (kernel-tap rotations of the input, one
//!   channel-block rotation `j·shift` per output partial sum) and the later convs in `giant`
//!   mode (the 15 channel-block rotations of each input, one tap rotation per output partial
//!   sum), each output rescaled once (lazy rescaling);
//! - `fhear` interlaces after 2×2 average pooling: each sparse ciphertext is masked with a 0/1
//!   plaintext, rotated to a sub-pixel offset and added into one ciphertext.
//!
//! hesim's `hear` applies those rules to its own layout engine (the same one the other
//! diagonal packings use, so the speedups measure packing and not implementation):
//! - the ungrouped (dense-equivalent) model, grouped layers as dense layers with zero weights;
//! - the fixed modes above instead of hesim's per-layer best rotation split;
//! - one block per channel of `next_pow2(H·W)` slots: 1,024 for MNIST and CIFAR-10 images, so
//!   8 channels per ciphertext before pooling (HEAR's 16 needs its 512-slot frames), and
//!   interlacing after every pooling that a conv or linear layer follows, as `fhear` does;
//! - HEAR's prime sizes, narrowed towards its 28-bit small primes when a network is deeper than
//!   31-bit primes allow within the 128-bit bound at N = 2^14 (VGG-5);
//! - what HEAR's code does not fix for these networks is hesim's, as in every diagonal packing:
//!   activations in one level (SpENCNN's notebooks note "level 9" for LeNet and "level 11" for
//!   VGG-5, which HEAR's two-level activation would exceed), and fully connected layers with
//!   the best split (HEAR's dense layer serves only its single 16-block final layer).

use super::NnError;
use super::builder::{Packing, build};
use super::compile::Strategy;
use super::network::Network;
use super::params::HeParams;
use super::program::Program;
use super::weights::Params;

/// The packing's name.
pub const NAME: &str = "hear";

/// HEAR's CKKS parameters (see the module doc).
pub fn params() -> HeParams {
    HeParams {
        log_n: 14,
        q0_bits: 33,
        max_prime_bits: 31,
        min_prime_bits: 28,
        special_bits: 33,
    }
}

/// The `hear` strategy with its CKKS parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Hear {
    pub he: HeParams,
}

impl Hear {
    /// HEAR's parameters with every prime size capped at `limit`'s (a machine whose words are
    /// narrower than HEAR's 33-bit primes gets `hear` on primes that fit, as the other
    /// packings do; hesim's default parameters cap nothing). HEAR's 28-bit floor stays unless
    /// the cap is lower.
    pub fn within(limit: &HeParams) -> Self {
        let hear = params();
        let max_prime_bits = hear.max_prime_bits.min(limit.max_prime_bits);
        Self {
            he: HeParams {
                log_n: hear.log_n,
                q0_bits: hear.q0_bits.min(limit.q0_bits),
                max_prime_bits,
                min_prime_bits: hear.min_prime_bits.min(max_prime_bits),
                special_bits: hear.special_bits.min(limit.special_bits),
            },
        }
    }
}

impl Strategy for Hear {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compile(&self, net: &Network, params: &Params) -> Result<Program, NnError> {
        build(net, params, Packing::Hear, &self.he).map_err(|err| match err {
            NnError::TooDeep {
                depth,
                log_q,
                bound,
                ..
            } => NnError::TooDeep {
                depth,
                log_q,
                bound,
                remedy: "HEAR never bootstraps, so `hear` applies only to networks whose depth \
                         fits one chain: use a shallower network, or a packing that bootstraps \
                         (dense, group, spencnn, multiplexed, hyphen-recon, circulant)",
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hesim's default parameters leave HEAR's own (HEAR `param.cpp`: 33-bit q0 and special
    /// prime, 31-bit rescaling primes); a 32-bit machine's narrow them to fit its words.
    #[test]
    fn parameters_are_hears_unless_a_machine_needs_narrower_primes() {
        assert_eq!(Hear::within(&HeParams::default()).he, params());
        let word32 = HeParams {
            q0_bits: 32,
            max_prime_bits: 30,
            min_prime_bits: 24,
            special_bits: 32,
            ..HeParams::default()
        };
        let he = Hear::within(&word32).he;
        assert_eq!(
            (
                he.q0_bits,
                he.max_prime_bits,
                he.min_prime_bits,
                he.special_bits
            ),
            (32, 30, 28, 32)
        );
    }
}

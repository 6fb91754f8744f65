//! CKKS parameters for a program's header: N = 2^14, a chain of ~30-bit primes sized to the
//! program's depth, special primes and the smallest secure `dnum`.

use hesim_traces::Header;

use super::NnError;

/// The HE-standard 128-bit bound on log2(QP), shared with the bootstrap expansion.
pub use hesim_traces::bootstrap::max_log_qp;

/// The parameter family a program is compiled for, matching `ckks::default_builder`: q0 of 50
/// bits, rescaling primes of at most 36 bits (scale = prime size), one 60-bit special prime and
/// one ciphertext prime per key-switching digit. Deep programs get narrower rescaling primes so
/// that log QP stays within the 128-bit bound.
#[derive(Clone, Debug, PartialEq)]
pub struct HeParams {
    pub log_n: u32,
    /// The base prime q0: the scale plus headroom for the output values.
    pub q0_bits: u32,
    /// Widest rescaling prime (and scale) used.
    pub max_prime_bits: u32,
    /// Narrowest rescaling prime accepted before the program counts as too deep.
    pub min_prime_bits: u32,
    /// Bits of the special (key-switching) prime.
    pub special_bits: u32,
}

impl Default for HeParams {
    fn default() -> Self {
        Self {
            log_n: 14,
            q0_bits: 50,
            max_prime_bits: 36,
            min_prime_bits: 24,
            special_bits: 60,
        }
    }
}

impl HeParams {
    pub fn slots(&self) -> usize {
        1 << (self.log_n - 1)
    }

    /// A header for a program consuming `depth` levels: q0 plus `depth` rescaling primes as
    /// wide as the 128-bit bound allows (at most `max_prime_bits`), scale = prime size,
    /// dnum = chain length (one prime per digit, so one special prime suffices).
    pub fn header(&self, depth: u32, network: &str, packing: &str) -> Result<Header, NnError> {
        let bound = max_log_qp(self.log_n).unwrap_or(u32::MAX);
        let budget = bound.saturating_sub(self.q0_bits + self.special_bits);
        let bits = budget
            .checked_div(depth)
            .unwrap_or(self.max_prime_bits)
            .min(self.max_prime_bits);
        let log_q = self.q0_bits + depth * self.min_prime_bits;
        if bits < self.min_prime_bits {
            return Err(NnError::TooDeep {
                depth,
                log_q,
                bound,
                remedy: "drop --no-bootstrap to let the compiler place bootstraps, or use a \
                         shallower network",
            });
        }
        let q_bits: Vec<u32> = std::iter::once(self.q0_bits)
            .chain(std::iter::repeat_n(bits, depth as usize))
            .collect();
        let dnum = q_bits.len() as u32;
        Ok(Header::new(
            self.log_n,
            self.slots() as u64,
            q_bits,
            vec![self.special_bits],
            dnum,
            bits,
            network,
            packing,
            concat!("hesim-sw ", env!("CARGO_PKG_VERSION")),
        ))
    }
}

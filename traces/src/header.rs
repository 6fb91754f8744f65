use serde::{Deserialize, Serialize};

use crate::error::{Rule, Violation};

/// The `format` field every header carries.
pub const FORMAT_NAME: &str = "hesim-trace";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Most primes a header's `q_bits` or `p_bits` may list: far above any CKKS chain, and it
/// bounds every per-limb count a simulator derives from the header.
pub const MAX_PRIMES: usize = 4096;

/// The HE scheme of a trace. Only CKKS today; the field exists so that other schemes are an
/// explicit format change rather than a silent misreading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Ckks,
}

/// First line of a trace: the parameters every op is interpreted under.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub version: u32,
    pub scheme: Scheme,
    /// log2 of the ring degree N.
    pub log_n: u32,
    /// Slots used by the program (a power of two, at most N/2).
    pub slots: u64,
    /// Bit sizes of the ciphertext modulus chain q_0, q_1, ...; its length is the top level.
    pub q_bits: Vec<u32>,
    /// Bit sizes of the special (key-switching) primes p_0, ...
    pub p_bits: Vec<u32>,
    /// Number of key-switching digits (hybrid key switching).
    pub dnum: u32,
    /// log2 of the CKKS scale.
    pub log_scale: u32,
    /// Network name (`lenet`, a file name, `synthetic`, ...).
    pub network: String,
    /// Packing strategy (`dense`, `group`, `spencnn`, ...).
    pub packing: String,
    /// Tool and version that wrote the trace.
    pub generator: String,
}

impl Header {
    /// A header with this crate's format name and version.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        log_n: u32,
        slots: u64,
        q_bits: Vec<u32>,
        p_bits: Vec<u32>,
        dnum: u32,
        log_scale: u32,
        network: impl Into<String>,
        packing: impl Into<String>,
        generator: impl Into<String>,
    ) -> Self {
        Self {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            scheme: Scheme::Ckks,
            log_n,
            slots,
            q_bits,
            p_bits,
            dnum,
            log_scale,
            network: network.into(),
            packing: packing.into(),
            generator: generator.into(),
        }
    }

    /// Ring degree N.
    pub fn ring_degree(&self) -> u64 {
        1u64 << self.log_n
    }

    /// The top level: number of primes in the ciphertext modulus chain.
    pub fn max_level(&self) -> u32 {
        self.q_bits.len() as u32
    }

    /// Checks the header against itself; `line` is where it was read.
    pub fn check(&self, line: u64) -> Result<(), Violation> {
        let bad = |msg: String| Err(Violation::new(line, Rule::HeaderConsistency, msg));
        if self.format != FORMAT_NAME {
            return Err(Violation::new(
                line,
                Rule::HeaderVersion,
                format!("format is {:?}, expected {FORMAT_NAME:?}", self.format),
            ));
        }
        if self.version != FORMAT_VERSION {
            return Err(Violation::new(
                line,
                Rule::HeaderVersion,
                format!(
                    "format version {} is not supported (this hesim reads version {FORMAT_VERSION}); \
                     regenerate the trace with this hesim",
                    self.version
                ),
            ));
        }
        if !(1..=17).contains(&self.log_n) {
            return bad(format!("log_n = {} is outside 1..=17", self.log_n));
        }
        let half_n = self.ring_degree() / 2;
        if !self.slots.is_power_of_two() || self.slots > half_n {
            return bad(format!(
                "slots = {} must be a power of two no larger than N/2 = {half_n}",
                self.slots
            ));
        }
        if self.q_bits.len() > MAX_PRIMES || self.p_bits.len() > MAX_PRIMES {
            return bad(format!(
                "the chain has {} + {} primes; at most {MAX_PRIMES} of each are supported \
                 (real CKKS chains have under a hundred)",
                self.q_bits.len(),
                self.p_bits.len()
            ));
        }
        if self.q_bits.is_empty() {
            return bad("q_bits is empty: the modulus chain needs at least one prime".into());
        }
        if let Some(b) = self
            .q_bits
            .iter()
            .chain(&self.p_bits)
            .find(|b| !(2..=64).contains(*b))
        {
            return bad(format!("prime bit size {b} is outside 2..=64"));
        }
        if self.dnum == 0 || self.dnum > self.max_level() {
            return bad(format!(
                "dnum = {} must be between 1 and the chain length {}",
                self.dnum,
                self.max_level()
            ));
        }
        let top_prime = self.q_bits.iter().copied().max().unwrap_or(0);
        if self.log_scale == 0 || self.log_scale > top_prime {
            return bad(format!(
                "log_scale = {} must be between 1 and the largest chain prime ({top_prime} bits)",
                self.log_scale
            ));
        }
        Ok(())
    }
}

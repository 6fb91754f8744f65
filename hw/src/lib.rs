//! hesim's hardware: a rust_hdl NTT butterfly, its Verilog, co-simulation against the golden
//! model (`hesim_sw::ring`) under Icarus and Verilator, and yosys area numbers.
//!
//! * [`shoup`]: Shoup modular multiplier for constant twiddles, 16×16 partial products.
//! * [`special_prime`]: shift-add multiplier for one fixed prime 2^a − 2^b + 1 (fewer DSPs).
//! * [`butterfly`]: the unified CT/GS butterfly (II = 1, valid bit, fixed latency).
//! * [`rtl_sim`]: a fast single-threaded driver for rust-hdl's simulation kernel.
//! * [`vectors`]: test vectors computed by `hesim_sw::ring`, hex files for testbenches.
//! * [`emit`]: Verilog, self-checking testbench and vectors written to a directory.
//! * [`ntt_core`]: a small iterative NTT core (N ≤ 1024) around the 32-bit butterfly.
//! * [`ntt_unit`]: the parametric NTT unit: P butterflies, banked memories, N ≤ 2^16.
//! * [`automorphism`]: the automorphism unit σ_g on an NTT-form limb, P lanes, swap network.
//! * [`fit`]: the largest units that fit a device, as an architecture fragment for `sim`.
//! * [`tools`], [`check`], [`area`]: yosys / Icarus / Verilator runs and the area table.

pub mod area;
pub mod automorphism;
pub mod butterfly;
pub mod check;
pub mod emit;
mod error;
pub mod fit;
pub mod ntt_core;
pub mod ntt_unit;
pub mod rtl_sim;
pub mod shoup;
pub mod special_prime;
pub mod tools;
pub mod vectors;

pub use area::{AreaEntry, AreaTable, Family, area_table};
pub use error::HwError;

use serde::{Deserialize, Serialize};

/// Datapath word width of a shipped butterfly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Width {
    /// 32-bit word, odd q < 2^31.
    #[serde(rename = "32")]
    W32,
    /// 64-bit word, odd q < 2^62 (the golden model's bound; the datapath itself is sized for
    /// q < 2^63).
    #[serde(rename = "64")]
    W64,
}

impl Width {
    /// Every shipped width.
    pub const ALL: [Width; 2] = [Width::W32, Width::W64];

    /// Word width in bits.
    pub fn bits(self) -> u32 {
        match self {
            Width::W32 => 32,
            Width::W64 => 64,
        }
    }

    /// Parses `32` or `64`.
    pub fn from_bits(bits: u32) -> Result<Self, HwError> {
        match bits {
            32 => Ok(Width::W32),
            64 => Ok(Width::W64),
            _ => Err(HwError::UnsupportedWidth { bits }),
        }
    }

    /// Largest modulus bit length the hardware accepts and the tests cover: 31 for the
    /// 32-bit word (q < 2^(W-1)), 62 for the 64-bit word (the golden model's bound,
    /// `hesim_sw::ring::MAX_MODULUS_BITS`).
    pub fn max_modulus_bits(self) -> u32 {
        match self {
            Width::W32 => 31,
            Width::W64 => hesim_sw::ring::MAX_MODULUS_BITS,
        }
    }
}

impl std::fmt::Display for Width {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.bits())
    }
}

/// Modular-reduction variant of the butterfly's multiplier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Shoup multiplication with a precomputed twiddle quotient; any odd modulus (an input).
    Shoup,
    /// Shift-add reduction for one fixed prime 2^a − 2^b + 1 per width
    /// ([`special_prime::SPECIAL_PRIME_32`], [`special_prime::SPECIAL_PRIME_64`]).
    SpecialPrime,
}

impl Variant {
    /// Every shipped variant.
    pub const ALL: [Variant; 2] = [Variant::Shoup, Variant::SpecialPrime];

    /// Parses `shoup` or `special-prime`.
    pub fn parse(name: &str) -> Result<Self, HwError> {
        match name {
            "shoup" => Ok(Variant::Shoup),
            "special-prime" => Ok(Variant::SpecialPrime),
            _ => Err(HwError::UnsupportedVariant {
                name: name.to_string(),
            }),
        }
    }

    /// The variant's name as used on the command line and in the area table.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Shoup => "shoup",
            Variant::SpecialPrime => "special-prime",
        }
    }

    /// The modulus wired into the design, if it has one (`None`: q is an input).
    pub fn fixed_modulus(self, width: Width) -> Option<u64> {
        match (self, width) {
            (Variant::Shoup, _) => None,
            (Variant::SpecialPrime, Width::W32) => Some(special_prime::SPECIAL_PRIME_32.value()),
            (Variant::SpecialPrime, Width::W64) => Some(special_prime::SPECIAL_PRIME_64.value()),
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_widths_variants_families() {
        assert_eq!(Width::from_bits(32).ok(), Some(Width::W32));
        assert_eq!(Width::from_bits(64).ok(), Some(Width::W64));
        assert!(matches!(
            Width::from_bits(48),
            Err(HwError::UnsupportedWidth { bits: 48 })
        ));
        assert_eq!(Variant::parse("shoup").ok(), Some(Variant::Shoup));
        assert_eq!(
            Variant::parse("special-prime").ok(),
            Some(Variant::SpecialPrime)
        );
        let err = Variant::parse("montgomery").expect_err("not shipped");
        let message = err.to_string();
        assert!(
            message.contains("unsupported variant `montgomery`")
                && message.contains("special-prime"),
            "{message}"
        );
        for variant in Variant::ALL {
            assert_eq!(Variant::parse(variant.name()).ok(), Some(variant));
        }
        assert_eq!(Family::parse("ice40").ok(), Some(Family::Ice40));
        assert!(Family::parse("ecp5").is_err());
    }
}

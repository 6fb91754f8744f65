//! Butterfly test vectors whose expected outputs come from the golden model,
//! `hesim_sw::ring::{ct_butterfly, gs_butterfly, gs_butterfly_half}`, and their hex encoding
//! for `$readmemh`.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use hesim_sw::ring::{self, Modulus};

use crate::{HwError, Variant, Width};

/// Largest number of random vectors per mode a directory may hold (keeps files < ~200 MB).
pub const MAX_VECTORS_PER_MODE: usize = 2_000_000;

/// Which butterfly the unit computes for one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Cooley–Tukey, forward NTT: `(x + w·y, x − w·y)`.
    Forward,
    /// Gentleman–Sande, inverse NTT: `(x + y, (x − y)·w)`.
    Inverse,
    /// Gentleman–Sande with the fused ÷2 on both outputs.
    InverseHalf,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::Forward, Mode::Inverse, Mode::InverseHalf];

    /// The unit's control inputs `(inverse, halve)`.
    pub fn controls(self) -> (bool, bool) {
        match self {
            Mode::Forward => (false, false),
            Mode::Inverse => (true, false),
            Mode::InverseHalf => (true, true),
        }
    }

    /// The 4-bit code in the hex files: bit 0 = inverse, bit 1 = halve.
    pub fn code(self) -> u8 {
        let (inverse, halve) = self.controls();
        u8::from(inverse) | (u8::from(halve) << 1)
    }

    /// Position in [`Mode::ALL`].
    pub fn index(self) -> usize {
        match self {
            Mode::Forward => 0,
            Mode::Inverse => 1,
            Mode::InverseHalf => 2,
        }
    }

    /// The mode's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Forward => "forward",
            Mode::Inverse => "inverse",
            Mode::InverseHalf => "inverse_half",
        }
    }
}

/// One butterfly input and the golden model's outputs for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestVector {
    /// Butterfly kind.
    pub mode: Mode,
    /// Modulus.
    pub q: u64,
    /// First input.
    pub x: u64,
    /// Second input.
    pub y: u64,
    /// Twiddle.
    pub w: u64,
    /// Shoup quotient for the hardware word: `⌊w·2^W/q⌋`.
    pub w_shoup: u64,
    /// Expected first output.
    pub x_out: u64,
    /// Expected second output.
    pub y_out: u64,
}

impl TestVector {
    /// Computes the expected outputs with the golden model.
    ///
    /// The golden model's Shoup quotient is `⌊w·2^64/q⌋`; the 32-bit unit takes
    /// `⌊w·2^32/q⌋ = ⌊⌊w·2^64/q⌋ / 2^32⌋`, its top half.
    pub fn golden(width: Width, mode: Mode, m: &Modulus, x: u64, y: u64, w: u64) -> Self {
        let shoup64 = m.shoup(w);
        let (x_out, y_out) = match mode {
            Mode::Forward => ring::ct_butterfly(x, y, w, shoup64, m),
            Mode::Inverse => ring::gs_butterfly(x, y, w, shoup64, m),
            Mode::InverseHalf => ring::gs_butterfly_half(x, y, w, shoup64, m),
        };
        let w_shoup = match width {
            Width::W32 => shoup64 >> 32,
            Width::W64 => shoup64,
        };
        TestVector {
            mode,
            q: m.value(),
            x,
            y,
            w,
            w_shoup,
            x_out,
            y_out,
        }
    }

    /// One `$readmemh` line: mode code, then q, x, y, w, w_shoup, x_out, y_out, each W/4 hex
    /// digits (most significant first).
    pub fn hex_line(&self, width: Width) -> String {
        let digits = (width.bits() / 4) as usize;
        let mut line = format!("{:x}", self.mode.code());
        for v in [
            self.q,
            self.x,
            self.y,
            self.w,
            self.w_shoup,
            self.x_out,
            self.y_out,
        ] {
            line.push_str(&format!("{v:0digits$x}"));
        }
        line
    }
}

/// Moduli the vectors draw from. A design with a fixed modulus (special prime) gets that one.
/// Shoup designs get NTT primes (q ≡ 1 mod 2^11) of several sizes up to the width's bound
/// ([`Width::max_modulus_bits`]), largest first per size, then the largest prime below that
/// bound (2^31 − 1, 2^62 − 57), which is not NTT-friendly but has the largest values the
/// datapath must handle.
pub fn moduli(width: Width, variant: Variant) -> Result<Vec<Modulus>, HwError> {
    let golden = |e: ring::RingError| HwError::Golden(e.to_string());
    if let Some(q) = variant.fixed_modulus(width) {
        return Ok(vec![Modulus::new(q).map_err(golden)?]);
    }
    let sizes: &[u32] = match width {
        Width::W32 => &[17, 20, 28, 30, 31],
        Width::W64 => &[20, 31, 36, 50, 54, 60, 61, 62],
    };
    let mut out = Vec::new();
    for &bits in sizes {
        out.extend(ring::ntt_moduli(bits, 2, 1024).map_err(golden)?);
    }
    let bound = 1u64 << width.max_modulus_bits();
    let largest_prime = (1..bound)
        .rev()
        .step_by(2)
        .find(|&q| ring::is_prime(q))
        .ok_or_else(|| HwError::Golden(format!("no prime below {bound}")))?;
    out.push(Modulus::new(largest_prime).map_err(golden)?);
    Ok(out)
}

/// Edge cases for every modulus and mode: x, y ∈ {0, 1, q−1} and w ∈ {0, 1, q−1}.
pub fn edge_cases(width: Width, variant: Variant) -> Result<Vec<TestVector>, HwError> {
    let mut out = Vec::new();
    for m in moduli(width, variant)? {
        let q = m.value();
        let values = [0, 1, q - 1];
        for mode in Mode::ALL {
            for x in values {
                for y in values {
                    for w in values {
                        out.push(TestVector::golden(width, mode, &m, x, y, w));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `per_mode` uniformly random vectors for each mode (random modulus from [`moduli`], x, y, w
/// uniform in `[0, q)`), followed by the [`edge_cases`], shuffled so the mode changes from
/// cycle to cycle; ChaCha20 seeded with `seed`, so a seed reproduces the file.
pub fn generate(
    width: Width,
    variant: Variant,
    per_mode: usize,
    seed: u64,
) -> Result<Vec<TestVector>, HwError> {
    if per_mode == 0 || per_mode > MAX_VECTORS_PER_MODE {
        return Err(HwError::BadVectorCount {
            count: per_mode,
            max: MAX_VECTORS_PER_MODE,
        });
    }
    let moduli = moduli(width, variant)?;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(3 * per_mode);
    for mode in Mode::ALL {
        for _ in 0..per_mode {
            let m = &moduli[rng.random_range(0..moduli.len())];
            let q = m.value();
            let (x, y, w) = (
                rng.random_range(0..q),
                rng.random_range(0..q),
                rng.random_range(0..q),
            );
            out.push(TestVector::golden(width, mode, m, x, y, w));
        }
    }
    out.extend(edge_cases(width, variant)?);
    out.shuffle(&mut rng);
    Ok(out)
}

/// A fresh seed from the thread CSPRNG (ChaCha, seeded from the OS).
pub fn fresh_seed() -> u64 {
    rand::random()
}

/// Count of vectors per mode in `vectors`.
pub fn count_by_mode(vectors: &[TestVector]) -> [usize; 3] {
    let mut counts = [0; 3];
    for v in vectors {
        counts[v.mode.index()] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hex layout the testbench slices: code nibble, then seven W/4-digit fields.
    #[test]
    fn hex_line_layout() {
        let v = TestVector {
            mode: Mode::InverseHalf,
            q: 0x11,
            x: 1,
            y: 2,
            w: 3,
            w_shoup: 0xabcd,
            x_out: 5,
            y_out: 6,
        };
        assert_eq!(
            v.hex_line(Width::W32),
            "3000000110000000100000002000000030000abcd0000000500000006"
        );
        assert_eq!(v.hex_line(Width::W64).len(), 1 + 7 * 16);
    }

    /// The 32-bit quotient is the top half of the golden model's 64-bit one, which equals
    /// ⌊w·2^32/q⌋ computed directly.
    #[test]
    fn shoup_quotient_for_32_bit_word() {
        let m = Modulus::new(2_147_473_409).expect("odd modulus");
        for w in [0, 1, 12_345, m.value() - 1] {
            let v = TestVector::golden(Width::W32, Mode::Forward, &m, 0, 0, w);
            assert_eq!(
                u128::from(v.w_shoup),
                (u128::from(w) << 32) / u128::from(m.value())
            );
        }
    }

    /// The 64-bit vectors reach the golden model's widest moduli: NTT primes in [2^61, 2^62)
    /// and the largest prime below 2^62 (2^62 − 57, whose primality `hesim_sw`'s tests check).
    #[test]
    fn moduli_cover_the_top_of_each_range() {
        let values = |width, variant| -> Vec<u64> {
            let moduli = moduli(width, variant).expect("moduli");
            moduli.iter().map(Modulus::value).collect()
        };
        let q64 = values(Width::W64, Variant::Shoup);
        assert!(q64.iter().all(|&q| q < 1 << 62));
        assert!(
            q64.iter().filter(|&&q| q >= 1 << 61).count() >= 3,
            "{q64:?}"
        );
        assert!(q64.contains(&((1 << 62) - 57)));
        let q32 = values(Width::W32, Variant::Shoup);
        assert!(q32.contains(&((1 << 31) - 1)) && q32.iter().all(|&q| q < 1 << 31));
        for width in Width::ALL {
            let special = values(width, Variant::SpecialPrime);
            assert_eq!(
                special,
                vec![Variant::SpecialPrime.fixed_modulus(width).unwrap()]
            );
        }
    }

    /// Counts are per mode, edge cases included, and the same seed gives the same vectors.
    #[test]
    fn generation_is_counted_and_reproducible() {
        let a = generate(Width::W32, Variant::Shoup, 50, 9).expect("vectors");
        let edges = edge_cases(Width::W32, Variant::Shoup).expect("edges").len() / 3;
        assert_eq!(count_by_mode(&a), [50 + edges; 3]);
        assert_eq!(
            a,
            generate(Width::W32, Variant::Shoup, 50, 9).expect("vectors")
        );
        assert!(
            a.iter()
                .all(|v| v.q < 1 << 31 && v.x < v.q && v.y < v.q && v.w < v.q)
        );
        assert!(matches!(
            generate(Width::W32, Variant::Shoup, 0, 9),
            Err(HwError::BadVectorCount { .. })
        ));
    }
}

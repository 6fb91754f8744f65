//! Modular multiplication by a runtime twiddle for one fixed special prime
//! q = 2^a − 2^b + 1, reduced by shifts and adds instead of Shoup's quotient products.
//!
//! # Why the reduction is correct
//!
//! Since q = 2^a − 2^b + 1, we have 2^a ≡ 2^b − 1 (mod q). Split a value v = hi·2^a + lo with
//! lo < 2^a; then
//!
//! ```text
//! v ≡ fold(v) = lo + hi·(2^b − 1) = lo + ((hi << b) − hi)      (mod q)
//! ```
//!
//! For every v ≤ V, lo ≤ 2^a − 1 and hi ≤ ⌊V/2^a⌋, so fold(v) ≤ (2^a − 1) + ⌊V/2^a⌋·(2^b − 1)
//! ([`SpecialPrime::fold_bounds`] iterates this). Starting from the product
//! m·w ≤ (q − 1)² < 2^(2a) of two residues, each fold shrinks the excess above 2^a by a factor
//! 2^(a−b); once the value is below 2q, one conditional subtraction of q gives the residue in
//! `[0, q)`. Every fold is exact (no wrap-around) in the register widths below; each width is
//! the bound's bit length, stated next to the stage.
//!
//! * 32-bit word, [`SPECIAL_PRIME_32`] = 2^31 − 2^19 + 1 = 2,146,959,361 (prime, q − 1 =
//!   2^19·4095, so negacyclic NTTs up to N = 2^18): product < 2^62; fold 1 < 2^50;
//!   fold 2 < 2^31 + 2^38 < 2^39 (so its high part is at most 128, 8 bits);
//!   fold 3 ≤ 2^31 − 1 + 128·(2^19 − 1) < 2^31 + 2^26 < 2q. Three folds.
//! * 64-bit word, [`SPECIAL_PRIME_64`] = 2^61 − 2^26 + 1 = 2,305,843,009,146,585,089 (prime,
//!   q − 1 = 2^26·(2^35 − 1), NTTs up to N = 2^25): product < 2^122; fold 1 < 2^87;
//!   fold 2 ≤ 2^61 − 1 + (2^26 − 1)² < 2^61 + 2^52 < 2q. Two folds.
//!
//! Goldilocks (2^64 − 2^32 + 1) is not used: it does not fit the butterfly's q < 2^(W−1)
//! ranges (lazy sums below 2q must fit the word) nor the golden model's q < 2^62.
//!
//! # Cost
//!
//! The only multiplier is the plain W×W product m·w from 16×16 partial products: 4 (32-bit) and
//! 16 (64-bit), against Shoup's 10 and 36 (x·w', x·w low half, qhat·q low half). The folds are
//! adders. Latency 5, the same as [`crate::shoup::ShoupMultiplier32`], so the unified butterfly
//! is built around either multiplier with one template.

use rust_hdl::prelude::*;

use crate::shoup::ProductRegister;

/// The 32-bit word's special prime 2^31 − 2^19 + 1.
pub const SPECIAL_PRIME_32: SpecialPrime = SpecialPrime { a: 31, b: 19 };

/// The 64-bit word's special prime 2^61 − 2^26 + 1.
pub const SPECIAL_PRIME_64: SpecialPrime = SpecialPrime { a: 61, b: 26 };

/// Pipeline depth of [`SpecialPrimeMultiplier32`] and [`SpecialPrimeMultiplier64`].
pub const SPECIAL_PRIME_LATENCY: usize = 5;

/// A prime of the form q = 2^a − 2^b + 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialPrime {
    /// Exponent of the leading power of two.
    pub a: u32,
    /// Exponent of the subtracted power of two (also q − 1's power of two).
    pub b: u32,
}

impl SpecialPrime {
    /// q = 2^a − 2^b + 1.
    pub const fn value(self) -> u64 {
        (1u64 << self.a) - (1u64 << self.b) + 1
    }

    /// One fold: v ≡ (v mod 2^a) + ⌊v / 2^a⌋·(2^b − 1) (mod q), in 128-bit software arithmetic
    /// (the model the hardware stages follow, used to check the stated bounds).
    pub fn fold(self, v: u128) -> u128 {
        let lo = v & ((1u128 << self.a) - 1);
        let hi = v >> self.a;
        lo + ((hi << self.b) - hi)
    }

    /// The bit lengths of the worst-case values after each fold of a product of two residues,
    /// until the value is below 2q (the datapath's register widths follow these). A value
    /// v ≤ V folds to at most (2^a − 1) + ⌊V/2^a⌋·(2^b − 1).
    pub fn fold_bounds(self) -> Vec<u32> {
        let q = u128::from(self.value());
        let mut bound = (q - 1) * (q - 1);
        let mut out = Vec::new();
        while bound >= 2 * q {
            bound = ((1u128 << self.a) - 1) + (bound >> self.a) * ((1u128 << self.b) - 1);
            out.push(128 - bound.leading_zeros());
        }
        out
    }
}

/// Combinational zero extension from `N` to `WIDE` bits.
///
/// rust-hdl widens with `bit_cast`, which it emits as a mask on the narrower signal (a
/// Verilator WIDTH warning); this leaf states `{zeros, d}` in plain Verilog and has the same
/// one-line Rust model. The datapath is co-simulated as Verilog, so both are checked.
#[derive(LogicBlock, Default, Debug)]
pub struct ZeroExtend<const N: usize, const WIDE: usize> {
    /// Narrow input.
    pub d: Signal<In, Bits<N>>,
    /// `d` zero-extended.
    pub q: Signal<Out, Bits<WIDE>>,
}

impl<const N: usize, const WIDE: usize> Logic for ZeroExtend<N, WIDE> {
    fn update(&mut self) {
        self.q.next = bit_cast::<WIDE, N>(self.d.val());
    }

    fn connect(&mut self) {
        self.q.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(*) begin\n   q = {{{}'h0, d}};\nend\n",
            WIDE - N
        ))
    }
}

/// 32-bit special-prime multiplier: `product = x·w mod (2^31 − 2^19 + 1)`.
#[derive(LogicBlock, Debug)]
pub struct SpecialPrimeMultiplier32 {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// Multiplicand, in `[0, q)`.
    pub x: Signal<In, Bits<32>>,
    /// Twiddle, in `[0, q)`.
    pub w: Signal<In, Bits<32>>,
    /// `x·w mod q` in `[0, q)`, [`SPECIAL_PRIME_LATENCY`] edges after the inputs.
    pub product: Signal<Out, Bits<32>>,
    /// The constant q, for the butterfly's additions.
    pub q_out: Signal<Out, Bits<32>>,
    /// q as a Verilog `localparam` (rust-hdl's `Constant`, hence the hand-written `Default`).
    modulus: Constant<Bits<32>>,
    // Stage 1: the four 16×16 partial products of x·w.
    partial: [ProductRegister<64>; 4],
    // Stage 2: x·w < 2^62, split at 2^31.
    product_sum: Signal<Local, Bits<64>>,
    /// Bits 62 and 63 of x·w are always zero (Verilator's `*unused*` convention).
    unused_product_top: Signal<Local, Bit>,
    lo1: DFF<Bits<31>>,
    hi1: DFF<Bits<31>>,
    // Stage 3: fold 1 < 2^50, split at 2^31.
    lo1_wide: ZeroExtend<31, 50>,
    hi1_wide: ZeroExtend<31, 50>,
    fold1: Signal<Local, Bits<50>>,
    lo2: DFF<Bits<31>>,
    hi2: DFF<Bits<19>>,
    // Stage 4: fold 2 < 2^39, split at 2^31; fold 3 < 2q < 2^32.
    lo2_wide: ZeroExtend<31, 39>,
    hi2_wide: ZeroExtend<19, 39>,
    fold2: Signal<Local, Bits<39>>,
    lo3_wide: ZeroExtend<31, 32>,
    hi3_wide: ZeroExtend<8, 32>,
    folded: DFF<Bits<32>>,
    // Stage 5: one conditional subtraction.
    reduced: DFF<Bits<32>>,
}

impl Default for SpecialPrimeMultiplier32 {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            x: Default::default(),
            w: Default::default(),
            product: Default::default(),
            q_out: Default::default(),
            modulus: Constant::new(SPECIAL_PRIME_32.value().to_bits()),
            partial: Default::default(),
            product_sum: Default::default(),
            unused_product_top: Default::default(),
            lo1: Default::default(),
            hi1: Default::default(),
            lo1_wide: Default::default(),
            hi1_wide: Default::default(),
            fold1: Default::default(),
            lo2: Default::default(),
            hi2: Default::default(),
            lo2_wide: Default::default(),
            hi2_wide: Default::default(),
            fold2: Default::default(),
            lo3_wide: Default::default(),
            hi3_wide: Default::default(),
            folded: Default::default(),
            reduced: Default::default(),
        }
    }
}

impl Logic for SpecialPrimeMultiplier32 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, lo1, hi1, lo2, hi2, folded, reduced);
        // Stage 1.
        self.partial[0].clock.next = self.clock.val();
        self.partial[0].d.next = self.x.val().get_bits::<16>(0) * self.w.val().get_bits::<16>(0);
        self.partial[1].clock.next = self.clock.val();
        self.partial[1].d.next = self.x.val().get_bits::<16>(0) * self.w.val().get_bits::<16>(16);
        self.partial[2].clock.next = self.clock.val();
        self.partial[2].d.next = self.x.val().get_bits::<16>(16) * self.w.val().get_bits::<16>(0);
        self.partial[3].clock.next = self.clock.val();
        self.partial[3].d.next = self.x.val().get_bits::<16>(16) * self.w.val().get_bits::<16>(16);
        // Stage 2.
        self.product_sum.next = self.partial[0].q.val()
            + (self.partial[1].q.val() << 16)
            + (self.partial[2].q.val() << 16)
            + (self.partial[3].q.val() << 32);
        self.unused_product_top.next = self.product_sum.val().get_bits::<2>(62).any();
        self.lo1.d.next = self.product_sum.val().get_bits::<31>(0);
        self.hi1.d.next = self.product_sum.val().get_bits::<31>(31);
        // Stage 3: fold 1.
        self.lo1_wide.d.next = self.lo1.q.val();
        self.hi1_wide.d.next = self.hi1.q.val();
        self.fold1.next =
            self.lo1_wide.q.val() + ((self.hi1_wide.q.val() << 19) - self.hi1_wide.q.val());
        self.lo2.d.next = self.fold1.val().get_bits::<31>(0);
        self.hi2.d.next = self.fold1.val().get_bits::<19>(31);
        // Stage 4: folds 2 and 3.
        self.lo2_wide.d.next = self.lo2.q.val();
        self.hi2_wide.d.next = self.hi2.q.val();
        self.fold2.next =
            self.lo2_wide.q.val() + ((self.hi2_wide.q.val() << 19) - self.hi2_wide.q.val());
        self.lo3_wide.d.next = self.fold2.val().get_bits::<31>(0);
        self.hi3_wide.d.next = self.fold2.val().get_bits::<8>(31);
        self.folded.d.next =
            self.lo3_wide.q.val() + ((self.hi3_wide.q.val() << 19) - self.hi3_wide.q.val());
        // Stage 5.
        if self.folded.q.val() >= self.modulus.val() {
            self.reduced.d.next = self.folded.q.val() - self.modulus.val();
        } else {
            self.reduced.d.next = self.folded.q.val();
        }
        self.product.next = self.reduced.q.val();
        self.q_out.next = self.modulus.val();
    }
}

/// 64-bit special-prime multiplier: `product = x·w mod (2^61 − 2^26 + 1)`.
#[derive(LogicBlock, Debug)]
pub struct SpecialPrimeMultiplier64 {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// Multiplicand, in `[0, q)`.
    pub x: Signal<In, Bits<64>>,
    /// Twiddle, in `[0, q)`.
    pub w: Signal<In, Bits<64>>,
    /// `x·w mod q` in `[0, q)`, [`SPECIAL_PRIME_LATENCY`] edges after the inputs.
    pub product: Signal<Out, Bits<64>>,
    /// The constant q, for the butterfly's additions.
    pub q_out: Signal<Out, Bits<64>>,
    /// q as a Verilog `localparam` (rust-hdl's `Constant`, hence the hand-written `Default`).
    modulus: Constant<Bits<64>>,
    // Stage 1: the sixteen 16×16 partial products of x·w.
    partial: [ProductRegister<128>; 16],
    // Stage 2: x·w < 2^122, split at 2^61.
    product_sum: Signal<Local, Bits<128>>,
    /// Bits 122 … 127 of x·w are always zero (Verilator's `*unused*` convention).
    unused_product_top: Signal<Local, Bit>,
    lo1: DFF<Bits<61>>,
    hi1: DFF<Bits<61>>,
    // Stage 3: fold 1 < 2^87, split at 2^61.
    lo1_wide: ZeroExtend<61, 87>,
    hi1_wide: ZeroExtend<61, 87>,
    fold1: Signal<Local, Bits<87>>,
    lo2: DFF<Bits<61>>,
    hi2: DFF<Bits<26>>,
    // Stage 4: fold 2 < 2q < 2^62.
    lo2_wide: ZeroExtend<61, 64>,
    hi2_wide: ZeroExtend<26, 64>,
    folded: DFF<Bits<64>>,
    // Stage 5: one conditional subtraction.
    reduced: DFF<Bits<64>>,
}

impl Default for SpecialPrimeMultiplier64 {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            x: Default::default(),
            w: Default::default(),
            product: Default::default(),
            q_out: Default::default(),
            modulus: Constant::new(SPECIAL_PRIME_64.value().to_bits()),
            partial: Default::default(),
            product_sum: Default::default(),
            unused_product_top: Default::default(),
            lo1: Default::default(),
            hi1: Default::default(),
            lo1_wide: Default::default(),
            hi1_wide: Default::default(),
            fold1: Default::default(),
            lo2: Default::default(),
            hi2: Default::default(),
            lo2_wide: Default::default(),
            hi2_wide: Default::default(),
            folded: Default::default(),
            reduced: Default::default(),
        }
    }
}

impl Logic for SpecialPrimeMultiplier64 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, lo1, hi1, lo2, hi2, folded, reduced);
        // Stage 1: partial[4·i + j] = x limb i · w limb j, weight 2^(16·(i + j)).
        for i in 0..16 {
            self.partial[i].clock.next = self.clock.val();
        }
        self.partial[0].d.next = self.x.val().get_bits::<16>(0) * self.w.val().get_bits::<16>(0);
        self.partial[1].d.next = self.x.val().get_bits::<16>(0) * self.w.val().get_bits::<16>(16);
        self.partial[2].d.next = self.x.val().get_bits::<16>(0) * self.w.val().get_bits::<16>(32);
        self.partial[3].d.next = self.x.val().get_bits::<16>(0) * self.w.val().get_bits::<16>(48);
        self.partial[4].d.next = self.x.val().get_bits::<16>(16) * self.w.val().get_bits::<16>(0);
        self.partial[5].d.next = self.x.val().get_bits::<16>(16) * self.w.val().get_bits::<16>(16);
        self.partial[6].d.next = self.x.val().get_bits::<16>(16) * self.w.val().get_bits::<16>(32);
        self.partial[7].d.next = self.x.val().get_bits::<16>(16) * self.w.val().get_bits::<16>(48);
        self.partial[8].d.next = self.x.val().get_bits::<16>(32) * self.w.val().get_bits::<16>(0);
        self.partial[9].d.next = self.x.val().get_bits::<16>(32) * self.w.val().get_bits::<16>(16);
        self.partial[10].d.next = self.x.val().get_bits::<16>(32) * self.w.val().get_bits::<16>(32);
        self.partial[11].d.next = self.x.val().get_bits::<16>(32) * self.w.val().get_bits::<16>(48);
        self.partial[12].d.next = self.x.val().get_bits::<16>(48) * self.w.val().get_bits::<16>(0);
        self.partial[13].d.next = self.x.val().get_bits::<16>(48) * self.w.val().get_bits::<16>(16);
        self.partial[14].d.next = self.x.val().get_bits::<16>(48) * self.w.val().get_bits::<16>(32);
        self.partial[15].d.next = self.x.val().get_bits::<16>(48) * self.w.val().get_bits::<16>(48);
        // Stage 2.
        self.product_sum.next = self.partial[0].q.val()
            + (self.partial[1].q.val() << 16)
            + (self.partial[2].q.val() << 32)
            + (self.partial[3].q.val() << 48)
            + (self.partial[4].q.val() << 16)
            + (self.partial[5].q.val() << 32)
            + (self.partial[6].q.val() << 48)
            + (self.partial[7].q.val() << 64)
            + (self.partial[8].q.val() << 32)
            + (self.partial[9].q.val() << 48)
            + (self.partial[10].q.val() << 64)
            + (self.partial[11].q.val() << 80)
            + (self.partial[12].q.val() << 48)
            + (self.partial[13].q.val() << 64)
            + (self.partial[14].q.val() << 80)
            + (self.partial[15].q.val() << 96);
        self.unused_product_top.next = self.product_sum.val().get_bits::<6>(122).any();
        self.lo1.d.next = self.product_sum.val().get_bits::<61>(0);
        self.hi1.d.next = self.product_sum.val().get_bits::<61>(61);
        // Stage 3: fold 1.
        self.lo1_wide.d.next = self.lo1.q.val();
        self.hi1_wide.d.next = self.hi1.q.val();
        self.fold1.next =
            self.lo1_wide.q.val() + ((self.hi1_wide.q.val() << 26) - self.hi1_wide.q.val());
        self.lo2.d.next = self.fold1.val().get_bits::<61>(0);
        self.hi2.d.next = self.fold1.val().get_bits::<26>(61);
        // Stage 4: fold 2.
        self.lo2_wide.d.next = self.lo2.q.val();
        self.hi2_wide.d.next = self.hi2.q.val();
        self.folded.d.next =
            self.lo2_wide.q.val() + ((self.hi2_wide.q.val() << 26) - self.hi2_wide.q.val());
        // Stage 5.
        if self.folded.q.val() >= self.modulus.val() {
            self.reduced.d.next = self.folded.q.val() - self.modulus.val();
        } else {
            self.reduced.d.next = self.folded.q.val();
        }
        self.product.next = self.reduced.q.val();
        self.q_out.next = self.modulus.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hesim_sw::ring::{is_prime, primitive_root_2n};

    /// Both primes are prime (Miller–Rabin of `hesim_sw::ring`), below the word's modulus bound,
    /// and carry negacyclic NTTs up to the sizes the docs state (a primitive 2N-th root exists).
    #[test]
    fn special_primes_are_ntt_friendly() {
        for (p, word_bound_bits, max_log_n) in
            [(SPECIAL_PRIME_32, 31, 18), (SPECIAL_PRIME_64, 62, 25)]
        {
            let q = p.value();
            assert!(is_prime(q), "{q}");
            assert!(q < 1 << word_bound_bits);
            assert_eq!((q - 1).trailing_zeros(), max_log_n + 1);
            assert!(primitive_root_2n(q, 1 << 17).is_ok());
        }
        assert_eq!(SPECIAL_PRIME_32.value(), 2_146_959_361);
        assert_eq!(SPECIAL_PRIME_64.value(), 2_305_843_009_146_585_089);
    }

    /// The register widths of the datapath are the worst-case bounds of the folds, computed
    /// independently in 128-bit arithmetic; the last fold lands below 2q.
    #[test]
    fn fold_widths_match_the_worst_case_bounds() {
        assert_eq!(SPECIAL_PRIME_32.fold_bounds(), vec![50, 39, 32]);
        assert_eq!(SPECIAL_PRIME_64.fold_bounds(), vec![87, 62]);
    }

    /// A fold preserves the residue (checked with `u128` `%`) on random and extreme values.
    #[test]
    fn fold_preserves_the_residue() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for p in [SPECIAL_PRIME_32, SPECIAL_PRIME_64] {
            let q = u128::from(p.value());
            for _ in 0..10_000 {
                let v = rng.random_range(0..(q - 1) * (q - 1) + 1);
                assert_eq!(p.fold(v) % q, v % q);
            }
            let top = (q - 1) * (q - 1);
            assert_eq!(p.fold(top) % q, top % q);
        }
    }
}

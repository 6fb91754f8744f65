//! Tests of the golden model against independent references: `u128` `%` arithmetic, trial
//! division, direct polynomial evaluation and naive O(n²) negacyclic convolution.

use super::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn random_poly(r: &mut ChaCha8Rng, n: usize, q: u64) -> Vec<u64> {
    (0..n).map(|_| r.random_range(0..q)).collect()
}

/// Independent modular exponentiation with `u128` `%`.
fn pow_ref(b: u64, mut e: u64, q: u64) -> u64 {
    let (mut acc, mut b) = (1u128, u128::from(b));
    let q = u128::from(q);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc * b % q;
        }
        b = b * b % q;
        e >>= 1;
    }
    acc as u64
}

/// `Modulus::mul_assign_slices` (exact double-precision products up to 51 bits, `Modulus::mul`
/// above) equals `u128` `%` element by element: random operands and the extremes 0, 1, q − 1,
/// q − 2 against each other, at the widths around the 51-bit limit, with lengths that leave a
/// partial block and a partial SIMD vector.
#[test]
fn mul_assign_slices_equals_u128_remainder() {
    let mut r = rng(41);
    let mut moduli: Vec<u64> = [20, 30, 40, 45, 49, 50, 51, 52, 55, 60, 62]
        .iter()
        .map(|&bits| ntt_primes(bits, 1, 16).unwrap()[0])
        .collect();
    // The largest odd moduli of 50 and 51 bits (not primes: the product needs none).
    moduli.extend([(1 << 50) - 1, (1 << 51) - 1, 3]);
    for q in moduli {
        let m = Modulus::new(q).unwrap();
        let len = 1029;
        let edges = [0, 1, q - 1, q - 2, q / 2, q / 2 + 1];
        let mut y = random_poly(&mut r, len, q);
        let mut x0 = random_poly(&mut r, len, q);
        let mut x1 = random_poly(&mut r, len, q);
        for (i, &a) in edges.iter().enumerate() {
            for (j, &b) in edges.iter().enumerate() {
                x0[i * edges.len() + j] = a;
                y[i * edges.len() + j] = b;
            }
        }
        let want = |x: &[u64]| -> Vec<u64> {
            x.iter()
                .zip(&y)
                .map(|(&a, &b)| (u128::from(a) * u128::from(b) % u128::from(q)) as u64)
                .collect()
        };
        let (want0, want1) = (want(&x0), want(&x1));
        m.mul_assign_slices(&mut [&mut x0[..], &mut x1[..]], &y);
        assert_eq!(x0, want0, "q = {q}");
        assert_eq!(x1, want1, "q = {q}");
    }
}

/// `Modulus::mul` equals `u128` `%` for every odd q < 2^8 and every operand pair below
/// 2^bits (exhaustive: the small-width corner of the product Barrett's error bound).
#[test]
fn mul_exhaustive_small_moduli() {
    for q in (3u64..256).step_by(2) {
        let m = Modulus::new(q).unwrap();
        let limit = 1u64 << m.bits();
        for a in 0..limit {
            for b in 0..limit {
                assert_eq!(m.mul(a, b), a * b % q, "q = {q}, a = {a}, b = {b}");
            }
        }
    }
}

/// Naive O(n²) negacyclic convolution mod q with `u128` accumulation (independent of the NTT).
fn negacyclic_naive(a: &[u64], b: &[u64], q: u64) -> Vec<u64> {
    let n = a.len();
    let q128 = u128::from(q);
    let mut pos = vec![0u128; n];
    let mut neg = vec![0u128; n];
    for (i, &ai) in a.iter().enumerate() {
        for (j, &bj) in b.iter().enumerate() {
            let p = u128::from(ai) * u128::from(bj) % q128;
            if i + j < n {
                pos[i + j] += p;
            } else {
                neg[i + j - n] += p;
            }
        }
    }
    pos.iter()
        .zip(&neg)
        .map(|(&p, &m)| ((p % q128 + q128 - m % q128) % q128) as u64)
        .collect()
}

/// At 62 bits the product Barrett's remainder can reach 2q (derivation in `Modulus::mul`), so
/// its second correction is needed. Witnesses (found by a search over q just above 2^61 with
/// ⌊2^124/q⌋'s fractional part near 1 and a·b mod 2^60 near 2^60): a = 2^62 − 2^30,
/// b = a + 1 give remainders of 2.0q … 2.4q before correction. Checked against `u128` `%`.
#[test]
fn mul_second_correction_at_62_bits() {
    let a = (1u64 << 62) - (1 << 30);
    for q in [
        2_319_808_083_044_982_841u64,
        2_333_908_454_481_612_235,
        2_317_976_249_537_512_561,
        2_338_164_307_400_066_751,
        2_325_689_523_007_744_317,
    ] {
        let m = Modulus::new(q).unwrap();
        assert_eq!(m.bits(), 62);
        for (x, y) in [(a, a + 1), (a + 1, a)] {
            let expect = (u128::from(x) * u128::from(y) % u128::from(q)) as u64;
            assert_eq!(m.mul(x, y), expect, "q = {q}");
        }
    }
}

/// Odd moduli of every width from 2 to 62 bits ([`MAX_MODULUS_BITS`]), plus extremes at
/// both ends of the 61- and 62-bit ranges.
fn odd_modulus() -> impl Strategy<Value = u64> {
    prop_oneof![
        (2u32..=MAX_MODULUS_BITS, any::<u64>()).prop_map(|(bits, r)| {
            let lo = 1u64 << (bits - 1);
            (lo | (r & (lo - 1))) | 1
        }),
        (61u32..=62, any::<u64>()).prop_map(|(bits, r)| {
            let lo = 1u64 << (bits - 1);
            (lo | (r & (lo - 1))) | 1
        }),
        Just(3u64),
        Just((1u64 << 61) - 1),
        Just((1u64 << 60) + 1),
        Just((1u64 << 62) - 1),
        Just((1u64 << 61) + 1),
        Just(LARGEST_PRIME_BELOW_2_62),
    ]
}

/// The largest prime below 2^62, 2^62 − 57 (checked in `largest_62_bit_prime`).
const LARGEST_PRIME_BELOW_2_62: u64 = (1 << 62) - 57;

/// A residue in [0, q): edge values 0, 1, q−1, q/2 or random.
fn residue(q: u64) -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(1 % q), Just(q - 1), Just(q / 2), 0..q]
}

fn modulus_and_two_residues() -> impl Strategy<Value = (u64, u64, u64)> {
    odd_modulus().prop_flat_map(|q| (Just(q), residue(q), residue(q)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Barrett and Shoup products, add/sub/neg/half equal `u128` `%` arithmetic.
    #[test]
    fn products_match_u128((q, a, b) in modulus_and_two_residues()) {
        let m = Modulus::new(q).unwrap();
        let expect = (u128::from(a) * u128::from(b) % u128::from(q)) as u64;
        prop_assert_eq!(m.mul(a, b), expect);
        let bs = m.shoup(b);
        prop_assert_eq!(bs, ((u128::from(b) << 64) / u128::from(q)) as u64);
        prop_assert_eq!(m.mul_shoup(a, b, bs), expect);
        let lazy = m.mul_shoup_lazy(a, b, bs);
        prop_assert!(lazy < 2 * q && lazy % q == expect);
        prop_assert_eq!(m.add(a, b), ((u128::from(a) + u128::from(b)) % u128::from(q)) as u64);
        prop_assert_eq!(m.sub(a, b), ((u128::from(a) + u128::from(q) - u128::from(b)) % u128::from(q)) as u64);
        prop_assert_eq!(m.neg(a), ((u128::from(q) - u128::from(a)) % u128::from(q)) as u64);
        let h = m.half(a);
        prop_assert!(h < q && (2 * u128::from(h)) % u128::from(q) == u128::from(a));
    }

    /// Shoup's lazy product accepts any 64-bit left operand and stays below 2q.
    #[test]
    fn shoup_any_u64_operand((q, _a, w) in modulus_and_two_residues(), x in prop_oneof![Just(u64::MAX), Just(0u64), any::<u64>()]) {
        let m = Modulus::new(q).unwrap();
        let expect = (u128::from(x) * u128::from(w) % u128::from(q)) as u64;
        let lazy = m.mul_shoup_lazy(x, w, m.shoup(w));
        prop_assert!(lazy < 2 * q);
        prop_assert_eq!(lazy % q, expect);
        prop_assert_eq!(m.mul_shoup(x, w, m.shoup(w)), expect);
    }

    /// The product Barrett of `Modulus::mul` also accepts unreduced operands a, b < 2^bits
    /// (its documented input range), including 2^bits − 1 and q just above 2^(bits−1),
    /// where its quotient estimate is loosest; checked against `u128` `%`.
    #[test]
    fn mul_accepts_operands_below_2_pow_bits(
        q in prop_oneof![odd_modulus(), (2u32..=MAX_MODULUS_BITS).prop_map(|bits| (1u64 << (bits - 1)) + 1)],
        a_raw in any::<u64>(),
        b_raw in any::<u64>(),
        edge in 0u8..4,
    ) {
        let m = Modulus::new(q).unwrap();
        let top = (1u64 << m.bits()) - 1;
        let (a, b) = match edge {
            0 => (a_raw & top, b_raw & top),
            1 => (top, top),
            2 => (top, b_raw & top),
            _ => (q - 1, q - 1),
        };
        prop_assert_eq!(m.mul(a, b), (u128::from(a) * u128::from(b) % u128::from(q)) as u64);
    }

    /// Barrett reductions of arbitrary 64- and 128-bit values equal `%`.
    #[test]
    fn reductions_match_u128(q in odd_modulus(), x in prop_oneof![Just(u128::MAX), Just(0u128), any::<u128>()]) {
        let m = Modulus::new(q).unwrap();
        prop_assert_eq!(m.reduce_u128(x), (x % u128::from(q)) as u64);
        let x64 = x as u64;
        prop_assert_eq!(m.reduce(x64), x64 % q);
        let xi = x64 as i64;
        prop_assert_eq!(m.reduce_i64(xi), xi.rem_euclid(q as i64) as u64);
    }

    /// pow equals square-and-multiply with `%`; inv is an inverse exactly when gcd = 1.
    #[test]
    fn pow_and_inv((q, a, _b) in modulus_and_two_residues(), e in any::<u64>()) {
        let m = Modulus::new(q).unwrap();
        prop_assert_eq!(m.pow(a, e), pow_ref(a, e, q));
        match m.inv(a) {
            Ok(ai) => prop_assert_eq!(u128::from(a) * u128::from(ai) % u128::from(q), 1),
            Err(RingError::NotInvertible { .. }) => {
                prop_assert!(num_gcd(a, q) != 1);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    /// The butterflies equal their defining formulas evaluated with `u128` `%`.
    #[test]
    fn butterflies_match_formula(q in odd_modulus(), x in any::<u64>(), y in any::<u64>(), w in any::<u64>()) {
        let (x, y, w) = (x % q, y % q, w % q);
        let m = Modulus::new(q).unwrap();
        let ws = m.shoup(w);
        let q128 = u128::from(q);
        let (x1, y1, w1) = (u128::from(x), u128::from(y), u128::from(w));
        let wy = w1 * y1 % q128;
        let ct = ct_butterfly(x, y, w, ws, &m);
        prop_assert_eq!(ct, (((x1 + wy) % q128) as u64, ((x1 + q128 - wy) % q128) as u64));
        let gs = gs_butterfly(x, y, w, ws, &m);
        let gs_expect = (((x1 + y1) % q128) as u64, ((x1 + q128 - y1) * w1 % q128) as u64);
        prop_assert_eq!(gs, gs_expect);
        let inv2 = q128.div_ceil(2);
        let half = gs_butterfly_half(x, y, w, ws, &m);
        prop_assert_eq!(half, ((u128::from(gs_expect.0) * inv2 % q128) as u64, (u128::from(gs_expect.1) * inv2 % q128) as u64));
    }
}

fn num_gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[test]
fn modulus_rejects_bad_values() {
    for q in [0, 1, 2, 4, 1 << 62, (1 << 62) + 1, u64::MAX] {
        assert!(
            matches!(Modulus::new(q), Err(RingError::InvalidModulus { .. })),
            "q = {q}"
        );
    }
    assert_eq!(Modulus::new((1 << 61) - 1).unwrap().bits(), 61);
    assert_eq!(Modulus::new((1 << 62) - 1).unwrap().bits(), 62);
}

/// Miller–Rabin agrees with trial division below 200 000 and on known hard cases.
#[test]
fn primality_matches_trial_division() {
    let trial = |n: u64| {
        n >= 2
            && (2..)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    };
    for n in 0..200_000 {
        assert_eq!(is_prime(n), trial(n), "n = {n}");
    }
    // Mersenne prime, largest u64 prime, Carmichael numbers and a strong pseudoprime to 2..37's
    // smaller base sets (3825123056546413051 fails bases 2..23).
    assert!(is_prime((1 << 61) - 1));
    assert!(is_prime(u64::MAX - 58));
    for c in [
        561u64,
        41041,
        3_825_123_056_546_413_051,
        (1 << 61) + 1,
        u64::MAX,
    ] {
        assert!(!is_prime(c), "{c}");
    }
}

/// 2^62 − 57 is prime and no odd number between it and 2^62 is (Miller–Rabin, which the test
/// above checks against trial division and known pseudoprimes).
#[test]
fn largest_62_bit_prime() {
    assert!(is_prime(LARGEST_PRIME_BELOW_2_62));
    assert!(
        ((LARGEST_PRIME_BELOW_2_62 + 2)..(1 << 62))
            .step_by(2)
            .all(|c| !is_prime(c))
    );
}

/// Generated primes are prime (trial division for 20 bits), ≡ 1 mod 2n, of the right size,
/// descending, and no admissible prime is skipped.
#[test]
fn ntt_primes_are_complete_and_friendly() {
    let n = 1 << 6;
    let primes = ntt_primes(20, 5, n).unwrap();
    let trial = |p: u64| {
        (2..)
            .take_while(|d| d * d <= p)
            .all(|d| !p.is_multiple_of(d))
    };
    let expect: Vec<u64> = (1 << 19..1 << 20)
        .rev()
        .filter(|&p| p % (2 * n as u64) == 1 && trial(p))
        .take(5)
        .collect();
    assert_eq!(primes, expect);
    for (bits, n) in [
        (30, 1 << 14),
        (50, 1 << 16),
        (60, 1 << 17),
        (61, 1 << 12),
        (62, 1 << 17),
    ] {
        for p in ntt_primes(bits, 3, n).unwrap() {
            assert_eq!(p % (2 * n as u64), 1);
            assert_eq!(64 - p.leading_zeros(), bits);
        }
    }
    assert!(matches!(
        ntt_primes(63, 1, 16),
        Err(RingError::InvalidPrimeBits { .. })
    ));
    assert!(matches!(
        ntt_primes(12, 1000, 16),
        Err(RingError::NotEnoughPrimes { .. })
    ));
    let first = ntt_primes(30, 2, 1 << 12).unwrap();
    let rest = ntt_primes_excluding(30, 2, 1 << 12, &first).unwrap();
    assert!(rest.iter().all(|p| !first.contains(p) && *p < first[1]));
}

/// ψ is a primitive 2n-th root (ψ^n = −1) and the roots nest: ψ_{2n}² = ψ_n.
#[test]
fn psi_is_primitive_and_nested() {
    for q in ntt_primes(60, 2, 1 << 17)
        .unwrap()
        .into_iter()
        .chain(ntt_primes(30, 2, 1 << 17).unwrap())
        .chain(ntt_primes(62, 2, 1 << 17).unwrap())
    {
        let mut prev: Option<u64> = None;
        for log_n in 1..=17 {
            let n = 1usize << log_n;
            let psi = primitive_root_2n(q, n).unwrap();
            assert_eq!(pow_ref(psi, n as u64, q), q - 1);
            if let Some(p) = prev {
                assert_eq!(pow_ref(psi, 2, q), p);
            }
            prev = Some(psi);
        }
    }
    assert!(matches!(
        primitive_root_2n(97, 64),
        Err(RingError::NotNttFriendly { .. })
    ));
    assert!(matches!(
        primitive_root_2n(91, 2),
        Err(RingError::NotNttFriendly { .. })
    ));
}

/// The largest NTT prime of 30, 50, 60 and 62 bits ([`MAX_MODULUS_BITS`]) for size n.
fn prime_classes(n: usize) -> Vec<u64> {
    [30, 50, 60, MAX_MODULUS_BITS]
        .iter()
        .map(|&b| ntt_primes(b, 1, n).unwrap()[0])
        .collect()
}

/// Output order: slot k of the forward NTT is the input evaluated at ψ^{2·bitrev(k)+1}
/// (direct evaluation with `u128` `%`).
#[test]
fn forward_output_is_evaluation_in_bit_reversed_order() {
    let mut r = rng(1);
    for log_n in [4u32, 6] {
        let n = 1 << log_n;
        for q in prime_classes(n) {
            let plan = NttPlan::new(n, &Modulus::new(q).unwrap()).unwrap();
            let x = random_poly(&mut r, n, q);
            let mut a = x.clone();
            plan.forward_golden(&mut a);
            for (k, &ak) in a.iter().enumerate() {
                let root = pow_ref(plan.psi(), 2 * bit_reverse(k, log_n) as u64 + 1, q);
                let eval = x.iter().rev().fold(0u128, |acc, &c| {
                    (acc * u128::from(root) + u128::from(c)) % u128::from(q)
                });
                assert_eq!(u128::from(ak), eval, "N = {n}, q = {q}, k = {k}");
            }
        }
    }
}

/// NTT-based negacyclic products (golden and fast) equal the naive O(n²) convolution.
#[test]
fn ntt_multiplication_matches_naive_convolution() {
    let mut r = rng(2);
    for n in [16, 64, 1024, 4096] {
        for q in prime_classes(n) {
            let m = Modulus::new(q).unwrap();
            let plan = NttPlan::new(n, &m).unwrap();
            let (a, b) = (random_poly(&mut r, n, q), random_poly(&mut r, n, q));
            let expect = negacyclic_naive(&a, &b, q);
            let (mut fa, mut fb) = (a.clone(), b.clone());
            plan.forward_golden(&mut fa);
            plan.forward_golden(&mut fb);
            let mut prod: Vec<u64> = fa.iter().zip(&fb).map(|(&x, &y)| m.mul(x, y)).collect();
            plan.inverse_golden(&mut prod);
            assert_eq!(prod, expect, "golden, N = {n}, q = {q}");
            let (mut fa, mut fb) = (a, b);
            plan.forward(&mut fa);
            plan.forward(&mut fb);
            let mut prod: Vec<u64> = fa.iter().zip(&fb).map(|(&x, &y)| m.mul(x, y)).collect();
            plan.inverse(&mut prod);
            assert_eq!(prod, expect, "fast, N = {n}, q = {q}");
        }
    }
}

/// For every N in 2^4..=2^17: fast == golden (forward and inverse), inverse∘forward = id, and
/// the final-multiply scaling equals the fused ÷2 scaling. Four prime classes (30 … 62 bits)
/// up to 2^12, one (alternating) above.
#[test]
fn fast_equals_golden_and_roundtrip_all_sizes() {
    let mut r = rng(3);
    for log_n in MIN_LOG_N..=MAX_LOG_N {
        let n = 1usize << log_n;
        let primes = if log_n <= 12 {
            prime_classes(n)
        } else {
            vec![prime_classes(n)[log_n as usize % 4]]
        };
        for q in primes {
            let plan = NttPlan::new(n, &Modulus::new(q).unwrap()).unwrap();
            let x = random_poly(&mut r, n, q);
            let (mut golden, mut fast) = (x.clone(), x.clone());
            plan.forward_golden(&mut golden);
            plan.forward(&mut fast);
            assert_eq!(golden, fast, "forward, N = {n}, q = {q}");
            let y = random_poly(&mut r, n, q);
            let (mut gi, mut fi, mut unscaled) = (y.clone(), y.clone(), y);
            plan.inverse_golden(&mut gi);
            plan.inverse(&mut fi);
            assert_eq!(gi, fi, "inverse, N = {n}, q = {q}");
            plan.inverse_golden_unscaled(&mut unscaled);
            plan.scale_by_n_inv(&mut unscaled);
            assert_eq!(gi, unscaled, "scaling variants, N = {n}, q = {q}");
            plan.inverse_golden(&mut golden);
            assert_eq!(golden, x, "golden roundtrip, N = {n}, q = {q}");
            plan.inverse(&mut fast);
            assert_eq!(fast, x, "fast roundtrip, N = {n}, q = {q}");
        }
    }
}

#[test]
fn plan_rejects_bad_parameters() {
    let q = Modulus::new(ntt_primes(40, 1, 1 << 17).unwrap()[0]).unwrap();
    for n in [8, 1 << 18, 100] {
        assert!(
            matches!(NttPlan::new(n, &q), Err(RingError::InvalidDegree { .. })),
            "n = {n}"
        );
    }
    let not_friendly = Modulus::new(ntt_primes(40, 1, 16).unwrap()[0]).unwrap();
    if !(not_friendly.value() - 1).is_multiple_of(1 << 18) {
        assert!(matches!(
            NttPlan::new(1 << 17, &not_friendly),
            Err(RingError::NotNttFriendly { .. })
        ));
    }
    let composite = Modulus::new(97 * 193).unwrap();
    assert!(matches!(
        NttPlan::new(16, &composite),
        Err(RingError::NotNttFriendly { .. })
    ));
}

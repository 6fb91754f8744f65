//! RNS and polynomial tests. References: `num-bigint` arithmetic (CRT, basis conversion),
//! the coefficient-form definition of X ↦ X^g, and naive negacyclic convolution.

use std::sync::Arc;

use num_bigint::{BigInt, BigUint};
use num_traits::Zero;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Uniform-ish big integer below `bound` (random 64-bit digits, one word longer, reduced).
fn random_below(r: &mut ChaCha8Rng, bound: &BigUint) -> BigUint {
    let words = bound.iter_u64_digits().len() + 1;
    let digits: Vec<u32> = (0..2 * words).map(|_| r.random()).collect();
    BigUint::from_slice(&digits) % bound
}

fn basis(bits: &[u32], n: usize) -> RnsBasis {
    let mut primes: Vec<u64> = Vec::new();
    for &b in bits {
        primes.push(ntt_primes_excluding(b, 1, n, &primes).unwrap()[0]);
    }
    RnsBasis::new(
        primes
            .into_iter()
            .map(|q| Modulus::new(q).unwrap())
            .collect(),
    )
    .unwrap()
}

/// CRT reconstruction inverts `BigUint %`, lands in [0, Q), and the centered lift is in
/// (−Q/2, Q/2]; also for composite (odd, coprime) moduli.
#[test]
fn crt_reconstruction_matches_bigint() {
    let mut r = rng(10);
    let composite = RnsBasis::new(
        [3u64 * 5 * 7, 11 * 13, (1 << 61) - 1]
            .iter()
            .map(|&q| Modulus::new(q).unwrap())
            .collect(),
    )
    .unwrap();
    for b in [
        basis(&[30, 30, 30], 1 << 12),
        basis(&[60, 50, 40, 61], 1 << 12),
        basis(&[62, 62, 61], 1 << 12),
        composite,
    ] {
        let q = b.product().clone();
        for _ in 0..200 {
            let x = random_below(&mut r, &q);
            let res = b.decompose(&x);
            for (ri, m) in res.iter().zip(b.moduli()) {
                assert_eq!(BigUint::from(*ri), &x % m.value());
            }
            assert_eq!(b.reconstruct(&res), x);
            let c = b.lift_centered(&res);
            let two_c: BigInt = &c + &c;
            let q_int = BigInt::from(q.clone());
            assert!(two_c <= q_int && two_c > -q_int.clone());
            assert!(((BigInt::from(x.clone()) - &c) % &q_int).is_zero());
            assert_eq!(b.decompose_signed(&c), res);
        }
        assert_eq!(b.reconstruct(&b.decompose(&(&q - 1u32))), &q - 1u32);
    }
}

#[test]
fn basis_rejects_non_coprime_and_empty() {
    let m = |q| Modulus::new(q).unwrap();
    assert!(matches!(RnsBasis::new(vec![]), Err(RingError::EmptyBasis)));
    assert!(matches!(
        RnsBasis::new(vec![m(15), m(21)]),
        Err(RingError::NotCoprime { a: 15, b: 21 })
    ));
    assert!(matches!(
        RnsBasis::new(vec![m(97), m(97)]),
        Err(RingError::NotCoprime { .. })
    ));
}

/// Fast basis conversion gives (x + u·B) mod t_j with one 0 ≤ u < k for all targets, where x
/// and u are computed independently with big integers (u = (Σ y_i·B/b_i − x)/B). Includes a
/// 70-limb 61-bit and a 40-limb 62-bit source basis (more terms than one lazy u128
/// accumulation holds).
#[test]
fn fast_basis_conversion_within_documented_error() {
    let mut r = rng(11);
    let n = 64;
    let big = RnsBasis::new(ntt_moduli(61, 70, 16).unwrap()).unwrap();
    // 62-bit limbs (the widest moduli) with more terms than one lazy accumulation holds.
    let big62 = RnsBasis::new(ntt_moduli(62, 40, 16).unwrap()).unwrap();
    let cases = [
        (basis(&[50, 50, 50], 1 << 12), basis(&[60, 60], 1 << 13)),
        (basis(&[30], 1 << 12), basis(&[61, 30, 40], 1 << 13)),
        (big, basis(&[59, 58], 1 << 12)),
        (big62, basis(&[62, 61], 1 << 12)),
    ];
    for (from, to) in cases {
        let conv = BasisConverter::new(&from, &to);
        let b = from.product().clone();
        let mut xs: Vec<BigUint> = (0..n).map(|_| random_below(&mut r, &b)).collect();
        // The input whose scaled residues y_i = [x_i·(B/b_i)^{-1}]_{b_i} are all b_i − 1, the
        // largest terms the lazy u128 accumulation can see.
        let largest_terms: BigUint = from
            .moduli()
            .iter()
            .map(|m| (&b / m.value()) * (m.value() - 1))
            .sum();
        xs.push(largest_terms % &b);
        let limbs: Vec<Vec<u64>> = from
            .moduli()
            .iter()
            .map(|m| {
                xs.iter()
                    .map(|x| (x % m.value()).try_into().unwrap())
                    .collect()
            })
            .collect();
        let refs: Vec<&[u64]> = limbs.iter().map(Vec::as_slice).collect();
        let out = conv.convert(&refs);
        assert_eq!(out.len(), to.len());
        for (c, x) in xs.iter().enumerate() {
            // Independent u: y_i = [x_i · (B/b_i)^{-1}]_{b_i} via Fermat inverse with BigUint.
            let sum: BigUint = from
                .moduli()
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let qi = BigUint::from(m.value());
                    let hat = &b / &qi;
                    let hat_inv = (&hat % &qi).modpow(&(&qi - 2u32), &qi);
                    hat * (BigUint::from(limbs[i][c]) * hat_inv % &qi)
                })
                .sum();
            let u = (sum - x) / &b;
            assert!(
                u < BigUint::from(from.len()),
                "u = {u} not below k = {}",
                from.len()
            );
            for (j, t) in to.moduli().iter().enumerate() {
                let expect: u64 = ((x + &u * &b) % t.value()).try_into().unwrap();
                assert_eq!(out[j][c], expect, "coefficient {c}, target {j}");
            }
        }
    }
}

fn context(bits: &[u32], n: usize) -> Arc<RnsContext> {
    RnsContext::new(n, basis(bits, n).moduli()).unwrap()
}

fn random_coeff(r: &mut ChaCha8Rng, ctx: &Arc<RnsContext>) -> RnsPoly<Coeff> {
    let data = ctx
        .moduli()
        .iter()
        .flat_map(|m| {
            (0..ctx.n())
                .map(|_| r.random_range(0..m.value()))
                .collect::<Vec<_>>()
        })
        .collect();
    RnsPoly::from_flat(ctx, data).unwrap()
}

/// The NTT-form automorphism (index permutation) equals the coefficient-form definition, and
/// σ_g∘σ_h = σ_{gh}.
#[test]
fn automorphism_ntt_form_matches_coefficient_form() {
    let mut r = rng(12);
    for n in [16usize, 1024] {
        let ctx = context(&[30, 50, 60], n);
        let two_n = 2 * n as u64;
        let a = random_coeff(&mut r, &ctx);
        let mut gs: Vec<u64> = vec![1, 3, 5, 25, two_n - 1, two_n - 5];
        let mut g = 1u64;
        for _ in 0..7 {
            g = g * 5 % two_n;
        }
        gs.push(g);
        for &g in &gs {
            let coeff = a.automorphism(g).unwrap();
            let ntt = a.clone().to_ntt().automorphism(g).unwrap();
            assert_eq!(ntt.to_coeff(), coeff, "N = {n}, g = {g}");
            let gh = g * 3 % two_n;
            assert_eq!(coeff.automorphism(3).unwrap(), a.automorphism(gh).unwrap());
        }
        assert!(matches!(
            a.automorphism(2),
            Err(RingError::InvalidGaloisElement { .. })
        ));
        assert!(matches!(
            a.automorphism(two_n + 1),
            Err(RingError::InvalidGaloisElement { .. })
        ));
    }
}

/// Coefficient-form automorphism against direct substitution: X^i ↦ ±X^{i·g mod N} on a
/// monomial basis.
#[test]
fn automorphism_on_monomials() {
    let n = 16;
    let ctx = context(&[30], n);
    let q = ctx.moduli()[0].value();
    for i in 0..n {
        let mut c = vec![0i64; n];
        c[i] = 1;
        let a = RnsPoly::from_i64(&ctx, &c).unwrap();
        let out = a.automorphism(7).unwrap();
        let e = i * 7 % (2 * n);
        let mut expect = vec![0u64; n];
        expect[e % n] = if e < n { 1 } else { q - 1 };
        assert_eq!(out.limb(0), expect.as_slice());
    }
}

/// RnsPoly products equal the naive negacyclic convolution per limb; add/sub/neg/scalar and
/// limb dropping behave as their definitions.
#[test]
fn rns_poly_arithmetic() {
    let mut r = rng(13);
    let n = 64;
    let ctx = context(&[30, 50, 60], n);
    let a = random_coeff(&mut r, &ctx);
    let b = random_coeff(&mut r, &ctx);
    let mut prod = a.clone().to_ntt();
    prod.mul_assign(&b.clone().to_ntt());
    let prod = prod.to_coeff();
    for (i, m) in ctx.moduli().iter().enumerate() {
        let q = u128::from(m.value());
        let mut expect = vec![0u128; n];
        for (x, &ax) in a.limb(i).iter().enumerate() {
            for (y, &by) in b.limb(i).iter().enumerate() {
                let p = u128::from(ax) * u128::from(by) % q;
                let k = (x + y) % n;
                expect[k] = if x + y < n {
                    (expect[k] + p) % q
                } else {
                    (expect[k] + q - p) % q
                };
            }
        }
        let expect: Vec<u64> = expect.into_iter().map(|v| v as u64).collect();
        assert_eq!(prod.limb(i), expect.as_slice(), "limb {i}");
    }
    let mut s = a.clone();
    s.add_assign(&b);
    s.sub_assign(&b);
    assert_eq!(s, a);
    let mut neg = a.clone();
    neg.neg_assign();
    neg.add_assign(&a);
    assert_eq!(neg, RnsPoly::zero(&ctx));
    let mut scaled = a.clone();
    scaled.mul_scalar_assign(3);
    let mut tripled = a.clone();
    tripled.add_assign(&a);
    tripled.add_assign(&a);
    assert_eq!(scaled, tripled);

    let mut dropped = a.clone();
    dropped.drop_last_limb().unwrap();
    assert_eq!(dropped.limb_count(), 2);
    assert_eq!(dropped.as_flat(), &a.as_flat()[..2 * n]);
    dropped.drop_last_limb().unwrap();
    assert!(matches!(
        dropped.drop_last_limb(),
        Err(RingError::NoLimbToDrop)
    ));

    let signed: Vec<i64> = (0..n as i64).map(|i| i - 32).collect();
    let p = RnsPoly::from_i64(&ctx, &signed).unwrap();
    let basis = ctx.basis().unwrap();
    for (c, &v) in signed.iter().enumerate() {
        let res: Vec<u64> = p.limbs().map(|l| l[c]).collect();
        assert_eq!(basis.lift_centered(&res), BigInt::from(v));
    }
    assert!(matches!(
        RnsPoly::<Coeff>::from_flat(&ctx, vec![0; 5]),
        Err(RingError::LengthMismatch { .. })
    ));
    let mut bad = vec![0; 3 * n];
    bad[n + 2] = ctx.moduli()[1].value();
    assert!(matches!(
        RnsPoly::<Ntt>::from_flat(&ctx, bad),
        Err(RingError::UnreducedValue {
            limb: 1,
            index: 2,
            ..
        })
    ));
}

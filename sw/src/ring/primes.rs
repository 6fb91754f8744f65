//! NTT-friendly primes and the choice of the primitive 2N-th root ψ.

use super::{MAX_MODULUS_BITS, Modulus, RingError};

#[inline]
fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    (u128::from(a) * u128::from(b) % u128::from(m)) as u64
}

fn pow_mod(mut base: u64, mut exp: u64, m: u64) -> u64 {
    let mut acc = 1 % m;
    base %= m;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod(acc, base, m);
        }
        base = mul_mod(base, base, m);
        exp >>= 1;
    }
    acc
}

/// Deterministic primality test for all 64-bit integers.
///
/// Miller–Rabin with the first twelve prime bases (2 … 37), which has no strong pseudoprime
/// below 3.3·10^24 (Sorenson & Webster 2015), hence is exact on u64.
pub fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    'bases: for a in BASES {
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod(x, x, n);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

/// The `count` largest primes q with 2^(bits−1) < q < 2^bits and q ≡ 1 (mod 2n), in
/// descending order.
///
/// Candidates are 2n·k + 1 scanned downwards from 2^bits, so the result is deterministic.
/// `bits` must lie in (log2(2n) + 1)..=[`MAX_MODULUS_BITS`] (62) and `n` must be a power of two.
pub fn ntt_primes(bits: u32, count: usize, n: usize) -> Result<Vec<u64>, RingError> {
    ntt_primes_excluding(bits, count, n, &[])
}

/// Like [`ntt_primes`], but skips the primes listed in `exclude` (e.g. to draw the special
/// primes of a key-switching basis with the same bit size as the ciphertext primes).
pub fn ntt_primes_excluding(
    bits: u32,
    count: usize,
    n: usize,
    exclude: &[u64],
) -> Result<Vec<u64>, RingError> {
    if !n.is_power_of_two() || n < 2 {
        return Err(RingError::InvalidDegree {
            n,
            min_log: 1,
            max_log: 30,
        });
    }
    let two_n = 2 * n as u64;
    let min_bits = two_n.trailing_zeros() + 2;
    if bits < min_bits || bits > MAX_MODULUS_BITS {
        return Err(RingError::InvalidPrimeBits {
            bits,
            min: min_bits,
            max: MAX_MODULUS_BITS,
        });
    }
    let upper = 1u64 << bits;
    let lower = 1u64 << (bits - 1);
    let mut primes = Vec::with_capacity(count);
    // Largest candidate ≡ 1 (mod 2n) below 2^bits: 2^bits − 2n + 1.
    let mut candidate = upper - two_n + 1;
    while primes.len() < count && candidate > lower {
        if is_prime(candidate) && !exclude.contains(&candidate) {
            primes.push(candidate);
        }
        candidate -= two_n;
    }
    if primes.len() < count {
        return Err(RingError::NotEnoughPrimes {
            bits,
            n,
            requested: count,
            found: primes.len(),
        });
    }
    Ok(primes)
}

/// The primitive 2n-th root of unity ψ that hesim's NTT uses for modulus q (hardware follows it).
///
/// **Rule.** Let q − 1 = Q·2^S with Q odd and z the smallest quadratic non-residue mod q
/// (z ≥ 2). Starting from r_1 = q − 1 (= −1, the primitive 2nd root), repeatedly take the
/// Tonelli–Shanks square root r_{i+1} = TS(r_i) (standard algorithm with c = z^Q, t = r^Q,
/// R = r^((Q+1)/2), returning R when t = 1); after log2(n) steps r is a primitive 2n-th root: ψ.
///
/// Why this rule: it is the one `tfhe-ntt` uses, so the fast path needs no reordering (the
/// tests check fast == golden), and the roots nest: ψ_{2n}² = ψ_n, so the same prime gives
/// consistent roots for every N.
///
/// Errors unless q is prime with q ≡ 1 (mod 2n) and n is a power of two ≥ 1.
pub fn primitive_root_2n(q: u64, n: usize) -> Result<u64, RingError> {
    let not_friendly = RingError::NotNttFriendly { q, n };
    if n == 0 || !n.is_power_of_two() || !is_prime(q) {
        return Err(not_friendly);
    }
    let two_n = 2 * n as u64;
    if !(q - 1).is_multiple_of(two_n) {
        return Err(not_friendly);
    }
    let s = (q - 1).trailing_zeros();
    let odd = (q - 1) >> s;
    let z = (2..q)
        .find(|&c| pow_mod(c, (q - 1) / 2, q) == q - 1)
        .ok_or(not_friendly)?;
    let mut root = q - 1;
    for _ in 0..n.trailing_zeros() {
        root = tonelli_shanks(root, q, odd, s, z);
    }
    debug_assert_eq!(pow_mod(root, n as u64, q), q - 1);
    Ok(root)
}

/// Square root of a quadratic residue `a` mod prime `q` (q − 1 = odd · 2^s, z a non-residue).
fn tonelli_shanks(a: u64, q: u64, odd: u64, s: u32, z: u64) -> u64 {
    let mut m = s;
    let mut c = pow_mod(z, odd, q);
    let mut t = pow_mod(a, odd, q);
    let mut r = pow_mod(a, odd.div_ceil(2), q);
    while t != 1 {
        // Least i in 1..m with t^(2^i) = 1; exists because a is a residue.
        let mut i = 0;
        let mut t_pow = t;
        while t_pow != 1 {
            t_pow = mul_mod(t_pow, t_pow, q);
            i += 1;
        }
        let b = pow_mod(c, 1u64 << (m - i - 1), q);
        m = i;
        c = mul_mod(b, b, q);
        t = mul_mod(t, c, q);
        r = mul_mod(r, b, q);
    }
    r
}

/// Convenience: [`ntt_primes`] wrapped as [`Modulus`] values.
pub fn ntt_moduli(bits: u32, count: usize, n: usize) -> Result<Vec<Modulus>, RingError> {
    ntt_primes(bits, count, n)?
        .into_iter()
        .map(Modulus::new)
        .collect()
}

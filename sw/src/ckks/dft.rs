//! The slot-domain matrices of bootstrapping's homomorphic DFTs, in diagonal form.
//!
//! Decoding n slots is the special FFT of [`super::Encoder`]: slot j of the polynomial with
//! coefficient pairs w_i = c_{i·gap} + i·c_{(i+n)·gap} is Σ_i w_i ζ_j^{i·gap}, ζ_j = ζ^{5^j}. As a
//! matrix it is D = B_{log n} ⋯ B_1 · P: a bit reversal P, then radix-2 butterfly stages B_t
//! (blocks of 2^t, half-width h = 2^{t−1}). Each B_t is a sum of three diagonals times slot
//! rotations by 0 and ±h, so a homomorphic DFT skips P and works in bit-reversed order (EvalMod
//! is slot-wise and does not care):
//!
//! * SlotToCoeff computes D·P = B_{log n} ⋯ B_1 (smallest half-width first),
//! * CoeffToSlot computes P·D^{−1} = B_1^{−1} ⋯ B_{log n}^{−1} (largest half-width first).
//!
//! A merged stage of b radix-2 stages at stride σ is their product: the diagonals k·σ with
//! |k| < 2^b, which is the shape the bootstrap expansion emits one `mul_plain` per diagonal
//! for. Offsets are kept as integers (k·σ and k·σ − n are the same rotation but different
//! diagonals of the expansion).

use std::collections::BTreeMap;

use num_complex::Complex64;

/// A slot-domain linear map on n-vectors as Σ_offset diag_offset ⊙ rotate(x, offset), where
/// rotate(x, r)[p] = x[(p + r) mod n] (the left rotation of the Galois keys).
pub type Diagonals = BTreeMap<i64, Vec<Complex64>>;

/// rotate(v, offset)[p] = v[(p + offset) mod n].
pub fn rotate(values: &[Complex64], offset: i64) -> Vec<Complex64> {
    let n = values.len() as i64;
    (0..n)
        .map(|p| values[(p + offset).rem_euclid(n) as usize])
        .collect()
}

/// Applies a diagonal-form map to `x` (the reference the tests check against).
pub fn apply(map: &Diagonals, x: &[Complex64]) -> Vec<Complex64> {
    let mut out = vec![Complex64::new(0.0, 0.0); x.len()];
    for (&offset, diagonal) in map {
        for ((o, d), r) in out.iter_mut().zip(diagonal).zip(rotate(x, offset)) {
            *o += d * r;
        }
    }
    out
}

/// The product `second · first` (apply `first`, then `second`) in diagonal form:
/// diag_k = Σ_{a+b=k} second_a ⊙ rotate(first_b, a).
fn compose(second: &Diagonals, first: &Diagonals) -> Diagonals {
    let mut out = Diagonals::new();
    for (&a, sa) in second {
        for (&b, fb) in first {
            let shifted = rotate(fb, a);
            let n = sa.len();
            let entry = out
                .entry(a + b)
                .or_insert_with(|| vec![Complex64::new(0.0, 0.0); n]);
            for ((e, x), y) in entry.iter_mut().zip(sa).zip(&shifted) {
                *e += x * y;
            }
        }
    }
    out
}

/// The twiddles W_j = e^{2πi·(5^j mod 4·len)/(4·len)}, j < len/2, of the butterfly stage with
/// blocks of `len` slots (the encoder's roots; they depend on n only through len).
fn twiddles(len: usize) -> Vec<Complex64> {
    let period = 4 * len;
    let mut power = 1usize;
    (0..len / 2)
        .map(|_| {
            let angle = 2.0 * std::f64::consts::PI * (power % period) as f64 / period as f64;
            power = power * 5 % period;
            Complex64::from_polar(1.0, angle)
        })
        .collect()
}

/// The twiddles W_j = e^{−2πi·j/len}, j < len/2, of a plain radix-2 DFT stage with blocks of
/// `len` slots (the roots that diagonalise circulant matrices, used by `nn::circulant`).
fn cyclic_twiddles(len: usize) -> Vec<Complex64> {
    (0..len / 2)
        .map(|j| Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * j as f64 / len as f64))
        .collect()
}

/// One radix-2 stage on n slots with half-width `half` and the twiddles `w` of its block
/// length 2·half: B_t (`inverse` = false) or B_t^{−1}.
///
/// B_t: out[p] = x[p] + W_j·x[p+h] in the low half of a block, x[p−h] − W_j·x[p] in the high
/// half. B_t^{−1}: (x[p] + x[p+h])/2 and (x[p−h] − x[p])·W̄_j/2.
fn butterfly(n: usize, half: usize, inverse: bool, w: &[Complex64]) -> Diagonals {
    let zero = Complex64::new(0.0, 0.0);
    let one = Complex64::new(1.0, 0.0);
    let (mut stay, mut up, mut down) = (vec![zero; n], vec![zero; n], vec![zero; n]);
    for p in 0..n {
        let j = p % (2 * half);
        if j < half {
            let (s, u) = if inverse {
                (one / 2.0, one / 2.0)
            } else {
                (one, w[j])
            };
            stay[p] = s;
            up[p] = u;
        } else {
            let wj = w[j - half];
            let (s, d) = if inverse {
                (-wj.conj() / 2.0, wj.conj() / 2.0)
            } else {
                (-wj, one)
            };
            stay[p] = s;
            down[p] = d;
        }
    }
    let h = half as i64;
    Diagonals::from([(0, stay), (h, up), (-h, down)])
}

/// The merged stage of `bits` radix-2 stages at half-widths stride·2^0 … stride·2^{bits−1} on
/// n = `slots` slots, times `factor`: SlotToCoeff's B_{top} ⋯ B_{bottom}, or with `inverse`
/// CoeffToSlot's B_{bottom}^{−1} ⋯ B_{top}^{−1}. Its offsets are k·stride, |k| < 2^bits.
pub fn merged_stage(
    slots: usize,
    bits: u32,
    stride: usize,
    inverse: bool,
    factor: f64,
) -> Diagonals {
    merged(slots, bits, stride, inverse, factor, twiddles)
}

/// [`merged_stage`] with the twiddles of each block length given by `roots`.
fn merged(
    slots: usize,
    bits: u32,
    stride: usize,
    inverse: bool,
    factor: f64,
    roots: fn(usize) -> Vec<Complex64>,
) -> Diagonals {
    let halves: Vec<usize> = (0..bits).map(|b| stride << b).collect();
    let mut map = Diagonals::from([(0, vec![Complex64::new(factor, 0.0); slots])]);
    // Forward: the smallest half-width is applied first; inverse: the largest.
    let order: Vec<usize> = if inverse {
        halves.into_iter().rev().collect()
    } else {
        halves
    };
    for half in order {
        map = compose(&butterfly(slots, half, inverse, &roots(2 * half)), &map);
    }
    map
}

/// The b-point DFT F[k][t] = e^{−2πi·kt/b} and its inverse as dense matrices (b a power of
/// two), from the same radix-2 stages as bootstrapping's transforms with plain DFT twiddles:
/// the forward stages map bit-reversed input to natural-order output (F·P), the inverse stages
/// map natural order to bit-reversed (P·F^{−1}).
pub fn cyclic_dft(b: usize) -> (Vec<Vec<Complex64>>, Vec<Vec<Complex64>>) {
    assert!(
        b.is_power_of_two(),
        "the radix-2 DFT needs a power-of-two size, got {b}"
    );
    let bits = b.trailing_zeros();
    let reversed = |i: usize| {
        if bits == 0 {
            0
        } else {
            i.reverse_bits() >> (usize::BITS - bits)
        }
    };
    let unit = |i: usize| {
        let mut e = vec![Complex64::new(0.0, 0.0); b];
        e[i] = Complex64::new(1.0, 0.0);
        e
    };
    let forward = merged(b, bits, 1, false, 1.0, cyclic_twiddles);
    let inverse = merged(b, bits, 1, true, 1.0, cyclic_twiddles);
    let mut dft = vec![vec![Complex64::new(0.0, 0.0); b]; b];
    let mut idft = dft.clone();
    for t in 0..b {
        // column t of F is F·P applied to e_{rev(t)}; column t of F^{−1} is row-permuted P·F^{−1}
        for (k, v) in apply(&forward, &unit(reversed(t))).into_iter().enumerate() {
            dft[k][t] = v;
        }
        for (k, v) in apply(&inverse, &unit(t)).into_iter().enumerate() {
            idft[reversed(k)][t] = v;
        }
    }
    (dft, idft)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::ckks::Encoder;

    fn bit_reversed(values: &[Complex64]) -> Vec<Complex64> {
        let n = values.len();
        let bits = n.trailing_zeros();
        (0..n)
            .map(|i| values[i.reverse_bits() >> (usize::BITS - bits)])
            .collect()
    }

    /// Merged stages of any split (here 3 + 2 + 2 bits, and 1 + 6) multiply out to the
    /// encoder's decoding (SlotToCoeff on bit-reversed coefficient pairs) and its inverse
    /// (CoeffToSlot back to bit-reversed pairs), for full and sparse slot counts. The
    /// encoder's O(n log n) FFT is the independent reference (itself tested against naive
    /// evaluation of the polynomial).
    #[test]
    fn merged_stages_are_the_encoder_transform() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for (ring_degree, split) in [
            (256usize, vec![3u32, 2, 2]),
            (512, vec![1, 6]),
            (64, vec![2, 1]),
        ] {
            let log_slots: u32 = split.iter().sum();
            let slots = 1usize << log_slots;
            let encoder = Encoder::new(ring_degree, slots).unwrap();
            let w: Vec<Complex64> = (0..slots)
                .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
                .collect();
            let gap = ring_degree / (2 * slots);
            let mut coeffs = vec![0.0; ring_degree];
            for (i, z) in w.iter().enumerate() {
                coeffs[i * gap] = z.re;
                coeffs[(i + slots) * gap] = z.im;
            }
            let decoded = encoder.decode(&coeffs, 1.0);
            let mut strides = Vec::new();
            let mut done = 0;
            for &b in &split {
                strides.push(1usize << done);
                done += b;
            }
            let mut x = bit_reversed(&w);
            for (&b, &s) in split.iter().zip(&strides) {
                let stage = merged_stage(slots, b, s, false, 1.0);
                assert!(
                    stage
                        .keys()
                        .all(|k| k % s as i64 == 0 && k.abs() < (s << b) as i64)
                );
                x = apply(&stage, &x);
            }
            let err = x
                .iter()
                .zip(&decoded)
                .map(|(a, b)| (a - b).norm())
                .fold(0.0, f64::max);
            assert!(err < 1e-9, "N = {ring_degree}: slot-to-coeff error {err}");
            let mut y = decoded;
            for (&b, &s) in split.iter().zip(&strides).rev() {
                y = apply(&merged_stage(slots, b, s, true, 2.0), &y);
            }
            let scale = 2f64.powi(split.len() as i32);
            let want = bit_reversed(&w);
            let err = y
                .iter()
                .zip(&want)
                .map(|(a, b)| (a / scale - b).norm())
                .fold(0.0, f64::max);
            assert!(err < 1e-9, "N = {ring_degree}: coeff-to-slot error {err}");
        }
    }

    /// The radix-2 stages with plain twiddles give the textbook DFT sum e^{−2πi·kt/b}
    /// (evaluated naively here) and its inverse.
    #[test]
    fn cyclic_dft_is_the_naive_dft() {
        for b in [1usize, 2, 4, 8, 16] {
            let (dft, idft) = cyclic_dft(b);
            for k in 0..b {
                for t in 0..b {
                    let angle = -2.0 * std::f64::consts::PI * (k * t) as f64 / b as f64;
                    let naive = Complex64::from_polar(1.0, angle);
                    assert!((dft[k][t] - naive).norm() < 1e-12, "b = {b}: F[{k}][{t}]");
                    assert!(
                        (idft[k][t] - naive.conj() / b as f64).norm() < 1e-12,
                        "b = {b}: F^-1[{k}][{t}]"
                    );
                }
            }
        }
    }
}

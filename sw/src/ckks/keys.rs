//! Secret, public, relinearisation and Galois keys, and encryption / decryption.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use num_complex::Complex64;

use super::{CkksError, Context, Sampler, SecretDistribution};
use hesim_traces::{Op, OpKind};

use crate::ring::GaloisPermutation;

/// An encoded message: one NTT-form polynomial at a level and scale.
#[derive(Clone, Debug)]
pub struct Plaintext {
    pub(crate) poly: Vec<u64>,
    pub(crate) level: usize,
    pub(crate) scale: f64,
}

impl Plaintext {
    /// Active limbs.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The scale Δ the slot values were multiplied by.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

/// A ciphertext: 2 polynomials (3 after a ct×ct multiply, before relinearisation) in NTT form.
#[derive(Clone, Debug)]
pub struct Ciphertext {
    pub(crate) polys: Vec<Vec<u64>>,
    pub(crate) level: usize,
    pub(crate) scale: f64,
}

impl Ciphertext {
    /// Active limbs.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The scale Δ of the encrypted slot values.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Number of polynomials (2, or 3 before relinearisation).
    pub fn size(&self) -> usize {
        self.polys.len()
    }
}

impl Context {
    /// Encodes complex slot values at `level` and `scale`.
    pub fn encode(
        &self,
        values: &[Complex64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext, CkksError> {
        if level == 0 || level > self.max_level() {
            return Err(CkksError::InvalidLevel {
                level,
                max: self.max_level(),
            });
        }
        let coeffs = self.encoder().encode(values, scale)?;
        let poly = self.coefficients_to_ntt(&coeffs, level, false)?;
        Ok(Plaintext { poly, level, scale })
    }

    /// Encodes real slot values at `level` and `scale`.
    pub fn encode_real(
        &self,
        values: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext, CkksError> {
        let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        self.encode(&complex, level, scale)
    }

    /// Decodes a plaintext into its slot values.
    pub fn decode(&self, pt: &Plaintext) -> Vec<Complex64> {
        self.decode_poly(&pt.poly, pt.level, pt.scale)
    }
}

/// The secret key s (uniform ternary), in NTT form over all of Q ∪ P.
#[derive(Clone, Debug)]
pub struct SecretKey {
    pub(crate) context: Arc<Context>,
    pub(crate) s: Vec<u64>,
    coeffs: Vec<i64>,
}

impl SecretKey {
    /// A fresh secret from the parameter set's distribution (uniform or sparse ternary).
    pub fn generate(context: &Arc<Context>, sampler: &mut Sampler) -> Self {
        let coeffs = match context.shape().secret {
            SecretDistribution::UniformTernary => sampler.ternary(context.n()),
            SecretDistribution::SparseTernary { hamming_weight } => {
                sampler.sparse_ternary(context.n(), hamming_weight)
            }
        };
        let limbs = context.limb_moduli(context.max_level(), true);
        let s = context.small_to_ntt(&coeffs, &limbs);
        Self {
            context: Arc::clone(context),
            s,
            coeffs,
        }
    }

    /// The parameter set this key belongs to.
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// s over the given global modulus indices.
    fn restricted(&self, limbs: &[usize]) -> Vec<u64> {
        let n = self.context.n();
        let mut out = Vec::with_capacity(limbs.len() * n);
        for &mi in limbs {
            // s is stored over q_0..q_{L-1}, p_0..: global index = storage index.
            out.extend_from_slice(&self.s[mi * n..(mi + 1) * n]);
        }
        out
    }

    /// An RLWE sample (b, a) = (−a·s + e, a) over `limbs`, NTT form.
    fn rlwe_zero(&self, limbs: &[usize], sampler: &mut Sampler) -> (Vec<u64>, Vec<u64>) {
        let ctx = &self.context;
        let n = ctx.n();
        let mut a = Vec::with_capacity(limbs.len() * n);
        for &mi in limbs {
            sampler.uniform_mod(ctx.modulus(mi).value(), n, &mut a);
        }
        let e = ctx.small_to_ntt(&sampler.gaussian(n), limbs);
        let s = self.restricted(limbs);
        let mut b = vec![0u64; a.len()];
        for (pos, &mi) in limbs.iter().enumerate() {
            let m = ctx.modulus(mi);
            let range = pos * n..(pos + 1) * n;
            for ((bv, &av), (&sv, &ev)) in b[range.clone()]
                .iter_mut()
                .zip(&a[range.clone()])
                .zip(s[range.clone()].iter().zip(&e[range]))
            {
                *bv = m.sub(ev, m.mul(av, sv));
            }
        }
        (b, a)
    }

    /// Secret-key encryption of `pt` (fresh noise: one Gaussian error).
    pub fn encrypt(&self, pt: &Plaintext, sampler: &mut Sampler) -> Ciphertext {
        let limbs = self.context.limb_moduli(pt.level, false);
        let (mut b, a) = self.rlwe_zero(&limbs, sampler);
        add_in_place(&self.context, &mut b, &pt.poly, pt.level);
        Ciphertext {
            polys: vec![b, a],
            level: pt.level,
            scale: pt.scale,
        }
    }

    /// Decrypts to the plaintext c_0 + c_1·s (+ c_2·s²).
    pub fn decrypt(&self, ct: &Ciphertext) -> Plaintext {
        let ctx = &self.context;
        let n = ctx.n();
        let s_level = &self.s[..ct.level * n];
        // c_0 + c_1·s in one pass over the three inputs, written straight into the output.
        let mut acc = Vec::with_capacity(ct.level * n);
        for ((c0, c1), (s, m)) in ct.polys[0]
            .chunks_exact(n)
            .zip(ct.polys[1].chunks_exact(n))
            .zip(
                s_level
                    .chunks_exact(n)
                    .zip((0..ct.level).map(|i| ctx.modulus(i))),
            )
        {
            acc.extend(
                c0.iter()
                    .zip(c1)
                    .zip(s)
                    .map(|((&x0, &x1), &si)| m.add(x0, m.mul(x1, si))),
            );
        }
        if let Some(c2) = ct.polys.get(2) {
            let s2 = mul_polys(ctx, s_level, s_level, ct.level);
            mul_add_in_place(ctx, &mut acc, c2, &s2, ct.level);
        }
        Plaintext {
            poly: acc,
            level: ct.level,
            scale: ct.scale,
        }
    }

    /// Decrypts and decodes.
    pub fn decrypt_decode(&self, ct: &Ciphertext) -> Vec<Complex64> {
        self.context.decode(&self.decrypt(ct))
    }

    /// A key-switching key from s' (NTT form over Q ∪ P) to s for ciphertexts of up to
    /// `max_level` limbs: per digit j, (b_j, a_j) = (−a_j·s + e_j + P·[s']_{D_j}, a_j) over
    /// q_0..q_{max_level−1} and P, where the gadget term P·s' lives only in the limbs of digit j
    /// (the CRT gadget Q̂_j·[Q̂_j^{-1}]_{D_j} is 1 there and 0 elsewhere). The limbs above
    /// `max_level` and the digits wholly above it are never used at lower levels, so a key for
    /// rotations that only happen low in the chain is a fraction of a full one.
    fn switching_key(
        &self,
        s_prime: &[u64],
        max_level: usize,
        sampler: &mut Sampler,
    ) -> SwitchingKey {
        let ctx = &self.context;
        let n = ctx.n();
        let big_l = ctx.max_level();
        let max_level = max_level.clamp(1, big_l);
        let limbs = ctx.limb_moduli(max_level, true);
        let alpha = ctx.shape().alpha();
        let digits = (0..max_level)
            .step_by(alpha)
            .map(|start| {
                let (mut b, a) = self.rlwe_zero(&limbs, sampler);
                // limbs below max_level sit at their own index
                for i in start..(start + alpha).min(max_level) {
                    let m = ctx.modulus(i);
                    let p_mod = (big_l..big_l + ctx.special_count())
                        .fold(1, |acc, j| m.mul(acc, m.reduce(ctx.modulus(j).value())));
                    let p_shoup = m.shoup(p_mod);
                    for (bv, &sv) in b[i * n..(i + 1) * n]
                        .iter_mut()
                        .zip(&s_prime[i * n..(i + 1) * n])
                    {
                        *bv = m.add(*bv, m.mul_shoup(sv, p_mod, p_shoup));
                    }
                }
                (b, a)
            })
            .collect();
        SwitchingKey {
            digits,
            max_level,
            chain_limbs: big_l,
        }
    }

    /// s under the automorphism X ↦ X^g, NTT form over Q ∪ P.
    fn automorphed(&self, galois_element: usize) -> Vec<u64> {
        let ctx = &self.context;
        let perm = ctx.galois_permutation(galois_element);
        permute_limbs(&self.s, &perm, ctx.n())
    }

    /// Coefficients of s (tests compare against them).
    pub fn coefficients(&self) -> &[i64] {
        &self.coeffs
    }
}

/// Hybrid key-switching key: one RLWE pair per digit over q_0..q_{max_level−1} ∪ P (NTT form,
/// max_level + k limbs), for ciphertexts of up to `max_level` limbs.
#[derive(Clone, Debug)]
pub struct SwitchingKey {
    pub(crate) digits: Vec<(Vec<u64>, Vec<u64>)>,
    /// The highest ciphertext level the key serves.
    pub(crate) max_level: usize,
    /// L, the chain's ciphertext limbs (special prime p_j has global index L + j).
    chain_limbs: usize,
}

impl SwitchingKey {
    /// Bytes held (8 per residue).
    pub fn bytes(&self) -> usize {
        self.digits
            .iter()
            .map(|(b, a)| 8 * (b.len() + a.len()))
            .sum()
    }

    /// Where limb `modulus` (global index: q_i = i, p_j = L + j) sits in a digit's polynomials.
    pub(crate) fn limb_position(&self, modulus: usize) -> usize {
        if modulus < self.chain_limbs {
            modulus
        } else {
            self.max_level + modulus - self.chain_limbs
        }
    }
}

/// Encryption key: an RLWE sample of zero over Q ∪ P.
#[derive(Clone, Debug)]
pub struct PublicKey {
    pub(crate) context: Arc<Context>,
    b: Vec<u64>,
    a: Vec<u64>,
}

impl PublicKey {
    pub fn generate(sk: &SecretKey, sampler: &mut Sampler) -> Self {
        let ctx = &sk.context;
        let limbs = ctx.limb_moduli(ctx.max_level(), true);
        let (b, a) = sk.rlwe_zero(&limbs, sampler);
        Self {
            context: Arc::clone(ctx),
            b,
            a,
        }
    }

    /// Public-key encryption at the plaintext's level: (v·b + e_0, v·a + e_1) over Q_ℓ ∪ P, then
    /// divided by P (ModDown) so that only rounding noise remains, then + m.
    pub fn encrypt(&self, pt: &Plaintext, sampler: &mut Sampler) -> Ciphertext {
        let ctx = &self.context;
        let n = ctx.n();
        let level = pt.level;
        let limbs = ctx.limb_moduli(level, true);
        let v = ctx.small_to_ntt(&sampler.ternary(n), &limbs);
        let mut polys = Vec::with_capacity(2);
        for key in [&self.b, &self.a] {
            let e = ctx.small_to_ntt(&sampler.gaussian(n), &limbs);
            let mut ext = vec![0u64; limbs.len() * n];
            for (pos, &mi) in limbs.iter().enumerate() {
                let m = ctx.modulus(mi);
                let key_limb = &key[mi * n..(mi + 1) * n];
                let range = pos * n..(pos + 1) * n;
                for ((o, &kv), (&vv, &ev)) in ext[range.clone()]
                    .iter_mut()
                    .zip(key_limb)
                    .zip(v[range.clone()].iter().zip(&e[range]))
                {
                    *o = m.add(m.mul(kv, vv), ev);
                }
            }
            polys.push(ctx.mod_down(ext, level));
        }
        add_in_place(ctx, &mut polys[0], &pt.poly, level);
        Ciphertext {
            polys,
            level,
            scale: pt.scale,
        }
    }
}

/// The relinearisation key (switches s² to s).
#[derive(Clone, Debug)]
pub struct RelinKey {
    pub(crate) key: SwitchingKey,
}

impl RelinKey {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.key.bytes()
    }

    pub fn generate(sk: &SecretKey, sampler: &mut Sampler) -> Self {
        let ctx = &sk.context;
        let n = ctx.n();
        let limbs = ctx.limb_moduli(ctx.max_level(), true);
        let mut s2 = vec![0u64; sk.s.len()];
        for (pos, &mi) in limbs.iter().enumerate() {
            let m = ctx.modulus(mi);
            let range = pos * n..(pos + 1) * n;
            for (o, &s) in s2[range.clone()].iter_mut().zip(&sk.s[range]) {
                *o = m.mul(s, s);
            }
        }
        Self {
            key: sk.switching_key(&s2, ctx.max_level(), sampler),
        }
    }
}

/// A Galois key with its NTT-domain permutation.
#[derive(Clone, Debug)]
pub(crate) struct GaloisKey {
    pub(crate) key: SwitchingKey,
    pub(crate) permutation: GaloisPermutation,
}

/// Galois keys for the rotation steps (and conjugation) a program needs, by Galois element.
#[derive(Clone, Debug, Default)]
pub struct GaloisKeys {
    pub(crate) keys: HashMap<usize, GaloisKey>,
}

impl GaloisKeys {
    /// Keys for the left rotations by `steps` (taken mod slots; 0 needs none) and, if
    /// `conjugate`, for complex conjugation. Randomness from the OS.
    pub fn for_steps(sk: &SecretKey, steps: &[i64], conjugate: bool) -> Self {
        Self::for_steps_with(sk, steps, conjugate, &mut Sampler::from_os())
    }

    /// Like [`GaloisKeys::for_steps`] with a given sampler.
    pub fn for_steps_with(
        sk: &SecretKey,
        steps: &[i64],
        conjugate: bool,
        sampler: &mut Sampler,
    ) -> Self {
        let ctx = &sk.context;
        let top = ctx.max_level();
        let mut elements: Vec<(usize, usize)> = steps
            .iter()
            .filter(|&&s| s.rem_euclid(ctx.slots() as i64) != 0)
            .map(|&s| (ctx.rotation_element(s), top))
            .collect();
        if conjugate {
            elements.push((ctx.conjugation_element(), top));
        }
        Self::for_elements(sk, elements, sampler)
    }

    /// Keys for Galois elements, each for ciphertexts of up to the level given with it (the
    /// highest level wins for an element listed twice).
    fn for_elements(
        sk: &SecretKey,
        elements: impl IntoIterator<Item = (usize, usize)>,
        sampler: &mut Sampler,
    ) -> Self {
        let mut levels: BTreeMap<usize, usize> = BTreeMap::new();
        for (g, level) in elements {
            let max = levels.entry(g).or_insert(level);
            *max = (*max).max(level);
        }
        let ctx = &sk.context;
        let keys = levels
            .into_iter()
            .map(|(g, level)| {
                let s_g = sk.automorphed(g);
                let key = sk.switching_key(&s_g, level, sampler);
                (
                    g,
                    GaloisKey {
                        key,
                        permutation: ctx.galois_permutation(g),
                    },
                )
            })
            .collect();
        Self { keys }
    }

    /// Keys for exactly the rotations and conjugations `ops` perform, each sized for the
    /// highest level it is used at (generated on demand from the program: a bootstrap at
    /// N = 2^16 needs a few dozen of the N/2 possible steps, and a full-chain key is ~100 MB;
    /// a network's rotations low in the chain need a fraction of that).
    pub fn for_ops<'a>(
        sk: &SecretKey,
        ops: impl IntoIterator<Item = &'a Op>,
        sampler: &mut Sampler,
    ) -> Self {
        let ctx = &sk.context;
        let slots = ctx.slots() as i64;
        let mut elements = Vec::new();
        for op in ops {
            let level = op.level as usize;
            match op.kind {
                OpKind::Rotate { step, .. } if i64::from(step).rem_euclid(slots) != 0 => {
                    elements.push((ctx.rotation_element(i64::from(step)), level));
                }
                OpKind::Conjugate { .. } => elements.push((ctx.conjugation_element(), level)),
                _ => {}
            }
        }
        Self::for_elements(sk, elements, sampler)
    }

    /// Bytes held by all keys.
    pub fn bytes(&self) -> usize {
        self.keys.values().map(|k| k.key.bytes()).sum()
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Applies an NTT-domain permutation to every limb.
pub(crate) fn permute_limbs(poly: &[u64], perm: &GaloisPermutation, n: usize) -> Vec<u64> {
    let mut out = vec![0u64; poly.len()];
    for (dst, src) in out.chunks_exact_mut(n).zip(poly.chunks_exact(n)) {
        perm.apply(src, dst);
    }
    out
}

/// a += b over the first `level` limbs (NTT or coefficient form alike).
pub(crate) fn add_in_place(ctx: &Context, a: &mut [u64], b: &[u64], level: usize) {
    let n = ctx.n();
    for i in 0..level {
        let m = ctx.modulus(i);
        for (x, &y) in a[i * n..(i + 1) * n].iter_mut().zip(&b[i * n..(i + 1) * n]) {
            *x = m.add(*x, y);
        }
    }
}

/// acc += a · b (NTT form) over the first `level` limbs, in one pass.
fn mul_add_in_place(ctx: &Context, acc: &mut [u64], a: &[u64], b: &[u64], level: usize) {
    let n = ctx.n();
    for (((o, x), y), i) in acc
        .chunks_exact_mut(n)
        .zip(a.chunks_exact(n))
        .zip(b.chunks_exact(n))
        .zip(0..level)
    {
        let m = ctx.modulus(i);
        for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
            *o = m.add(*o, m.mul(x, y));
        }
    }
}

/// a · b (NTT form) over the first `level` limbs.
pub(crate) fn mul_polys(ctx: &Context, a: &[u64], b: &[u64], level: usize) -> Vec<u64> {
    let n = ctx.n();
    let mut out = vec![0u64; level * n];
    for i in 0..level {
        let m = ctx.modulus(i);
        let range = i * n..(i + 1) * n;
        for ((o, &x), &y) in out[range.clone()]
            .iter_mut()
            .zip(&a[range.clone()])
            .zip(&b[range])
        {
            *o = m.mul(x, y);
        }
    }
    out
}

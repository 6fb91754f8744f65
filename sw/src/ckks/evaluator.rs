//! Homomorphic operations: add/sub, plaintext and constant operands, ct×ct multiply with
//! relinearisation, rescale, level drop, rotations (single and hoisted) and conjugation.

use std::sync::Arc;

use super::keys::{GaloisKeys, RelinKey, SwitchingKey, add_in_place, permute_limbs};
use super::{Ciphertext, CkksError, Context, Plaintext};
use crate::ring::GaloisPermutation;

/// Two scales are the same if they agree to 2^-40 relative (they are computed identically
/// along identical paths; anything looser would hide a real mismatch).
fn same_scale(a: f64, b: f64) -> bool {
    (a - b).abs() <= a.abs().max(b.abs()) * 2f64.powi(-40)
}

/// One Galois automorphism of a hoisted batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Automorphism {
    /// Left rotation by this many slots.
    Rotate(i64),
    /// Complex conjugation.
    Conjugate,
}

/// Evaluates operations with the keys it was given (relinearisation and Galois keys), which
/// several evaluators may share.
#[derive(Debug)]
pub struct Evaluator {
    context: Arc<Context>,
    relin: Option<Arc<RelinKey>>,
    galois: Arc<GaloisKeys>,
}

impl Evaluator {
    pub fn new(context: Arc<Context>, relin: Option<RelinKey>, galois: GaloisKeys) -> Self {
        Self::sharing(context, relin.map(Arc::new), Arc::new(galois))
    }

    /// An evaluator over keys held elsewhere too (a program and its bootstraps share one set).
    pub fn sharing(
        context: Arc<Context>,
        relin: Option<Arc<RelinKey>>,
        galois: Arc<GaloisKeys>,
    ) -> Self {
        Self {
            context,
            relin,
            galois,
        }
    }

    /// The parameter set.
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// Number of Galois keys held.
    pub fn galois_key_count(&self) -> usize {
        self.galois.len()
    }

    fn check_level(op: &'static str, left: usize, right: usize) -> Result<(), CkksError> {
        if left == right {
            Ok(())
        } else {
            Err(CkksError::LevelMismatch { op, left, right })
        }
    }

    fn check_scale(op: &'static str, left: f64, right: f64) -> Result<(), CkksError> {
        if same_scale(left, right) {
            Ok(())
        } else {
            Err(CkksError::ScaleMismatch {
                op,
                left_log2: left.log2(),
                right_log2: right.log2(),
            })
        }
    }

    fn check_size(op: &'static str, ct: &Ciphertext, expected: usize) -> Result<(), CkksError> {
        if ct.size() == expected {
            Ok(())
        } else {
            Err(CkksError::CiphertextSize {
                op,
                expected,
                found: ct.size(),
            })
        }
    }

    /// a + b.
    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.add_assign(&mut out, b)?;
        Ok(out)
    }

    /// a += b (same level and scale; sizes may differ).
    pub fn add_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<(), CkksError> {
        self.combine("add", a, b, false)
    }

    /// a − b.
    pub fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.combine("sub", &mut out, b, true)?;
        Ok(out)
    }

    /// a −= b.
    pub fn sub_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<(), CkksError> {
        self.combine("sub", a, b, true)
    }

    fn combine(
        &self,
        op: &'static str,
        a: &mut Ciphertext,
        b: &Ciphertext,
        negate: bool,
    ) -> Result<(), CkksError> {
        Self::check_level(op, a.level, b.level)?;
        Self::check_scale(op, a.scale, b.scale)?;
        let n = self.context.n();
        while a.polys.len() < b.polys.len() {
            a.polys.push(vec![0; a.level * n]);
        }
        for (x, y) in a.polys.iter_mut().zip(&b.polys) {
            for i in 0..a.level {
                let m = self.context.modulus(i);
                let (xs, ys) = (&mut x[i * n..(i + 1) * n], &y[i * n..(i + 1) * n]);
                if negate {
                    for (u, &v) in xs.iter_mut().zip(ys) {
                        *u = m.sub(*u, v);
                    }
                } else {
                    for (u, &v) in xs.iter_mut().zip(ys) {
                        *u = m.add(*u, v);
                    }
                }
            }
        }
        Ok(())
    }

    /// a + pt (same level and scale).
    pub fn add_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.add_plain_assign(&mut out, pt)?;
        Ok(out)
    }

    /// a += pt.
    pub fn add_plain_assign(&self, a: &mut Ciphertext, pt: &Plaintext) -> Result<(), CkksError> {
        Self::check_level("add_plain", a.level, pt.level)?;
        Self::check_scale("add_plain", a.scale, pt.scale)?;
        add_in_place(&self.context, &mut a.polys[0], &pt.poly, a.level);
        Ok(())
    }

    /// a × pt (same level); the scales multiply, so a rescale usually follows.
    pub fn mul_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.mul_plain_assign(&mut out, pt)?;
        Ok(out)
    }

    /// a ×= pt.
    pub fn mul_plain_assign(&self, a: &mut Ciphertext, pt: &Plaintext) -> Result<(), CkksError> {
        Self::check_level("mul_plain", a.level, pt.level)?;
        let n = self.context.n();
        // Limb by limb, every polynomial of the ciphertext against the plaintext's limb (read
        // once per block).
        let mut limbs: Vec<_> = a.polys.iter_mut().map(|p| p.chunks_mut(n)).collect();
        for (i, y) in pt.poly.chunks(n).take(a.level).enumerate() {
            let mut targets: Vec<&mut [u64]> = limbs
                .iter_mut()
                .map(|l| l.next().expect("a ciphertext polynomial has `level` limbs"))
                .collect();
            self.context.modulus(i).mul_assign_slices(&mut targets, y);
        }
        a.scale *= pt.scale;
        Ok(())
    }

    /// Residues of round(value) in each of the first `level` limbs.
    fn integer_residues(&self, value: f64, level: usize) -> Result<Vec<u64>, CkksError> {
        let rounded = value.round();
        if !rounded.is_finite() || rounded.abs() >= 2f64.powi(126) {
            return Err(CkksError::EncodingOverflow {
                magnitude: rounded.abs(),
            });
        }
        let integer = rounded as i128;
        Ok((0..level)
            .map(|i| integer.rem_euclid(i128::from(self.context.modulus(i).value())) as u64)
            .collect())
    }

    /// a + c in every slot (c encoded at a's scale).
    pub fn add_const(&self, a: &Ciphertext, c: f64) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.add_const_assign(&mut out, c)?;
        Ok(out)
    }

    /// a += c in every slot.
    pub fn add_const_assign(&self, a: &mut Ciphertext, c: f64) -> Result<(), CkksError> {
        let residues = self.integer_residues(c * a.scale, a.level)?;
        let n = self.context.n();
        for (i, &r) in residues.iter().enumerate() {
            let m = self.context.modulus(i);
            // A constant polynomial is the same value at every NTT evaluation point.
            for x in &mut a.polys[0][i * n..(i + 1) * n] {
                *x = m.add(*x, r);
            }
        }
        Ok(())
    }

    /// a × c in every slot, with c encoded as the integer round(c · `const_scale`); the result's
    /// scale is a's scale × `const_scale`.
    pub fn mul_const(
        &self,
        a: &Ciphertext,
        c: f64,
        const_scale: f64,
    ) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.mul_const_assign(&mut out, c, const_scale)?;
        Ok(out)
    }

    /// a ×= c (see [`Evaluator::mul_const`]).
    pub fn mul_const_assign(
        &self,
        a: &mut Ciphertext,
        c: f64,
        const_scale: f64,
    ) -> Result<(), CkksError> {
        let residues = self.integer_residues(c * const_scale, a.level)?;
        self.mul_integer_assign(a, &residues);
        a.scale *= const_scale;
        Ok(())
    }

    fn mul_integer_assign(&self, a: &mut Ciphertext, residues: &[u64]) {
        let n = self.context.n();
        for poly in &mut a.polys {
            for (i, &r) in residues.iter().enumerate() {
                let m = self.context.modulus(i);
                let r_shoup = m.shoup(r);
                for x in &mut poly[i * n..(i + 1) * n] {
                    *x = m.mul_shoup(*x, r, r_shoup);
                }
            }
        }
    }

    /// a × b without relinearisation: a 3-polynomial ciphertext at scale Δ_a·Δ_b.
    pub fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, CkksError> {
        Self::check_level("mul", a.level, b.level)?;
        Self::check_size("mul", a, 2)?;
        Self::check_size("mul", b, 2)?;
        let n = self.context.n();
        let level = a.level;
        let mut d0 = vec![0u64; level * n];
        let mut d1 = vec![0u64; level * n];
        let mut d2 = vec![0u64; level * n];
        let (a0, a1, b0, b1) = (&a.polys[0], &a.polys[1], &b.polys[0], &b.polys[1]);
        for i in 0..level {
            let m = self.context.modulus(i);
            let r = i * n..(i + 1) * n;
            for c in r {
                let (x0, x1, y0, y1) = (a0[c], a1[c], b0[c], b1[c]);
                d0[c] = m.mul(x0, y0);
                d1[c] = m
                    .reduce_u128(u128::from(x0) * u128::from(y1) + u128::from(x1) * u128::from(y0));
                d2[c] = m.mul(x1, y1);
            }
        }
        Ok(Ciphertext {
            polys: vec![d0, d1, d2],
            level,
            scale: a.scale * b.scale,
        })
    }

    /// Relinearises a 3-polynomial ciphertext back to 2 polynomials (key switch of c_2 from s²).
    pub fn relinearize(&self, a: &Ciphertext) -> Result<Ciphertext, CkksError> {
        Self::check_size("relinearize", a, 3)?;
        let key = self.relin.as_ref().ok_or(CkksError::MissingRelinKey)?;
        let digits = self.context.mod_up(&a.polys[2], a.level);
        let [k0, k1] = self.switch(&digits, a.level, &key.key, None);
        let mut c0 = a.polys[0].clone();
        let mut c1 = a.polys[1].clone();
        add_in_place(&self.context, &mut c0, &k0, a.level);
        add_in_place(&self.context, &mut c1, &k1, a.level);
        Ok(Ciphertext {
            polys: vec![c0, c1],
            level: a.level,
            scale: a.scale,
        })
    }

    /// a × b followed by relinearisation.
    pub fn mul_relin(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, CkksError> {
        self.relinearize(&self.mul(a, b)?)
    }

    /// Divides by the last prime q_{ℓ−1} (rounding): one limb fewer, scale / q_{ℓ−1}.
    pub fn rescale(&self, a: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.rescale_assign(&mut out)?;
        Ok(out)
    }

    /// In-place [`Evaluator::rescale`].
    pub fn rescale_assign(&self, a: &mut Ciphertext) -> Result<(), CkksError> {
        if a.level < 2 {
            return Err(CkksError::OutOfLevels {
                op: "rescale",
                level: a.level,
            });
        }
        let dropped = self.context.modulus(a.level - 1).value() as f64;
        for poly in &mut a.polys {
            self.context.rescale_poly(poly, a.level);
        }
        a.level -= 1;
        a.scale /= dropped;
        Ok(())
    }

    /// Drops limbs down to `level` without dividing (the scale is unchanged).
    pub fn drop_to_level(&self, a: &Ciphertext, level: usize) -> Result<Ciphertext, CkksError> {
        if level > a.level {
            return Err(CkksError::LevelTooHigh {
                from: a.level,
                to: level,
            });
        }
        if level == 0 {
            return Err(CkksError::OutOfLevels {
                op: "level_down",
                level: a.level,
            });
        }
        let n = self.context.n();
        let polys = a.polys.iter().map(|p| p[..level * n].to_vec()).collect();
        Ok(Ciphertext {
            polys,
            level,
            scale: a.scale,
        })
    }

    /// Brings `a` down to `level`. A ciphertext on the canonical scale of its level lands on the
    /// canonical scale of the target level (drop to level + 1, multiply by the integer
    /// round(Δ_target · q_level / Δ), rescale; relative scale error ≤ 2^-30), so it can be added
    /// to values computed along other paths; any other ciphertext only loses limbs.
    pub fn level_down(&self, a: &Ciphertext, level: usize) -> Result<Ciphertext, CkksError> {
        if level == a.level {
            return Ok(a.clone());
        }
        let on_schedule = same_scale(a.scale, self.context.scale_at(a.level));
        if !on_schedule || level == 0 || level > a.level {
            return self.drop_to_level(a, level);
        }
        let mut out = self.drop_to_level(a, level + 1)?;
        let target = self.context.scale_at(level);
        let prime = self.context.modulus(level).value() as f64;
        let factor = (target * prime / a.scale).round();
        let residues = self.integer_residues(factor, level + 1)?;
        self.mul_integer_assign(&mut out, &residues);
        self.rescale_assign(&mut out)?;
        out.scale = target;
        Ok(out)
    }

    /// ModRaise, the first step of bootstrapping: `a` (any level; only its q_0 limb is used) is
    /// reinterpreted modulo q_0 … q_{level−1}. The result decrypts to m + q_0·I with a small
    /// integer polynomial I (|I| ≲ √h for a secret of Hamming weight h). It is labelled with
    /// the canonical scale of `level`, so that the plaintext matrices of CoeffToSlot (which
    /// account for the true scale) keep the computation on the canonical schedule.
    pub fn mod_raise(&self, a: &Ciphertext, level: usize) -> Result<Ciphertext, CkksError> {
        Self::check_size("mod_raise", a, 2)?;
        if level == 0 || level > self.context.max_level() {
            return Err(CkksError::InvalidLevel {
                level,
                max: self.context.max_level(),
            });
        }
        if level < a.level {
            return Err(CkksError::ModRaiseDown {
                from: a.level,
                to: level,
            });
        }
        let polys = a
            .polys
            .iter()
            .map(|p| self.context.mod_raise_poly(p, level))
            .collect();
        Ok(Ciphertext {
            polys,
            level,
            scale: self.context.scale_at(level),
        })
    }

    /// Multiplies every slot by i^`power` (the monomial X^(power·N/2): exact, no level).
    pub fn mul_imaginary_unit_assign(&self, a: &mut Ciphertext, power: u32) {
        for poly in &mut a.polys {
            self.context.mul_imaginary_unit(poly, a.level, power);
        }
    }

    /// Left rotation of the slots by `step` (negative = right).
    pub fn rotate(&self, a: &Ciphertext, step: i64) -> Result<Ciphertext, CkksError> {
        Ok(self.rotate_hoisted(a, &[step])?.remove(0))
    }

    /// Complex conjugation of every slot.
    pub fn conjugate(&self, a: &Ciphertext) -> Result<Ciphertext, CkksError> {
        Ok(self.automorphisms(a, &[Automorphism::Conjugate])?.remove(0))
    }

    /// Rotations of one ciphertext by several steps sharing one ModUp (hoisting): the digit
    /// decomposition of c_1 is computed once and permuted per rotation.
    pub fn rotate_hoisted(
        &self,
        a: &Ciphertext,
        steps: &[i64],
    ) -> Result<Vec<Ciphertext>, CkksError> {
        let kinds: Vec<Automorphism> = steps.iter().map(|&s| Automorphism::Rotate(s)).collect();
        self.automorphisms(a, &kinds)
    }

    /// Rotations and conjugations of one ciphertext sharing one ModUp.
    pub fn automorphisms(
        &self,
        a: &Ciphertext,
        kinds: &[Automorphism],
    ) -> Result<Vec<Ciphertext>, CkksError> {
        let slots = self.context.slots();
        let mut elements = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let g = match *kind {
                Automorphism::Rotate(step) => {
                    let g = self.context.rotation_element(step);
                    if g != 1 && !self.galois.keys.contains_key(&g) {
                        return Err(CkksError::MissingRotationKey { step, slots });
                    }
                    g
                }
                Automorphism::Conjugate => {
                    let g = self.context.conjugation_element();
                    if !self.galois.keys.contains_key(&g) {
                        return Err(CkksError::MissingConjugationKey);
                    }
                    g
                }
            };
            if let Some(key) = self.galois.keys.get(&g)
                && key.key.max_level < a.level
            {
                return Err(CkksError::KeyLevel {
                    automorphism: match *kind {
                        Automorphism::Rotate(step) => format!("rotation by {step}"),
                        Automorphism::Conjugate => "conjugation".into(),
                    },
                    level: a.level,
                    key_level: key.key.max_level,
                });
            }
            elements.push(g);
        }
        self.automorphisms_hoisted(a, &elements)
    }

    /// Applies the automorphisms X ↦ X^g for each g (1 = identity) with one shared ModUp.
    fn automorphisms_hoisted(
        &self,
        a: &Ciphertext,
        elements: &[usize],
    ) -> Result<Vec<Ciphertext>, CkksError> {
        Self::check_size("rotate", a, 2)?;
        let n = self.context.n();
        let needs_switch = elements.iter().any(|&g| g != 1);
        let digits = if needs_switch {
            self.context.mod_up(&a.polys[1], a.level)
        } else {
            Vec::new()
        };
        Ok(elements
            .iter()
            .map(|&g| {
                if g == 1 {
                    return a.clone();
                }
                let key = &self.galois.keys[&g];
                let perm = &key.permutation;
                let [k0, k1] = self.switch(&digits, a.level, &key.key, Some(perm));
                let mut c0 = permute_limbs(&a.polys[0], perm, n);
                add_in_place(&self.context, &mut c0, &k0, a.level);
                Ciphertext {
                    polys: vec![c0, k1],
                    level: a.level,
                    scale: a.scale,
                }
            })
            .collect())
    }

    /// Inner product of the ModUp digits (optionally permuted in the NTT domain) with a
    /// switching key, then ModDown of both halves.
    fn switch(
        &self,
        digits: &[Vec<u64>],
        level: usize,
        key: &SwitchingKey,
        perm: Option<&GaloisPermutation>,
    ) -> [Vec<u64>; 2] {
        let ctx = &self.context;
        let n = ctx.n();
        let limbs = ctx.limb_moduli(level, true);
        let mut out = [vec![0u64; limbs.len() * n], vec![0u64; limbs.len() * n]];
        // Coefficient blocks small enough that both accumulators stay in L1.
        const BLOCK: usize = 256;
        let block = BLOCK.min(n);
        let mut acc0 = vec![0u128; block];
        let mut acc1 = vec![0u128; block];
        let [out0, out1] = &mut out;
        for (pos, ((o0, o1), &mi)) in out0
            .chunks_exact_mut(n)
            .zip(out1.chunks_exact_mut(n))
            .zip(&limbs)
            .enumerate()
        {
            let m = ctx.modulus(mi);
            for start in (0..n).step_by(block) {
                let range = start..start + block;
                acc0.fill(0);
                acc1.fill(0);
                // Products are < 2^122, so up to 63 digits (params check) accumulate in a u128.
                for (digit, (b, a)) in digits.iter().zip(&key.digits) {
                    let d = &digit[pos * n..(pos + 1) * n];
                    let at = key.limb_position(mi) * n;
                    let kb = &b[at..at + n][range.clone()];
                    let ka = &a[at..at + n][range.clone()];
                    let lanes = acc0.iter_mut().zip(acc1.iter_mut()).zip(kb.iter().zip(ka));
                    match perm {
                        Some(p) => {
                            for (((s0, s1), (&vb, &va)), &src) in lanes.zip(&p.map()[range.clone()])
                            {
                                let x = u128::from(d[src as usize]);
                                *s0 += x * u128::from(vb);
                                *s1 += x * u128::from(va);
                            }
                        }
                        None => {
                            for (((s0, s1), (&vb, &va)), &x) in lanes.zip(&d[range.clone()]) {
                                let x = u128::from(x);
                                *s0 += x * u128::from(vb);
                                *s1 += x * u128::from(va);
                            }
                        }
                    }
                }
                for ((x0, x1), (&s0, &s1)) in o0[range.clone()]
                    .iter_mut()
                    .zip(o1[range].iter_mut())
                    .zip(acc0.iter().zip(&acc1))
                {
                    *x0 = m.reduce_u128(s0);
                    *x1 = m.reduce_u128(s1);
                }
            }
        }
        let [out0, out1] = out;
        [ctx.mod_down(out0, level), ctx.mod_down(out1, level)]
    }
}

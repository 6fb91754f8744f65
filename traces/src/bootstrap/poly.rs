//! Baby-step giant-step polynomial evaluation on ciphertexts (Han–Ki / Bossuat et al. style,
//! a Paterson–Stockmeyer variant with depth-optimal giant steps), in the power or Chebyshev
//! basis. Used for EvalMod's Chebyshev approximation and for the CNN's polynomial activations.
//!
//! For degree d, let m = ⌈log2(d+1)⌉ and g = 2^⌈m/2⌉. Baby steps are B_1..B_{g−1}, giant steps
//! B_g, B_2g, B_4g, ... (B = x^i or T_i, each at depth ⌈log2 i⌉). The polynomial is split
//! recursively as p = q·B_G + r with G = g·2^k the largest giant ≤ deg p (exact division in
//! either basis); leaves of degree < g are Σ c_t·B_t (scalar multiplies, one rescale). The
//! depth is at most m + 1, exactly m + 1 when d + 1 is a power of two and d ≥ 7 (the "+1" is
//! the leaves' scalar multiply).

use std::collections::HashMap;

use super::emit::{Ct, Emitter};

/// The basis the coefficients are given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// p(x) = Σ c_i x^i.
    Power,
    /// p(x) = Σ c_i T_i(x) (Chebyshev polynomials of the first kind).
    Chebyshev,
}

/// A sub-polynomial's value: a ciphertext, or a constant when it has degree 0.
#[derive(Clone, Copy, Debug)]
enum Val {
    Ct(Ct),
    Const(f64),
}

struct PolyEval<'a> {
    e: &'a mut Emitter,
    basis: Basis,
    g: usize,
    powers: HashMap<usize, Ct>,
}

fn degree(p: &[f64]) -> usize {
    p.iter().rposition(|&c| c != 0.0).unwrap_or(0)
}

impl PolyEval<'_> {
    /// B_i, computed on first use: B_2a = B_a² (T_2a = 2T_a² − 1), B_(a+b) = B_a·B_b
    /// (T_(a+b) = 2T_a·T_b − T_(a−b)) with a the largest power of two below i.
    fn power(&mut self, i: usize) -> Ct {
        if let Some(&c) = self.powers.get(&i) {
            return c;
        }
        let (a, b) = if i.is_multiple_of(2) {
            (i / 2, i / 2)
        } else {
            let a = 1usize << (usize::BITS - 1 - (i - 1).leading_zeros());
            (a, i - a)
        };
        let (pa, pb) = (self.power(a), self.power(b));
        let prod = self.e.mul_relin_rescale(pa, pb);
        let v = match self.basis {
            Basis::Power => prod,
            Basis::Chebyshev => {
                let twice = self.e.add(prod, prod);
                if a == b {
                    self.e.add_const(twice, -1.0)
                } else {
                    let low = self.power(a - b);
                    self.e.sub(twice, low)
                }
            }
        };
        self.powers.insert(i, v);
        v
    }

    /// p = q·B_G + r with deg r < G (needs deg p < 2G).
    fn divide(&self, p: &[f64], big: usize) -> (Vec<f64>, Vec<f64>) {
        let d = degree(p);
        match self.basis {
            Basis::Power => (p[big..=d].to_vec(), p[..big].to_vec()),
            Basis::Chebyshev => {
                let mut r = p[..=d].to_vec();
                let mut q = vec![0.0; d - big + 1];
                for i in (big..=d).rev() {
                    let c = r[i];
                    if c == 0.0 {
                        continue;
                    }
                    let j = i - big;
                    r[i] = 0.0;
                    if j == 0 {
                        q[0] += c;
                    } else {
                        // T_G·T_j = (T_(G+j) + T_(G−j))/2
                        q[j] += 2.0 * c;
                        r[big - j] -= c;
                    }
                }
                r.truncate(big);
                (q, r)
            }
        }
    }

    fn leaf(&mut self, p: &[f64]) -> Val {
        let d = degree(p);
        let terms: Vec<usize> = (1..=d).filter(|&t| p[t] != 0.0).collect();
        if terms.is_empty() {
            return Val::Const(p[0]);
        }
        let bases: Vec<Ct> = terms.iter().map(|&t| self.power(t)).collect();
        let level = bases.iter().map(|b| b.level).min().expect("non-empty");
        let mut acc = None;
        for (&t, &b) in terms.iter().zip(&bases) {
            let b = self.e.level_to(b, level);
            let m = self.e.mul_const(b, p[t]);
            acc = Some(self.e.accumulate(acc, m));
        }
        let s = self.e.rescale(acc.expect("non-empty"));
        Val::Ct(if p[0] != 0.0 {
            self.e.add_const(s, p[0])
        } else {
            s
        })
    }

    fn eval(&mut self, p: &[f64]) -> Val {
        let d = degree(p);
        if d < self.g {
            return self.leaf(p);
        }
        let big = self.g << (usize::BITS - 1 - (d / self.g).leading_zeros());
        let (q, r) = self.divide(p, big);
        let vq = self.eval(&q);
        let vr = self.eval(&r);
        let t = self.power(big);
        let prod = match vq {
            Val::Const(c) => {
                let m = self.e.mul_const(t, c);
                self.e.rescale(m)
            }
            Val::Ct(c) => self.e.mul_relin_rescale(c, t),
        };
        Val::Ct(match vr {
            Val::Const(0.0) => prod,
            Val::Const(c) => self.e.add_const(prod, c),
            Val::Ct(r) => self.e.add(prod, r),
        })
    }
}

/// Emits p(x) for `coeffs` (constant term first) in `basis`.
///
/// # Panics
/// If the polynomial is constant (it has no ciphertext result).
pub fn eval_poly(e: &mut Emitter, x: Ct, coeffs: &[f64], basis: Basis) -> Ct {
    let d = degree(coeffs);
    assert!(d >= 1, "a constant polynomial has no ciphertext value");
    let m = usize::BITS - d.leading_zeros(); // ⌈log2(d + 1)⌉
    let g = 1usize << m.div_ceil(2);
    let mut pe = PolyEval {
        e,
        basis,
        g,
        powers: HashMap::from([(1, x)]),
    };
    match pe.eval(coeffs) {
        Val::Ct(c) => c,
        Val::Const(_) => unreachable!("degree ≥ 1"),
    }
}

/// Levels [`eval_poly`] consumes for these coefficients (measured on a scratch emitter).
pub fn poly_depth(coeffs: &[f64], basis: Basis) -> u32 {
    let mut e = Emitter::new(1 << 20, 0, 0, 0);
    let top = 1000;
    let x = e.input(top);
    top - eval_poly(&mut e, x, coeffs, basis).level
}

/// Chebyshev interpolation coefficients of `f` on [−1, 1] at `degree + 1` Chebyshev nodes.
pub fn chebyshev_interpolant(f: impl Fn(f64) -> f64, degree: usize) -> Vec<f64> {
    let n = degree + 1;
    let nodes: Vec<f64> = (0..n)
        .map(|k| (std::f64::consts::PI * (k as f64 + 0.5) / n as f64).cos())
        .collect();
    let values: Vec<f64> = nodes.iter().map(|&x| f(x)).collect();
    (0..n)
        .map(|j| {
            let s: f64 = (0..n)
                .map(|k| {
                    values[k]
                        * (std::f64::consts::PI * j as f64 * (k as f64 + 0.5) / n as f64).cos()
                })
                .sum();
            let c = 2.0 * s / n as f64;
            if j == 0 { c / 2.0 } else { c }
        })
        .collect()
}

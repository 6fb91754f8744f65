//! Named polynomial approximations of ReLU (HE evaluates only polynomials). A network asks for
//! `relu` and names the approximation; the plaintext reference and every packing evaluate the
//! same function, so the substitution is exact between them and reported to the user.

use crate::boot::chebyshev_interpolant;

/// The range of the least-squares quadratic substitute ([`ReluApprox::Quadratic`]).
pub const RELU_RANGE: f64 = 4.0;

/// Degrees of the odd component polynomials of Lee et al.'s composite sign (ICML'22).
pub const SIGN_DEGREES: [usize; 3] = [15, 15, 27];

/// Input bound B of Lee et al.'s AppReLU: inputs are scaled into [−1, 1] by it.
pub const APPRELU_BOUND: f64 = 40.0;

/// How a `relu` layer is approximated.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ReluApprox {
    /// The least-squares quadratic fit of ReLU on [−R, R], R = [`RELU_RANGE`]:
    /// 3R/32 + x/2 + 15x²/(32R) (from |x| ≈ 3/16 + 15x²/16 on [−1, 1], Legendre basis).
    Quadratic,
    /// AESPA-style (Park et al., 2022) degree-2 Hermite truncation of ReLU for unit-Gaussian
    /// inputs: ReLU ≈ f̂₀h₀ + f̂₁h₁ + f̂₂h₂ with f̂₀ = 1/√(2π), f̂₁ = 1/2, f̂₂ = 1/√(4π) and the
    /// normalised Hermite polynomials h₂ = (x² − 1)/√2, i.e. 1/(2√(2π)) + x/2 + x²/(2√(2π)).
    Aespa,
    /// Lee et al.'s AppReLU: x·(1 + sign(x/B))/2 with sign the composite p₃∘p₂∘p₁ of odd
    /// polynomials of degrees [`SIGN_DEGREES`]. The components are the odd Chebyshev
    /// interpolants of tanh(3x)/tanh(3) (a smooth stand-in of the same degrees and depth as
    /// Lee's minimax coefficients, which their code reads from a data file).
    AppRelu { bound: f64 },
    /// The Chebyshev interpolant of ReLU of the given degree on [−R, R], R = [`RELU_RANGE`]
    /// (hesim's ResNet-20 activation), evaluated in the power basis.
    Chebyshev { degree: usize },
}

/// Highest degree of a [`ReluApprox::Chebyshev`] approximation.
pub const MAX_CHEBYSHEV_DEGREE: usize = 63;

impl ReluApprox {
    /// Parses `quadratic`, `aespa`, `apprelu` (with an optional `bound`) or `chebyshev`
    /// (with a `degree`).
    pub fn parse(name: &str, bound: Option<f64>, degree: Option<usize>) -> Result<Self, String> {
        match name {
            "chebyshev" => match degree {
                Some(d @ 2..=MAX_CHEBYSHEV_DEGREE) => Ok(Self::Chebyshev { degree: d }),
                Some(d) => Err(format!(
                    "chebyshev degree {d} must be in 2..={MAX_CHEBYSHEV_DEGREE}"
                )),
                None => Err("the chebyshev approximation needs a `degree`".into()),
            },
            "quadratic" => Ok(Self::Quadratic),
            "aespa" => Ok(Self::Aespa),
            "apprelu" => {
                let bound = bound.unwrap_or(APPRELU_BOUND);
                if bound.is_finite() && bound > 0.0 {
                    Ok(Self::AppRelu { bound })
                } else {
                    Err(format!(
                        "apprelu bound {bound} must be a positive finite number"
                    ))
                }
            }
            _ => Err(format!(
                "unknown ReLU approximation `{name}`: use quadratic, aespa, apprelu or chebyshev"
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Quadratic => "quadratic",
            Self::Aespa => "aespa",
            Self::AppRelu { .. } => "apprelu",
            Self::Chebyshev { .. } => "chebyshev",
        }
    }

    /// Power-basis coefficients of the single-polynomial approximations, constant first;
    /// `None` for the composite one.
    pub fn polynomial(&self) -> Option<Vec<f64>> {
        match self {
            Self::Chebyshev { degree } => Some(chebyshev_relu(*degree)),
            Self::AppRelu { .. } => None,
            _ => self.quadratic().map(|c| c.to_vec()),
        }
    }

    /// Power-basis coefficients `[c0, c1, c2]` of the degree-2 approximations.
    pub fn quadratic(&self) -> Option<[f64; 3]> {
        match self {
            Self::Quadratic => {
                let r = RELU_RANGE;
                Some([3.0 * r / 32.0, 0.5, 15.0 / (32.0 * r)])
            }
            Self::Aespa => {
                let a = 1.0 / (2.0 * (2.0 * std::f64::consts::PI).sqrt());
                Some([a, 0.5, a])
            }
            Self::AppRelu { .. } | Self::Chebyshev { .. } => None,
        }
    }

    /// The approximation at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        match (self, self.polynomial()) {
            (_, Some(c)) => c.iter().rev().fold(0.0, |acc, &ci| acc * x + ci),
            (Self::AppRelu { bound }, None) => {
                let s = sign_components()
                    .iter()
                    .fold(x / bound, |v, c| chebyshev_value(c, v));
                x * (1.0 + s) / 2.0
            }
            _ => unreachable!("every approximation is a polynomial or composite"),
        }
    }

    /// One line for the user: what replaced ReLU in layer `layer`.
    pub fn describe(&self, layer: &str) -> String {
        match (self, self.quadratic()) {
            (Self::Quadratic, Some([c0, c1, c2])) => format!(
                "{layer}: ReLU replaced by {c2:.6}·x² + {c1}·x + {c0} (least-squares fit on \
                 [−{r}, {r}])",
                r = RELU_RANGE
            ),
            (Self::Aespa, Some([c0, c1, c2])) => format!(
                "{layer}: ReLU replaced by {c2:.6}·x² + {c1}·x + {c0:.6} (AESPA-style degree-2 \
                 Hermite truncation)"
            ),
            (Self::Chebyshev { degree }, _) => format!(
                "{layer}: ReLU replaced by its degree-{degree} Chebyshev interpolant on \
                 [−{r}, {r}]",
                r = RELU_RANGE
            ),
            (Self::AppRelu { bound }, _) => format!(
                "{layer}: ReLU replaced by Lee et al.'s AppReLU x·(1 + sign(x/{bound}))/2, \
                 sign = composite of odd degrees {SIGN_DEGREES:?}"
            ),
            _ => unreachable!("quadratic approximations have coefficients"),
        }
    }
}

/// Power-basis coefficients of the degree-`degree` Chebyshev interpolant of ReLU on
/// [−R, R], R = [`RELU_RANGE`].
pub fn chebyshev_relu(degree: usize) -> Vec<f64> {
    let cheb = chebyshev_interpolant(|y| (y * RELU_RANGE).max(0.0), degree);
    // Σ c_j T_j(x/R) in the power basis of x
    let mut out = vec![0.0; degree + 1];
    let (mut t0, mut t1) = (vec![1.0], vec![0.0, 1.0]);
    for (j, &c) in cheb.iter().enumerate() {
        let t = match j {
            0 => t0.clone(),
            1 => t1.clone(),
            _ => {
                let mut t2 = vec![0.0; j + 1];
                for (i, &a) in t1.iter().enumerate() {
                    t2[i + 1] += 2.0 * a;
                }
                for (i, &a) in t0.iter().enumerate() {
                    t2[i] -= a;
                }
                t0 = std::mem::replace(&mut t1, t2);
                t1.clone()
            }
        };
        for (i, &a) in t.iter().enumerate() {
            out[i] += c * a / RELU_RANGE.powi(i as i32);
        }
    }
    out
}

/// The odd Chebyshev interpolant of degree `degree` of tanh(3x)/tanh(3): one component of the
/// composite sign.
pub fn sign_component(degree: usize) -> Vec<f64> {
    let mut c = chebyshev_interpolant(|x| (3.0 * x).tanh() / 3f64.tanh(), degree);
    for (i, v) in c.iter_mut().enumerate() {
        if i % 2 == 0 {
            *v = 0.0;
        }
    }
    c
}

/// The three components of the composite sign, computed once.
pub fn sign_components() -> &'static [Vec<f64>; 3] {
    static COMPONENTS: std::sync::OnceLock<[Vec<f64>; 3]> = std::sync::OnceLock::new();
    COMPONENTS.get_or_init(|| SIGN_DEGREES.map(sign_component))
}

/// Σ c_i T_i(x) by Clenshaw's recurrence.
pub fn chebyshev_value(c: &[f64], x: f64) -> f64 {
    let (mut b1, mut b2) = (0.0, 0.0);
    for &ci in c.iter().skip(1).rev() {
        (b1, b2) = (2.0 * x * b1 - b2 + ci, b1);
    }
    x * b1 - b2 + c[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AESPA coefficients are E[ReLU(X)·h_n(X)] for X ~ N(0, 1): checked against a direct
    /// numerical integration (trapezoid on [−12, 12]), not against the closed form.
    #[test]
    fn aespa_is_the_hermite_truncation_of_relu() {
        let (lo, hi, n) = (-12.0f64, 12.0f64, 200_000);
        let dx = (hi - lo) / n as f64;
        let phi = |x: f64| (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let moment = |h: &dyn Fn(f64) -> f64| {
            (0..=n)
                .map(|i| {
                    let x = lo + i as f64 * dx;
                    let w = if i == 0 || i == n { 0.5 } else { 1.0 };
                    w * x.max(0.0) * h(x) * phi(x) * dx
                })
                .sum::<f64>()
        };
        let f0 = moment(&|_| 1.0);
        let f1 = moment(&|x| x);
        let f2 = moment(&|x| (x * x - 1.0) / 2f64.sqrt());
        // Σ f̂_n h_n in the power basis
        let want = [f0 - f2 / 2f64.sqrt(), f1, f2 / 2f64.sqrt()];
        let got = ReluApprox::Aespa.quadratic().unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    /// AppReLU is close to ReLU away from 0 (the composite sign saturates) and odd-symmetric
    /// around x/2: relu(x) − relu(−x) = x exactly for any odd sign.
    #[test]
    fn apprelu_tracks_relu() {
        let a = ReluApprox::AppRelu { bound: 40.0 };
        for x in [-30.0, -12.0, -5.0, 5.0, 12.0, 30.0] {
            let err = (a.eval(x) - f64::max(x, 0.0)).abs();
            assert!(err < 0.05 * x.abs(), "x = {x}: {} ", a.eval(x));
        }
        for x in [0.3, 2.0, 17.0] {
            assert!((a.eval(x) - a.eval(-x) - x).abs() < 1e-12);
        }
    }

    #[test]
    fn unknown_names_and_bad_bounds_are_rejected() {
        assert!(
            ReluApprox::parse("gelu", None, None)
                .unwrap_err()
                .contains("quadratic")
        );
        assert!(ReluApprox::parse("apprelu", Some(-1.0), None).is_err());
        assert!(ReluApprox::parse("chebyshev", None, None).is_err());
        assert!(ReluApprox::parse("chebyshev", None, Some(1)).is_err());
        assert_eq!(
            ReluApprox::parse("apprelu", None, None),
            Ok(ReluApprox::AppRelu { bound: 40.0 })
        );
    }

    /// The power-basis form of the Chebyshev interpolant agrees with ReLU at the Chebyshev
    /// nodes (where the interpolant is exact) and closely elsewhere on the range.
    #[test]
    fn chebyshev_relu_interpolates_relu() {
        let d = 15;
        let a = ReluApprox::Chebyshev { degree: d };
        for k in 0..=d {
            let node = (std::f64::consts::PI * (k as f64 + 0.5) / (d + 1) as f64).cos();
            let x = node * RELU_RANGE;
            assert!((a.eval(x) - x.max(0.0)).abs() < 1e-9, "node {x}");
        }
        for x in [-3.5, -1.0, 1.0, 3.5] {
            assert!((a.eval(x) - f64::max(x, 0.0)).abs() < 0.1, "x = {x}");
        }
    }
}

//! CKKS parameter sets: ring degree, modulus chain, special primes, dnum, scale; the
//! HE-standard security check.

use hesim_traces::bootstrap::max_log_qp;

use super::CkksError;

/// The smallest Hamming weight [`max_log_qp_128_sparse`] has a bound for.
pub const MIN_SPARSE_HAMMING_WEIGHT: usize = 192;

/// Largest log2(QP) for 128-bit security with a sparse ternary secret of Hamming weight
/// `hamming_weight`, by log2 N. The HE standard has no sparse-secret table; these are the
/// parameter sets Bossuat et al. (Eurocrypt'21) estimated at 128 bits with the lattice estimator
/// and Lattigo ships as its sparse bootstrapping defaults (h = 192: `N15QP768H192H32`,
/// `N16QP1553H192H32`); Lee et al.'s ResNet-20 set (N = 2^16, h = 192, log QP = 1552) is
/// within it. A heavier secret (h ≥ 192, up to the dense case) is at least as hard, so the same
/// bound applies; a lighter one has no bound here.
pub fn max_log_qp_128_sparse(log_n: u32, hamming_weight: usize) -> Option<u32> {
    if hamming_weight < MIN_SPARSE_HAMMING_WEIGHT {
        return None;
    }
    match log_n {
        15 => Some(768),
        16 => Some(1553),
        _ => None,
    }
}

/// How the secret key is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SecretDistribution {
    /// Uniform over {−1, 0, 1} (the HE standard's ternary secret).
    #[default]
    UniformTernary,
    /// Exactly `hamming_weight` coefficients ±1, the rest 0 (what bootstrapping needs: the
    /// ModRaise overflow grows with √h).
    SparseTernary { hamming_weight: usize },
}

/// Smallest and largest supported log2 N.
pub const LOG_N_RANGE: std::ops::RangeInclusive<u32> = 4..=17;
/// Most primes (q and p together) a chain may have: published bootstrappable sets use under
/// 80, and at N = 2^17 each prime costs 1 MiB per polynomial, so far longer chains only fail
/// later on an allocation.
pub const MAX_CHAIN_PRIMES: usize = 256;

/// What a parameter set is made of, before primes are chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamsBuilder {
    log_n: u32,
    q_bits: Vec<u32>,
    p_bits: Vec<u32>,
    dnum: usize,
    log_scale: u32,
    slots: Option<usize>,
    secret: SecretDistribution,
    allow_insecure: bool,
}

impl ParamsBuilder {
    /// Starts a set with ring degree 2^`log_n`, ciphertext primes of `q_bits` (q_0 first: the
    /// prime that remains at the last level), and scale 2^`log_scale`. Defaults: one special
    /// prime as wide as the widest q prime, dnum = number of q primes, full slots.
    pub fn new(log_n: u32, q_bits: Vec<u32>, log_scale: u32) -> Self {
        let widest = q_bits.iter().copied().max().unwrap_or(0);
        let dnum = q_bits.len();
        Self {
            log_n,
            q_bits,
            p_bits: vec![widest],
            dnum,
            log_scale,
            slots: None,
            secret: SecretDistribution::UniformTernary,
            allow_insecure: false,
        }
    }

    /// Bit sizes of the special (key-switching) primes.
    pub fn special_primes(mut self, p_bits: Vec<u32>) -> Self {
        self.p_bits = p_bits;
        self
    }

    /// Number of key-switching digits.
    pub fn dnum(mut self, dnum: usize) -> Self {
        self.dnum = dnum;
        self
    }

    /// Slot count (a power of two ≤ N/2); rotations are cyclic over this many slots.
    pub fn slots(mut self, slots: usize) -> Self {
        self.slots = Some(slots);
        self
    }

    /// The secret key distribution (default: uniform ternary).
    pub fn secret(mut self, secret: SecretDistribution) -> Self {
        self.secret = secret;
        self
    }

    /// Accept sets above the 128-bit bound (small-N tests only).
    pub fn allow_insecure(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// Checks the set and returns the validated shape.
    pub fn check(&self) -> Result<ParamShape, CkksError> {
        let invalid = |reason: String| Err(CkksError::InvalidParams { reason });
        if !LOG_N_RANGE.contains(&self.log_n) {
            return Err(CkksError::InvalidRingDegree {
                n: 1usize << self.log_n.min(40),
            });
        }
        let n = 1usize << self.log_n;
        let slots = self.slots.unwrap_or(n / 2);
        if !slots.is_power_of_two() || slots > n / 2 {
            return Err(CkksError::InvalidSlotCount { slots, max: n / 2 });
        }
        if self.q_bits.is_empty() {
            return invalid("the modulus chain q_bits is empty".into());
        }
        if self.p_bits.is_empty() {
            return invalid(
                "key switching needs at least one special prime (p_bits is empty)".into(),
            );
        }
        let primes = self.q_bits.len() + self.p_bits.len();
        if primes > MAX_CHAIN_PRIMES {
            return invalid(format!(
                "{primes} primes in the chain (q and p), more than {MAX_CHAIN_PRIMES}: every key and \
                 ciphertext holds N words per prime, so such a chain would not fit in memory; \
                 use fewer levels"
            ));
        }
        let min_bits = self.log_n + 3;
        if let Some(b) = self
            .q_bits
            .iter()
            .chain(&self.p_bits)
            .find(|&&b| b < min_bits || b > 61)
        {
            return invalid(format!(
                "prime bit size {b} is outside {min_bits}..=61 (NTT primes need q ≡ 1 mod 2N)"
            ));
        }
        // The key-switching inner product accumulates one < 2^122 product per digit in a u128.
        if self.dnum == 0 || self.dnum > self.q_bits.len() || self.dnum > 63 {
            return invalid(format!(
                "dnum = {} must be between 1 and the chain length {} (and at most 63)",
                self.dnum,
                self.q_bits.len()
            ));
        }
        let widest_q = self.q_bits.iter().copied().max().unwrap_or(0);
        if self.log_scale == 0 || self.log_scale > widest_q {
            return invalid(format!(
                "log_scale = {} must be between 1 and the widest chain prime ({widest_q} bits)",
                self.log_scale
            ));
        }
        if let SecretDistribution::SparseTernary { hamming_weight } = self.secret
            && (hamming_weight == 0 || hamming_weight > n)
        {
            return invalid(format!(
                "sparse secret Hamming weight {hamming_weight} must be between 1 and N = {n}"
            ));
        }
        // Σ bit sizes bounds log2(QP) from above (a b-bit prime is < 2^b).
        let log_qp: u32 = self.q_bits.iter().chain(&self.p_bits).sum();
        if !self.allow_insecure {
            let bound = match self.secret {
                SecretDistribution::UniformTernary => max_log_qp(self.log_n)
                    .ok_or(CkksError::NoSecurityBound { log_n: self.log_n })?,
                SecretDistribution::SparseTernary { hamming_weight } => {
                    max_log_qp_128_sparse(self.log_n, hamming_weight).ok_or(
                        CkksError::NoSparseSecurityBound {
                            log_n: self.log_n,
                            hamming_weight,
                        },
                    )?
                }
            };
            if log_qp > bound {
                return Err(CkksError::InsecureParams {
                    log_n: self.log_n,
                    log_qp,
                    max_log_qp: bound,
                });
            }
        }
        Ok(ParamShape {
            log_n: self.log_n,
            slots,
            q_bits: self.q_bits.clone(),
            p_bits: self.p_bits.clone(),
            dnum: self.dnum,
            log_scale: self.log_scale,
            log_qp,
            secret: self.secret,
        })
    }
}

/// A checked parameter shape (bit sizes; the primes are picked from it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamShape {
    pub log_n: u32,
    pub slots: usize,
    pub q_bits: Vec<u32>,
    pub p_bits: Vec<u32>,
    pub dnum: usize,
    pub log_scale: u32,
    /// Σ bit sizes of all primes (upper bound of log2 QP).
    pub log_qp: u32,
    pub secret: SecretDistribution,
}

impl ParamShape {
    /// Ciphertext primes per key-switching digit: α = ⌈(L+1)/dnum⌉.
    pub fn alpha(&self) -> usize {
        self.q_bits.len().div_ceil(self.dnum)
    }
}

/// hesim's default set for the CNN workloads and the precision report (see the crate README):
/// N = 2^14, q_0 of 50 bits, nine 36-bit rescaling primes (scale 2^36), one 60-bit special
/// prime, dnum = 10 (one ciphertext prime per digit); log QP ≤ 434 ≤ 438.
pub fn default_builder() -> ParamsBuilder {
    let mut q_bits = vec![50];
    q_bits.extend([36; 9]);
    ParamsBuilder::new(14, q_bits, 36)
        .special_primes(vec![60])
        .dnum(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounds are the HE standard's published numbers.
    #[test]
    fn he_standard_bounds() {
        assert_eq!(max_log_qp(12), Some(109));
        assert_eq!(max_log_qp(13), Some(218));
        assert_eq!(max_log_qp(14), Some(438));
        assert_eq!(max_log_qp(15), Some(881));
        assert_eq!(max_log_qp(9), None);
    }

    #[test]
    fn default_set_is_secure() {
        let shape = default_builder().check().unwrap();
        assert_eq!(shape.log_qp, 434);
        assert_eq!(shape.slots, 8192);
        assert_eq!(shape.alpha(), 1);
    }

    #[test]
    fn rejects_insecure_unless_allowed() {
        // SEAL's 2^14 C1 chain plus two extra 40-bit primes: 440 > 438.
        let q = vec![60, 40, 40, 40, 40, 40, 40, 40, 40];
        let err = ParamsBuilder::new(14, q.clone(), 40)
            .special_primes(vec![60])
            .check();
        assert_eq!(
            err,
            Err(CkksError::InsecureParams {
                log_n: 14,
                log_qp: 440,
                max_log_qp: 438
            })
        );
        assert!(
            ParamsBuilder::new(14, q, 40)
                .special_primes(vec![60])
                .allow_insecure(true)
                .check()
                .is_ok()
        );
        let small = ParamsBuilder::new(8, vec![30, 30], 25).check();
        assert_eq!(small, Err(CkksError::NoSecurityBound { log_n: 8 }));
    }

    /// Sparse secrets are checked against the h = 192 sets of Bossuat et al. / Lattigo (log QP
    /// ≤ 1553 at N = 2^16, ≤ 768 at 2^15); lighter secrets and other N need the opt-in.
    #[test]
    fn sparse_secret_bounds() {
        let sparse = |h| SecretDistribution::SparseTernary { hamming_weight: h };
        // 60 + 21·50 + 8·50 = 1510 ≤ 1553.
        let mut q = vec![60];
        q.extend([50; 21]);
        let set = || ParamsBuilder::new(16, q.clone(), 50).special_primes(vec![50; 8]);
        assert!(set().secret(sparse(192)).check().is_ok());
        assert!(set().secret(sparse(4096)).check().is_ok());
        assert_eq!(
            set().secret(sparse(64)).check(),
            Err(CkksError::NoSparseSecurityBound {
                log_n: 16,
                hamming_weight: 64
            })
        );
        assert!(
            set()
                .secret(sparse(64))
                .allow_insecure(true)
                .check()
                .is_ok()
        );
        // Two more 50-bit primes: 1610 > 1553, although the uniform-secret bound (1762) holds.
        let wide = set().special_primes(vec![50; 10]);
        assert!(wide.clone().check().is_ok());
        assert_eq!(
            wide.secret(sparse(192)).check(),
            Err(CkksError::InsecureParams {
                log_n: 16,
                log_qp: 1610,
                max_log_qp: 1553
            })
        );
        let small = ParamsBuilder::new(10, vec![30, 30], 25).allow_insecure(true);
        assert!(matches!(
            small.clone().secret(sparse(0)).check(),
            Err(CkksError::InvalidParams { .. })
        ));
        assert!(matches!(
            small.secret(sparse(1025)).check(),
            Err(CkksError::InvalidParams { .. })
        ));
    }

    #[test]
    fn rejects_malformed_sets() {
        let base = || ParamsBuilder::new(12, vec![40, 30], 30).allow_insecure(true);
        assert!(matches!(
            base().dnum(3).check(),
            Err(CkksError::InvalidParams { .. })
        ));
        assert!(matches!(
            base().dnum(0).check(),
            Err(CkksError::InvalidParams { .. })
        ));
        assert!(matches!(
            ParamsBuilder::new(12, vec![], 30).check(),
            Err(CkksError::InvalidParams { .. })
        ));
        assert!(matches!(
            ParamsBuilder::new(12, vec![40, 30], 41).check(),
            Err(CkksError::InvalidParams { .. })
        ));
        assert!(matches!(
            base().slots(3000).check(),
            Err(CkksError::InvalidSlotCount { .. })
        ));
        assert!(matches!(
            ParamsBuilder::new(12, vec![40, 10], 10).check(),
            Err(CkksError::InvalidParams { .. })
        ));
    }
}

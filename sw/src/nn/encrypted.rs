//! Running a program on real CKKS ciphertexts (`crate::ckks`): keys for exactly the rotation
//! steps the program uses, payloads computed once and shared by every inference.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hesim_traces::{OpKind, ValueId};
use num_complex::Complex64;

use super::NnError;
use super::program::Program;
use crate::ckks::bootstrap::Bootstrappers;
use crate::ckks::{
    self, Context, Evaluator, ParamsBuilder, Payloads, Plaintext, PublicKey, Sampler, SecretKey,
};

/// A program's plaintext slot vectors and constants, materialised for the CKKS executor, and
/// its `mul_plain` operands encoded once, up to a memory budget.
#[derive(Debug)]
pub struct ProgramPayloads {
    plaintexts: Vec<Vec<f64>>,
    constants: HashMap<ValueId, f64>,
    /// (plaintext id, level) → encoded at that level's canonical scale.
    encoded: HashMap<(u32, usize), Plaintext>,
}

impl ProgramPayloads {
    /// Materialises the payloads and encodes `mul_plain` operands in program order while their
    /// total size stays within `cache_bytes` (the rest are encoded at every use).
    pub fn new(program: &Program, ctx: &Context, cache_bytes: usize) -> Result<Self, NnError> {
        let plaintexts: Vec<Vec<f64>> = (0..program.plaintext_count() as u32)
            .map(|id| program.plaintext(id))
            .collect();
        let mut encoded = HashMap::new();
        let mut bytes = 0usize;
        for op in &program.ops {
            let OpKind::MulPlain { plain } = &op.kind else {
                continue;
            };
            let level = op.level as usize;
            let size = level * ctx.n() * size_of::<u64>();
            if encoded.contains_key(&(plain.id, level)) || bytes + size > cache_bytes {
                continue;
            }
            let values = &plaintexts[plain.id as usize];
            let pt = ctx
                .encode_real(values, level, ctx.scale_at(level))
                .map_err(ckks_err)?;
            encoded.insert((plain.id, level), pt);
            bytes += size;
        }
        Ok(Self {
            plaintexts,
            constants: program.constants.clone(),
            encoded,
        })
    }

    /// How many `mul_plain` operands are held encoded.
    pub fn encoded_count(&self) -> usize {
        self.encoded.len()
    }
}

impl Payloads for ProgramPayloads {
    fn plaintext(&self, id: u32) -> &[f64] {
        &self.plaintexts[id as usize]
    }

    fn constant(&self, op: ValueId) -> f64 {
        self.constants[&op]
    }

    fn encoded(&self, id: u32, level: usize) -> Option<&Plaintext> {
        self.encoded.get(&(id, level))
    }
}

/// How [`EncryptedRunner`] builds its parameters and keys.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Memory for `mul_plain` operands encoded once ([`ProgramPayloads::new`]).
    pub plaintext_cache_bytes: usize,
    /// Hamming weight of the sparse ternary secret of programs with `bootstrap` ops (192, Lee
    /// et al.'s; the EvalMod range of the recipe must cover its ModRaise overflow).
    pub hamming_weight: usize,
    /// Accept a chain without a 128-bit bound (small rings, tests).
    pub allow_insecure: bool,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            plaintext_cache_bytes: 0,
            hamming_weight: 192,
            allow_insecure: false,
        }
    }
}

/// Keys and evaluator for one program's parameters; encrypts, runs and decrypts inferences.
/// Shared by reference, so several inferences can run on different threads at once.
#[derive(Debug)]
pub struct EncryptedRunner {
    ctx: Arc<Context>,
    sk: SecretKey,
    pk: PublicKey,
    eval: Evaluator,
    bootstrappers: Bootstrappers,
    payloads: ProgramPayloads,
}

fn ckks_err(e: ckks::CkksError) -> NnError {
    NnError::Ckks {
        message: e.to_string(),
    }
}

impl EncryptedRunner {
    /// Generates keys (randomness from the OS) for the program's header parameters and encodes
    /// the program's `mul_plain` operands once, within `plaintext_cache_bytes` of memory.
    pub fn new(program: &Program, plaintext_cache_bytes: usize) -> Result<Self, NnError> {
        Self::with_options(
            program,
            &RunnerOptions {
                plaintext_cache_bytes,
                ..RunnerOptions::default()
            },
        )
    }

    /// [`EncryptedRunner::new`] with options. A program without `bootstrap` ops runs on its
    /// header's chain. One with them runs on the bootstrapping chain
    /// ([`ckks::bootstrap::chain`]: 60-bit q_0, 50-bit primes) with the header's limbs, slots
    /// and ring degree — the trace's levels are what the executor checks, the header's prime
    /// sizes are the simulator's — and a sparse secret; each distinct recipe gets a
    /// [`Bootstrapper`](ckks::bootstrap::Bootstrapper). One set of keys serves the program
    /// and its bootstraps ([`Bootstrappers::for_program`]): exactly the rotations they perform,
    /// each for the highest level it rotates at.
    pub fn with_options(program: &Program, options: &RunnerOptions) -> Result<Self, NnError> {
        let h = &program.header;
        let bootstrapped = program
            .ops
            .iter()
            .any(|o| matches!(o.kind, OpKind::Bootstrap(_)));
        let builder = if bootstrapped {
            ckks::bootstrap::chain(h.log_n, h.q_bits.len(), options.hamming_weight)
        } else {
            ParamsBuilder::new(h.log_n, h.q_bits.clone(), h.log_scale)
                .special_primes(h.p_bits.clone())
                .dnum(h.dnum as usize)
        };
        let builder = builder
            .slots(h.slots as usize)
            .allow_insecure(options.allow_insecure);
        let ctx = Arc::new(Context::new(&builder).map_err(ckks_err)?);
        let mut sampler = Sampler::from_os();
        let sk = SecretKey::generate(&ctx, &mut sampler);
        let pk = PublicKey::generate(&sk, &mut sampler);
        let bootstrappers =
            Bootstrappers::for_program(&sk, &program.ops, &mut sampler).map_err(ckks_err)?;
        let eval = bootstrappers.evaluator(&ctx);
        let payloads = ProgramPayloads::new(program, &ctx, options.plaintext_cache_bytes)?;
        Ok(Self {
            ctx,
            sk,
            pk,
            eval,
            bootstrappers,
            payloads,
        })
    }

    /// Bytes of every key held: relinearisation and rotations, shared by the program and its
    /// bootstraps.
    pub fn key_bytes(&self) -> usize {
        self.bootstrappers.key_bytes()
    }

    /// The program's payloads (and how many plaintexts are held encoded).
    pub fn payloads(&self) -> &ProgramPayloads {
        &self.payloads
    }

    /// Encrypts one logical input (fresh randomness from the OS), runs the program, decrypts
    /// the logical output.
    pub fn infer(&self, program: &Program, input: &[f64]) -> Result<Vec<f64>, NnError> {
        self.infer_profiled(program, input, &mut Vec::new())
    }

    /// [`EncryptedRunner::infer`], adding each layer's thread CPU time to `profile` (layers in
    /// first-seen order; bootstraps under [`ckks::BOOTSTRAP_LAYER`]).
    pub fn infer_profiled(
        &self,
        program: &Program,
        input: &[f64],
        profile: &mut Vec<(String, Duration)>,
    ) -> Result<Vec<f64>, NnError> {
        let mut sampler = Sampler::from_os();
        let mut inputs = HashMap::new();
        for (id, slots) in program.input_ids.iter().zip(program.encode_input(input)) {
            // At the level the program's input op declares (Lee et al. encrypt the image below
            // the top of the chain), on that level's canonical scale.
            let level = program
                .ops
                .iter()
                .find(|o| o.id == *id)
                .map_or(self.ctx.max_level(), |o| o.level as usize);
            let scale = self.ctx.scale_at(level);
            let values: Vec<Complex64> = slots.iter().map(|&v| Complex64::new(v, 0.0)).collect();
            let pt = self.ctx.encode(&values, level, scale).map_err(ckks_err)?;
            inputs.insert(*id, self.pk.encrypt(&pt, &mut sampler));
        }
        let outs = ckks::execute_with_bootstraps(
            &self.eval,
            &program.ops,
            inputs,
            &self.payloads,
            &self.bootstrappers,
            profile,
        )
        .map_err(ckks_err)?;
        let output_ops: Vec<ValueId> = program
            .ops
            .iter()
            .filter(|o| o.kind == OpKind::Output)
            .map(|o| o.id)
            .collect();
        let slots: Vec<Vec<f64>> = output_ops
            .iter()
            .map(|id| {
                self.sk
                    .decrypt_decode(&outs[id])
                    .iter()
                    .map(|c| c.re)
                    .collect()
            })
            .collect();
        Ok(program.decode_output(&slots))
    }
}

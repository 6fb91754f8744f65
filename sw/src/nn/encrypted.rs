//! Running a program on real CKKS ciphertexts (`crate::ckks`): keys for exactly the rotation
//! steps the program uses, payloads computed once and shared by every inference.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use hesim_traces::{OpKind, ValueId};
use num_complex::Complex64;

use super::NnError;
use super::program::Program;
use crate::ckks::{
    self, Context, Evaluator, GaloisKeys, ParamsBuilder, Payloads, PublicKey, RelinKey, Sampler,
    SecretKey,
};

/// A program's plaintext slot vectors and constants, materialised for the CKKS executor.
#[derive(Debug)]
pub struct ProgramPayloads {
    plaintexts: Vec<Vec<f64>>,
    constants: HashMap<ValueId, f64>,
}

impl ProgramPayloads {
    pub fn new(program: &Program) -> Self {
        Self {
            plaintexts: (0..program.plaintext_count() as u32)
                .map(|id| program.plaintext(id))
                .collect(),
            constants: program.constants.clone(),
        }
    }
}

impl Payloads for ProgramPayloads {
    fn plaintext(&self, id: u32) -> &[f64] {
        &self.plaintexts[id as usize]
    }

    fn constant(&self, op: ValueId) -> f64 {
        self.constants[&op]
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
    payloads: ProgramPayloads,
}

fn ckks_err(e: ckks::CkksError) -> NnError {
    NnError::Ckks {
        message: e.to_string(),
    }
}

impl EncryptedRunner {
    /// Generates keys (randomness from the OS) for the program's header parameters.
    pub fn new(program: &Program) -> Result<Self, NnError> {
        let h = &program.header;
        let builder = ParamsBuilder::new(h.log_n, h.q_bits.clone(), h.log_scale)
            .special_primes(h.p_bits.clone())
            .dnum(h.dnum as usize)
            .slots(h.slots as usize);
        let ctx = Arc::new(Context::new(&builder).map_err(ckks_err)?);
        let mut sampler = Sampler::from_os();
        let sk = SecretKey::generate(&ctx, &mut sampler);
        let pk = PublicKey::generate(&sk, &mut sampler);
        let relin = RelinKey::generate(&sk, &mut sampler);
        let steps: BTreeSet<i64> = program
            .ops
            .iter()
            .filter_map(|o| match o.kind {
                OpKind::Rotate { step, .. } => Some(i64::from(step)),
                _ => None,
            })
            .collect();
        let steps: Vec<i64> = steps.into_iter().collect();
        let galois = GaloisKeys::for_steps_with(&sk, &steps, false, &mut sampler);
        let eval = Evaluator::new(Arc::clone(&ctx), Some(relin), galois);
        Ok(Self {
            ctx,
            sk,
            pk,
            eval,
            payloads: ProgramPayloads::new(program),
        })
    }

    /// Encrypts one logical input (fresh randomness from the OS), runs the program, decrypts
    /// the logical output.
    pub fn infer(&self, program: &Program, input: &[f64]) -> Result<Vec<f64>, NnError> {
        let mut sampler = Sampler::from_os();
        let level = self.ctx.max_level();
        let scale = self.ctx.scale_at(level);
        let mut inputs = HashMap::new();
        for (id, slots) in program.input_ids.iter().zip(program.encode_input(input)) {
            let values: Vec<Complex64> = slots.iter().map(|&v| Complex64::new(v, 0.0)).collect();
            let pt = self.ctx.encode(&values, level, scale).map_err(ckks_err)?;
            inputs.insert(*id, self.pk.encrypt(&pt, &mut sampler));
        }
        let outs =
            ckks::execute(&self.eval, &program.ops, inputs, &self.payloads).map_err(ckks_err)?;
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

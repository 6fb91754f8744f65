//! `sw::slots`: an exact f64 SIMD-slot interpreter for HE programs. Ciphertexts are plain slot
//! vectors, rotations are cyclic shifts, rescale and level changes are no-ops: it checks that a
//! packing computes the right thing, independent of CKKS noise.

use std::collections::HashMap;

use hesim_traces::{OpKind, ValueId};

use crate::nn::Program;

/// Runs `program` on input slot vectors (one per input ciphertext); returns the slot vectors of
/// the outputs in order.
///
/// # Panics
/// If `inputs` does not match the program's input count or a vector is not `slots` long.
pub fn run(program: &Program, inputs: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = program.slots();
    assert_eq!(
        inputs.len(),
        program.input_ids.len(),
        "one slot vector per input ciphertext"
    );
    let mut last_use: HashMap<ValueId, usize> = HashMap::new();
    for (i, op) in program.ops.iter().enumerate() {
        for &a in &op.args {
            last_use.insert(a, i);
        }
    }
    let mut values: HashMap<ValueId, Vec<f64>> = HashMap::new();
    let mut next_input = inputs.iter();
    let mut outputs = Vec::new();
    for (i, op) in program.ops.iter().enumerate() {
        let arg = |k: usize| &values[&op.args[k]];
        let result: Option<Vec<f64>> = match &op.kind {
            OpKind::Input => {
                let v = next_input.next().expect("input count checked").clone();
                assert_eq!(v.len(), n, "input slot vectors must have {n} slots");
                Some(v)
            }
            OpKind::Output => {
                outputs.push(arg(0).clone());
                None
            }
            OpKind::Add => Some(arg(0).iter().zip(arg(1)).map(|(a, b)| a + b).collect()),
            OpKind::Sub => Some(arg(0).iter().zip(arg(1)).map(|(a, b)| a - b).collect()),
            OpKind::Mul => Some(arg(0).iter().zip(arg(1)).map(|(a, b)| a * b).collect()),
            OpKind::AddPlain { plain } => {
                let p = program.plaintext(plain.id);
                Some(arg(0).iter().zip(&p).map(|(a, b)| a + b).collect())
            }
            OpKind::MulPlain { plain } => {
                let p = program.plaintext(plain.id);
                Some(arg(0).iter().zip(&p).map(|(a, b)| a * b).collect())
            }
            OpKind::AddConst => {
                let c = program.constant(op.id);
                Some(arg(0).iter().map(|a| a + c).collect())
            }
            OpKind::MulConst => {
                let c = program.constant(op.id);
                Some(arg(0).iter().map(|a| a * c).collect())
            }
            OpKind::Relin | OpKind::Rescale | OpKind::LevelDown | OpKind::Bootstrap(_) => {
                Some(arg(0).clone())
            }
            OpKind::Rotate { step, .. } => {
                let x = arg(0);
                let s = step.rem_euclid(n as i32) as usize;
                Some((0..n).map(|j| x[(j + s) % n]).collect())
            }
            OpKind::Conjugate { .. } => Some(arg(0).clone()),
            other => panic!("the slot interpreter does not know op {other:?}"),
        };
        for a in &op.args {
            if last_use.get(a) == Some(&i) {
                values.remove(a);
            }
        }
        if let Some(v) = result {
            values.insert(op.id, v);
        }
    }
    outputs
}

/// Encodes one logical input, runs the program, decodes the logical output.
pub fn infer(program: &Program, input: &[f64]) -> Vec<f64> {
    let out = run(program, &program.encode_input(input));
    program.decode_output(&out)
}

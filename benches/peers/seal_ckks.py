#!/usr/bin/env python3
"""SEAL (via TenSEAL 0.3.18's `tenseal.sealapi`) CKKS per-operation latency, single thread.

The peer of `cargo bench -p hesim-sw --bench ckks`: same ring degree and modulus chain (C1 of
docs/peer-seal.md: N = 2^14, CoeffModulus.Create(N, [60, 40, 40, 40, 40, 40, 40, 60]), scale
2^40, last prime special), same ops on fresh top-level ciphertexts, in-place calls timed on an
untimed copy. Prints one line per op: name, median and min in microseconds of **thread CPU
time** (`time.thread_time_ns`, the clock of the Rust bench; on an idle machine it equals wall
time for these single-threaded calls; `--clock wall` switches to `perf_counter_ns`).

Setup (CPython 3.11):  python3.11 -m venv /tmp/sealvenv && /tmp/sealvenv/bin/pip install tenseal==0.3.18
Run:                   OMP_NUM_THREADS=1 /tmp/sealvenv/bin/python benches/peers/seal_ckks.py [--reps 15]
"""

import argparse
import gc
import os
import random
import statistics
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

try:
    import tenseal.sealapi as seal
except ImportError:
    sys.exit("error: tenseal is not installed; run `pip install tenseal==0.3.18` (CPython 3.11)")

N = 1 << 14
BITS = [60, 40, 40, 40, 40, 40, 40, 60]
SCALE = 2.0 ** 40


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed repetitions per op (after 3 warm-ups)")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu", help="thread CPU time or wall time")
    args = parser.parse_args()
    if args.reps < 1:
        sys.exit("error: --reps must be at least 1")

    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(N)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(N, BITS))
    ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
    keygen = seal.KeyGenerator(ctx)
    sk = keygen.secret_key()
    pk = seal.PublicKey()
    keygen.create_public_key(pk)
    rk = seal.RelinKeys()
    keygen.create_relin_keys(rk)
    gk = seal.GaloisKeys()
    two_n = 2 * N
    keygen.create_galois_keys([3, pow(3, 7, two_n), two_n - 1], gk)
    encoder = seal.CKKSEncoder(ctx)
    encryptor = seal.Encryptor(ctx, pk)
    decryptor = seal.Decryptor(ctx, sk)
    evaluator = seal.Evaluator(ctx)

    rng = random.Random(1)
    slots = encoder.slot_count()
    xs = [rng.uniform(-1, 1) for _ in range(slots)]
    ys = [rng.uniform(-1, 1) for _ in range(slots)]

    def encode(values):
        pt = seal.Plaintext()
        encoder.encode(values, SCALE, pt)
        return pt

    def encrypt(pt):
        ct = seal.Ciphertext()
        encryptor.encrypt(pt, ct)
        return ct

    px, py = encode(xs), encode(ys)
    cx, cy = encrypt(px), encrypt(py)
    size3 = seal.Ciphertext()
    evaluator.multiply(cx, cy, size3)
    product = seal.Ciphertext()
    evaluator.multiply(cx, cy, product)
    evaluator.relinearize_inplace(product, rk)

    def copy(ct):
        out = seal.Ciphertext()
        evaluator.mod_switch_to(ct, ct.parms_id(), out)
        return out

    # (name, source ciphertext to copy untimed or None, timed call on the copy)
    ops = [
        ("add", cx, lambda c: evaluator.add_inplace(c, cy)),
        ("mul_plain", cx, lambda c: evaluator.multiply_plain_inplace(c, py)),
        ("mul_no_relin", cx, lambda c: evaluator.multiply_inplace(c, cy)),
        ("relinearize", size3, lambda c: evaluator.relinearize_inplace(c, rk)),
        ("mul_relin", cx, lambda c: (evaluator.multiply_inplace(c, cy), evaluator.relinearize_inplace(c, rk))),
        ("rescale", product, lambda c: evaluator.rescale_to_next_inplace(c)),
        ("rotate_1", cx, lambda c: evaluator.rotate_vector_inplace(c, 1, gk)),
        ("rotate_7", cx, lambda c: evaluator.rotate_vector_inplace(c, 7, gk)),
        ("conjugate", cx, lambda c: evaluator.complex_conjugate_inplace(c, gk)),
        ("encode", None, lambda _: encode(xs)),
        ("encrypt_pk", None, lambda _: encrypt(px)),
        ("decrypt", None, lambda _: decryptor.decrypt(cx, seal.Plaintext())),
    ]
    clock = time.thread_time_ns if args.clock == "cpu" else time.perf_counter_ns
    gc.disable()
    print(f"# SEAL via TenSEAL 0.3.18, N=2^14, coeff bits {BITS}, scale 2^40, {args.reps} reps, {args.clock} clock")
    print(f"{'op':<14} {'median_us':>10} {'min_us':>10}")
    for name, source, call in ops:
        samples = []
        for rep in range(3 + args.reps):
            arg = copy(source) if source is not None else None
            start = clock()
            call(arg)
            elapsed = clock() - start
            if rep >= 3:
                samples.append(elapsed / 1000.0)
        print(f"{name:<14} {statistics.median(samples):>10.1f} {min(samples):>10.1f}", flush=True)

    # Correctness of the timed operations' results (rotation by 1 against the cleartext).
    rotated = copy(cx)
    evaluator.rotate_vector_inplace(rotated, 1, gk)
    pt = seal.Plaintext()
    decryptor.decrypt(rotated, pt)
    got = encoder.decode_double(pt)
    err = max(abs(got[i] - xs[(i + 1) % slots]) for i in range(slots))
    print(f"# check: rotate-by-1 max abs error {err:.2e}")
    return 0 if err < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())

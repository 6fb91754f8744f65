#!/usr/bin/env python3
"""OpenFHE (PyPI wheel openfhe==1.6.1.0.22.4) CKKS per-operation latency and bootstrapping, single
thread: the peer of `hesim ckks ops` and `hesim ckks bootstrap`.

`ops`: N = 2^16, a 60-bit first prime and 24 × 50-bit primes (FIXEDMANUAL scaling, scale 2^50),
HYBRID key switching with dnum 3, fresh ciphertexts at the top level. Times EvalMult (ct × ct
with relinearisation), EvalRotate by 1, Rescale, EvalMult by a plaintext, EvalAdd: median and
min thread CPU time (`time.thread_time_ns`, the clock hesim reports) over `--reps` calls after
one warm-up. Same chain and ops as `hesim ckks ops --log-n 16 --limbs 25 --dnum 3`.

`bootstrap`: N = 2^16, 60-bit first prime, 59-bit scaling primes (FLEXIBLEAUTO; OpenFHE's
examples' choice: with 50 bits its precision drops to ≈ 9 bits), dnum 3, level
budget [3, 3] (CtS / StC levels), 6 levels left after bootstrapping, the slot count given:
the shape of `hesim ckks bootstrap --log-n 16 --dft-levels 3 --levels-after 6`. OpenFHE picks
its own EvalMod for its secret distribution (uniform ternary by default: the secure one), so its
chain is longer than hesim's; the script prints it. Reports key generation time, seconds per
bootstrap, precision (-log2 of the mean and largest |error| over slots and trials) and peak RSS.
At full slots this needs ~14 GB and about a minute per bootstrap plus minutes of key generation.

Setup: ~/.pyenv/versions/3.10.13/bin/pip install openfhe==1.6.1.0.22.4 (the newer wheel needs a
newer libstdc++). Run one at a time, niced, on an otherwise idle machine:
  nice -n 10 ~/.pyenv/versions/3.10.13/bin/python benches/peers/openfhe_ckks.py ops --reps 10
  nice -n 10 ~/.pyenv/versions/3.10.13/bin/python benches/peers/openfhe_ckks.py bootstrap --trials 1
"""

import argparse
import json
import math
import os
import random
import resource
import statistics
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

try:
    import openfhe as fhe
except ImportError:
    sys.exit("error: openfhe is not installed; run `pip install openfhe==1.6.1.0.22.4` (CPython 3.10)")

# OpenFHE's FHECKKSRNS::GetModDepthInternal (ckksrns-fhe.cpp), which the wheel does not export:
# the Chebyshev EvalMod's Paterson-Stockmeyer depth plus its double angles (uniform ternary:
# degree 88 → 8, and 6 double angles; sparse ternary: degree 59 → 7, and 3).
EVAL_MOD_DEPTH = {"uniform": 8 + 6, "sparse": 7 + 3}


def cpu_seconds(call):
    """Thread CPU seconds of one call."""
    start = time.thread_time_ns()
    call()
    return (time.thread_time_ns() - start) / 1e9


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def context(params):
    cc = fhe.GenCryptoContext(params)
    for feature in (fhe.PKESchemeFeature.PKE, fhe.PKESchemeFeature.KEYSWITCH, fhe.PKESchemeFeature.LEVELEDSHE):
        cc.Enable(feature)
    return cc


def run_ops(args):
    params = fhe.CCParamsCKKSRNS()
    params.SetSecurityLevel(fhe.SecurityLevel.HEStd_NotSet)
    params.SetRingDim(1 << args.log_n)
    params.SetMultiplicativeDepth(args.limbs - 1)
    params.SetFirstModSize(60)
    params.SetScalingModSize(50)
    params.SetScalingTechnique(fhe.ScalingTechnique.FIXEDMANUAL)
    params.SetKeySwitchTechnique(fhe.KeySwitchTechnique.HYBRID)
    params.SetNumLargeDigits(args.dnum)
    params.SetBatchSize(1 << (args.log_n - 1))
    cc = context(params)
    keys = cc.KeyGen()
    cc.EvalMultKeyGen(keys.secretKey)
    cc.EvalRotateKeyGen(keys.secretKey, [1])
    rng = random.Random(1)
    slots = 1 << (args.log_n - 1)
    xs = [rng.uniform(-1, 1) for _ in range(slots)]
    ys = [rng.uniform(-1, 1) for _ in range(slots)]
    px = cc.MakeCKKSPackedPlaintext(xs)
    py = cc.MakeCKKSPackedPlaintext(ys)
    cx = cc.Encrypt(keys.publicKey, px)
    cy = cc.Encrypt(keys.publicKey, py)
    product = cc.EvalMult(cx, cy)
    ops = {
        "mul_relin": lambda: cc.EvalMult(cx, cy),
        "rotate": lambda: cc.EvalRotate(cx, 1),
        "rescale": lambda: cc.Rescale(product),
        "mul_plain": lambda: cc.EvalMult(cx, py),
        "add": lambda: cc.EvalAdd(cx, cy),
    }
    rows = {}
    for name, call in ops.items():
        call()
        times = [cpu_seconds(call) for _ in range(args.reps)]
        rows[name] = {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3}
    result = {
        "peer": "openfhe",
        "log_n": args.log_n,
        "limbs": args.limbs,
        "log_q": round(log_q(cc), 1),
        "dnum": args.dnum,
        "reps": args.reps,
        "threads": 1,
        "ops": rows,
        "peak_rss_bytes": peak_rss_bytes(),
    }
    emit(args, result, [f"{n:10s} median {r['median_ms']:9.3f} ms  min {r['min_ms']:9.3f} ms" for n, r in rows.items()])


def log_q(cc):
    """log2 of the context's ciphertext modulus Q (an exact Python int)."""
    return math.log2(cc.GetElementParams().GetModulus())


def run_bootstrap(args):
    distribution = {
        "uniform": fhe.SecretKeyDist.UNIFORM_TERNARY,
        "sparse": fhe.SecretKeyDist.SPARSE_TERNARY,
    }[args.secret]
    level_budget = [args.dft_levels, args.dft_levels]
    params = fhe.CCParamsCKKSRNS()
    params.SetSecretKeyDist(distribution)
    params.SetSecurityLevel(fhe.SecurityLevel.HEStd_NotSet)
    params.SetRingDim(1 << args.log_n)
    params.SetFirstModSize(60)
    params.SetScalingModSize(args.scale_bits)
    params.SetScalingTechnique(fhe.ScalingTechnique.FLEXIBLEAUTO)
    params.SetKeySwitchTechnique(fhe.KeySwitchTechnique.HYBRID)
    params.SetNumLargeDigits(args.dnum)
    depth = args.levels_after + sum(level_budget) + EVAL_MOD_DEPTH[args.secret]
    params.SetMultiplicativeDepth(depth)
    slots = args.slots or (1 << (args.log_n - 1))
    params.SetBatchSize(slots)
    cc = context(params)
    cc.Enable(fhe.PKESchemeFeature.ADVANCEDSHE)
    cc.Enable(fhe.PKESchemeFeature.FHE)
    started = time.thread_time_ns()
    cc.EvalBootstrapSetup(level_budget, [0, 0], slots)
    keys = cc.KeyGen()
    cc.EvalMultKeyGen(keys.secretKey)
    cc.EvalBootstrapKeyGen(keys.secretKey, slots)
    keygen_seconds = (time.thread_time_ns() - started) / 1e9
    rng = random.Random(args.seed)
    errors, seconds = [], []
    for _ in range(args.trials):
        values = [rng.uniform(-1, 1) for _ in range(slots)]
        pt = cc.MakeCKKSPackedPlaintext(values, 1, depth - 1, None, slots)
        ct = cc.Encrypt(keys.publicKey, pt)
        holder = {}
        seconds.append(cpu_seconds(lambda: holder.setdefault("out", cc.EvalBootstrap(ct))))
        out = cc.Decrypt(holder["out"], keys.secretKey)
        out.SetLength(slots)
        got = out.GetRealPackedValue()
        errors.extend(abs(g - v) for g, v in zip(got, values))
    result = {
        "peer": "openfhe",
        "log_n": args.log_n,
        "slots": slots,
        "secret": args.secret,
        "level_budget": level_budget,
        "depth": depth,
        "scale_bits": args.scale_bits,
        "log_q": round(log_q(cc), 1),
        "dnum": args.dnum,
        "trials": args.trials,
        "mean_bits": -math.log2(statistics.fmean(errors)),
        "worst_bits": -math.log2(max(errors)),
        "seconds_per_bootstrap": statistics.fmean(seconds),
        "keygen_seconds": keygen_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": 1,
    }
    emit(
        args,
        result,
        [
            f"OpenFHE bootstrap N = 2^{args.log_n}, {slots} slots, {args.secret} secret, budget {level_budget}, "
            f"depth {depth} (log Q {result['log_q']}, {args.scale_bits}-bit scaling primes), dnum {args.dnum}",
            f"precision over {args.trials} trials (real slots): mean {result['mean_bits']:.2f} bits, "
            f"worst {result['worst_bits']:.2f} bits",
            f"CPU seconds per bootstrap (one thread): {result['seconds_per_bootstrap']:.3f}; keygen "
            f"{keygen_seconds:.1f} s; peak RSS {result['peak_rss_bytes'] / 1e9:.2f} GB",
        ],
    )


def emit(args, result, lines):
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dnum", type=int, default=3, help="key-switching digits (HYBRID)")
    parser.add_argument("--log-n", type=int, default=16, help="log2 of the ring degree (small ones for a smoke run)")
    sub = parser.add_subparsers(dest="mode", required=True)
    ops = sub.add_parser("ops", help="per-operation latency at the top level")
    ops.add_argument("--limbs", type=int, default=25, help="ciphertext primes (60-bit first, then 50-bit)")
    ops.add_argument("--reps", type=int, default=10, help="timed calls per op (after one warm-up)")
    boot = sub.add_parser("bootstrap", help="bootstrapping time and precision")
    boot.add_argument("--slots", type=int, default=0, help="slots (default N/2)")
    boot.add_argument("--dft-levels", type=int, default=3, help="CtS and StC level budget")
    boot.add_argument("--levels-after", type=int, default=6)
    boot.add_argument(
        "--scale-bits", type=int, default=59, help="scaling primes (59: OpenFHE's bootstrapping examples; 50 loses bits)"
    )
    boot.add_argument("--secret", choices=["uniform", "sparse"], default="uniform")
    boot.add_argument("--trials", type=int, default=1)
    boot.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name in ("reps", "limbs", "trials"):
        if getattr(args, name, 1) < 1:
            sys.exit(f"error: --{name} must be at least 1")
    if args.mode == "ops":
        run_ops(args)
    else:
        run_bootstrap(args)


if __name__ == "__main__":
    main()

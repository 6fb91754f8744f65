#!/usr/bin/env python3
"""Writes the ONNX fixtures of hesim's importer (tests/fixtures/onnx/) with the PyPI `onnx`
package, an implementation independent of hesim's decoder.

Expected outputs come from `onnx.reference.ReferenceEvaluator` (the `onnx` package's own
interpreter), never from hesim. ReLU is not a polynomial, so for networks that use it the
expected output is that of the same graph with each Relu replaced by hesim's documented
substitute c0 + c1*x + c2*x^2 (sw/src/nn/network.rs, `relu_polynomial`: R = 4,
c0 = 3R/32, c1 = 1/2, c2 = 15/(32R)).

The SpENCNN LeNet is exported from the checkpoint under the data root (`$HESIM_DATA`, else
`../shared` beside the repository, as hesim's loaders read it); the checkpoint itself is not
copied into the repository, only this ~70 KB export of it.

Usage (from the repository root):
    python -m venv /tmp/venv-onnx && /tmp/venv-onnx/bin/pip install -r scripts/onnx/requirements.txt
    /tmp/venv-onnx/bin/python scripts/onnx/make_fixtures.py
"""

import json
import os
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "onnx"
OPSET = 17
IR_VERSION = 8

RELU_RANGE = 4.0
RELU_POLY = [3.0 * RELU_RANGE / 32.0, 0.5, 15.0 / (32.0 * RELU_RANGE)]


def data_root() -> pathlib.Path:
    env = os.environ.get("HESIM_DATA")
    return pathlib.Path(env) if env else ROOT.parent / "shared"


def init(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def model(nodes, inputs, outputs, initializers, name, check=True):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    m = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="hesim scripts/onnx/make_fixtures.py",
    )
    m.ir_version = IR_VERSION
    if check:
        onnx.checker.check_model(m, full_check=True)
    return m


def tensor(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def relu_as_polynomial(m):
    """A copy of `m` whose Relu nodes compute hesim's ReLU substitute with Mul and Add."""
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    g = m2.graph
    nodes = []
    c0, c1, c2 = RELU_POLY
    g.initializer.extend([init("_relu_c0", [c0]), init("_relu_c1", [c1]), init("_relu_c2", [c2])])
    for n in g.node:
        if n.op_type != "Relu":
            nodes.append(n)
            continue
        x, y = n.input[0], n.output[0]
        nodes += [
            helper.make_node("Mul", [x, x], [y + "_sq"]),
            helper.make_node("Mul", [y + "_sq", "_relu_c2"], [y + "_t2"]),
            helper.make_node("Mul", [x, "_relu_c1"], [y + "_t1"]),
            helper.make_node("Add", [y + "_t2", y + "_t1"], [y + "_t12"]),
            helper.make_node("Add", [y + "_t12", "_relu_c0"], [y]),
        ]
    del g.node[:]
    g.node.extend(nodes)
    return m2


def expected(m, inputs):
    """Outputs of the onnx package's reference interpreter (ReLU as hesim's substitute)."""
    ref = ReferenceEvaluator(relu_as_polynomial(m))
    name = m.graph.input[0].name
    return [ref.run(None, {name: x})[0].ravel().tolist() for x in inputs]


def save(m, stem, inputs=None):
    path = OUT / f"{stem}.onnx"
    path.write_bytes(m.SerializeToString(deterministic=True))
    if inputs is not None:
        record = {
            "note": "outputs of onnx.reference.ReferenceEvaluator (float32), ReLU as hesim's substitute",
            "inputs": [x.ravel().tolist() for x in inputs],
            "outputs": expected(m, inputs),
        }
        (OUT / f"{stem}.expected.json").write_text(json.dumps(record, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
    return path


def inputs_for(shape, count, rng):
    return [rng.uniform(0.0, 1.0, size=shape).astype(np.float32) for _ in range(count)]


def tiny_conv(rng):
    """Conv, BatchNormalization, Relu, AveragePool, Mul by a constant, Flatten, MatMul + Add."""
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn1.weight", "bn1.bias", "bn1.mean", "bn1.var"],
                         ["b1"], name="bn1", epsilon=1e-5),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("AveragePool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Mul", ["p1", "half"], ["m1"], name="scale1"),
        helper.make_node("Flatten", ["m1"], ["f1"], name="flatten", axis=1),
        helper.make_node("MatMul", ["f1", "fc.weight_t"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "fc.bias"], ["y"], name="fc_bias"),
    ]
    inits = [
        init("conv1.weight", rng.normal(0, 0.4, (4, 1, 3, 3))),
        init("conv1.bias", rng.normal(0, 0.1, 4)),
        init("bn1.weight", rng.uniform(0.5, 1.5, 4)),
        init("bn1.bias", rng.normal(0, 0.1, 4)),
        init("bn1.mean", rng.normal(0, 0.1, 4)),
        init("bn1.var", rng.uniform(0.5, 1.5, 4)),
        init("half", [0.5]),
        init("fc.weight_t", rng.normal(0, 0.3, (64, 3))),
        init("fc.bias", rng.normal(0, 0.1, 3)),
    ]
    m = model(nodes, [tensor("x", [1, 1, 8, 8])], [tensor("y", [1, 3])], inits, "tiny_conv")
    save(m, "tiny_conv", inputs_for((1, 1, 8, 8), 2, rng))
    return m


def residual(rng):
    """Two convs and a residual Add, GlobalAveragePool, Flatten, Gemm (transB = 1)."""
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "conv2.weight"], ["c2"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"], name="shortcut"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1),
    ]
    inits = [
        init("conv1.weight", rng.normal(0, 0.3, (4, 2, 3, 3))),
        init("conv1.bias", rng.normal(0, 0.1, 4)),
        init("conv2.weight", rng.normal(0, 0.2, (4, 4, 3, 3))),
        init("fc.weight", rng.normal(0, 0.5, (5, 4))),
        init("fc.bias", rng.normal(0, 0.1, 5)),
    ]
    m = model(nodes, [tensor("x", [1, 2, 6, 6])], [tensor("y", [1, 5])], inits, "residual")
    save(m, "residual", inputs_for((1, 2, 6, 6), 2, rng))
    return m


def concat(rng):
    """Two conv branches joined by Concat on the channel axis, then Flatten and Gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "a.weight"], ["a"], name="branch_a", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["x", "b.weight"], ["b"], name="branch_b", kernel_shape=[1, 1]),
        helper.make_node("Concat", ["a", "b"], ["ab"], name="join", axis=1),
        helper.make_node("Reshape", ["ab", "flat_shape"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight"], ["y"], name="fc", transB=1),
    ]
    inits = [
        init("a.weight", rng.normal(0, 0.3, (2, 1, 3, 3))),
        init("b.weight", rng.normal(0, 0.3, (3, 1, 1, 1))),
        numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "flat_shape"),
        init("fc.weight", rng.normal(0, 0.2, (4, 5 * 4 * 4))),
    ]
    m = model(nodes, [tensor("x", [1, 1, 4, 4])], [tensor("y", [1, 4])], inits, "concat")
    save(m, "concat", inputs_for((1, 1, 4, 4), 2, rng))
    return m


def unsupported_op():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv1", kernel_shape=[3, 3]),
        helper.make_node("MaxPool", ["c"], ["y"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    m = model(nodes, [tensor("x", [1, 1, 6, 6])], [tensor("y", [1, 2, 2, 2])],
              [init("w", np.ones((2, 1, 3, 3)))], "unsupported_op")
    save(m, "unsupported_op")


def dynamic_shape():
    """The batch dimension is symbolic (`torch.onnx.export(..., dynamic_axes=...)`)."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", kernel_shape=[3, 3])]
    m = model(nodes, [tensor("x", ["batch", 1, 6, 6])], [tensor("y", ["batch", 2, 4, 4])],
              [init("w", np.ones((2, 1, 3, 3)))], "dynamic_shape")
    save(m, "dynamic_shape")


def cycle():
    """`grow` reads `loop`'s output and `loop` reads `grow`'s: no topological order."""
    nodes = [
        helper.make_node("Add", ["x", "back"], ["fwd"], name="grow"),
        helper.make_node("Relu", ["fwd"], ["back"], name="loop"),
        helper.make_node("Flatten", ["back"], ["y"], name="flatten"),
    ]
    m = model(nodes, [tensor("x", [1, 1, 4, 4])], [tensor("y", [1, 16])], [], "cycle", check=False)
    save(m, "cycle")


def dangling():
    """`conv2` reads `ghost`, which no node, input or initializer provides."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1", kernel_shape=[3, 3]),
        helper.make_node("Add", ["c1", "ghost"], ["y"], name="conv2"),
    ]
    m = model(nodes, [tensor("x", [1, 1, 6, 6])], [tensor("y", [1, 2, 4, 4])],
              [init("w", np.ones((2, 1, 3, 3)))], "dangling", check=False)
    save(m, "dangling")


def residual_mismatch():
    """A residual Add of a 2-channel and a 4-channel tensor."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "c1"], ["y"], name="shortcut"),
    ]
    m = model(nodes, [tensor("x", [1, 1, 6, 6])], [tensor("y", [1, 4, 6, 6])],
              [init("w1", np.ones((2, 1, 3, 3))), init("w2", np.ones((4, 2, 3, 3)))],
              "residual_mismatch", check=False)
    save(m, "residual_mismatch")


def truncated(m):
    """The first half of a valid model's bytes (a download cut short)."""
    data = m.SerializeToString(deterministic=True)
    path = OUT / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


def lenet_specnn(rng):
    """The SpENCNN LeNet as `torch.onnx.export` writes its modules: Conv with bias, the
    learned activation alpha*x*x + beta*x + c as Mul/Mul/Mul/Add/Add, AveragePool, Flatten,
    Gemm with transB = 1."""
    from safetensors.numpy import load_file

    ckpt = data_root() / "models" / "lenet_specnn.safetensors"
    w = load_file(str(ckpt))
    nodes = []

    def act(name, x):
        nodes.extend([
            helper.make_node("Mul", [f"{name}.alpha", x], [f"{name}_ax"], name=f"{name}/Mul"),
            helper.make_node("Mul", [f"{name}_ax", x], [f"{name}_axx"], name=f"{name}/Mul_1"),
            helper.make_node("Mul", [f"{name}.beta", x], [f"{name}_bx"], name=f"{name}/Mul_2"),
            helper.make_node("Add", [f"{name}_axx", f"{name}_bx"], [f"{name}_sum"], name=f"{name}/Add"),
            helper.make_node("Add", [f"{name}_sum", f"{name}.c"], [name], name=f"{name}/Add_1"),
        ])
        return name

    nodes.append(helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1"], name="conv1",
                                  kernel_shape=[5, 5], pads=[2, 2, 2, 2], group=1))
    a1 = act("relu1", "conv1")
    nodes.append(helper.make_node("AveragePool", [a1], ["pool1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]))
    nodes.append(helper.make_node("Conv", ["pool1", "conv2.weight", "conv2.bias"], ["conv2"], name="conv2",
                                  kernel_shape=[5, 5], group=4))
    a2 = act("relu2", "conv2")
    nodes.append(helper.make_node("AveragePool", [a2], ["pool2"], name="pool2", kernel_shape=[10, 10], strides=[10, 10]))
    nodes.append(helper.make_node("Flatten", ["pool2"], ["flat"], name="flatten", axis=1))
    nodes.append(helper.make_node("Gemm", ["flat", "linear1.weight", "linear1.bias"], ["linear1"], name="linear1",
                                  alpha=1.0, beta=1.0, transB=1))
    a4 = act("relu4", "linear1")
    nodes.append(helper.make_node("Gemm", [a4, "linear2.weight", "linear2.bias"], ["logits"], name="linear2",
                                  alpha=1.0, beta=1.0, transB=1))
    inits = [numpy_helper.from_array(v, k) for k, v in sorted(w.items())]
    m = model(nodes, [tensor("input", [1, 1, 28, 28])], [tensor("logits", [1, 10])], inits, "lenet_specnn")
    save(m, "lenet_specnn", inputs_for((1, 1, 28, 28), 3, rng))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261206)
    tiny = tiny_conv(rng)
    residual(rng)
    concat(rng)
    unsupported_op()
    dynamic_shape()
    cycle()
    dangling()
    residual_mismatch()
    truncated(tiny)
    lenet_specnn(rng)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The DPO step's GEMM shapes timed alternately in one process: ONNX Runtime's CPU provider (MLAS, the
onnxruntime Python wheel of the version onnxruntime-node uses) and PyTorch's MKL, one thread each.

The machine's speed drifts in phases of seconds, so each shape runs 30 alternating pairs and reports the median
of MLAS time / MKL time per pair. A transposed-A shape is a weight gradient dW = dYᵀ·X; ONNX Runtime fuses the
Transpose into the product in the engine's graphs (FusedMatMul) but this standalone graph keeps it, so that row
includes the copy.

  scripts/parity/.venv/bin/python bench/gemm_ort_vs_mkl.py [--pairs 30]

Prints one line per shape and, last, one JSON object.
"""

import argparse
import json
import time

import numpy as np
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

# (M, K, N, A transposed): q/o, gate/up forward, down forward / gate-up input gradient, weight gradients.
SHAPES = [(1536, 384, 384, False), (1536, 384, 1024, False), (1536, 1024, 384, False), (1024, 1536, 384, True), (384, 1536, 1024, True)]


def ort_matmul(m, k, n, transposed_a):
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [k, m] if transposed_a else [m, k])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [k, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])
    nodes = [helper.make_node("Transpose", ["a"], ["at"], perm=[1, 0])] if transposed_a else []
    nodes.append(helper.make_node("MatMul", ["at" if transposed_a else "a", "b"], ["y"]))
    model = helper.make_model(helper.make_graph(nodes, "g", [a, b], [y]), opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    for m, k, n, transposed_a in SHAPES:
        a = rng.random((k, m) if transposed_a else (m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        session = ort_matmul(m, k, n, transposed_a)
        io = session.io_binding()
        io.bind_cpu_input("a", a)
        io.bind_cpu_input("b", b)
        io.bind_output("y", "cpu", element_type=np.float32, shape=(m, n), buffer_ptr=out.ctypes.data)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        mkl = (lambda: ta.t() @ tb) if transposed_a else (lambda: ta @ tb)
        mlas = lambda: session.run_with_iobinding(io)  # noqa: E731
        for f in (mkl, mlas, mkl, mlas):
            f()
        pairs = []
        for i in range(args.pairs):
            first, second = (mkl, mlas) if i % 2 == 0 else (mlas, mkl)
            t0 = time.perf_counter()
            first()
            t1 = time.perf_counter()
            second()
            t2 = time.perf_counter()
            mkl_s, mlas_s = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
            pairs.append((mkl_s, mlas_s))
        flops = 2 * m * k * n
        row = {
            "m": m,
            "k": k,
            "n": n,
            "transposed_a": transposed_a,
            "mkl_gflops": flops / float(np.median([p[0] for p in pairs])) / 1e9,
            "mlas_gflops": flops / float(np.median([p[1] for p in pairs])) / 1e9,
            "mlas_over_mkl_time": float(np.median([p[1] / p[0] for p in pairs])),
        }
        rows.append(row)
        print(
            f"[{m}×{k}]·[{k}×{n}]{' (Aᵀ, with its Transpose)' if transposed_a else ''}: MKL {row['mkl_gflops']:.0f} GFLOP/s, "
            f"MLAS {row['mlas_gflops']:.0f} GFLOP/s, MLAS/MKL time {row['mlas_over_mkl_time']:.2f}",
            flush=True,
        )
    print(json.dumps({"torch": torch.__version__, "onnxruntime": ort.__version__, "threads": 1, "pairs": args.pairs, "shapes": rows}))


if __name__ == "__main__":
    main()

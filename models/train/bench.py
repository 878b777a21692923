#!/usr/bin/env python3
"""Throughput of the shipped ONNX model with onnxruntime (CPU), batched.

  models/.venv/bin/python models/train/bench.py
Inputs: the fixtures plus random payloads of random length (content does not change the cost of a
fixed-size CNN, only batch size and thread count do).
"""
import json
import os
import platform
import time

import numpy as np
import onnxruntime as ort

MODELS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main():
    meta = json.load(open(os.path.join(MODELS, "payload_cnn.json")))
    path = os.path.join(MODELS, meta["model_file"])
    L = meta["input_length"]
    rng = np.random.default_rng(0)
    N = 4096
    X = np.full((N, L), meta["pad_value"], dtype=np.int64)
    lens = rng.integers(40, L + 1, N)
    for i, n in enumerate(lens):
        X[i, :n] = rng.integers(0, 256, n)
    res = []
    for threads in (1, 2):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        for bs in (1, 32, 256):
            n = 512 if bs == 1 else N
            sess.run(["logits"], {"payload": X[:bs]})  # warm-up
            best = 0.0
            for _ in range(3):
                t = time.perf_counter()
                for i in range(0, n, bs):
                    sess.run(["logits"], {"payload": X[i:i + bs]})
                best = max(best, n / (time.perf_counter() - t))
            res.append({"threads": threads, "batch": bs, "payloads_per_s": round(best)})
            print(res[-1], flush=True)
    out = {"onnxruntime": ort.__version__, "cpu": platform.processor() or platform.machine(), "model_bytes": os.path.getsize(path),
           "results": res}
    os.makedirs(os.path.join(MODELS, ".data"), exist_ok=True)
    json.dump(out, open(os.path.join(MODELS, ".data", "bench.json"), "w"), indent=1)


if __name__ == "__main__":
    main()

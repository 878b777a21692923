#!/usr/bin/env python3
"""Cheap CI check of the shipped payload CNN (no training, stdlib only by default).

  python3 models/train/check.py          # metadata contract, sha256, size, fixtures format
  python3 models/train/check.py --ort    # also run the fixtures through onnxruntime (needs numpy + onnxruntime)
Prints 'N passed, N failed' and exits non-zero on any failure.
"""
import argparse
import base64
import hashlib
import json
import math
import os
import sys

MODELS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
results = []


def ok(name, cond, detail=""):
    results.append((name, bool(cond)))
    if not cond:
        print("FAIL %s %s" % (name, detail))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ort", action="store_true", help="also evaluate the fixtures with onnxruntime")
    ap.add_argument("--dir", default=MODELS)
    a = ap.parse_args()
    meta_path = os.path.join(a.dir, "payload_cnn.json")
    meta = json.load(open(meta_path))
    onnx_path = os.path.join(a.dir, meta.get("model_file", ""))
    ok("format_version", meta.get("format_version") == 1)
    ok("model_file", meta.get("model_file") == "payload_cnn.onnx")
    ok("onnx exists", os.path.isfile(onnx_path))
    data = open(onnx_path, "rb").read() if os.path.isfile(onnx_path) else b""
    ok("sha256", hashlib.sha256(data).hexdigest() == meta.get("sha256"), "json says %s" % meta.get("sha256"))
    ok("size < 1 MB", 0 < len(data) < 1_000_000, str(len(data)))
    ok("input_name", meta.get("input_name") == "payload")
    ok("output_name", meta.get("output_name") == "logits")
    ok("pad_value", meta.get("pad_value") == 256)
    ok("input_length", isinstance(meta.get("input_length"), int) and meta["input_length"] > 0)
    classes = meta.get("classes", [])
    ok("classes", classes[:1] == ["benign"] and {"sql_injection", "xss", "path_traversal", "command_injection", "shellcode"} <= set(classes))
    ok("benign_class", meta.get("benign_class") in classes)
    thr = meta.get("threshold")
    ok("threshold", isinstance(thr, float) and 0.0 < thr <= 1.0)
    ok("opset", isinstance(meta.get("opset"), int))
    ok("training/metrics", isinstance(meta.get("training"), dict) and isinstance(meta.get("metrics"), dict))
    m = meta.get("metrics", {})
    ok("metrics per class", set(classes) <= set(m.get("per_class", {})))
    ok("metrics fpr", m.get("benign_fpr_at_threshold") is not None)

    fx_path = os.path.join(a.dir, "fixtures", "payload_cnn_fixtures.json")
    fixtures = json.load(open(fx_path))
    ok("fixtures non-empty", len(fixtures) >= len(classes))
    for c in classes:
        ok("fixture for %s" % c, any(f["class"] == c for f in fixtures))
    for f in fixtures:
        good = {"name", "class", "payload_b64", "logits"} <= set(f) and f["class"] in classes and len(f["logits"]) == len(classes)
        good = good and all(isinstance(x, float) and math.isfinite(x) for x in f["logits"])
        base64.b64decode(f["payload_b64"], validate=True)
        ok("fixture %s format" % f.get("name"), good)

    if a.ort:
        import numpy as np
        import onnxruntime as ort
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        out = sess.get_outputs()[0]
        ok("ort input", inp.name == "payload" and inp.type == "tensor(int64)" and inp.shape[1] == meta["input_length"])
        ok("ort output", out.name == "logits" and out.type == "tensor(float)" and out.shape[1] == len(classes))
        L = meta["input_length"]
        bi = classes.index(meta["benign_class"])
        X = np.full((len(fixtures), L), meta["pad_value"], dtype=np.int64)
        for i, f in enumerate(fixtures):
            b = np.frombuffer(base64.b64decode(f["payload_b64"])[:L], dtype=np.uint8)
            X[i, : len(b)] = b
        lo = sess.run(["logits"], {"payload": X})[0]  # batched run: exercises the dynamic batch axis
        for i, f in enumerate(fixtures):
            d = float(np.abs(lo[i] - np.array(f["logits"], dtype=np.float32)).max())
            ok("fixture %s logits" % f["name"], d < 1e-4, "max diff %g" % d)
            z = lo[i].astype(np.float64)
            p = np.exp(z - z.max())
            p /= p.sum()
            q = p.copy()
            q[bi] = -1
            pred = classes[int(q.argmax())] if q.max() >= meta["threshold"] else meta["benign_class"]
            ok("fixture %s class" % f["name"], pred == f["class"], "pred %s" % pred)

    n_ok = sum(1 for _, g in results if g)
    n_bad = len(results) - n_ok
    print("payload_cnn check: %d passed, %d failed" % (n_ok, n_bad))
    sys.exit(1 if n_bad else 0)


if __name__ == "__main__":
    main()

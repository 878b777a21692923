#!/usr/bin/env python3
"""Regenerate the measured part of models/README.md (between the metrics markers) from
models/payload_cnn.json, models/.data/eval_report.json and models/.data/bench.json."""
import json
import os

MODELS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"


def pct(x, nd=2):
    return "%.*f %%" % (nd, 100 * x)


def main():
    meta = json.load(open(os.path.join(MODELS, "payload_cnn.json")))
    rep_path = os.path.join(MODELS, ".data", "eval_report.json")
    rep = json.load(open(rep_path)) if os.path.exists(rep_path) else {}
    bench_path = os.path.join(MODELS, ".data", "bench.json")
    bench = json.load(open(bench_path)) if os.path.exists(bench_path) else None
    m = meta["metrics"]
    t = meta["training"]
    L = []
    L.append("Model: `payload_cnn.onnx`, %d bytes, %d parameters, opset %d, sha256 `%s`." % (
        meta["size_bytes"], t["hyperparameters"]["params"], meta["opset"], meta["sha256"]))
    L.append("Threshold (max non-benign softmax probability): **%.6f**, chosen on the validation split for a benign FPR <= 0.1 %% "
             "(validation FPR at it: %s)." % (meta["threshold"], pct(m["val_benign_fpr_at_threshold"], 3)))
    L.append("")
    L.append("### Test split (held-out payload groups), decision at the threshold")
    L.append("")
    L.append("| class | precision | recall | F1 | rows | detected as any attack |")
    L.append("|---|---|---|---|---|---|")
    for c in meta["classes"]:
        pc = m["per_class"][c]
        det = m["detection_rate_any_attack_class"].get(c)
        L.append("| %s | %.4f | %.4f | %.4f | %d | %s |" % (c, pc["precision"], pc["recall"], pc["f1"], pc["support"], "-" if det is None else "%.4f" % det))
    L.append("")
    L.append("Benign false-positive rate at the threshold: **%s** on the test split (%d benign rows); "
             "**%s** on %d out-of-distribution benign rows from protocols never trained on (%s)." % (
                 pct(m["benign_fpr_at_threshold"], 3), m["per_class"]["benign"]["support"], pct(m["ood_benign"]["benign_fpr_at_threshold"], 2),
                 m["ood_benign"]["rows"], ", ".join("%s %s" % (k, pct(v, 1)) for k, v in m["ood_benign"]["by_family"].items())))
    L.append("")
    L.append("Confusion matrix (rows = true, columns = predicted, same order as `classes`):")
    L.append("")
    L.append("```")
    for c, row in zip(meta["classes"], m["confusion_matrix"]["matrix"]):
        L.append("%-18s %s" % (c, " ".join("%6d" % x for x in row)))
    L.append("```")
    L.append("")
    L.append("### Against libinjection (same test rows, SQLi/XSS part)")
    L.append("")
    L.append("| detector | benign FPR | SQLi recall | XSS recall |")
    L.append("|---|---|---|---|")
    L.append("| **payload CNN at shipped threshold** | %s | %.4f | %.4f |" % (pct(m["benign_fpr_at_threshold"], 3), m["per_class"]["sql_injection"]["recall"], m["per_class"]["xss"]["recall"]))
    for mode, label in (("parsed", "libinjection, every decoded parameter/header/body value (its best case)"), ("raw", "libinjection on the raw payload bytes")):
        lb = m["libinjection"][mode]
        L.append("| %s | %s | %.4f | %.4f |" % (label, pct(lb["benign_fpr"], 3), lb["sql_injection_recall"], lb["xss_recall"]))
        c = m["cnn_at_libinjection_fpr"][mode]
        L.append("| payload CNN at that same FPR | %s | %.4f | %.4f |" % (pct(c["benign_fpr"], 3), c["sql_injection_recall"], c["xss_recall"]))
    L.append("")
    if rep.get("operating_points"):
        L.append("### Other operating points (threshold picked on validation for the target FPR, measured on test)")
        L.append("")
        cls = [c for c in meta["classes"] if c != "benign"]
        L.append("| target val FPR | threshold | test benign FPR | " + " | ".join(cls) + " |")
        L.append("|---|---|---|" + "---|" * len(cls))
        for op in rep["operating_points"]:
            L.append("| %s | %.6f | %s | %s |" % (pct(op["target_val_fpr"], 2), op["threshold"], pct(op["test_benign_fpr"], 3),
                                                  " | ".join("%.4f" % op["detect_" + c] for c in cls)))
        L.append("")
        L.append("(columns per attack class: share of its test rows detected as any attack)")
        L.append("")
    if rep.get("recall_by_source"):
        L.append("### Recall (exact class) by source and by carrier on the test split")
        L.append("")
        L.append("| class / source | correct / rows | recall |")
        L.append("|---|---|---|")
        for k, (a, b, r) in rep["recall_by_source"].items():
            L.append("| %s | %d / %d | %.4f |" % (k.replace("|", " / "), a, b, r))
        L.append("")
        L.append("<details><summary>by carrier</summary>")
        L.append("")
        L.append("| class / carrier | correct / rows | recall |")
        L.append("|---|---|---|")
        for k, (a, b, r) in rep["recall_by_carrier"].items():
            L.append("| %s | %d / %d | %.4f |" % (k.replace("|", " / "), a, b, r))
        L.append("")
        L.append("</details>")
        L.append("")
    if bench:
        L.append("### Speed (onnxruntime %s, Python, CPU `%s`)" % (bench["onnxruntime"], bench["cpu"]))
        L.append("")
        L.append("Command: `models/.venv/bin/python models/train/bench.py` (4096 random payloads, best of 3).")
        L.append("")
        L.append("| intra-op threads | batch | payloads/s |")
        L.append("|---|---|---|")
        for r in bench["results"]:
            L.append("| %d | %d | %d |" % (r["threads"], r["batch"], r["payloads_per_s"]))
        L.append("")
    L.append("Training history: " + "; ".join("epoch %d loss %.4f val-acc %.4f (%ds)" % (h["epoch"], h["train_loss"], h["val_acc"], h["seconds"]) for h in t["history"])
             + (". The shipped weights come from that 7-epoch run; the evaluation, threshold, fixtures and ONNX export above "
                "were re-run on them with `train.py --weights` (%d s; see Retraining)." % t["train_seconds"]
                if t.get("weights_loaded_from_previous_run") else ". Whole train.py run: %d s on %s." % (t["train_seconds"], t["host"])))
    block = "\n".join(L)
    path = os.path.join(MODELS, "README.md")
    text = open(path).read()
    a, b = text.index(START) + len(START), text.index(END)
    open(path, "w").write(text[:a] + "\n" + block + "\n" + text[b:])
    print(block)


if __name__ == "__main__":
    main()

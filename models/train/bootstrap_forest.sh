#!/bin/sh
# The bootstrap isolation forest: the model kronos scores with before it has learned the local
# network (see "Bootstrap isolation forest" in models/README.md).
#
#   1. record benign traffic in the netns lab (argus-lab record-baseline: web browsing and page loads,
#      API polling, DNS-like UDP, downloads, interactive sessions, short load tests, from many sources);
#   2. turn the capture into flow records with sentinel's own flow logic (argus-sentinel --pcap);
#   3. fit kronos's model on them with kronos's own features (argus-kronos train);
#   4. write models/bootstrap_forest.bin and models/bootstrap_forest.json (metadata and provenance).
#
# Needs root (network namespaces) and the lab's tools (curl, wrk, socat, tcpdump). Environment:
#   SECS     seconds of traffic to record (default 1440; ~5000 baseline rows are needed: kronos takes
#            one vector per source per 10 s, and calibrating the 99.9th percentile needs 1000 held out)
#   SOURCES  extra client addresses per family, besides the two primary ones (default 26)
#   SEED     seed of the users' schedules (default 1)
#   KEEP     directory to keep the capture and the records in (default: a temporary one, removed)
#   PCAP     fit on this earlier recording instead of recording (give the SECS, SOURCES and SEED it
#            was recorded with, for the metadata)
set -eu

SECS=${SECS:-1440}
SOURCES=${SOURCES:-26}
SEED=${SEED:-1}
repo=$(cd "$(dirname "$0")/../.." && pwd)
models="$repo/models"
[ "$(id -u)" = 0 ] || { echo "bootstrap_forest.sh: needs root (network namespaces)" >&2; exit 1; }

cargo build --release --manifest-path "$repo/Cargo.toml" \
    -p argus-tests -p argus-sentinel -p argus-kronos
bin="$repo/target/release"

work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
# Defaults throughout (flow timeouts, windows, forest and calibration settings): what the appliance
# runs with. An explicit empty file, so a local /etc/argus/aegis.yaml cannot change the result.
: > "$work/aegis.yaml"

if [ -n "${PCAP:-}" ]; then
    [ "$PCAP" -ef "$work/lab-baseline.pcap" ] || cp "$PCAP" "$work/lab-baseline.pcap"
else
    echo "== recording ${SECS}s of benign lab traffic (seed $SEED, $SOURCES extra addresses per family)"
    "$bin/argus-lab" record-baseline --out "$work/lab-baseline.pcap" \
        --secs "$SECS" --sources "$SOURCES" --seed "$SEED"
fi
echo "== flow records (argus-sentinel --pcap)"
"$bin/argus-sentinel" --config "$work/aegis.yaml" --pcap "$work/lab-baseline.pcap" \
    --out "$work/records.jsonl"
echo "== fitting (argus-kronos train)"
"$bin/argus-kronos" --config "$work/aegis.yaml" train --input "$work/records.jsonl" \
    --output "$models/bootstrap_forest.bin" > "$work/model-info.json" 2> "$work/train.log"
cat "$work/train.log" >&2

# One metadata file for people: kronos's sidecar (bootstrap_forest.bin.json) plus provenance.
python3 - "$work" "$models" "$SECS" "$SOURCES" "$SEED" <<'EOF'
import hashlib, json, os, re, sys
work, models, secs, sources, seed = sys.argv[1:]
info = json.load(open(os.path.join(work, "model-info.json")))
model = os.path.join(models, "bootstrap_forest.bin")
pcap = os.path.join(work, "lab-baseline.pcap")
counters = open(os.path.join(work, "train.log")).read()
flows = re.search(r"flows: (\d+)", counters)
rows = info["training_samples"]
sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
meta = {
    "model_file": "bootstrap_forest.bin",
    "format": "argus-kronos detector (MessagePack envelope, see kronos/src/persist.rs)",
    "sha256": sha,
    "size_bytes": os.path.getsize(model),
    # What kronos reports when it runs this file as its bootstrap model.
    "version": "bootstrap-" + sha[:12],
    "created_at_unix_s": info["created_at_unix_s"],
    "feature_names": info["feature_names"],
    "training_rows": rows,
    "fit_rows": info["fit_rows"],
    "holdout_rows": rows - info["fit_rows"],
    "thresholds": {
        "quantile": info["quantile"],
        "forest": info["forest_threshold"],
        "deviation": info["deviation_threshold"],
    },
    "recording": {
        "what": "benign netns-lab traffic (argus-lab record-baseline): browsing, browser page loads, "
                "API polling, DNS-like UDP, 2 MiB downloads, interactive sessions, short load tests",
        "seconds": int(secs),
        "seed": int(seed),
        "sources": 2 + 2 * int(sources),
        "pcap_bytes": os.path.getsize(pcap),
        "pcap_sha256": hashlib.sha256(open(pcap, "rb").read()).hexdigest(),
        "flow_records": int(flows.group(1)) if flows else None,
    },
    "command": f"SECS={secs} SOURCES={sources} SEED={seed} models/train/bootstrap_forest.sh",
    "stop_gap": "trained on lab traffic; the appliance replaces it with a model of the local "
                "network learned during the dry-run week",
}
json.dump(meta, open(os.path.join(models, "bootstrap_forest.json"), "w"), indent=2)
open(os.path.join(models, "bootstrap_forest.json"), "a").write("\n")
os.remove(model + ".json")
print(f"bootstrap_forest.bin: {meta['size_bytes']} bytes, {rows} rows, sha256 {meta['sha256']}")
EOF

#!/usr/bin/env bash
# One command to rebuild the payload CNN from scratch:
#   models/train/train.sh            (full run, ~20-25 min on 2 cores)
# Steps: Debian packages (torch, wfuzz word lists, cross binutils, wamerican) -> models/.venv
# -> dataset (models/.data) -> train/threshold/evaluate -> ONNX + payload_cnn.json + fixtures
# -> check.py. Extra arguments are passed to train.py (e.g. --epochs 2 for a smoke run).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
MODELS="$(dirname "$HERE")"
VENV="$MODELS/.venv"
APT_PKGS="python3-torch python3-numpy python3-venv wfuzz wamerican binutils binutils-x86-64-linux-gnu binutils-arm-linux-gnueabihf binutils-aarch64-linux-gnu"

missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "== installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"

export PWNLIB_NOTERM=1 PYTHONHASHSEED=0 OMP_NUM_THREADS=2
cd "$MODELS"
start=$(date +%s)
echo "== building dataset"
"$VENV/bin/python" "$HERE/build_dataset.py"
echo "== training"
"$VENV/bin/python" "$HERE/train.py" "$@"
echo "== benchmark"
"$VENV/bin/python" "$HERE/bench.py"
echo "== check"
"$VENV/bin/python" "$HERE/check.py"
echo "== done in $(( $(date +%s) - start )) s"

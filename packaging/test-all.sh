#!/usr/bin/env bash
# The Argus test command: everything CI checks, in one script.
#
#   sudo packaging/test-all.sh
#
# Steps (in this order; each is timed):
#   deps     install what is missing (packaging/lib/deps.sh, shared with the lab demo): clang, libbpf
#            headers, the aarch64 cross toolchain, qemu-user, cargo-deb, the pinned ONNX Runtime
#   fmt      cargo fmt --all -- --check
#   clippy   cargo clippy --workspace --all-targets -- -D warnings
#   deb      packaging/build-deb.sh amd64 arm64: release builds, .deb packages, packaging/check-deb.sh
#            (contents, conffiles, ELF architectures, glibc versions, systemd-analyze verify of the units)
#   install  packaging/test-install.sh: install/upgrade/remove/purge the amd64 .deb on this machine (root)
#   units    packaging/test-units.sh: the amd64 .deb in a booted systemd-nspawn container — each unit's
#            sandbox (user, capabilities, bpffs, sockets, read-only paths), then the real binaries
#   arm64    the portable (non-BPF) tests cross-built for aarch64 and run under qemu-user
#   models   python3 models/train/check.py (shipped models match their recorded sha256), if present
#   test     cargo test --workspace --no-fail-fast, root-only tests included (last, so its summary ends
#            the output)
#
# Environment:
#   ARGUS_SKIP=deb,arm64     skip steps (comma-separated names from the list above)
#   ARGUS_ONLY=fmt,test      run only these steps
#   ARGUS_ARM64_CRATES, ARGUS_ARM64_LIB_CRATES      crates tested under qemu (defaults below)
#   ARGUS_TEST_ARGS="..."    extra arguments for the final `cargo test` (after --workspace)
#
# A failing step does not stop the others (so one run reports everything); the script exits non-zero if
# any step failed. Must run as root for the root-only tests (network namespaces, XDP, bpffs) and the
# install test; CI runs it as root on a fresh Debian 12 machine (.ci/run).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/deps.sh
source "$here/lib/deps.sh"
cd "$ARGUS_ROOT"

# Under qemu-user: crates whose whole test suite is portable, and crates of which only the library's unit
# tests are (their integration tests load BPF programs, which qemu-user cannot pass to the kernel).
ARGUS_ARM64_CRATES="${ARGUS_ARM64_CRATES:-argus-config argus-proto argus-metrics argus-kronos}"
ARGUS_ARM64_LIB_CRATES="${ARGUS_ARM64_LIB_CRATES:-argus-sentinel-common argus-enforcer}"
locked=()
[ -n "${CI:-}" ] && locked=(--locked)

target_dir="$(argus_target_dir)"
export ARGUS_DEB_OUT="${ARGUS_DEB_OUT:-$target_dir/debian}"
times_file="$target_dir/test-all-times.txt"
mkdir -p "$target_dir"
: >"$times_file"
failed=()
t_start=$SECONDS

wanted() {
    local s="$1"
    if [ -n "${ARGUS_ONLY:-}" ]; then [[ ",$ARGUS_ONLY," == *",$s,"* ]] || return 1; fi
    [[ ",${ARGUS_SKIP:-}," != *",$s,"* ]]
}

# step <name> <command...>: runs one step, records its duration and result.
step() {
    local name="$1" t0 rc
    shift
    wanted "$name" || { printf '%-8s skipped\n' "$name" >>"$times_file"; return 0; }
    argus_log "[$name] $*"
    t0=$SECONDS
    "$@"
    rc=$?
    printf '%-8s %4ds  %s\n' "$name" $((SECONDS - t0)) "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")" >>"$times_file"
    [ $rc = 0 ] || failed+=("$name")
    return 0
}

do_deps() { (set -e; argus_deps test); }

do_deb() { "$here/build-deb.sh" amd64 arm64; }

do_install() {
    if [ "$(id -u)" -ne 0 ]; then
        argus_warn "install test needs root: skipped"
        return 0
    fi
    local deb
    deb="$(ls "$ARGUS_DEB_OUT"/argus_*_amd64.deb 2>/dev/null | sort -V | tail -1)"
    [ -n "$deb" ] || { argus_warn "no amd64 .deb built"; return 1; }
    "$here/test-install.sh" "$deb"
}

do_units() {
    if [ "$(id -u)" -ne 0 ]; then
        argus_warn "unit runtime test needs root: skipped"
        return 0
    fi
    local deb
    deb="$(ls "$ARGUS_DEB_OUT"/argus_*_amd64.deb 2>/dev/null | sort -V | tail -1)"
    [ -n "$deb" ] || { argus_warn "no amd64 .deb built"; return 1; }
    "$here/test-units.sh" "$deb"
}

do_arm64() {
    (
        set -e
        argus_rust_target aarch64-unknown-linux-gnu
        argus_cross_env
        local pkgs=() libs=() c
        for c in $ARGUS_ARM64_CRATES; do pkgs+=(-p "$c"); done
        for c in $ARGUS_ARM64_LIB_CRATES; do libs+=(-p "$c"); done
        # ORT for the CNN tests: the aarch64 library, loaded by the aarch64 test binary under qemu.
        ORT_DYLIB_PATH="$(argus_ort_lib arm64)"
        export ORT_DYLIB_PATH
        [ ${#pkgs[@]} -eq 0 ] || cargo test "${locked[@]}" --target aarch64-unknown-linux-gnu "${pkgs[@]}"
        [ ${#libs[@]} -eq 0 ] || cargo test "${locked[@]}" --target aarch64-unknown-linux-gnu "${libs[@]}" --lib
    )
}

do_models() {
    if [ -f models/train/check.py ]; then
        python3 models/train/check.py
    else
        echo "models/train/check.py not present: nothing to check"
    fi
}

# ORT_DYLIB_PATH for the host's tests is set by argus_deps; make sure it is set even with ARGUS_SKIP=deps.
step deps do_deps
argus_cargo_path
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    ORT_DYLIB_PATH="$(argus_ort_lib "$(dpkg --print-architecture)" 2>/dev/null)" && export ORT_DYLIB_PATH
fi
step fmt cargo fmt --all -- --check
step clippy cargo clippy "${locked[@]}" --workspace --all-targets -- -D warnings
step deb do_deb
step install do_install
step units do_units
step arm64 do_arm64
step models do_models

# Timings so far (the final test step's own time is in cargo's summary), then the tests.
{
    echo
    echo "test-all: step timings (2-core budget: 90 min total)"
    sed 's/^/  /' "$times_file"
    [ ${#failed[@]} -eq 0 ] || echo "  failed so far: ${failed[*]}"
    echo
} >&2
if [ "$(id -u)" -ne 0 ]; then
    argus_warn "not root: the root-only tests (network namespaces, XDP) will fail; run: sudo packaging/test-all.sh"
fi
# shellcheck disable=SC2086
step test cargo test "${locked[@]}" --workspace --no-fail-fast ${ARGUS_TEST_ARGS:-}

echo "total    $((SECONDS - t_start))s" >>"$times_file"
if [ ${#failed[@]} -ne 0 ]; then
    echo "test-all: FAILED steps: ${failed[*]} (timings: $times_file)" >&2
    exit 1
fi

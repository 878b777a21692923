# shellcheck shell=bash
# Shared dependency installation for Argus scripts (packaging/test-all.sh, packaging/build-deb.sh, the lab
# demo tests/lab/demo.sh …). Source it; do not execute it. Every function is idempotent: it checks first and
# only installs what is missing, so running a script twice costs nothing the second time.
#
#   source "$(dirname "$0")/lib/deps.sh"
#   argus_deps build        # toolchain for building the workspace (clang, libbpf headers …)
#   argus_deps test         # build + everything test-all.sh needs (cross toolchain, qemu, cargo-deb, ORT)
#   argus_deps demo         # build + what the lab demo needs at run time
#
# Pinned versions live here and nowhere else.

# ONNX Runtime shipped in the .deb and used by tests (ORT_DYLIB_PATH). The `ort` crate (=2.0.0-rc.15,
# feature api-24) needs at least 1.24; it was designed for 1.24.x. The shared library is taken from the
# official PyPI wheel (onnxruntime/capi/libonnxruntime.so.<version>), verified against these digests.
ARGUS_ORT_VERSION="${ARGUS_ORT_VERSION:-1.24.4}"
# To try another version, set ARGUS_ORT_VERSION and add its digests here (key: version/arch).
declare -gA ARGUS_ORT_WHEEL_SHA256=(
    [1.24.4/amd64]=e54ad52e61d2d4618dcff8fa1480ac66b24ee2eab73331322db1049f11ccf330
    [1.24.4/arm64]=046ff290045a387676941a02a8ae5c3ebec6b4f551ae228711968c4a69d8f6b7
)
declare -gA ARGUS_ORT_WHEEL_PLATFORM=(
    [amd64]=manylinux_2_28_x86_64
    [arm64]=manylinux_2_28_aarch64
)
ARGUS_CARGO_DEB_VERSION="${ARGUS_CARGO_DEB_VERSION:-3.8.0}"

# Debian architecture → Rust target triple.
declare -gA ARGUS_RUST_TARGET=(
    [amd64]=x86_64-unknown-linux-gnu
    [arm64]=aarch64-unknown-linux-gnu
)

ARGUS_ROOT="${ARGUS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
ARGUS_CACHE_DIR="${ARGUS_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/argus}"

# Debian packages per profile. The demo's author adds what the lab needs to ARGUS_APT_DEMO.
ARGUS_APT_BUILD=(clang llvm libbpf-dev libelf-dev linux-libc-dev pkg-config gcc libc6-dev make file)
ARGUS_APT_TEST=(bpftool iproute2 iputils-ping ethtool util-linux
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu qemu-user-static binfmt-support
    systemd dpkg-dev help2man unzip python3 python3-venv ca-certificates)
ARGUS_APT_DEMO=(bpftool iproute2 iputils-ping ethtool python3 python3-venv)
# The netns lab's traffic tools: used by the demo and by the end-to-end tests.
ARGUS_APT_LAB=(nmap hping3 wrk curl socat tcpdump)

# Cargo's target directory (CARGO_TARGET_DIR is honoured).
argus_target_dir() { printf '%s\n' "${CARGO_TARGET_DIR:-$ARGUS_ROOT/target}"; }

argus_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
argus_warn() { printf 'warning: %s\n' "$*" >&2; }
argus_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages given as arguments that are not installed yet.
argus_apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        argus_die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    fi
    argus_log "apt-get install ${missing[*]}"
    # One `apt-get update` per machine boot is enough; a fresh CI machine has empty lists.
    if [ -z "${ARGUS_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        export ARGUS_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Cargo's bin dir on PATH (rustup installs land there; CI images sometimes lack it on PATH for root).
argus_cargo_path() {
    local d="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin"
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$d:$PATH" ;; esac
    export PATH
    command -v cargo >/dev/null || argus_die "cargo not found: install the Rust toolchain (rustup) first"
}

# Adds a rustup target for the toolchain pinned in rust-toolchain.toml, if missing.
argus_rust_target() {
    local triple="$1"
    (cd "$ARGUS_ROOT" && rustup target list --installed | grep -qx "$triple") && return 0
    argus_log "rustup target add $triple"
    (cd "$ARGUS_ROOT" && rustup target add "$triple")
}

# cargo-deb, only when absent (keeps CI caches of ~/.cargo useful).
argus_cargo_deb() {
    command -v cargo-deb >/dev/null && return 0
    argus_log "cargo install cargo-deb $ARGUS_CARGO_DEB_VERSION"
    cargo install --locked --version "$ARGUS_CARGO_DEB_VERSION" cargo-deb
}

# Makes `python3 -m pip` available (only needed to download the ONNX Runtime wheel).
argus_pip() {
    python3 -m pip --version >/dev/null 2>&1 && return 0
    argus_apt_install python3-pip
}

# Prints the path of libonnxruntime.so for a Debian architecture (amd64|arm64), downloading and verifying
# the pinned wheel into the cache on first use.
argus_ort_lib() {
    local arch="$1" dir wheel want got
    [ -n "${ARGUS_ORT_WHEEL_PLATFORM[$arch]:-}" ] || argus_die "no ONNX Runtime wheel for architecture '$arch'"
    dir="$ARGUS_CACHE_DIR/onnxruntime-$ARGUS_ORT_VERSION/$arch"
    if [ ! -s "$dir/libonnxruntime.so" ]; then
        argus_pip
        argus_log "downloading onnxruntime $ARGUS_ORT_VERSION wheel ($arch) from PyPI"
        rm -rf "$dir" && mkdir -p "$dir/wheel"
        python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
            --platform "${ARGUS_ORT_WHEEL_PLATFORM[$arch]}" --python-version 3.11 --implementation cp --abi cp311 \
            -d "$dir/wheel" "onnxruntime==$ARGUS_ORT_VERSION" >&2
        wheel="$(ls "$dir"/wheel/onnxruntime-*.whl)"
        want="${ARGUS_ORT_WHEEL_SHA256[$ARGUS_ORT_VERSION/$arch]:-}"
        got="$(sha256sum "$wheel" | cut -d' ' -f1)"
        if [ "$got" != "$want" ]; then
            rm -rf "$dir"
            argus_die "sha256 of $(basename "$wheel") is $got, expected ${want:-<none pinned in packaging/lib/deps.sh>}"
        fi
        python3 - "$wheel" "$dir/libonnxruntime.so" <<'PY'
import re, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if re.fullmatch(r"onnxruntime/capi/libonnxruntime\.so\.\d+\.\d+\.\d+", n)]
    if len(names) != 1:
        sys.exit("expected one onnxruntime/capi/libonnxruntime.so.X.Y.Z in %s, found %r" % (wheel, names))
    with z.open(names[0]) as src, open(out + ".tmp", "wb") as dst:
        dst.write(src.read())
import os
os.rename(out + ".tmp", out)
PY
        rm -rf "$dir/wheel"
    fi
    printf '%s\n' "$dir/libonnxruntime.so"
}

# Environment for cross-building and running aarch64 code on an x86_64 host (linker, C compiler for
# bundled C such as SQLite, and qemu-user as the test runner). No .cargo/config.toml needed.
argus_cross_env() {
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
    if [ "$(uname -m)" != aarch64 ]; then
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
        export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
    fi
}

# Installs everything a profile needs: build | test | demo.
argus_deps() {
    local profile="${1:-build}"
    argus_cargo_path
    case "$profile" in
        build) argus_apt_install "${ARGUS_APT_BUILD[@]}" ;;
        test)
            argus_apt_install "${ARGUS_APT_BUILD[@]}" "${ARGUS_APT_TEST[@]}" "${ARGUS_APT_LAB[@]}"
            argus_rust_target aarch64-unknown-linux-gnu
            argus_cargo_deb
            argus_ort_lib amd64 >/dev/null
            argus_ort_lib arm64 >/dev/null
            ;;
        demo)
            argus_apt_install "${ARGUS_APT_BUILD[@]}" "${ARGUS_APT_DEMO[@]}" "${ARGUS_APT_LAB[@]}"
            argus_ort_lib "$(dpkg --print-architecture)" >/dev/null
            ;;
        *) argus_die "unknown dependency profile '$profile' (build|test|demo)" ;;
    esac
    # Tests and the demo load the CNN through ort's load-dynamic: point it at the pinned library.
    if [ -z "${ORT_DYLIB_PATH:-}" ]; then
        case "$(dpkg --print-architecture)" in
            amd64 | arm64) ORT_DYLIB_PATH="$(argus_ort_lib "$(dpkg --print-architecture)")"; export ORT_DYLIB_PATH ;;
        esac
    fi
}

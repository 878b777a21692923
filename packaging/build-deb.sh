#!/usr/bin/env bash
# Builds the `argus` Debian package (all four binaries, units, models, ONNX Runtime) for amd64 and/or
# arm64, then checks it with packaging/check-deb.sh.
#
#   packaging/build-deb.sh              # the host's architecture
#   packaging/build-deb.sh arm64        # cross-build for a Raspberry Pi 4/5 (64-bit OS)
#   packaging/build-deb.sh amd64 arm64
#
# Output: target/debian/argus_<version>-1_<arch>.deb
#
# Environment:
#   ARGUS_SKIP_BUILD=1   reuse the release binaries already built (cargo deb --no-build as well)
#   ARGUS_DEB_OUT=DIR    where to write the packages (default target/debian; CARGO_TARGET_DIR is honoured)
#
# How the package is put together: cargo builds the three binary crates in release mode (cross-built with
# aarch64-linux-gnu-gcc as linker for arm64; the XDP object is compiled by clang -target bpfel, which is
# architecture-independent, and embedded in argus-sentinel). This script then stages what cargo does not
# build under <target dir>/argus-assets/ (ONNX Runtime for that architecture, man pages, argusctl
# completions, the shipped models), and `cargo deb -p argus-enforcer --no-build` packages binaries and staged
# files as listed in [package.metadata.deb] of enforcer/Cargo.toml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/deps.sh
source "$here/lib/deps.sh"
cd "$ARGUS_ROOT"

host_arch="$(dpkg --print-architecture)"
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=("$host_arch")
target_dir="$(argus_target_dir)"
out_dir="${ARGUS_DEB_OUT:-$target_dir/debian}"
locked=()
[ -n "${CI:-}" ] && locked=(--locked)

argus_deps build
argus_cargo_deb

version="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="argus-enforcer"))')"

# Puts runnable names for the four binaries of $arch into $2: symlinks for the host's architecture, qemu-user
# wrappers for a foreign one (no binfmt_misc needed, which containers often lack).
runnable_bins() {
    local arch="$1" dir="$2" bindir="$3" b
    mkdir -p "$dir"
    for b in argus-sentinel argus-kronos argus-enforcer argusctl; do
        if [ "$arch" = "$host_arch" ]; then
            ln -sf "$bindir/$b" "$dir/$b"
        else
            printf '#!/bin/sh\nQEMU_LD_PREFIX=/usr/aarch64-linux-gnu exec qemu-aarch64-static %q "$@"\n' "$bindir/$b" >"$dir/$b"
            chmod +x "$dir/$b"
        fi
    done
}

# A man page for a program that cannot describe itself yet (used only until its CLI prints --help).
stub_man() {
    local name="$1" desc="$2"
    cat <<EOF
.TH "${name^^}" 1 "" "argus $version" "Argus"
.SH NAME
$name \\- $desc
.SH SYNOPSIS
.B $name
[\\fIOPTIONS\\fR]
.SH DESCRIPTION
$desc.
This page was generated without the program's help text; run
.B $name --help
for its options.
.SH FILES
.TP
.I /etc/argus/aegis.yaml
configuration (see the comments in the file)
.SH SEE ALSO
.BR argusctl (1),
.BR argus-sentinel (1),
.BR argus-kronos (1),
.BR argus-enforcer (1),
/usr/share/doc/argus/README.md
EOF
}

# Man pages and completions. Preferred source: clap itself, through the hidden
#   argusctl generate man <DIR>             (writes <DIR>/*.1, one page per binary and subcommand)
#   argusctl generate completions <SHELL>   (bash|zsh|fish, to stdout)
# For any binary without a page from that, help2man renders its --help; a stub page is the last resort.
stage_docs() {
    local arch="$1" bindir="$2" root="$3" man="$3/usr/share/man/man1" tmp run b desc
    tmp="$(mktemp -d)"
    run="$tmp/bin"
    runnable_bins "$arch" "$run" "$bindir"
    mkdir -p "$man" "$tmp/man"
    if "$run/argusctl" generate man "$tmp/man" >/dev/null 2>&1 && ls "$tmp/man"/*.1 >/dev/null 2>&1; then
        argus_log "man pages from 'argusctl generate man': $(cd "$tmp/man" && echo *.1)"
    fi
    for b in argus-sentinel argus-kronos argus-enforcer argusctl; do
        [ -s "$tmp/man/$b.1" ] && continue
        desc="$(binary_description "$b")"
        if "$run/$b" --help 2>/dev/null | grep -qi 'usage'; then
            help2man --no-info --section=1 --name="$desc" --version-string="$version" \
                --no-discard-stderr "$run/$b" >"$tmp/man/$b.1"
            argus_log "$b: man page rendered by help2man from --help"
        else
            stub_man "$b" "$desc" >"$tmp/man/$b.1"
            argus_warn "$b: no --help output yet; shipping a stub man page"
        fi
    done
    for b in "$tmp/man"/*.1; do gzip -9n <"$b" >"$man/$(basename "$b").gz"; done

    local missing=() sh dst
    for sh in bash zsh fish; do
        case $sh in
            bash) dst="$root/usr/share/bash-completion/completions/argusctl" ;;
            zsh) dst="$root/usr/share/zsh/vendor-completions/_argusctl" ;;
            fish) dst="$root/usr/share/fish/vendor_completions.d/argusctl.fish" ;;
        esac
        mkdir -p "$(dirname "$dst")"
        if ! "$run/argusctl" generate completions "$sh" >"$dst" 2>/dev/null || [ ! -s "$dst" ]; then
            rm -f "$dst"
            rmdir -p --ignore-fail-on-non-empty "$(dirname "$dst")"
            missing+=("$sh")
        fi
    done
    [ ${#missing[@]} -eq 0 ] ||
        argus_warn "no argusctl completions for ${missing[*]} ('argusctl generate completions <shell>' missing or failing)"
    rm -rf "$tmp"
}

# The one-line description of a binary: its crate's description (argusctl has its own).
binary_description() {
    if [ "$1" = argusctl ]; then
        echo "control the Argus firewall: status, bans, mode, configuration check"
        return
    fi
    cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
name = sys.argv[1]
for p in json.load(sys.stdin)["packages"]:
    if any(t["name"] == name for t in p["targets"]):
        print(p["description"] or name)
        break' "$1"
}

# The shipped models, when the models engineer has produced them.
stage_models() {
    local root="$1" f n=0
    mkdir -p "$root/usr/share/argus/models"
    for f in payload_cnn.onnx payload_cnn.json bootstrap_forest.bin; do
        if [ -f "models/$f" ]; then
            install -m 0644 "models/$f" "$root/usr/share/argus/models/$f"
            n=$((n + 1))
        fi
    done
    # Always present (cargo-deb needs the staged tree non-empty): what is shipped, with digests.
    (cd "$root/usr/share/argus/models" && { ls ./*.onnx ./*.json >/dev/null 2>&1 && sha256sum -- *.onnx *.json 2>/dev/null; } >SHA256SUMS || true)
    [ $n -gt 0 ] || argus_warn "no models in models/ (payload_cnn.onnx, bootstrap_forest.bin): package ships none"
}

# cargo-deb takes the package's one-line Description from the crate it is configured in (the enforcer);
# the package holds all of Argus, so replace that line.
ARGUS_DEB_SUMMARY="inline XDP firewall with a local anomaly-detecting brain"
set_summary() {
    local deb="$1" tmp
    tmp="$(mktemp -d)"
    dpkg-deb -R "$deb" "$tmp/pkg"
    sed -i "s/^Description: .*/Description: $ARGUS_DEB_SUMMARY/" "$tmp/pkg/DEBIAN/control"
    dpkg-deb --root-owner-group -Zxz -b "$tmp/pkg" "$deb" >/dev/null
    rm -rf "$tmp"
}

build_one() {
    local arch="$1" triple target_args=() bindir stage
    triple="${ARGUS_RUST_TARGET[$arch]:-}"
    [ -n "$triple" ] || argus_die "unsupported architecture '$arch' (amd64|arm64)"
    if [ "$arch" = "$host_arch" ]; then
        bindir="$target_dir/release"
    else
        [ "$arch" = arm64 ] || argus_die "cross-building is only set up for arm64 (host is $host_arch)"
        argus_apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu qemu-user-static help2man
        argus_rust_target "$triple"
        argus_cross_env
        target_args=(--target "$triple")
        bindir="$target_dir/$triple/release"
    fi
    argus_apt_install help2man

    if [ -z "${ARGUS_SKIP_BUILD:-}" ]; then
        argus_log "cargo build --release ($arch)"
        cargo build --release "${locked[@]}" "${target_args[@]}" \
            -p argus-sentinel -p argus-kronos -p argus-enforcer --bins
    fi
    for b in argus-sentinel argus-kronos argus-enforcer argusctl; do
        [ -x "$bindir/$b" ] || argus_die "$bindir/$b missing: build failed or ARGUS_SKIP_BUILD without a build"
    done

    stage="$bindir/argus-assets"
    rm -rf "$stage"
    mkdir -p "$stage/root"
    install -m 0644 "$(argus_ort_lib "$arch")" "$stage/libonnxruntime.so"
    stage_docs "$arch" "$bindir" "$stage/root"
    stage_models "$stage/root"

    argus_log "cargo deb ($arch)"
    mkdir -p "$out_dir"
    local deb="$out_dir/argus_${version}-1_${arch}.deb"
    cargo deb -p argus-enforcer --no-build "${target_args[@]}" --output "$deb"
    set_summary "$deb"
    "$here/check-deb.sh" "$deb" "$arch"
}

for arch in "${archs[@]}"; do
    build_one "$arch"
done

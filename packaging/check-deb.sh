#!/usr/bin/env bash
# Checks an argus .deb: control fields, conffiles, maintainer scripts, file list, ELF architecture of every
# binary and library, glibc symbol versions against Depends, models against the repository, and
# `systemd-analyze verify` of the units as installed (under a temporary root with the package unpacked).
#
#   packaging/check-deb.sh target/debian/argus_0.1.0-1_arm64.deb arm64
#
# Prints one line per check; exits non-zero on the first failure.
set -euo pipefail

deb="${1:?usage: check-deb.sh <file.deb> <amd64|arm64>}"
arch="${2:?usage: check-deb.sh <file.deb> <amd64|arm64>}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root_dir="$(cd "$here/.." && pwd)"

case "$arch" in
    amd64) elf_machine="Advanced Micro Devices X86-64" file_arch="x86-64" ;;
    arm64) elf_machine="AArch64" file_arch="ARM aarch64" ;;
    *) echo "unknown architecture $arch" >&2; exit 2 ;;
esac

fails=0
ok() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*" >&2; fails=$((fails + 1)); }
check() { # check <description> <command...>
    local what="$1"
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}

echo "checking $deb ($arch)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

info="$work/info"
dpkg-deb -I "$deb" >"$info"
field() { dpkg-deb -f "$deb" "$1"; }

check "Package: argus" test "$(field Package)" = argus
check "Architecture: $arch" test "$(field Architecture)" = "$arch"
check "Depends names libc6 and systemd" grep -Eq '^ Depends:.*libc6.*systemd' "$info"
check "Section and Priority set" test -n "$(field Section)" -a -n "$(field Priority)"

mkdir -p "$work/control"
dpkg-deb -e "$deb" "$work/control"
check "conffiles lists /etc/argus/aegis.yaml" grep -qx /etc/argus/aegis.yaml "$work/control/conffiles"
for s in postinst prerm postrm; do
    check "maintainer script $s present and executable" test -x "$work/control/$s"
    check "maintainer script $s is valid sh" sh -n "$work/control/$s"
done

contents="$work/contents"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$contents"
required=(
    /usr/bin/argus-sentinel /usr/bin/argus-kronos /usr/bin/argus-enforcer /usr/bin/argusctl
    /usr/lib/argus/libonnxruntime.so
    /etc/argus/aegis.yaml
    /usr/lib/systemd/system/argus-sentinel.service /usr/lib/systemd/system/argus-kronos.service
    /usr/lib/systemd/system/argus-enforcer.service /usr/lib/systemd/system/argus.target
    /usr/lib/sysusers.d/argus.conf /usr/lib/tmpfiles.d/argus.conf
    /usr/share/man/man1/argus-sentinel.1.gz /usr/share/man/man1/argus-kronos.1.gz
    /usr/share/man/man1/argus-enforcer.1.gz /usr/share/man/man1/argusctl.1.gz
    /usr/share/doc/argus/copyright /usr/share/doc/argus/README.md
)
for f in "${required[@]}"; do
    check "contains $f" grep -qx "$f" "$contents"
done
# argusctl's own pages (argusctl generate man): one per subcommand.
check "argusctl subcommand man pages (argusctl-unblock.1.gz …)" grep -qx /usr/share/man/man1/argusctl-unblock.1.gz "$contents"
for f in /usr/share/bash-completion/completions/argusctl /usr/share/zsh/vendor-completions/_argusctl \
    /usr/share/fish/vendor_completions.d/argusctl.fish; do
    # From `argusctl generate completions <shell>` (ARGUS_ALLOW_MISSING_COMPLETIONS=1 to accept a package
    # built from an argusctl without it).
    if grep -qx "$f" "$contents"; then ok "contains $f"; else
        if [ -z "${ARGUS_ALLOW_MISSING_COMPLETIONS:-}" ]; then fail "contains $f"; else echo "  warn  no $f"; fi
    fi
done
check "nothing installed under /usr/local, /home or /tmp" bash -c "! grep -Eq '^/(usr/local|home|tmp)/' '$contents'"

mkdir -p "$work/root"
dpkg-deb -x "$deb" "$work/root"
r="$work/root"

# Modes: binaries 0755, the configuration not world-readable is set by postinst (chown root:argus).
for b in argus-sentinel argus-kronos argus-enforcer argusctl; do
    check "/usr/bin/$b is an executable $file_arch ELF" bash -c "[ -x '$r/usr/bin/$b' ] && file -b '$r/usr/bin/$b' | grep -q 'ELF 64-bit LSB .*$file_arch'"
    check "/usr/bin/$b ELF machine is $elf_machine" bash -c "readelf -h '$r/usr/bin/$b' | grep -q 'Machine: *$elf_machine'"
done
check "libonnxruntime.so is a $file_arch shared object" bash -c "file -bL '$r/usr/lib/argus/libonnxruntime.so' | grep -q 'ELF 64-bit LSB shared object, $file_arch'"
check "libonnxruntime.so exports OrtGetApiBase" bash -c "readelf -W --dyn-syms '$r/usr/lib/argus/libonnxruntime.so' | grep -q ' OrtGetApiBase'"

# The binaries run (under qemu-user for a foreign architecture) and argusctl accepts the shipped configuration.
run_pkg() {
    if [ "$arch" = "$(dpkg --print-architecture)" ]; then "$@"; else
        QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64-static "$@"
    fi
}
for b in argus-sentinel argus-kronos argus-enforcer argusctl; do
    check "$b --version runs" run_pkg "$r/usr/bin/$b" --version
done
check "argusctl config check accepts the shipped aegis.yaml" run_pkg "$r/usr/bin/argusctl" config check "$r/etc/argus/aegis.yaml"

# Highest GLIBC_x.y symbol version any ELF needs must be covered by "libc6 (>= x.y)" in Depends.
libc_min="$(field Depends | sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p')"
need="$(for f in "$r"/usr/bin/* "$r"/usr/lib/argus/libonnxruntime.so; do readelf -W --dyn-syms --version-info "$f" 2>/dev/null; done |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)"
check "Depends libc6 (>= ${libc_min:-?}) covers GLIBC_$need" bash -c "[ -n '$libc_min' ] && [ \"\$(printf '%s\n%s\n' '$need' '$libc_min' | sort -V | tail -1)\" = '$libc_min' ]"

# Raspberry Pi OS runs the Pi 5 with 16 KB pages: every ELF's LOAD segments must be aligned to >= 16 KB.
if [ "$arch" = arm64 ]; then
    for f in "$r"/usr/bin/* "$r"/usr/lib/argus/libonnxruntime.so; do
        min_align="$(readelf -lW "$f" | awk '$1 == "LOAD" {print $NF}' | sort -u | while read -r a; do printf '%d\n' "$a"; done | sort -n | head -1)"
        check "$(basename "$f"): LOAD segments aligned for 16 KB pages (min $min_align)" test "${min_align:-0}" -ge 16384
    done
fi

# The XDP object is embedded in argus-sentinel (no separate .o shipped).
check "no separate BPF object shipped" bash -c "! grep -Eq '\\.o$|\\.bpf' '$contents'"

# Shipped models: every model present in the repository must be in the package, byte for byte.
for m in payload_cnn.onnx payload_cnn.json bootstrap_forest.bin; do
    if [ -f "$root_dir/models/$m" ]; then
        check "model $m shipped unchanged" cmp "$root_dir/models/$m" "$r/usr/share/argus/models/$m"
    else
        echo "  warn  models/$m not in the repository: not shipped"
    fi
done
check "default configuration is config/aegis.yaml" cmp "$root_dir/config/aegis.yaml" "$r/etc/argus/aegis.yaml"

# The units as installed: systemd-analyze verify against the unpacked package (binaries, man pages) on top
# of the host's own units (for sysinit.target, network-online.target …). Any output is a failure.
mkdir -p "$r/usr/lib/systemd/system"
cp -an /usr/lib/systemd/system/. "$r/usr/lib/systemd/system/" 2>/dev/null || true
[ -d /lib/systemd/system ] && cp -an /lib/systemd/system/. "$r/usr/lib/systemd/system/" 2>/dev/null || true
verify_out="$work/verify.out"
if MANPATH="$r/usr/share/man" SYSTEMD_LOG_COLOR=0 systemd-analyze verify --root="$r" \
    argus-enforcer.service argus-kronos.service argus-sentinel.service argus.target >"$verify_out" 2>&1 &&
    [ ! -s "$verify_out" ]; then
    ok "systemd-analyze verify (units, ExecStart binaries, man pages)"
else
    fail "systemd-analyze verify:"
    sed 's/^/        /' "$verify_out" >&2
fi

if [ "$fails" -ne 0 ]; then
    echo "$deb: $fails check(s) failed" >&2
    exit 1
fi
echo "$deb: all checks passed ($(du -h "$deb" | cut -f1), $(wc -l <"$contents") entries)"

#!/usr/bin/env bash
# Runs the packaged systemd units under a real systemd: boots a minimal Debian 12 container
# (systemd-nspawn), installs the .deb in it, and checks that each service's sandbox gives it exactly what
# it needs and no more:
#
#   sentinel  uid 0, CAP_BPF/CAP_NET_ADMIN/CAP_PERFMON only: creates maps, pins them under
#             /sys/fs/bpf/argus, loads an XDP program and attaches it with a bpf_link
#   enforcer  uid 0, CAP_BPF only: opens the pinned map and updates it
#   kronos    uid argus, no capabilities: no bpf() at all
#   all       can create sockets in /run/argus and files in /var/lib/argus (group argus), can read the
#             configuration and ONNX Runtime, cannot write /etc or /usr
#
# It does this by replacing each ExecStart= with a small probe (packaging/test/probe.c) through drop-ins.
# Then it removes the drop-ins and starts argus.target with the real binaries, the WAN being one end of a
# veth pair inside the container, and reports each unit's state (a unit in "failed" state fails the test).
# When all three run, it checks the sockets, the pins, XDP on the WAN, the metrics endpoints, and argusctl
# through the package's groups: root and members of argus-read may read, argus-admin may change the mode,
# anyone else is refused; neither operator group may connect to the verdict socket.
#
#   sudo packaging/test-units.sh target/debian/argus_0.1.0-1_amd64.deb
#
# Needs root, a package of the host's architecture, and an environment where systemd-nspawn can boot a
# container (most CI machines and VMs; not every container). If the container does not boot, the test is
# skipped with a warning, or fails with ARGUS_REQUIRE_NSPAWN=1. The container has its own network
# namespace (only lo and a veth pair of its own): nothing is attached to the host's interfaces.
# The Debian root file system is cached in $ARGUS_CACHE_DIR (first run: debootstrap, ~2 minutes).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/deps.sh
source "$here/lib/deps.sh"

deb="$(realpath "${1:?usage: test-units.sh <argus_*.deb>}")"
[ "$(id -u)" -eq 0 ] || argus_die "test-units.sh needs root"
argus_apt_install systemd-container debootstrap gcc libc6-dev

fails=0
ok() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*" >&2; fails=$((fails + 1)); }
skip() {
    if [ -n "${ARGUS_REQUIRE_NSPAWN:-}" ]; then argus_die "$*"; fi
    argus_warn "$* — unit runtime test skipped"
    exit 0
}

work="$(mktemp -d /var/tmp/argus-units.XXXXXX)"
rootfs="$work/root"
bpffs="$work/bpffs"
nspawn_pid=""
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill "$nspawn_pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
        kill -9 "$nspawn_pid" 2>/dev/null || true
    fi
    mountpoint -q "$bpffs" 2>/dev/null && umount "$bpffs"
    rm -rf "$work"
}
trap cleanup EXIT

# A minimal bookworm with systemd, cached as a tarball.
cache="$ARGUS_CACHE_DIR/nspawn-bookworm-$(dpkg --print-architecture).tar"
mkdir -p "$rootfs" "$ARGUS_CACHE_DIR"
if [ -s "$cache" ]; then
    tar -C "$rootfs" -xf "$cache"
else
    argus_log "debootstrap bookworm (cached afterwards in $cache)"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,procps \
        bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; skip "debootstrap failed"; }
    tar -C "$rootfs" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
fi

gcc -O1 -static -o "$rootfs/usr/local/bin/argus-probe" "$here/test/probe.c"
cp "$deb" "$rootfs/root/argus.deb"
mkdir -p "$bpffs"
mount -t bpf bpf "$bpffs"

argus_log "booting the container"
systemd-nspawn -q -D "$rootfs" --boot --register=no --keep-unit --machine="argus-units-$$" \
    --private-network --capability=all --system-call-filter="bpf perf_event_open" \
    --bind="$bpffs:/sys/fs/bpf" >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
init=""
for _ in $(seq 1 60); do
    kill -0 "$nspawn_pid" 2>/dev/null || break
    init="$(pgrep -P "$nspawn_pid" | head -1 || true)"
    if [ -n "$init" ]; then
        state="$(nsenter -t "$init" -a systemctl is-system-running 2>/dev/null || true)"
        case "$state" in running | degraded) break ;; esac
    fi
    sleep 1
done
case "${state:-}" in
    running | degraded) ;;
    *) tail -20 "$work/console.log" >&2; skip "the container did not boot (state '${state:-none}')" ;;
esac
in_ct() { nsenter -t "$init" -a "$@"; }

argus_log "installing $(basename "$deb") in the container"
in_ct env DEBIAN_FRONTEND=noninteractive dpkg -i /root/argus.deb >"$work/dpkg.log" 2>&1 ||
    { cat "$work/dpkg.log" >&2; argus_die "dpkg -i failed in the container"; }
if in_ct systemctl is-active --quiet argus.target; then ok "postinst started argus.target"; else fail "postinst started argus.target"; fi
for u in argus.target argus-enforcer.service argus-kronos.service argus-sentinel.service; do
    if in_ct systemctl is-enabled --quiet "$u"; then ok "$u enabled"; else fail "$u enabled"; fi
done

# Probe phase.
for s in sentinel enforcer kronos; do
    mkdir -p "$rootfs/etc/systemd/system/argus-$s.service.d"
    printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/argus-probe %s\n' "$s" \
        >"$rootfs/etc/systemd/system/argus-$s.service.d/probe.conf"
done
in_ct systemctl daemon-reload
in_ct systemctl stop argus.target
in_ct journalctl --rotate -q 2>/dev/null || true
in_ct journalctl --vacuum-time=1s -q 2>/dev/null || true
since="$(in_ct date '+%Y-%m-%d %H:%M:%S')"
sleep 1
# sentinel first: the enforcer's probe opens the map sentinel's probe pinned.
in_ct systemctl start argus-sentinel.service
in_ct systemctl start argus-enforcer.service argus-kronos.service
sleep 1
expect() { # expect <service> <description> <extended regex on the probe's output>
    local out
    out="$(in_ct journalctl -u "argus-$1.service" --since "$since" -o cat --no-pager)"
    if grep -Eq "$3" <<<"$out"; then ok "$1: $2"; else fail "$1: $2"; sed 's/^/        /' <<<"$out" >&2; fi
}
cap_hex() { local v=0 c; for c in "$@"; do v=$((v | 1 << c)); done; printf '%016x' "$v"; }
# CAP_NET_ADMIN=12, CAP_PERFMON=38, CAP_BPF=39
expect sentinel "runs as uid 0, group argus" "^Uid:[[:space:]]+0[[:space:]]"
expect sentinel "capabilities exactly CAP_BPF CAP_NET_ADMIN CAP_PERFMON" "^CapEff:[[:space:]]+$(cap_hex 12 38 39)$"
expect enforcer "capabilities exactly CAP_BPF" "^CapEff:[[:space:]]+$(cap_hex 39)$"
expect kronos "runs as user argus" "^Uid:[[:space:]]+$(in_ct id -u argus)[[:space:]]"
expect kronos "no capabilities" "^CapEff:[[:space:]]+0+$"
for s in sentinel enforcer kronos; do
    expect "$s" "primary group argus" "^Gid:[[:space:]]+$(in_ct id -g argus)[[:space:]]"
    expect "$s" "creates its socket in /run/argus" "^bind socket in /run/argus +ok$"
    expect "$s" "creates files in /var/lib/argus" "^create file in /var/lib/argus +ok$"
    expect "$s" "reads /etc/argus/aegis.yaml" "^read /etc/argus/aegis.yaml +ok$"
    expect "$s" "reads ONNX Runtime" "^read /usr/lib/argus/libonnxruntime.so +ok$"
    expect "$s" "cannot write /etc" "^write /etc \(must fail\) +(Read-only file system|Permission denied)$"
    expect "$s" "cannot write /usr" "^write /usr \(must fail\) +(Read-only file system|Permission denied)$"
done
expect sentinel "creates a directory under /sys/fs/bpf/argus" "^mkdir /sys/fs/bpf/argus/links +ok$"
expect sentinel "creates an array map" "^bpf\(MAP_CREATE\) array +ok$"
expect sentinel "creates an LPM trie (BPF_F_NO_PREALLOC)" "^bpf\(MAP_CREATE\) lpm_trie no_prealloc +ok$"
expect sentinel "pins a map" "^bpf\(OBJ_PIN\) /sys/fs/bpf/argus/PROBE +ok$"
expect sentinel "loads an XDP program" "^bpf\(PROG_LOAD\) xdp +ok$"
expect sentinel "attaches it with a bpf_link" "^bpf\(LINK_CREATE\) xdp on lo \(CAP_NET_ADMIN\) +ok$"
expect enforcer "opens the pinned map" "^bpf\(OBJ_GET\) pinned map +ok$"
expect enforcer "updates the pinned map" "^bpf\(MAP_UPDATE_ELEM\) pinned map +ok$"
expect kronos "cannot use bpf()" "^bpf\(OBJ_GET\) pinned map +Operation not permitted$"
rm -rf "$rootfs"/etc/systemd/system/argus-*.service.d "$bpffs/argus/PROBE" "$bpffs/argus/links"
in_ct sh -c 'rm -f /run/argus/*.sock /var/lib/argus/*.state'

# The real binaries, on a veth WAN interface inside the container.
in_ct ip link add wan0 type veth peer name wan0p
in_ct ip link set wan0 up
in_ct ip link set wan0p up
in_ct sed -i 's/^    - name: eth0$/    - name: wan0/' /etc/argus/aegis.yaml
in_ct systemctl daemon-reload
in_ct systemctl restart argus.target
sleep "${ARGUS_UNITS_SETTLE_SECS:-10}"
for s in enforcer kronos sentinel; do
    state="$(in_ct systemctl show -P ActiveState "argus-$s.service")"
    result="$(in_ct systemctl show -P Result "argus-$s.service")"
    restarts="$(in_ct systemctl show -P NRestarts "argus-$s.service")"
    case "$state" in
        active) ok "argus-$s.service active with the real binary (restarts: $restarts)" ;;
        inactive) echo "  warn  argus-$s.service exited by itself (result $result): the binary does not run as a daemon yet" ;;
        *)
            fail "argus-$s.service is $state (result $result, restarts $restarts)"
            in_ct journalctl -u "argus-$s.service" -o cat --no-pager -n 15 | sed 's/^/        /' >&2
            ;;
    esac
done

# With all three running: the sockets, the pins, XDP on the WAN, and argusctl through the group
# permissions the package sets up (argus-read: read-only; argus-admin: changes; anyone else: nothing; only
# the services' group argus reaches the verdict socket).
if [ "$(in_ct systemctl show -P ActiveState argus-enforcer.service argus-kronos.service argus-sentinel.service | grep . | sort -u)" = active ]; then
    for _ in $(seq 1 20); do
        in_ct test -S /run/argus/control.sock -a -S /run/argus/verdict.sock -a -S /run/argus/sentinel.sock &&
            in_ct test -e /sys/fs/bpf/argus/BLOCKLIST && break
        sleep 1
    done
    for f in control verdict sentinel; do
        if in_ct test -S "/run/argus/$f.sock"; then ok "/run/argus/$f.sock exists"; else fail "/run/argus/$f.sock exists"; fi
    done
    if in_ct test -e /sys/fs/bpf/argus/BLOCKLIST; then ok "maps pinned under /sys/fs/bpf/argus"; else fail "maps pinned under /sys/fs/bpf/argus"; fi
    if in_ct ip -d link show wan0 | grep -Eq 'xdp|prog/xdp'; then ok "XDP program attached to the WAN interface"; else fail "XDP program attached to the WAN interface"; fi
    in_ct sh -c 'useradd -M -G argus-read ops-read && useradd -M -G argus-admin ops-admin && useradd -M nobody-else' 2>/dev/null || true
    argusctl_as() { in_ct runuser -u "$1" -- /usr/bin/argusctl "${@:2}" >/dev/null 2>&1; echo $?; }
    rc="$(argusctl_as root status)"
    if [ "$rc" = 0 ]; then ok "argusctl status as root"; else fail "argusctl status as root (exit $rc)"; fi
    in_ct /usr/bin/argusctl status 2>&1 | sed 's/^/        /' || true
    if in_ct /usr/bin/argusctl status --json 2>/dev/null | grep -Eq '"cnn_loaded": ?true'; then
        ok "kronos loaded the CNN with the packaged ONNX Runtime (inside its sandbox)"
    else
        fail "kronos loaded the CNN with the packaged ONNX Runtime (inside its sandbox)"
    fi
    rc="$(argusctl_as ops-read status)"
    if [ "$rc" = 0 ]; then ok "argusctl status as a member of argus-read"; else fail "argusctl status as a member of argus-read (exit $rc)"; fi
    rc="$(argusctl_as ops-read mode dry-run)"
    if [ "$rc" = 3 ]; then ok "argusctl mode dry-run refused for a member of argus-read (exit 3)"; else fail "argusctl mode dry-run refused for a member of argus-read (exit $rc, expected 3)"; fi
    rc="$(argusctl_as ops-admin mode dry-run)"
    if [ "$rc" = 0 ]; then ok "argusctl mode dry-run allowed for a member of argus-admin"; else fail "argusctl mode dry-run allowed for a member of argus-admin (exit $rc)"; fi
    for u in ops-read ops-admin; do
        # Connecting to a Unix socket needs write permission on it.
        if in_ct runuser -u "$u" -- test -w /run/argus/verdict.sock; then
            fail "$u cannot connect to the verdict socket"
        else
            ok "$u cannot connect to the verdict socket"
        fi
    done
    rc="$(argusctl_as nobody-else status)"
    if [ "$rc" != 0 ]; then ok "argusctl status refused for a user in neither group (exit $rc)"; else fail "argusctl status refused for a user in neither group"; fi
    # Each service serves Prometheus metrics on loopback from inside its sandbox (the image has no curl:
    # bash's /dev/tcp speaks the one request needed).
    for pm in 9747:enforcer 9748:kronos 9749:sentinel; do
        port="${pm%%:*}" s="${pm#*:}"
        if in_ct bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null |
            grep -q "^argus_"; then
            ok "argus-$s serves metrics on 127.0.0.1:$port"
        else
            fail "argus-$s serves metrics on 127.0.0.1:$port"
        fi
    done
fi

argus_log "purging the package in the container"
in_ct env DEBIAN_FRONTEND=noninteractive dpkg --purge argus >"$work/dpkg.log" 2>&1 ||
    { cat "$work/dpkg.log" >&2; fail "dpkg --purge in the container"; }
if in_ct systemctl list-units --all --plain --no-legend 'argus*' | grep -q .; then
    fail "units gone after purge"
    in_ct systemctl list-units --all --plain --no-legend 'argus*' >&2
else
    ok "units gone after purge"
fi
if in_ct ip -d link show wan0 | grep -q 'xdp'; then fail "XDP detached from wan0 after purge"; else ok "no XDP program left on wan0 after purge"; fi
if [ -e "$bpffs/argus" ]; then fail "/sys/fs/bpf/argus removed on purge"; else ok "/sys/fs/bpf/argus removed on purge"; fi

if [ "$fails" -ne 0 ]; then
    echo "test-units: $fails check(s) failed" >&2
    exit 1
fi
echo "test-units: the units' sandboxes behave"

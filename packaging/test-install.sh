#!/usr/bin/env bash
# Installs, upgrades, removes and purges an argus .deb on this machine and checks what the maintainer
# scripts did: users and groups, directories and their modes, the configuration's ownership, unit
# enablement, conffile handling, and that purge leaves nothing behind but the users.
#
#   sudo packaging/test-install.sh target/debian/argus_0.1.0-1_amd64.deb
#
# Needs root and a package of the host's architecture. Refuses to run when argus is already installed.
# Where systemd is not PID 1 (containers, CI runners) the services are enabled but not started; with
# systemd running they are started, and stopped again on removal.
# Users and groups it created are deleted at the end, so a developer machine is left as it was.
set -euo pipefail

deb="$(realpath "${1:?usage: test-install.sh <argus_*.deb>}")"
[ "$(id -u)" -eq 0 ] || { echo "test-install.sh needs root" >&2; exit 1; }
if dpkg-query -W -f='${Status}' argus 2>/dev/null | grep -q 'installed'; then
    echo "argus is already installed here: not touching it" >&2
    exit 1
fi

fails=0
ok() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*" >&2; fails=$((fails + 1)); }
check() {
    local what="$1"
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}
mode_owner() { stat -c '%a %U:%G' "$1" 2>/dev/null; }

had_user=0 had_admin=0 had_read=0
getent passwd argus >/dev/null && had_user=1
getent group argus-admin >/dev/null && had_admin=1
getent group argus-read >/dev/null && had_read=1

cleanup() {
    dpkg --purge argus >/dev/null 2>&1 || true
    if [ $had_user = 0 ] && getent passwd argus >/dev/null; then userdel argus 2>/dev/null || true; fi
    if [ $had_user = 0 ] && getent group argus >/dev/null; then groupdel argus 2>/dev/null || true; fi
    if [ $had_admin = 0 ] && getent group argus-admin >/dev/null; then groupdel argus-admin 2>/dev/null || true; fi
    if [ $had_read = 0 ] && getent group argus-read >/dev/null; then groupdel argus-read 2>/dev/null || true; fi
}
trap cleanup EXIT

echo "install $(basename "$deb")"
DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i "$deb" >/dev/null
check "dpkg reports argus installed" bash -c "dpkg-query -W -f='\${Status}' argus | grep -q 'install ok installed'"
check "user argus exists (system user, no login shell)" bash -c "getent passwd argus | grep -Eq ':(/usr)?/sbin/nologin$'"
check "group argus exists" getent group argus
check "group argus-admin exists" getent group argus-admin
check "group argus-read exists" getent group argus-read
check "/run/argus is 1771 root:argus" test "$(mode_owner /run/argus)" = "1771 root:argus"
check "/var/lib/argus is 1770 root:argus" test "$(mode_owner /var/lib/argus)" = "1770 root:argus"
check "/etc/argus/aegis.yaml is 640 root:argus" test "$(mode_owner /etc/argus/aegis.yaml)" = "640 root:argus"
check "argus.target enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/argus.target
for s in argus-enforcer argus-kronos argus-sentinel; do
    check "$s.service enabled (argus.target.wants)" test -L "/etc/systemd/system/argus.target.wants/$s.service"
done
if mountpoint -q /sys/fs/bpf 2>/dev/null; then
    check "/sys/fs/bpf/argus created" test -d /sys/fs/bpf/argus
fi
if [ -d /run/systemd/system ]; then
    check "argus.target started" systemctl is-active --quiet argus.target
fi
if /usr/bin/argusctl config check --help 2>&1 | grep -qi usage; then
    check "argusctl config check accepts the shipped aegis.yaml" /usr/bin/argusctl config check /etc/argus/aegis.yaml
else
    echo "  warn  argusctl has no 'config check' yet: shipped aegis.yaml not validated by argusctl"
fi

echo "reinstall over a modified configuration (upgrade path, conffile kept)"
echo "# local edit" >>/etc/argus/aegis.yaml
DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i "$deb" >/dev/null
check "local edit of aegis.yaml kept" grep -qx '# local edit' /etc/argus/aegis.yaml
check "aegis.yaml still 640 root:argus" test "$(mode_owner /etc/argus/aegis.yaml)" = "640 root:argus"

echo "remove"
touch /var/lib/argus/state-marker
dpkg -r argus >/dev/null
check "binaries removed" test ! -e /usr/bin/argusctl
check "units removed" test ! -e /usr/lib/systemd/system/argus.target
check "aegis.yaml kept on remove (conffile)" test -f /etc/argus/aegis.yaml
check "/var/lib/argus kept on remove" test -f /var/lib/argus/state-marker
check "no pins left under /sys/fs/bpf/argus" test ! -e /sys/fs/bpf/argus

echo "purge"
dpkg --purge argus >/dev/null
check "dpkg has forgotten argus" bash -c "! dpkg-query -W argus 2>/dev/null | grep -q ."
check "/etc/argus removed on purge" test ! -e /etc/argus
check "/var/lib/argus removed on purge" test ! -e /var/lib/argus
check "/run/argus removed on purge" test ! -e /run/argus
check "enablement symlinks removed on purge" bash -c "! ls /etc/systemd/system/*.wants/argus* 2>/dev/null | grep -q ."
check "user argus kept on purge (Debian practice)" getent passwd argus

if [ "$fails" -ne 0 ]; then
    echo "test-install: $fails check(s) failed" >&2
    exit 1
fi
echo "test-install: install, upgrade, remove and purge behave"

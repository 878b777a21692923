#!/usr/bin/env bash
# The Argus demo: the whole appliance on a throwaway lab of network namespaces, first in dry-run, then
# enforcing, with real benign traffic (curl, wrk, DNS-like UDP, SSH banner) and real attacks (nmap scans over
# IPv4 and IPv6, HTTP injection payloads, an hping3 SYN flood). Everything is torn down at the end or on
# Ctrl-C. Addresses: 10.203.0.0/16 and fd00:203::/32 only, between namespaces the demo creates.
#
#   sudo tests/lab/demo.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../packaging/lib/deps.sh
source "$here/../../packaging/lib/deps.sh"
[ "$(id -u)" -eq 0 ] || argus_die "the demo creates network namespaces and loads XDP: run it as root (sudo $0)"
argus_deps demo
cd "$ARGUS_ROOT"
argus_log "building Argus (release)"
cargo build --release --workspace --bins
exec target/release/argus-lab demo

#!/usr/bin/env bash
# End-to-end CPU per packet on a veth pair (issue #7, benchmark 2).
#
# Two network namespaces joined by a veth pair (10.203.251.0/24 only, unique
# names, removed on exit or Ctrl-C). trafgen (Debian netsniff-ng) in the
# generator namespace sends N minimum-size UDP frames from a "banned" source
# 10.203.251.66 to the receiver as fast as it can, on one CPU. On veth the
# receiver's whole path (XDP, tc ingress, IP stack) runs in softirq on the
# sending CPU (trafgen's one worker is pinned to CPU 0), charged to the
# worker or, when deferred, to ksoftirqd/0. Their CPU time over the run,
# divided by N, is the cost of one packet: generator + veth + the filter +
# whatever the filter lets through. Also reported: CPU 0's softirq time from
# /proc/stat per packet, the generator's rate, and CPU 0's whole busy time
# per packet (which on a shared machine includes other processes, so it is
# only printed per run). Scenarios:
#
#   none       no filter: packets go up the receiver's IP stack (UDP to a
#              closed port; ICMP errors are rate-limited)
#   argus      the real Argus XDP object (argus-sentinel-common's embedded
#              object, via its xdp_attach example), the source banned
#              (BLOCKHOSTS), native XDP
#   nft        nftables netdev ingress hook on the receiver veth, source in a
#              set, counter + drop
#   xdp-filter xdp-tools' xdp-filter (load, then `ip ADDR --mode src`),
#              native XDP
#
# Rounds are interleaved (none, argus, nft, xdp-filter, none, ...) and the
# median per scenario is reported, with ratios to "none" and to "argus".
# No target: this documents what a veth lab can and cannot show (see
# docs/benchmarks.md, "End to end on veth").
#
# Run (root): packaging/bench-e2e.sh
# Knobs: ARGUS_E2E_PACKETS (default 5000000), ARGUS_E2E_ROUNDS (3),
#        ARGUS_E2E_XDP_MODE (native | skb, default native),
#        ARGUS_E2E_SCENARIOS (default "none argus nft xdp-filter").
set -euo pipefail

PACKETS=${ARGUS_E2E_PACKETS:-5000000}
ROUNDS=${ARGUS_E2E_ROUNDS:-3}
# trafgen -P 1 pins its one worker to CPU 0 whatever the affinity it is given.
CPU=0
MODE=${ARGUS_E2E_XDP_MODE:-native}
SCENARIOS=${ARGUS_E2E_SCENARIOS:-"none argus nft xdp-filter"}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ID=$$
GEN=argus-e2e-gen-$ID
RCV=argus-e2e-rcv-$ID
VG=ae2eg$ID
VR=ae2er$ID
GEN_IP=10.203.251.1
RCV_IP=10.203.251.2
BANNED=10.203.251.66
NFT_TABLE=argus_e2e_$ID
WORK=$(mktemp -d /tmp/argus-e2e.XXXXXX)
HELPER_PID=
HOLD_FD_OPEN=

die() {
	echo "bench-e2e: $*" >&2
	exit 1
}

stop_holder() {
	# Closing the fifo's write end tells the helper (xdp_attach or the
	# xdp-filter shell) to report and detach.
	if [[ -n $HOLD_FD_OPEN ]]; then
		exec 9>&-
		HOLD_FD_OPEN=
	fi
	if [[ -n $HELPER_PID ]]; then
		for _ in $(seq 50); do
			kill -0 "$HELPER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$HELPER_PID" 2>/dev/null || true
		wait "$HELPER_PID" 2>/dev/null || true
		HELPER_PID=
	fi
}

cleanup() {
	set +e
	stop_holder
	ip netns exec "$RCV" nft delete table netdev "$NFT_TABLE" 2>/dev/null
	ip -n "$RCV" link set dev "$VR" xdp off 2>/dev/null
	ip netns del "$GEN" 2>/dev/null
	ip netns del "$RCV" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) == 0 ]] || die "needs root (network namespaces, XDP)"
need() {
	command -v "$1" >/dev/null || {
		echo "bench-e2e: installing $2 for $1" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null ||
			die "cannot install $2"
	}
}
need trafgen netsniff-ng
need nft nftables
need xdp-filter xdp-tools

HELPER=$ROOT/target/release/examples/xdp_attach
echo "building the Argus attach helper..." >&2
(cd "$ROOT" && cargo build --release -q -p argus-sentinel-common --example xdp_attach) ||
	die "cargo build of the xdp_attach example failed"

# --- lab ----------------------------------------------------------------
ip netns add "$GEN"
ip netns add "$RCV"
ip link add "$VG" netns "$GEN" type veth peer name "$VR" netns "$RCV"
ip -n "$GEN" addr add "$GEN_IP/24" dev "$VG"
ip -n "$RCV" addr add "$RCV_IP/24" dev "$VR"
for ns in "$GEN" "$RCV"; do ip -n "$ns" link set lo up; done
ip -n "$GEN" link set "$VG" up
ip -n "$RCV" link set "$VR" up
mac() { ip -n "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
GMAC=$(mac "$GEN" "$VG")
RMAC=$(mac "$RCV" "$VR")
# The receiver's ICMP errors go back to the generator's MAC, no ARP.
ip -n "$RCV" neigh replace "$BANNED" lladdr "$GMAC" dev "$VR" nud permanent

hexmac() { echo "$1" | sed 's/^/0x/; s/:/, 0x/g'; }
# 60-byte frame: Ethernet, IPv4 (DF), UDP 40000 -> 9, 18 bytes of payload.
cat >"$WORK/udp.cfg" <<EOF
{
  $(hexmac "$RMAC"),
  $(hexmac "$GMAC"),
  c16(0x0800),
  0x45, 0x00, c16(46), c16(1), c16(0x4000), 64, 17, csumip(14, 33),
  ${BANNED//./, },
  ${RCV_IP//./, },
  c16(40000), c16(9), c16(26), c16(0),
  fill(0x5a, 18),
}
EOF

# --- scenarios ----------------------------------------------------------
# Starts a command in the receiver namespace that prints "ready" once set up
# and tears down when fd 9 (its stdin) closes.
start_holder() {
	mkfifo "$WORK/ctl"
	ip netns exec "$RCV" "$@" <"$WORK/ctl" >"$WORK/holder.out" 2>&1 &
	HELPER_PID=$!
	exec 9>"$WORK/ctl"
	HOLD_FD_OPEN=1
	rm -f "$WORK/ctl"
	for _ in $(seq 200); do
		grep -q '^ready' "$WORK/holder.out" 2>/dev/null && return 0
		kill -0 "$HELPER_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/holder.out" >&2
	die "scenario setup failed: $*"
}

setup() {
	case $1 in
	none) ;;
	argus) start_holder "$HELPER" "$VR" "$MODE" "$BANNED" ;;
	nft)
		ip netns exec "$RCV" nft -f - <<EOF
table netdev $NFT_TABLE {
  set banned { type ipv4_addr; elements = { $BANNED } }
  chain ingress {
    type filter hook ingress device "$VR" priority -500; policy accept;
    ip saddr @banned counter drop
  }
}
EOF
		;;
	xdp-filter)
		# One shell for load, rule and unload: `ip netns exec` gives each
		# command its own mount namespace, hence its own bpffs pins.
		start_holder sh -c "mount -t bpf bpf /sys/fs/bpf &&
			xdp-filter load -m $MODE $VR &&
			xdp-filter ip $BANNED --mode src && echo ready &&
			cat >/dev/null; xdp-filter status | grep -A3 -i 'filtered ip' ;
			xdp-filter unload $VR"
		;;
	*) die "unknown scenario $1" ;;
	esac
}

teardown() {
	case $1 in
	argus | xdp-filter)
		stop_holder
		sed 's/^/    /' "$WORK/holder.out" | grep -v '^    ready' >&2 || true
		;;
	nft)
		ip netns exec "$RCV" nft list table netdev "$NFT_TABLE" |
			grep -o 'counter packets [0-9]*' | sed 's/^/    nft /' >&2
		ip netns exec "$RCV" nft delete table netdev "$NFT_TABLE"
		;;
	esac
}

# user nice system idle iowait irq softirq steal of cpu$1
cpu_fields() { awk -v c="cpu$1" '$1 == c { print $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat; }

HZ=$(getconf CLK_TCK)
results=$WORK/results
: >"$results"

KSOFTIRQD=$(pgrep -x "ksoftirqd/$CPU" | head -1)
ksoftirqd_ticks() { awk '{ print $14 + $15 }' "/proc/$KSOFTIRQD/stat"; }

run_one() {
	local s=$1 r=$2 b a t0 t1 k0 k1 tu ts
	setup "$s"
	sleep 0.5
	b=$(cpu_fields "$CPU")
	k0=$(ksoftirqd_ticks)
	t0=$(date +%s%N)
	# bash's time: user and system CPU of trafgen and its worker. Without
	# IRQ time accounting (Debian's default) the receive path that runs in
	# softirq on the worker's stack is charged to the worker too; what the
	# kernel defers to ksoftirqd/$CPU is added below.
	{ TIMEFORMAT='%3U %3S'; time ip netns exec "$GEN" trafgen -o "$VG" -i "$WORK/udp.cfg" \
		-n "$PACKETS" -P 1 -Q --no-sock-mem -C >"$WORK/trafgen.out" 2>&1; } 2>"$WORK/time" ||
		{ cat "$WORK/trafgen.out" >&2; die "trafgen failed"; }
	t1=$(date +%s%N)
	k1=$(ksoftirqd_ticks)
	a=$(cpu_fields "$CPU")
	read -r tu ts <"$WORK/time"
	sleep 0.2
	teardown "$s"
	# cpu busy = user + nice + system + irq + softirq + steal (ticks of 1/HZ s)
	read -r bu bn bs _ _ bi bsi bst <<<"$b"
	read -r au an as _ _ ai asi ast <<<"$a"
	local busy=$(((au - bu) + (an - bn) + (as - bs) + (ai - bi) + (asi - bsi) + (ast - bst)))
	local soft=$((asi - bsi))
	local wall=$((t1 - t0))
	awk -v s="$s" -v r="$r" -v busy="$busy" -v soft="$soft" -v wall="$wall" \
		-v n="$PACKETS" -v hz="$HZ" -v tu="$tu" -v ts="$ts" -v ks="$((k1 - k0))" 'BEGIN {
		task = (tu + ts + ks / hz) * 1e9 / n
		printf "%s\t%d\t%.1f\t%.1f\t%.3f\t%.1f\t%.1f\n", s, r, task,
			soft * 1e9 / hz / n, n / (wall / 1e9) / 1e6, busy * 1e9 / hz / n,
			100 * busy / hz / (wall / 1e9)
	}' | tee -a "$results" | awk -F'\t' '{
		printf "  %-10s round %d: %6.1f ns/packet (trafgen + ksoftirqd), %6.1f softirq (/proc/stat), %.3f Mpps; cpu%d %.0f ns/packet busy (%.0f%% busy)\n",
			$1, $2, $3, $4, $5, '"$CPU"', $6, $7 }' >&2
}

echo "bench-e2e: $PACKETS packets x $ROUNDS rounds, trafgen on cpu$CPU, XDP mode $MODE," \
	"$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# Warm-up (neighbour entries, page cache of the binaries).
ip netns exec "$GEN" trafgen -o "$VG" -i "$WORK/udp.cfg" -n 100000 -P 1 -Q --no-sock-mem -C \
	>/dev/null 2>&1 || die "trafgen does not run: try it by hand on $VG in $GEN"
for r in $(seq "$ROUNDS"); do
	for s in $SCENARIOS; do
		run_one "$s" "$r"
	done
done

echo
echo "trafgen -n $PACKETS on cpu$CPU; medians over $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| scenario | CPU ns/packet (trafgen + ksoftirqd) | softirq ns/packet (/proc/stat) | Mpps (generator) | ratio to none | ratio to argus |"
echo "|---|---:|---:|---:|---:|---:|"
for s in $SCENARIOS; do
	awk -F'\t' -v s="$s" '$1 == s' "$results" | sort -t$'\t' -k3,3n |
		awk -F'\t' '{ b[NR] = $3; so[NR] = $4; m[NR] = $5 } END {
			i = int((NR + 1) / 2); printf "%s\t%.1f\t%.1f\t%.3f\n", $1, b[i], so[i], m[i] }'
done >"$WORK/medians"
base=$(awk -F'\t' '$1 == "none" { print $2 }' "$WORK/medians")
argus=$(awk -F'\t' '$1 == "argus" { print $2 }' "$WORK/medians")
awk -F'\t' -v base="${base:-0}" -v argus="${argus:-0}" '{
	rb = base > 0 ? sprintf("%.2f", $2 / base) : "-"
	ra = argus > 0 ? sprintf("%.2f", $2 / argus) : "-"
	printf "| %s | %.0f | %.0f | %.3f | %s | %s |\n", $1, $2, $3, $4, rb, ra
}' "$WORK/medians"

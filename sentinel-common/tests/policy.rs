//! Policy through the real program (BPF_PROG_TEST_RUN): the model agrees
//! with the kernel, keys are encoded in the byte order the kernel matches,
//! per-entry counters, dry-run, big blocklists, pinned-map reuse.
//! Root only: these tests fail (never pass) without root.

mod common;

use std::net::IpAddr;

use argus_sentinel_common::abi::Stats;
use argus_sentinel_common::entry::{BlockEntry, ReasonCode, Role};
use argus_sentinel_common::maps::DataplaneConfig;
use argus_sentinel_common::model::{PolicyModel, Verdict};
use argus_sentinel_common::program::{Dataplane, DataplaneError, MapSizes, XDP_DROP, XDP_PASS};
use common::{ip, net, udp, Harness, LO_IFINDEX};
use ipnet::IpNet;

fn monotonic_coarse_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn model_and_kernel_agree_on_every_case() {
    let h = Harness::new("model_and_kernel_agree_on_every_case");
    let allow = vec![
        net("10.203.1.7/32"),
        net("fd00:203:1::7/128"),
        net("10.203.9.0/24"),
        // Allowlisted, no ban covers it: a plain pass, not `allowlisted`.
        net("fd00:203:8::/48"),
    ];
    let block = vec![
        BlockEntry::new(net("10.203.1.0/24"), ReasonCode::Manual),
        BlockEntry::new(net("10.203.2.5/32"), ReasonCode::Anomaly),
        BlockEntry::new(net("10.203.3.0/24"), ReasonCode::PortScan).monitored(),
        BlockEntry::new(net("10.203.4.0/22"), ReasonCode::Manual),
        BlockEntry::new(net("10.203.4.128/25"), ReasonCode::Manual).monitored(),
        BlockEntry::new(net("10.203.9.5/32"), ReasonCode::PayloadAttack),
        // Host entries (BLOCKHOSTS) beat covering prefixes (BLOCKLIST):
        BlockEntry::new(net("10.203.1.9/32"), ReasonCode::Manual).monitored(),
        BlockEntry::new(net("10.203.3.9/32"), ReasonCode::Manual),
        BlockEntry::new(net("fd00:203:3::9/128"), ReasonCode::Manual),
        BlockEntry::new(net("fd00:203:1::/64"), ReasonCode::Manual),
        BlockEntry::new(net("fd00:203:2::1/128"), ReasonCode::Manual),
        BlockEntry::new(net("fd00:203:3::/48"), ReasonCode::Manual).monitored(),
    ];
    let mut a = h.allowlist();
    for n in &allow {
        a.insert(*n).unwrap();
    }
    let mut b = h.blocklist();
    for e in &block {
        b.insert(e).unwrap();
    }
    let probes = [
        "10.203.1.7",
        "10.203.1.8",
        "10.203.1.9",
        "10.203.3.9",
        "fd00:203:3::9",
        "10.203.2.5",
        "10.203.2.6",
        "10.203.3.1",
        "10.203.4.1",
        "10.203.4.200",
        "10.203.7.255",
        "10.203.9.5",
        "10.203.9.6",
        "10.203.200.1",
        "fd00:203:1::7",
        "fd00:203:1::8",
        "fd00:203:2::1",
        "fd00:203:2::2",
        "fd00:203:3:5::1",
        "fd00:203:99::1",
        "fd00:203:8::1",
    ];
    let mut model = PolicyModel {
        allowlist: allow,
        blocklist: block,
        ..Default::default()
    };
    let mut ifaces = h.ifaces();
    let mut checked = 0;
    for (dry_run, drop_lan) in [(false, false), (false, true), (true, false), (true, true)] {
        h.set_config(DataplaneConfig {
            dry_run,
            drop_lan_to_banned: drop_lan,
            ..Default::default()
        });
        model.dry_run = dry_run;
        model.drop_lan_to_banned = drop_lan;
        // (model role, ingress ifindex, IFACES entry for lo); ifindex 0
        // lets the kernel pick, and it picks loopback.
        for (role, ifindex, lo_role) in [
            (Role::Wan, 0, Role::Wan),
            (Role::Wan, LO_IFINDEX, Role::Wan),
            (Role::Lan, LO_IFINDEX, Role::Lan),
        ] {
            ifaces.set(LO_IFINDEX, lo_role).unwrap();
            for p in probes {
                let addr = ip(p);
                let peer = if addr.is_ipv4() {
                    ip("10.203.100.100")
                } else {
                    ip("fd00:203:100::100")
                };
                for (src, dst) in [(addr, peer), (peer, addr)] {
                    let want = model.verdict(role, src, dst);
                    let before = h.stats();
                    let action = h.run_on(&udp(src, dst), ifindex);
                    let d = delta(&before, &h.stats());
                    let case = format!(
                        "dry_run={dry_run} drop_lan={drop_lan} role={role:?} ifindex={ifindex} {src} -> {dst}: model {want:?}"
                    );
                    assert_eq!(
                        action == XDP_DROP,
                        want.is_drop(),
                        "{case}: action {action}"
                    );
                    assert_eq!(d.dropped, u64::from(want == Verdict::Drop), "{case}: {d:?}");
                    assert_eq!(d.passed, u64::from(want != Verdict::Drop), "{case}: {d:?}");
                    assert_eq!(
                        d.would_drop,
                        u64::from(want == Verdict::WouldDrop),
                        "{case}: {d:?}"
                    );
                    assert_eq!(
                        d.allowlisted,
                        u64::from(want == Verdict::Allowlisted),
                        "{case}: {d:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 3 * probes.len() * 2);

    // ALLOWLIST entries count the packets they saved from a ban, and an
    // overridden ban's counters stay untouched.
    let allowed: Vec<_> = a.list().unwrap();
    let hits = |p: &str| allowed.iter().find(|e| e.prefix == net(p)).unwrap();
    for p in ["10.203.1.7/32", "fd00:203:1::7/128", "10.203.9.0/24"] {
        assert!(hits(p).packets > 0 && hits(p).last_hit_ns > 0, "{p}");
    }
    assert_eq!(hits("fd00:203:8::/48").packets, 0, "no ban to override");
    assert_eq!(hits("fd00:203:8::/48").last_hit_ns, 0);
    let overridden = b.lookup(ip("10.203.9.5")).unwrap().unwrap();
    assert_eq!((overridden.packets, overridden.would_drop), (0, 0));
}

fn delta(a: &Stats, b: &Stats) -> Stats {
    Stats {
        passed: b.passed - a.passed,
        dropped: b.dropped - a.dropped,
        would_drop: b.would_drop - a.would_drop,
        allowlisted: b.allowlisted - a.allowlisted,
        parse_failed: b.parse_failed - a.parse_failed,
        flow_table_full: b.flow_table_full - a.flow_table_full,
        ringbuf_full: b.ringbuf_full - a.ringbuf_full,
        flows_new: b.flows_new - a.flows_new,
        samples: b.samples - a.samples,
        non_ip: b.non_ip - a.non_ip,
        fragments: b.fragments - a.fragments,
        bytes: b.bytes - a.bytes,
    }
}

#[test]
fn key_encoding_matches_the_kernel() {
    let h = Harness::new("key_encoding_matches_the_kernel");
    let mut b = h.blocklist();
    b.insert(&BlockEntry::new(net("10.203.7.0/24"), ReasonCode::Manual))
        .unwrap();
    b.insert(&BlockEntry::new(net("fd00:203:7::/64"), ReasonCode::Manual))
        .unwrap();
    let peer4 = ip("10.203.100.1");
    let peer6 = ip("fd00:203:100::1");
    assert_eq!(h.run(&udp(ip("10.203.7.0"), peer4)), XDP_DROP);
    assert_eq!(h.run(&udp(ip("10.203.7.255"), peer4)), XDP_DROP);
    assert_eq!(h.run(&udp(ip("10.203.6.255"), peer4)), XDP_PASS);
    assert_eq!(h.run(&udp(ip("10.203.8.0"), peer4)), XDP_PASS);
    assert_eq!(h.run(&udp(ip("fd00:203:7::1"), peer6)), XDP_DROP);
    assert_eq!(
        h.run(&udp(ip("fd00:203:7:0:ffff:ffff:ffff:ffff"), peer6)),
        XDP_DROP
    );
    assert_eq!(h.run(&udp(ip("fd00:203:7:1::1"), peer6)), XDP_PASS);
    // The kernel lists back exactly the prefixes written.
    let mut listed: Vec<IpNet> = b.list().unwrap().into_iter().map(|e| e.prefix).collect();
    listed.sort();
    assert_eq!(listed, vec![net("10.203.7.0/24"), net("fd00:203:7::/64")]);
}

#[test]
fn entry_counters_and_dry_run() {
    let h = Harness::new("entry_counters_and_dry_run");
    let mut b = h.blocklist();
    b.insert(&BlockEntry::new(net("10.203.2.5/32"), ReasonCode::Anomaly))
        .unwrap();
    let frame = udp(ip("10.203.2.5"), ip("10.203.100.1"));
    let t0 = monotonic_coarse_ns();
    for _ in 0..3 {
        assert_eq!(h.run(&frame), XDP_DROP);
    }
    let e = b.list().unwrap()[0];
    assert_eq!(e.reason, ReasonCode::Anomaly);
    assert_eq!(e.counters.packets, 3);
    assert_eq!(e.counters.bytes, 3 * frame.len() as u64);
    assert_eq!(e.counters.would_drop, 0);
    // The kernel's coarse clock and userspace's may disagree by a tick.
    let tick_slack = 20_000_000;
    let t1 = monotonic_coarse_ns() + tick_slack;
    let hit = e.counters.last_hit_ns;
    assert!(
        hit + tick_slack >= t0 && hit <= t1,
        "{t0} ~<= {hit} ~<= {t1}"
    );

    let mut cfg = h.config();
    cfg.set_dry_run(true).unwrap();
    assert!(cfg.get().unwrap().dry_run);
    for _ in 0..2 {
        assert_eq!(h.run(&frame), XDP_PASS);
    }
    let v = b.lookup(ip("10.203.2.5")).unwrap().expect("entry");
    assert_eq!((v.packets, v.would_drop), (5, 2));
    let s = h.stats();
    assert_eq!((s.dropped, s.would_drop, s.passed), (3, 2, 2));

    cfg.set_dry_run(false).unwrap();
    assert_eq!(h.run(&frame), XDP_DROP);
}

#[test]
fn blocklist_holds_far_more_than_1024_entries() {
    let h = Harness::with_sizes(
        "blocklist_holds_far_more_than_1024_entries",
        MapSizes::default(),
    );
    let mut b = h.blocklist();
    let v4 = |base: [u8; 4], off: u32| {
        IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be_bytes(base) + off))
    };
    // 20,000 IPv4 hosts (10.203.0.0 ..= 10.203.78.31) and 5,000 IPv6 hosts
    // go to BLOCKHOSTS...
    for i in 0..20_000 {
        let e = BlockEntry::new(IpNet::from(v4([10, 203, 0, 0], i)), ReasonCode::Manual);
        b.insert(&e).unwrap();
    }
    for i in 0..5_000u128 {
        let a = IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(ip6("fd00:203:5::")) + i,
        ));
        b.insert(&BlockEntry::new(IpNet::from(a), ReasonCode::Manual))
            .unwrap();
    }
    // ...and 2,000 /28s (10.203.128.0 ..= 10.203.252.255) to the BLOCKLIST
    // trie, so both hold far more than the old prototype's 1024.
    for i in 0..2_000 {
        let n = IpNet::new(v4([10, 203, 128, 0], i << 4), 28).unwrap();
        b.insert(&BlockEntry::new(n, ReasonCode::Manual)).unwrap();
    }
    assert_eq!(b.list().unwrap().len(), 27_000);
    let peer4 = ip("10.203.100.1");
    let peer6 = ip("fd00:203:100::1");
    assert_eq!(
        h.run(&udp(ip("10.203.78.31"), peer4)),
        XDP_DROP,
        "last v4 host"
    );
    assert_eq!(h.run(&udp(ip("10.203.78.32"), peer4)), XDP_PASS);
    assert_eq!(
        h.run(&udp(ip("fd00:203:5::1387"), peer6)),
        XDP_DROP,
        "last v6 host"
    );
    assert_eq!(h.run(&udp(ip("fd00:203:5::1388"), peer6)), XDP_PASS);
    assert_eq!(
        h.run(&udp(ip("10.203.252.255"), peer4)),
        XDP_DROP,
        "last /28"
    );
    assert_eq!(h.run(&udp(ip("10.203.253.0"), peer4)), XDP_PASS);
}

fn ip6(s: &str) -> std::net::Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn maps_api_round_trips() {
    let h = Harness::new("maps_api_round_trips");
    let mut b = h.blocklist();
    let e = BlockEntry::new(net("10.203.3.0/24"), ReasonCode::Other(99)).monitored();
    let host4 = BlockEntry::new(net("10.203.3.3/32"), ReasonCode::Manual);
    let host6 = BlockEntry::new(net("fd00:203::3/128"), ReasonCode::PortScan);
    for x in [&e, &host4, &host6] {
        b.insert(x).unwrap();
    }
    let mut listed = b.list().unwrap();
    listed.sort_by_key(|x| x.prefix);
    assert_eq!(listed, vec![e, host4, host6]);
    assert_eq!(b.lookup(ip("10.203.3.3")).unwrap().unwrap().reason, 1);
    assert_eq!(b.lookup(ip("10.203.3.4")).unwrap().unwrap().reason, 99);
    for p in ["10.203.3.0/24", "10.203.3.3/32", "fd00:203::3/128"] {
        assert!(b.remove(net(p)).unwrap(), "{p}");
        assert!(!b.remove(net(p)).unwrap(), "{p}");
    }
    assert!(b.list().unwrap().is_empty());
    assert!(b.lookup(ip("10.203.3.3")).unwrap().is_none());

    let mut a = h.allowlist();
    a.insert(net("fd00:203::/32")).unwrap();
    assert_eq!(a.list().unwrap()[0].prefix, net("fd00:203::/32"));
    assert!(a.remove(net("fd00:203::/32")).unwrap());

    let mut c = h.config();
    let cfg = DataplaneConfig {
        dry_run: true,
        drop_lan_to_banned: true,
        sample_bytes: 9000,
        samples_per_direction: 3,
    };
    c.set(&cfg).unwrap();
    assert_eq!(
        c.get().unwrap(),
        DataplaneConfig {
            sample_bytes: 512,
            ..cfg
        }
    );

    let mut i = h.ifaces();
    assert_eq!(i.get(7).unwrap(), Role::Wan, "unset is WAN");
    i.set(7, Role::Lan).unwrap();
    assert_eq!(i.get(7).unwrap(), Role::Lan);
    let limit = argus_sentinel_common::abi::IFACES_MAX_ENTRIES;
    assert!(i.set(limit, Role::Lan).is_err(), "beyond the array");
    assert_eq!(i.get(limit).unwrap(), Role::Wan);
}

#[test]
fn pinned_maps_survive_a_reload() {
    let h = Harness::new("pinned_maps_survive_a_reload");
    let mut b = h.blocklist();
    b.insert(&BlockEntry::new(net("10.203.2.0/24"), ReasonCode::Manual))
        .unwrap();
    let frame = udp(ip("10.203.2.9"), ip("10.203.100.1"));
    assert_eq!(h.run(&frame), XDP_DROP);
    // A second program instance (a restarted sentinel) on the same pins.
    let dp2 = Dataplane::load(h.fs.path(), &MapSizes::default()).unwrap();
    assert_eq!(dp2.test_run(&frame, 0).unwrap(), XDP_DROP);
    let e = b.list().unwrap()[0];
    assert_eq!(e.counters.packets, 2, "both programs share one BLOCKLIST");
    assert_eq!(h.stats().dropped, 2, "and one STATS");
}

#[test]
fn incompatible_pin_is_refused() {
    let h = Harness::new("incompatible_pin_is_refused");
    let other = argus_sentinel_common::bpffs::TempBpffs::new().unwrap();
    let path = other.path().join("BLOCKLIST");
    pin_hash_map(&path, 4, 4);
    match Dataplane::load(other.path(), &MapSizes::default()) {
        Err(DataplaneError::IncompatiblePin { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected IncompatiblePin, got {other:?}"),
    }
    drop(h);
}

/// Pins a BPF_MAP_TYPE_HASH with the given key/value sizes at `path`
/// (raw bpf(2): BPF_MAP_CREATE then BPF_OBJ_PIN).
fn pin_hash_map(path: &std::path::Path, key: u32, value: u32) {
    use std::os::unix::ffi::OsStrExt;
    const BPF_MAP_CREATE: libc::c_long = 0;
    const BPF_OBJ_PIN: libc::c_long = 6;
    const BPF_MAP_TYPE_HASH: u32 = 1;
    let mut attr = [0u8; 128];
    for (i, w) in [BPF_MAP_TYPE_HASH, key, value, 4].iter().enumerate() {
        attr[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
    }
    // SAFETY: attr is a zeroed bpf_attr prefix of the size we pass.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, BPF_MAP_CREATE, attr.as_ptr(), attr.len()) };
    assert!(
        fd >= 0,
        "BPF_MAP_CREATE: {}",
        std::io::Error::last_os_error()
    );
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut pin = [0u8; 128];
    pin[..8].copy_from_slice(&(c.as_ptr() as u64).to_ne_bytes());
    pin[8..12].copy_from_slice(&(fd as u32).to_ne_bytes());
    // SAFETY: pin holds a valid pathname pointer and fd for the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, BPF_OBJ_PIN, pin.as_ptr(), pin.len()) };
    assert_eq!(rc, 0, "BPF_OBJ_PIN: {}", std::io::Error::last_os_error());
    // SAFETY: closing the fd we created; the pin keeps the map alive.
    unsafe { libc::close(fd as i32) };
}

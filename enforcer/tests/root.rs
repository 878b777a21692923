//! Root tests: the real enforcer process, the real XDP program on a veth between two network
//! namespaces, and real pinned maps on a private bpffs. Without root they fail, saying so.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_enforcer::kernel::{Counters, KernelMaps, MapsHealth, PinnedMaps};
use argus_proto::Reason;
use argus_sentinel_common::abi::map_names;
use argus_sentinel_common::bpffs::{require_root, TempBpffs};
use argus_sentinel_common::maps::Blocklist;
use argus_sentinel_common::program::{Dataplane, MapSizes};
use ipnet::IpNet;
use serde_json::Value;
use support::{ban_verdict, open_tempdir, Enforcer, Kronos, NetPair, PATIENCE};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The kernel BLOCKLIST: prefix → monitor flag.
fn kernel_bans(pin_dir: &Path) -> BTreeSet<(IpNet, bool)> {
    Blocklist::open(pin_dir)
        .expect("opening the pinned blocklist")
        .list()
        .expect("listing the blocklist")
        .into_iter()
        .map(|e| (e.prefix, e.monitor))
        .collect()
}

/// Prefixes of the live bans in the database, read through a separate connection.
fn db_live_bans(db: &Path, state: &str) -> BTreeSet<IpNet> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT prefix FROM bans WHERE state = ?1")
        .unwrap();
    stmt.query_map([state], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| p.unwrap().parse().unwrap())
        .collect()
}

fn status(e: &Enforcer) -> Value {
    let (code, out, err) = e.ctl(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    json(&out)["status"].clone()
}

#[test]
fn enforce_a_ban_drops_traffic_and_unblock_lets_it_flow_again() {
    require_root("enforcer root test");
    let bpffs = TempBpffs::new().unwrap();
    let net = NetPair::new();
    let _xdp = net.attach_xdp(bpffs.path());
    let dir = open_tempdir();
    let enforcer = Enforcer::start(dir.path(), bpffs.path(), "enforce");
    assert!(net.ping_from_a(net.b4), "traffic flows before any ban");
    assert!(net.ping_from_a(net.b6));

    let mut kronos = Kronos::connect(&enforcer.verdict);
    kronos
        .send(&ban_verdict(1, net.a4, Reason::PortScan))
        .expect("verdict acknowledged");
    kronos
        .send(&ban_verdict(2, net.a6, Reason::BruteForce))
        .expect("verdict acknowledged");
    let a4: IpNet = IpNet::from(net.a4);
    let a6_64: IpNet = IpNet::new(net.a6, 64).unwrap().trunc();
    // Acknowledged means committed and written to the kernel.
    assert_eq!(
        kernel_bans(bpffs.path()),
        BTreeSet::from([(a4, false), (a6_64, false)]),
        "IPv6 widened to /64, both enforcing"
    );
    assert!(!net.ping_from_a(net.b4), "banned IPv4 source is dropped");
    assert!(!net.ping_from_a(net.b6), "banned IPv6 /64 is dropped");
    let st = status(&enforcer);
    assert!(st["dataplane"]["dropped"].as_u64().unwrap() > 0, "{st}");
    assert_eq!(st["mode"], "enforce");

    let (code, out, _) = enforcer.ctl(&["list", "--json"]);
    assert_eq!(code, 0);
    let bans = &json(&out)["bans"];
    let v4 = bans
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["prefix"] == a4.to_string().as_str())
        .expect("listed");
    assert!(
        v4["packets"].as_u64().unwrap() > 0,
        "kernel hit counters: {v4}"
    );

    let (code, out, err) = enforcer.ctl(&["unblock", &net.a4.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("false positive"), "{out}");
    assert!(
        net.ping_from_a(net.b4),
        "traffic flows again right after unblock"
    );
    assert!(!net.ping_from_a(net.b6), "the other ban stands");
    assert_eq!(kernel_bans(bpffs.path()), BTreeSet::from([(a6_64, false)]));
}

#[test]
fn dry_run_drops_nothing_and_counts_would_drop() {
    require_root("enforcer root test");
    let bpffs = TempBpffs::new().unwrap();
    let net = NetPair::new();
    let _xdp = net.attach_xdp(bpffs.path());
    let dir = open_tempdir();
    let enforcer = Enforcer::start(dir.path(), bpffs.path(), "dry_run");

    let mut kronos = Kronos::connect(&enforcer.verdict);
    kronos
        .send(&ban_verdict(1, net.a4, Reason::SynFlood))
        .expect("verdict acknowledged");
    let a4 = IpNet::from(net.a4);
    assert_eq!(
        kernel_bans(bpffs.path()),
        BTreeSet::from([(a4, true)]),
        "a simulated ban is a monitor entry"
    );
    assert!(net.ping_from_a(net.b4), "dry-run drops nothing");
    let st = status(&enforcer);
    assert_eq!(st["mode"], "dry_run");
    assert_eq!(st["dataplane"]["dropped"], 0, "{st}");
    assert!(st["dataplane"]["would_drop"].as_u64().unwrap() > 0, "{st}");

    let (code, out, _) = enforcer.ctl(&["report", "--json"]);
    assert_eq!(code, 0);
    let report = &json(&out)["report"];
    assert_eq!(
        report["entries"][0]["ban"]["prefix"],
        a4.to_string().as_str()
    );
    assert!(
        report["would_drop_packets"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(report["entries"][0]["allowlisted_now"], false);

    // Allow the friend: the report says so, and the simulated ban is lifted.
    let (code, _, err) = enforcer.ctl(&["allow", &net.a4.to_string(), "--comment", "friend"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = enforcer.ctl(&["report", "--json"]);
    assert_eq!(json(&out)["report"]["entries"][0]["allowlisted_now"], true);
    assert!(kernel_bans(bpffs.path()).is_empty());
}

#[test]
fn callers_without_root_or_the_admin_group_are_denied_and_audited() {
    require_root("enforcer root test");
    let bpffs = TempBpffs::new().unwrap();
    let dir = open_tempdir();
    let enforcer = Enforcer::start(dir.path(), bpffs.path(), "enforce");

    let (code, out, err) = enforcer.ctl_as("nobody", &["block", "10.203.99.9"]);
    assert_eq!(
        code, 3,
        "permission denied exit code; stdout {out} stderr {err}"
    );
    assert!(err.contains("permission denied"), "{err}");
    let (code, _, err) = enforcer.ctl_as("nobody", &["status"]);
    assert_eq!(code, 3, "no read group configured: {err}");
    let (code, out, _) = enforcer.ctl_as("nobody", &["--json", "unblock", "10.203.99.9"]);
    assert_eq!(code, 3);
    assert_eq!(json(&out)["error"]["kind"], "permission_denied");

    assert!(
        db_live_bans(&enforcer.db, "active").is_empty(),
        "nothing changed"
    );
    let conn = rusqlite::Connection::open(&enforcer.db).unwrap();
    let denied: Vec<String> = conn
        .prepare("SELECT actor || ' ' || detail FROM audit WHERE action = 'denied' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(denied.len(), 3, "{denied:?}");
    assert!(
        denied[0].starts_with("argusctl:uid=65534(nobody)"),
        "{denied:?}"
    );
    assert!(denied[0].contains("Block"), "{denied:?}");
    // Root still may.
    assert_eq!(enforcer.ctl(&["block", "10.203.99.9"]).0, 0);
}

#[test]
fn members_of_the_read_group_may_read_but_not_change() {
    require_root("enforcer root test");
    let bpffs = TempBpffs::new().unwrap();
    let dir = open_tempdir();
    // nobody's primary group stands in for argus-read: real credentials, no user to create.
    let enforcer =
        Enforcer::start_with_read_group(dir.path(), bpffs.path(), "enforce", Some("nogroup"));

    for read in [&["status"][..], &["list"], &["mode"]] {
        let (code, _, err) = enforcer.ctl_as("nobody", read);
        assert_eq!(code, 0, "{read:?} as a reader: {err}");
    }
    let (code, _, err) = enforcer.ctl_as("nobody", &["block", "10.203.99.9"]);
    assert_eq!(code, 3, "block as a reader: {err}");
    assert!(err.contains("admin_group"), "{err}");
    assert!(db_live_bans(&enforcer.db, "active").is_empty());
}

#[test]
fn sigkill_during_a_verdict_burst_loses_no_acknowledged_ban() {
    require_root("enforcer root test");
    let bpffs = TempBpffs::new().unwrap();
    let net = NetPair::new();
    let _xdp = net.attach_xdp(bpffs.path());
    let dir = open_tempdir();
    let mut enforcer = Enforcer::start(dir.path(), bpffs.path(), "enforce");
    let verdict_socket = enforcer.verdict.clone();
    let acked_so_far = Arc::new(AtomicUsize::new(0));

    // A burst from a separate thread; the enforcer is killed while it runs.
    let counter = Arc::clone(&acked_so_far);
    let sender = std::thread::spawn(move || {
        let mut kronos = Kronos::connect(&verdict_socket);
        let mut acked = Vec::new();
        // Stops once the enforcer is gone (several failures in a row); a single failure is a
        // dropped connection that the client survives by reconnecting, as kronos does.
        let mut failures_in_a_row = 0;
        for i in 0..2000u64 {
            let source = format!("10.203.{}.{}", 200 + i / 250, 1 + i % 250)
                .parse()
                .unwrap();
            match kronos.send(&ban_verdict(i, source, Reason::PortScan)) {
                Ok(()) => {
                    acked.push(IpNet::from(source));
                    counter.store(acked.len(), Ordering::Release);
                    failures_in_a_row = 0;
                }
                Err(_) => {
                    failures_in_a_row += 1;
                    if failures_in_a_row > 3 {
                        break;
                    }
                }
            }
        }
        acked
    });
    // Kill once some verdicts are acknowledged, while the burst goes on. (Counted by the sender,
    // not in the database: a ban is committed before its acknowledgement reaches the sender.)
    let start = Instant::now();
    while acked_so_far.load(Ordering::Acquire) < 100 {
        assert!(
            start.elapsed() < PATIENCE,
            "no verdicts arrived:\n{}",
            enforcer.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    enforcer.kill();
    let acked: BTreeSet<IpNet> = sender.join().unwrap().into_iter().collect();
    assert!(
        acked.len() >= 100,
        "acknowledged before the kill: {}",
        acked.len()
    );
    assert!(acked.len() < 2000, "the kill happened during the burst");

    // Stray kernel state the dead enforcer never recorded must not survive either.
    let stray: IpNet = "10.203.250.1/32".parse().unwrap();
    let mut block = Blocklist::open(bpffs.path()).unwrap();
    block
        .insert(&argus_sentinel_common::entry::BlockEntry::new(
            stray,
            argus_sentinel_common::entry::ReasonCode::Manual,
        ))
        .unwrap();

    enforcer.restart();
    let in_db = db_live_bans(&enforcer.db, "active");
    assert!(
        acked.is_subset(&in_db),
        "acknowledged bans missing after the crash: {:?}",
        acked.difference(&in_db).collect::<Vec<_>>()
    );
    // The restart reconciled: the kernel holds exactly the active bans.
    let in_kernel: BTreeSet<IpNet> = kernel_bans(bpffs.path())
        .into_iter()
        .map(|(p, monitor)| {
            assert!(!monitor);
            p
        })
        .collect();
    assert_eq!(in_kernel, in_db, "SQLite and the kernel map agree");
    assert!(!in_kernel.contains(&stray));
}

#[test]
fn bans_survive_sentinel_recreating_the_maps() {
    require_root("enforcer root test");
    let bpffs = TempBpffs::new().unwrap();
    let net = NetPair::new();
    let xdp = net.attach_xdp(bpffs.path());
    let dir = open_tempdir();
    let enforcer = Enforcer::start(dir.path(), bpffs.path(), "enforce");
    Kronos::connect(&enforcer.verdict)
        .send(&ban_verdict(1, net.a4, Reason::PortScan))
        .unwrap();
    assert!(!net.ping_from_a(net.b4));

    // Sentinel goes away with its maps, and comes back with new, empty ones.
    drop(xdp);
    for name in map_names::ALL {
        let pin = bpffs.path().join(name);
        std::fs::remove_file(&pin).unwrap_or_else(|e| panic!("{}: {e}", pin.display()));
    }
    let _xdp = net.attach_xdp(bpffs.path());
    let want = BTreeSet::from([(IpNet::from(net.a4), false)]);
    let start = Instant::now();
    while kernel_bans(bpffs.path()) != want {
        assert!(
            start.elapsed() < PATIENCE,
            "the enforcer did not refill the new maps:\n{}",
            enforcer.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !net.ping_from_a(net.b4),
        "dropped again by the new data plane"
    );
}

#[test]
fn every_reason_reads_back_from_the_pinned_blocklist() {
    require_root("enforcer root test");
    let bpffs = TempBpffs::new().unwrap();
    let _dp = Dataplane::load(bpffs.path(), &MapSizes::default()).expect("loading the XDP object");
    let mut maps = PinnedMaps::new(bpffs.path());
    assert_eq!(maps.refresh(), MapsHealth::Ready { recreated: true });
    let prefix = |i: usize| -> IpNet { format!("10.203.8.{}/32", i + 1).parse().unwrap() };
    for (i, r) in Reason::ALL.into_iter().enumerate() {
        maps.insert_block(prefix(i), r, false, Counters::default())
            .unwrap();
    }
    let read: Vec<(IpNet, Option<Reason>)> = maps
        .list_blocks()
        .unwrap()
        .into_iter()
        .map(|b| (b.prefix, b.reason))
        .collect();
    let want: Vec<(IpNet, Option<Reason>)> = Reason::ALL
        .into_iter()
        .enumerate()
        .map(|(i, r)| (prefix(i), Some(r)))
        .collect();
    assert_eq!(read.len(), want.len());
    for w in &want {
        assert!(read.contains(w), "{w:?} not read back: {read:?}");
    }
}

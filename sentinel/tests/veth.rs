//! Two namespaces joined by a veth pair; sentinel attaches to B's end with
//! role wan. Bans written through sentinel-common's map API must drop A's
//! traffic (v4 /32, v4 /24, v6 /64), the allowlist must win, dry-run must
//! only count, and the data plane must outlive sentinel (SIGKILL) and be
//! taken over by a restarted one. Root only: fails without root.

mod common;

use std::path::{Path, PathBuf};

use argus_sentinel_common::bpffs::TempBpffs;
use argus_sentinel_common::entry::{BlockEntry, ReasonCode};
use argus_sentinel_common::maps::{Allowlist, Blocklist, ConfigMap, StatsMap};
use argus_tests::netns::{addr, veth, Netns};
use argus_tests::process::Managed;
use argus_tests::{require_root, unique_tag};
use aya::programs::links::{FdLink, PinnedLink};
use common::{spawn_sentinel, stop, wait_attached, wait_for, write_config};
use ipnet::IpNet;
use nix::sys::signal::Signal;

const A4: &str = "10.203.10.1";
const B4: &str = "10.203.10.2";
const A6: &str = "fd00:203:10::1";
const B6: &str = "fd00:203:10::2";

/// A — B over veth (`va` in A, `vb` in B), a private bpffs and a work dir.
/// Field order is drop order: namespaces before the bpffs.
struct Pair {
    a: Netns,
    b: Netns,
    fs: TempBpffs,
    dir: tempfile::TempDir,
}

impl Pair {
    fn new(test: &str) -> Self {
        require_root(test);
        let tag = unique_tag();
        let a = Netns::new(&format!("argus-{tag}-a")).unwrap();
        let b = Netns::new(&format!("argus-{tag}-b")).unwrap();
        veth(&a, "va", &b, "vb").unwrap();
        for (ns, ifname, v4, v6) in [(&a, "va", A4, A6), (&b, "vb", B4, B6)] {
            addr(ns, ifname, &format!("{v4}/24")).unwrap();
            addr(ns, ifname, &format!("{v6}/64")).unwrap();
        }
        Self {
            a,
            b,
            fs: TempBpffs::new().unwrap(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn pin_dir(&self) -> PathBuf {
        self.fs.path().join("argus")
    }

    fn config(&self, extra: &str) -> PathBuf {
        write_config(self.dir.path(), &self.pin_dir(), &[("vb", "wan")], extra)
    }

    fn start(&self, config: &Path, n: u32) -> Managed {
        let s = spawn_sentinel(
            &self.b,
            config,
            &self.dir.path().join(format!("out{n}.jsonl")),
            self.dir.path().join(format!("sentinel{n}.log")),
        );
        wait_attached(&s, &self.pin_dir(), &["vb"]);
        s
    }

    fn blocklist(&self) -> Blocklist {
        Blocklist::open(&self.pin_dir()).unwrap()
    }

    fn link(&self) -> PathBuf {
        self.pin_dir().join("links").join("vb")
    }

    /// (link id, program id) of the pinned link.
    fn link_ids(&self) -> (u32, u32) {
        let link: FdLink = PinnedLink::from_pin(self.link()).unwrap().into();
        let info = link.info().unwrap();
        (info.id(), info.program_id())
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ban(b: &mut Blocklist, prefix: &str) {
    b.insert(&BlockEntry::new(net(prefix), ReasonCode::Manual))
        .unwrap();
}

#[test]
fn bans_allowlist_and_dry_run_over_veth() {
    let p = Pair::new("bans_allowlist_and_dry_run_over_veth");
    let mut s = p.start(&p.config(""), 0);
    // xdp_mode auto: veth has native XDP, and sentinel reads the mode back.
    assert!(s.log().contains("mode=Native"), "{}", s.log());
    assert!(p.a.ping(B4), "baseline v4\n{}", s.log());
    assert!(p.a.ping(B6), "baseline v6\n{}", s.log());
    let mut b = p.blocklist();

    // v4 /32
    ban(&mut b, "10.203.10.1/32");
    assert!(!p.a.ping(B4), "v4 /32 ban must drop");
    let hits = b.lookup(A4.parse().unwrap()).unwrap().unwrap().packets;
    assert!(hits >= 1, "the ban's counters saw the drops");
    assert!(b.remove(net("10.203.10.1/32")).unwrap());
    assert!(p.a.ping(B4), "unbanned");

    // v4 /24 covers A; the allowlist wins over it.
    ban(&mut b, "10.203.10.0/24");
    assert!(!p.a.ping(B4), "v4 /24 ban must drop");
    let mut allow = Allowlist::open(&p.pin_dir()).unwrap();
    allow.insert(net("10.203.10.1/32")).unwrap();
    assert!(p.a.ping(B4), "allowlist wins over the /24 ban");
    assert!(allow.list().unwrap()[0].packets >= 1);
    assert!(allow.remove(net("10.203.10.1/32")).unwrap());

    // Dry-run: nothing dropped, would_drop counted per entry and globally.
    let mut cfg = ConfigMap::open(&p.pin_dir()).unwrap();
    cfg.set_dry_run(true).unwrap();
    let before = b.lookup(A4.parse().unwrap()).unwrap().unwrap().would_drop;
    assert!(p.a.ping(B4), "dry-run never drops");
    let after = b.lookup(A4.parse().unwrap()).unwrap().unwrap().would_drop;
    assert!(after > before, "dry-run counts would_drop");
    assert!(
        StatsMap::open(&p.pin_dir())
            .unwrap()
            .read()
            .unwrap()
            .would_drop
            >= 1
    );
    cfg.set_dry_run(false).unwrap();
    assert!(!p.a.ping(B4), "enforcing again");
    assert!(b.remove(net("10.203.10.0/24")).unwrap());

    // v6 /64
    ban(&mut b, "fd00:203:10::/64");
    assert!(!p.a.ping(B6), "v6 /64 ban must drop");
    assert!(b.lookup(A6.parse().unwrap()).unwrap().unwrap().packets >= 1);
    assert!(b.remove(net("fd00:203:10::/64")).unwrap());
    assert!(p.a.ping(B6), "unbanned v6");

    stop(&mut s);
}

#[test]
fn data_plane_outlives_sentinel_and_is_taken_over() {
    let p = Pair::new("data_plane_outlives_sentinel_and_is_taken_over");
    let config = p.config("");
    let mut first = p.start(&config, 0);
    let mut b = p.blocklist();
    ban(&mut b, "10.203.10.1/32");
    assert!(!p.a.ping(B4));
    let (link_id, prog_id) = p.link_ids();

    // SIGKILL: no cleanup runs, the pinned link keeps the program dropping,
    // and bans written meanwhile still take effect.
    first.signal(Signal::SIGKILL).unwrap();
    assert!(!p.a.ping(B4), "drops continue without sentinel");
    ban(&mut b, "fd00:203:10::1/128");
    assert!(!p.a.ping(B6), "new bans apply without sentinel");

    // Restart: same maps (entries still there), same link, new program.
    let mut second = p.start(&config, 1);
    let mut listed: Vec<IpNet> = p
        .blocklist()
        .list()
        .unwrap()
        .iter()
        .map(|e| e.prefix)
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        vec![net("10.203.10.1/32"), net("fd00:203:10::1/128")]
    );
    let (link_id2, prog_id2) = p.link_ids();
    assert_eq!(link_id2, link_id, "the pinned link is reused");
    assert_ne!(prog_id2, prog_id, "with the new program swapped in");
    assert!(!p.a.ping(B4), "still dropping after the restart");

    // SIGTERM without keep_dataplane_on_exit: detached, maps kept.
    stop(&mut second);
    assert!(!p.link().exists(), "link unpinned");
    assert!(p.a.ping(B4), "detached: nothing drops");
    assert_eq!(p.blocklist().list().unwrap().len(), 2, "bans survive");
}

#[test]
fn keep_dataplane_on_exit_leaves_it_attached() {
    let p = Pair::new("keep_dataplane_on_exit_leaves_it_attached");
    let config = p.config("  keep_dataplane_on_exit: true\n");
    let mut s = p.start(&config, 0);
    let mut b = p.blocklist();
    ban(&mut b, "10.203.10.1/32");
    stop(&mut s);
    assert!(p.link().exists(), "link still pinned");
    assert!(!p.a.ping(B4), "still dropping after a clean stop");

    // The next run is configured for another interface only (a bridge, which
    // has no native XDP): the stale vb link is detached, and xdp_mode auto
    // falls back to generic XDP with a warning.
    p.b.ip(&["link", "add", "vx", "type", "bridge"]).unwrap();
    p.b.ip(&["link", "set", "vx", "up"]).unwrap();
    let other = write_config(p.dir.path(), &p.pin_dir(), &[("vx", "wan")], "");
    let mut s = spawn_sentinel(
        &p.b,
        &other,
        &p.dir.path().join("out1.jsonl"),
        p.dir.path().join("sentinel1.log"),
    );
    wait_attached(&s, &p.pin_dir(), &["vx"]);
    // Stale links are cleaned up right after the configured ones attach.
    wait_for(
        "the stale link to be detached",
        || s.log(),
        || s.log().contains("no longer configured"),
    );
    let log = s.log();
    assert!(log.contains("falling back to generic"), "{log}");
    assert!(log.contains("mode=Generic"), "{log}");
    assert!(!p.link().exists(), "stale vb link removed");
    assert!(p.a.ping(B4), "vb is no longer filtered");
    stop(&mut s);
}

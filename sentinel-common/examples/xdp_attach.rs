//! Attaches the real Argus XDP program (the object embedded in
//! argus-sentinel-common) to one interface with a few host bans, for the
//! end-to-end benchmark (`packaging/bench-e2e.sh`). Not a product tool:
//! sentinel is what attaches the program in production.
//!
//! Usage (root): `xdp_attach IFNAME native|skb BANNED_ADDR...`
//! Maps live on a private bpffs mounted for the run. Prints `ready` once
//! attached and the bans are written, then waits until stdin closes, prints
//! the program's `dropped`/`passed` counters and exits, which detaches the
//! program and unmounts the bpffs.

use std::io::Read;
use std::net::IpAddr;

use argus_sentinel_common::bpffs::{require_root, TempBpffs};
use argus_sentinel_common::entry::{BlockEntry, ReasonCode};
use argus_sentinel_common::maps::{Blocklist, StatsMap};
use argus_sentinel_common::program::{Dataplane, MapSizes};
use aya::programs::XdpMode;
use ipnet::IpNet;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: xdp_attach IFNAME native|skb BANNED_ADDR...");
        std::process::exit(2);
    }
    require_root("xdp_attach");
    let ifname = &args[0];
    let mode = match args[1].as_str() {
        "native" => XdpMode::Driver,
        "skb" => XdpMode::Skb,
        other => panic!("mode {other}: expected native or skb"),
    };
    let c = std::ffi::CString::new(ifname.as_str()).unwrap();
    // SAFETY: if_nametoindex reads a NUL-terminated string we own.
    let ifindex = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert!(ifindex != 0, "no interface {ifname}");

    let fs = TempBpffs::new().expect("mount a private bpffs");
    let mut dp = Dataplane::load(fs.path(), &MapSizes::default()).expect("load");
    dp.program_mut()
        .attach_to_if_index(ifindex, mode)
        .expect("attach");
    let mut b = Blocklist::open(fs.path()).unwrap();
    for a in &args[2..] {
        let addr: IpAddr = a.parse().expect("an address");
        b.insert(&BlockEntry::new(IpNet::from(addr), ReasonCode::Manual))
            .unwrap();
    }
    println!("ready");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    let s = StatsMap::open(fs.path()).unwrap().read().unwrap();
    println!("dropped {} passed {}", s.dropped, s.passed);
    drop(b);
    drop(dp);
    drop(fs);
}

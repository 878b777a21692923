//! The prefix index (BLOCKNETS + BLOCKMETA, see `argus_shared.h`) through
//! the real program: whatever mix of prefix lengths the blocklist holds, in
//! probe mode or trie mode, while it grows and shrinks, the kernel's verdict
//! is the model's longest-prefix match; maps without a valid index (an
//! older build's pins) still drop through the trie and are reindexed on load.
//! Root only: these tests fail (never pass) without root.

mod common;

use std::net::IpAddr;

use argus_sentinel_common::abi::{PrefixFilter, PrefixMeta, CLASS_V4, CLASS_V6, PREFIX_LENS_TRIE};
use argus_sentinel_common::entry::{BlockEntry, ReasonCode, Role};
use argus_sentinel_common::key::LpmKey;
use argus_sentinel_common::maps::{filter_slot, probe_limit};
use argus_sentinel_common::model::{PolicyModel, Verdict};
use argus_sentinel_common::program::{Dataplane, MapSizes, XDP_DROP};
use aya::maps::{Array, Map, MapData};
use common::{ip, net, udp, Harness};
use ipnet::IpNet;

/// Probe addresses: a deterministic spread over 10.203.0.0/18 and over
/// fd00:203:0::/46, plus the edges of the prefixes the test uses.
fn probes() -> Vec<IpAddr> {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    let mut v = Vec::new();
    for _ in 0..96 {
        let r = next();
        v.push(IpAddr::from([10, 203, (r >> 8) as u8 & 0x3F, r as u8]));
        v.push(IpAddr::from([
            10,
            203,
            128 | (r >> 24) as u8,
            (r >> 32) as u8,
        ]));
        let a = (0xfd00_0203_0000u128 | u128::from(r >> 62)) << 80 | u128::from(r as u16);
        v.push(IpAddr::from(std::net::Ipv6Addr::from(a)));
    }
    for p in [
        "10.203.1.0",
        "10.203.1.255",
        "10.203.4.128",
        "10.203.7.255",
        "10.203.8.0",
        "10.203.17.63",
        "10.203.17.64",
        "10.203.64.1",
        "10.203.127.255",
        "200.1.2.3",
        "fd00:203:1::",
        "fd00:203:1:0:ffff:ffff:ffff:ffff",
        "fd00:203:2:ffff::1",
        "fd00:203:3::1",
        "2001:db8::1",
        "::1",
    ] {
        v.push(ip(p));
    }
    v
}

/// Asserts the kernel agrees with the model on every probe (as a source on
/// a WAN interface): dropped or not, and would-drop counted or not.
fn assert_agrees(h: &Harness, model: &PolicyModel, step: &str) {
    let peer4 = ip("10.203.200.200");
    let peer6 = ip("fd00:203:200::200");
    for addr in probes() {
        let peer = if addr.is_ipv4() { peer4 } else { peer6 };
        let want = model.verdict(Role::Wan, addr, peer);
        let before = h.stats();
        let action = h.run(&udp(addr, peer));
        let after = h.stats();
        assert_eq!(
            action == XDP_DROP,
            want.is_drop(),
            "{step}: {addr}: model {want:?}, action {action}"
        );
        assert_eq!(
            after.would_drop - before.would_drop,
            u64::from(want == Verdict::WouldDrop),
            "{step}: {addr}: model {want:?}"
        );
    }
}

fn n_lens(meta: &PrefixMeta) -> [u8; 2] {
    meta.n_lens
}

#[test]
fn kernel_agrees_with_the_model_through_every_length_mix() {
    let h = Harness::new("kernel_agrees_with_the_model_through_every_length_mix");
    let mut b = h.blocklist();
    let mut model = PolicyModel::default();
    // Added one by one; after each, the verdicts are compared. The IPv4
    // class goes from probing 1..4 lengths to the trie (5th length) and
    // back; "::/1" (monitored) covers all of IPv4 from the IPv6 side.
    let steps: [(&str, bool); 12] = [
        ("10.203.1.0/24", false),
        ("fd00:203:1::/64", false),
        ("10.203.4.0/22", false),
        ("10.203.4.128/25", true),
        ("fd00:203:2::/48", true),
        ("10.203.8.0/21", false),
        ("10.203.17.0/26", false),
        ("::ffff:10.203.64.0/114", false),
        ("::/1", true),
        ("10.203.9.0/24", true),
        ("fd00:203:3::/48", false),
        ("fd00:203:1:0:8000::/65", true),
    ];
    assert_eq!(n_lens(&b.prefix_meta().unwrap()), [0, 0], "empty");
    assert_agrees(&h, &model, "empty");
    for (p, monitor) in steps {
        let mut e = BlockEntry::new(net(p), ReasonCode::Manual);
        e.monitor = monitor;
        b.insert(&e).unwrap();
        model.blocklist.push(e);
        assert_agrees(&h, &model, &format!("after adding {p}"));
    }
    let meta = b.prefix_meta().unwrap();
    // IPv4: /24 /22 /25 /21 /26 /18 plus ::/1 = 7 lengths of 8 entries;
    // IPv6: /64 /48 /65 and ::/1 = 4 lengths of 5 entries. Both too many
    // for so small a trie.
    assert_eq!(probe_limit(8), 4);
    assert_eq!(meta.n_lens, [PREFIX_LENS_TRIE, PREFIX_LENS_TRIE]);
    // Re-inserting an existing prefix (a monitor flag flip) counts once.
    b.insert(&BlockEntry::new(net("fd00:203:1::/64"), ReasonCode::Manual))
        .unwrap();
    assert_eq!(b.prefix_meta().unwrap(), meta);

    // Shrink again, in another order, down to nothing.
    for p in [
        "::/1",
        "10.203.8.0/21",
        "::ffff:10.203.64.0/114",
        "fd00:203:1:0:8000::/65",
        "10.203.4.128/25",
        "10.203.1.0/24",
        "fd00:203:2::/48",
        "10.203.17.0/26",
        "10.203.4.0/22",
        "fd00:203:1::/64",
        "10.203.9.0/24",
        "fd00:203:3::/48",
    ] {
        if p == "10.203.1.0/24" {
            let m = b.prefix_meta().unwrap();
            // /24, /22, /26 left: probed, longest first.
            assert_eq!(m.n_lens[CLASS_V4], 3, "{m:?}");
            assert_eq!(&m.lens[CLASS_V4][..3], &[122, 120, 118]);
        }
        assert!(b.remove(net(p)).unwrap(), "{p}");
        assert!(!b.remove(net(p)).unwrap(), "{p} twice");
        model.blocklist.retain(|e| e.prefix != net(p));
        assert_agrees(&h, &model, &format!("after removing {p}"));
    }
    let meta = b.prefix_meta().unwrap();
    assert_eq!(n_lens(&meta), [0, 0]);
    assert!(meta.counts.iter().flatten().all(|&c| c == 0));

    // Many prefixes of eight lengths (/17 .. /24 in 10.203.128.0/17, some
    // monitored, nested): probed one by one, longest first.
    for j in 0..600u32 {
        let len = 17 + (j % 8) as u8;
        let a = std::net::Ipv4Addr::from(u32::from_be_bytes([10, 203, 128, 0]) + (j << 5));
        let mut e = BlockEntry::new(
            IpNet::new(a.into(), len).unwrap().trunc(),
            ReasonCode::Manual,
        );
        e.monitor = j % 3 == 0;
        if model.blocklist.iter().all(|x| x.prefix != e.prefix) {
            b.insert(&e).unwrap();
            model.blocklist.push(e);
        }
    }
    let meta = b.prefix_meta().unwrap();
    assert!(probe_limit(model.blocklist.len() as u64) >= 8);
    assert_eq!(meta.n_lens, [8, 0], "{meta:?}");
    assert_eq!(
        &meta.lens[CLASS_V4][..8],
        &[120, 119, 118, 117, 116, 115, 114, 113]
    );
    assert_agrees(&h, &model, "many prefixes of eight lengths");
}

#[test]
fn maps_without_a_valid_index_drop_through_the_trie_and_are_reindexed() {
    let h = Harness::new("maps_without_a_valid_index_drop_through_the_trie_and_are_reindexed");
    let mut b = h.blocklist();
    for p in ["10.203.5.0/24", "fd00:203:5::/64"] {
        b.insert(&BlockEntry::new(net(p), ReasonCode::Manual))
            .unwrap();
    }
    let banned4 = udp(ip("10.203.5.9"), ip("10.203.100.1"));
    let banned6 = udp(ip("fd00:203:5::9"), ip("fd00:203:100::1"));
    let free4 = udp(ip("10.203.6.9"), ip("10.203.100.1"));
    assert_eq!(h.run(&banned4), XDP_DROP);

    // What an older build's pins look like: BLOCKLIST filled, BLOCKFILTER
    // and BLOCKMETA all zero.
    let pin = |name: &str| {
        Map::from_map_data(MapData::from_pin(h.fs.path().join(name)).unwrap()).unwrap()
    };
    let mut meta: Array<MapData, PrefixMeta> = pin("BLOCKMETA").try_into().unwrap();
    // Both entries: whichever BLOCKMETASEL names.
    for i in 0..2 {
        meta.set(i, PrefixMeta::default(), 0).unwrap();
    }
    let mut filter: Array<MapData, PrefixFilter> = pin("BLOCKFILTER").try_into().unwrap();
    let nonzero = |f: &Array<MapData, PrefixFilter>| {
        f.iter()
            .filter(|v| *v.as_ref().unwrap() != PrefixFilter::default())
            .count()
    };
    let slots: Vec<u32> = ["10.203.5.0/24", "fd00:203:5::/64"]
        .iter()
        .map(|p| filter_slot(&LpmKey::from_net(net(p)).raw()))
        .collect();
    assert_eq!(nonzero(&filter), 2);
    for s in &slots {
        filter.set(s >> 3, PrefixFilter::default(), 0).unwrap();
    }
    assert_eq!(nonzero(&filter), 0);
    assert_eq!(h.run(&banned4), XDP_DROP, "trie walk without an index");
    assert_eq!(h.run(&banned6), XDP_DROP, "trie walk without an index");
    assert_ne!(h.run(&free4), XDP_DROP);

    // A restarted sentinel (a load on the same pins) rebuilds the index.
    let dp2 = Dataplane::load(h.fs.path(), &MapSizes::default()).unwrap();
    let m = b.prefix_meta().unwrap();
    assert_eq!(n_lens(&m), [1, 1], "{m:?}");
    assert_eq!((m.lens[CLASS_V4][0], m.lens[CLASS_V6][0]), (120, 64));
    assert_eq!(nonzero(&filter), 2);
    for dp in [&h.dp, &dp2] {
        assert_eq!(dp.test_run(&banned4, 0).unwrap(), XDP_DROP);
        assert_eq!(dp.test_run(&banned6, 0).unwrap(), XDP_DROP);
        assert_ne!(dp.test_run(&free4, 0).unwrap(), XDP_DROP);
    }

    // The same when the first writer, not a load, finds the index invalid
    // (here: after an interrupted rebuild, which left junk in the filter).
    for i in 0..2 {
        let junk = PrefixMeta {
            flags: argus_sentinel_common::abi::PREFIX_META_F_REBUILDING,
            ..PrefixMeta::default()
        };
        meta.set(i, junk, 0).unwrap();
    }
    filter.set(7, PrefixFilter { count: [3; 8] }, 0).unwrap();
    b.insert(&BlockEntry::new(net("10.203.6.0/23"), ReasonCode::Manual))
        .unwrap();
    let m = b.prefix_meta().unwrap();
    assert_eq!(n_lens(&m), [2, 1], "{m:?}");
    assert_eq!(nonzero(&filter), 3, "junk cleared, three keys");
    assert_eq!(h.run(&free4), XDP_DROP);
    assert_eq!(h.run(&banned4), XDP_DROP);
}

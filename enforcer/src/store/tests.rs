use std::io::Write;

use argus_proto::control::BanState;
use argus_proto::{Reason, UnixTimeNs};
use rusqlite::Connection;

use super::*;
use crate::kernel::Counters;

fn ban(prefix: &str, state: BanState, expires: u64, score: f64) -> NewBan {
    NewBan {
        prefix: prefix.parse().unwrap(),
        reason: Reason::PortScan,
        state,
        score,
        at: UnixTimeNs(1),
        expires_at: UnixTimeNs(expires),
        offences: 1,
        created_by: "test".into(),
        comment: None,
    }
}

fn schema_version(s: &Store) -> i64 {
    s.conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_new_file_gets_the_current_schema_and_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/blacklist.db");
    let mut s = Store::open(&path).unwrap();
    let id = s
        .write(|w| w.insert_ban(&ban("10.203.1.1/32", BanState::Active, 100, 1.0)))
        .unwrap();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(schema_version(&s), SCHEMA_VERSION);
    let mode: String = s
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let b = s
        .read()
        .live_ban("10.203.1.1/32".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(b.id, id);
    assert_eq!(b.state, BanState::Active);
    assert!(b.enforced);
}

#[test]
fn a_garbage_file_is_a_corrupt_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blacklist.db");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&[0x5a; 8192]).unwrap();
    drop(f);
    let e = Store::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("corrupt"), "{msg}");
    // Nothing was replaced: the garbage is still there for the owner to inspect.
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 8192]);
}

#[test]
fn a_database_locked_by_another_connection_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blacklist.db");
    drop(Store::open(&path).unwrap());
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let e = Store::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("locked"), "{msg}");
    other.execute_batch("ROLLBACK").unwrap();
    Store::open(&path).expect("opens once the lock is released");
}

#[test]
fn a_fresh_file_locked_before_wal_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blacklist.db");
    let other = Connection::open(&path).unwrap();
    other
        .execute_batch("CREATE TABLE x (y); BEGIN EXCLUSIVE; INSERT INTO x VALUES (1);")
        .unwrap();
    let e = Store::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blacklist.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let e = Store::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e:?}");
    assert!(e.to_string().contains("upgrade"), "{e}");
}

#[test]
fn one_live_ban_per_prefix_and_a_failed_transaction_changes_nothing() {
    let mut s = Store::open_in_memory().unwrap();
    s.write(|w| w.insert_ban(&ban("10.203.1.1/32", BanState::Active, 100, 1.0)))
        .unwrap();
    let e = s.write(|w| {
        w.insert_ban(&ban("10.203.1.2/32", BanState::Active, 100, 1.0))?;
        w.insert_ban(&ban("10.203.1.1/32", BanState::Simulated, 100, 1.0))
    });
    assert!(e.is_err());
    assert_eq!(s.read().live_counts().unwrap().total(), 1, "rolled back");
    // An ended ban does not block a new live one.
    let id = s
        .read()
        .live_ban("10.203.1.1/32".parse().unwrap())
        .unwrap()
        .unwrap()
        .id;
    let last = Counters {
        packets: 3,
        bytes: 300,
    };
    s.write(|w| {
        w.end_ban(
            id,
            BanState::Expired,
            EndCause::Ttl,
            UnixTimeNs(5),
            Some(last),
        )
    })
    .unwrap();
    let ended = s
        .read()
        .last_ban("10.203.1.1/32".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((ended.packets, ended.end_cause), (3, Some(EndCause::Ttl)));
    s.write(|w| w.insert_ban(&ban("10.203.1.1/32", BanState::Active, 200, 1.0)))
        .unwrap();
    let last = s
        .read()
        .last_ban("10.203.1.1/32".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(last.expires_at, UnixTimeNs(200));
}

#[test]
fn eviction_prefers_simulated_then_soonest_expiring_then_lowest_score() {
    let mut s = Store::open_in_memory().unwrap();
    s.write(|w| {
        w.insert_ban(&ban("10.203.1.1/32", BanState::Active, 50, 1.0))?;
        w.insert_ban(&ban("10.203.1.2/32", BanState::Active, 50, 0.5))?;
        w.insert_ban(&ban("10.203.1.3/32", BanState::Active, 10, 9.0))?;
        w.insert_ban(&ban("10.203.1.4/32", BanState::Simulated, 90, 1.0))
    })
    .unwrap();
    let order = |n| -> Vec<String> {
        s.read()
            .eviction_candidates(n)
            .unwrap()
            .iter()
            .map(|b| b.prefix.to_string())
            .collect()
    };
    assert_eq!(
        order(9),
        [
            "10.203.1.4/32",
            "10.203.1.3/32",
            "10.203.1.2/32",
            "10.203.1.1/32"
        ]
    );
    assert_eq!(order(2), ["10.203.1.4/32", "10.203.1.3/32"]);
    assert!(order(0).is_empty());
}

#[test]
fn covering_lookups_and_counters() {
    let mut s = Store::open_in_memory().unwrap();
    s.write(|w| {
        w.insert_ban(&ban("10.203.0.0/16", BanState::Active, 50, 1.0))?;
        let id = w.insert_ban(&ban("10.203.1.1/32", BanState::Simulated, 50, 1.0))?;
        w.set_counters(
            id,
            Counters {
                packets: 7,
                bytes: 700,
            },
        )?;
        w.add_to_counter("n", 2)?;
        w.add_to_counter("n", 3)
    })
    .unwrap();
    let covering = s
        .read()
        .live_bans_covering("10.203.1.1/32".parse().unwrap())
        .unwrap();
    let prefixes: Vec<String> = covering.iter().map(|b| b.prefix.to_string()).collect();
    assert_eq!(prefixes, ["10.203.1.1/32", "10.203.0.0/16"]);
    assert_eq!((covering[0].packets, covering[0].bytes), (7, 700));
    assert_eq!(s.read().meta("n").unwrap().as_deref(), Some("5"));
    let counts = s.read().live_counts().unwrap();
    assert_eq!((counts.active, counts.simulated), (1, 1));
}

fn audit_row(at: u64, n: usize) -> AuditRow {
    AuditRow {
        at: UnixTimeNs(at),
        actor: "test".into(),
        action: AuditAction::Watch,
        prefix: None,
        detail: format!("row {n}"),
    }
}

/// The details of the audit rows left, oldest first.
fn audit_left(s: &Store) -> Vec<String> {
    let mut rows: Vec<String> = s
        .read()
        .audit(usize::MAX >> 1)
        .unwrap()
        .into_iter()
        .map(|r| r.detail)
        .collect();
    rows.reverse();
    rows
}

#[test]
fn audit_pruning_keeps_the_newest_rows_within_age_and_count_in_batches() {
    let mut s = Store::open_in_memory().unwrap();
    // Ten rows at times 10, 20, … 100.
    s.write(|w| (0..10).try_for_each(|n| w.audit(&audit_row(10 * (n as u64 + 1), n))))
        .unwrap();
    let prune = |s: &mut Store, older: Option<u64>, max: Option<u64>, batch| {
        s.write(|w| w.prune_audit(older.map(UnixTimeNs), max, batch))
            .unwrap()
    };
    assert_eq!(prune(&mut s, None, None, 100), 0, "no bound, nothing goes");
    // Older than 35: rows at 10, 20, 30 — two per batch.
    assert_eq!(prune(&mut s, Some(35), None, 2), 2);
    assert_eq!(prune(&mut s, Some(35), None, 2), 1);
    assert_eq!(audit_left(&s).first().unwrap(), "row 3");
    // At most 4 rows: the oldest three of the remaining seven go.
    assert_eq!(prune(&mut s, None, Some(4), 100), 3);
    assert_eq!(audit_left(&s), ["row 6", "row 7", "row 8", "row 9"]);
    // Either bound deletes: age takes row 6, the cap of 2 takes row 7 as well.
    assert_eq!(prune(&mut s, Some(75), Some(2), 100), 2);
    assert_eq!(audit_left(&s), ["row 8", "row 9"]);
    assert_eq!(
        prune(&mut s, None, Some(0), 100),
        2,
        "a cap of 0 keeps none"
    );
}

/// Ids of the bans left, and how many evidence and feedback rows.
fn history_left(s: &Store) -> (Vec<i64>, i64, i64) {
    let count = |table: &str| -> i64 {
        s.conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let mut stmt = s.conn.prepare("SELECT id FROM bans ORDER BY id").unwrap();
    let ids = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (ids, count("evidence"), count("feedback"))
}

#[test]
fn history_pruning_takes_old_ended_bans_with_their_evidence_in_batches_and_nothing_live() {
    let mut s = Store::open_in_memory().unwrap();
    let (old, unblocked, pending, recent, active, simulated) = s
        .write(|w| {
            let mut ids = Vec::new();
            for (i, state) in [
                BanState::Active,
                BanState::Active,
                BanState::Active,
                BanState::Active,
                BanState::Active,
                BanState::Simulated,
            ]
            .into_iter()
            .enumerate()
            {
                ids.push(w.insert_ban(&ban(&format!("10.203.1.{i}/32"), state, 10_000, 1.0))?);
            }
            let end = |id, state, cause, at| w.end_ban(id, state, cause, UnixTimeNs(at), None);
            end(ids[0], BanState::Expired, EndCause::Ttl, 100)?;
            end(ids[1], BanState::Unblocked, EndCause::Unblocked, 100)?;
            end(ids[2], BanState::Unblocked, EndCause::Unblocked, 100)?;
            end(ids[3], BanState::Expired, EndCause::Evicted, 500)?;
            let delivered = w.add_feedback(
                ban_prefix(1),
                Reason::PortScan,
                UnixTimeNs(100),
                "t",
                ids[1],
            )?;
            w.mark_feedback_delivered(&[delivered], UnixTimeNs(100))?;
            w.add_feedback(
                ban_prefix(2),
                Reason::PortScan,
                UnixTimeNs(100),
                "t",
                ids[2],
            )?;
            Ok((ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]))
        })
        .unwrap();
    // Three pieces of evidence for the old ban, one each for the recent and the live ones.
    for (id, n) in [(old, 3), (recent, 1), (active, 1), (simulated, 1)] {
        for _ in 0..n {
            s.conn
                .execute(
                    "INSERT INTO evidence (ban_id, at, reason, model, score, body) \
                     VALUES (?1, 50, 'port_scan', 'm', 1.0, '{}')",
                    [id],
                )
                .unwrap();
        }
    }
    let prune = |s: &mut Store, before: u64, batch| {
        s.write(|w| w.prune_history(UnixTimeNs(before), UnixTimeNs(before), batch))
            .unwrap()
    };
    // Delivered feedback first, then evidence, then the bans it belonged to: two rows a batch.
    assert_eq!(prune(&mut s, 200, 2), 2);
    assert_eq!(
        (history_left(&s).1, history_left(&s).2),
        (5, 1),
        "the delivered feedback and one piece of evidence"
    );
    assert_eq!(prune(&mut s, 200, 2), 2);
    assert_eq!(history_left(&s).1, 3, "the old ban's evidence is gone");
    assert_eq!(prune(&mut s, 200, 2), 2);
    assert_eq!(prune(&mut s, 200, 2), 0);
    // The ban whose feedback kronos has not had yet stays, and so does everything recent or live.
    assert_eq!(
        history_left(&s),
        (vec![pending, recent, active, simulated], 3, 1)
    );
    assert!(!history_left(&s).0.contains(&unblocked));
    // Once delivered, the feedback goes when it is old enough, and its ban with it.
    s.write(|w| {
        let (id, _) = w.read().pending_feedback()?[0];
        w.mark_feedback_delivered(&[id], UnixTimeNs(150))
    })
    .unwrap();
    assert_eq!(
        s.write(|w| w.prune_history(UnixTimeNs(200), UnixTimeNs(100), 10))
            .unwrap(),
        0,
        "feedback recorded at 100 is not older than 100"
    );
    assert_eq!(prune(&mut s, 200, 10), 2);
    // Even long after, live bans and their evidence are never touched.
    assert_eq!(
        prune(&mut s, u64::MAX >> 1, 10),
        2,
        "the recent ban and its evidence"
    );
    assert_eq!(history_left(&s), (vec![active, simulated], 2, 0));
}

fn ban_prefix(i: u8) -> ipnet::IpNet {
    format!("10.203.1.{i}/32").parse().unwrap()
}

#[test]
fn a_version_1_database_upgrades_and_keeps_its_bans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blacklist.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO bans (prefix, family, reason, state, enforced, score, first_seen, \
             last_seen, expires_at, offences, created_by, ended_at, end_cause) \
             VALUES ('10.203.1.1/32', 4, 'port_scan', 'expired', 1, 1.0, 1, 1, 2, 3, 't', 2, 'ttl')",
            [],
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(schema_version(&s), SCHEMA_VERSION);
    let indexes: i64 = s
        .conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
             AND name IN ('bans_ended', 'feedback_ban')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 2);
    let b = s.read().last_ban(ban_prefix(1)).unwrap().unwrap();
    assert_eq!((b.state, b.offences), (BanState::Expired, 3));
}

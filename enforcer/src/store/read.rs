//! Queries.

use std::path::Path;

use argus_proto::control::BanState;
use argus_proto::{Evidence, Feedback, Reason, UnixTimeNs};
use ipnet::IpNet;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::rows::{
    AllowRow, AuditRow, BanRow, EndCause, ModeRecord, ModeSource, Prefix, Text, Time,
};
use super::{classify, StoreError};
use crate::prefix::supernets;

pub(super) const BAN_COLUMNS: &str = "id, prefix, reason, state, enforced, score, first_seen, \
     last_seen, expires_at, offences, created_by, comment, ended_at, end_cause, packets, bytes";

const LIVE: &str = "state IN ('active', 'simulated')";

fn ban_from_row(r: &Row<'_>) -> rusqlite::Result<BanRow> {
    Ok(BanRow {
        id: r.get(0)?,
        prefix: r.get::<_, Prefix>(1)?.0,
        reason: r.get::<_, Text<Reason>>(2)?.0,
        state: r.get::<_, Text<BanState>>(3)?.0,
        enforced: r.get(4)?,
        score: r.get(5)?,
        first_seen: r.get::<_, Time>(6)?.0,
        last_seen: r.get::<_, Time>(7)?.0,
        expires_at: r.get::<_, Time>(8)?.0,
        offences: r.get(9)?,
        created_by: r.get(10)?,
        comment: r.get(11)?,
        ended_at: r.get::<_, Option<Time>>(12)?.map(|t| t.0),
        end_cause: r.get::<_, Option<Text<EndCause>>>(13)?.map(|t| t.0),
        packets: r.get::<_, i64>(14)?.max(0) as u64,
        bytes: r.get::<_, i64>(15)?.max(0) as u64,
    })
}

fn allow_from_row(r: &Row<'_>) -> rusqlite::Result<AllowRow> {
    Ok(AllowRow {
        prefix: r.get::<_, Prefix>(0)?.0,
        comment: r.get(1)?,
        expires_at: r.get::<_, Option<Time>>(2)?.map(|t| t.0),
        created_at: r.get::<_, Time>(3)?.0,
        created_by: r.get(4)?,
    })
}

/// Number of live bans in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Active bans.
    pub active: u64,
    /// Simulated bans.
    pub simulated: u64,
}

impl LiveCounts {
    /// Every live ban (each one occupies a kernel map entry).
    pub fn total(&self) -> u64 {
        self.active + self.simulated
    }
}

/// Read access to the database (also inside a write transaction).
pub struct Reader<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    pub(super) fn new(conn: &'a Connection, path: &'a Path) -> Self {
        Self { conn, path }
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |e| classify(self.path, action, e)
    }

    fn bans_where(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
        action: &'static str,
    ) -> Result<Vec<BanRow>, StoreError> {
        let sql = format!("SELECT {BAN_COLUMNS} FROM bans WHERE {clause}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err(action))?;
        let rows = stmt
            .query_map(params, ban_from_row)
            .map_err(self.err(action))?;
        rows.collect::<Result<_, _>>().map_err(self.err(action))
    }

    fn ban_where(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
        action: &'static str,
    ) -> Result<Option<BanRow>, StoreError> {
        let sql = format!("SELECT {BAN_COLUMNS} FROM bans WHERE {clause}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err(action))?;
        stmt.query_row(params, ban_from_row)
            .optional()
            .map_err(self.err(action))
    }

    /// The live (active or simulated) ban of exactly `prefix`.
    pub fn live_ban(&self, prefix: IpNet) -> Result<Option<BanRow>, StoreError> {
        self.ban_where(
            &format!("prefix = ?1 AND {LIVE}"),
            [Prefix(prefix)],
            "look up live ban",
        )
    }

    /// Live bans whose prefix equals or contains `prefix`, longest prefix first.
    pub fn live_bans_covering(&self, prefix: IpNet) -> Result<Vec<BanRow>, StoreError> {
        let mut out = Vec::new();
        for net in supernets(prefix) {
            out.extend(self.live_ban(net)?);
        }
        Ok(out)
    }

    /// The newest ban (any state) whose prefix equals or contains `prefix`.
    pub fn latest_ban_covering(&self, prefix: IpNet) -> Result<Option<BanRow>, StoreError> {
        let mut best: Option<BanRow> = None;
        for net in supernets(prefix) {
            if let Some(b) = self.last_ban(net)? {
                if best.as_ref().is_none_or(|x| b.id > x.id) {
                    best = Some(b);
                }
            }
        }
        Ok(best)
    }

    /// The newest ban (any state) of exactly `prefix`.
    pub fn last_ban(&self, prefix: IpNet) -> Result<Option<BanRow>, StoreError> {
        self.ban_where(
            "prefix = ?1 ORDER BY id DESC LIMIT 1",
            [Prefix(prefix)],
            "look up ban history",
        )
    }

    /// Every live ban.
    pub fn live_bans(&self) -> Result<Vec<BanRow>, StoreError> {
        self.bans_where(&format!("{LIVE} ORDER BY id"), [], "list live bans")
    }

    /// Bans in any of `states`, newest first.
    pub fn bans_in(&self, states: &[BanState]) -> Result<Vec<BanRow>, StoreError> {
        let codes: Vec<String> = states
            .iter()
            .map(|s| format!("'{}'", super::rows::TextCode::code(s)))
            .collect();
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        // The codes are this crate's constants, never user input.
        self.bans_where(
            &format!("state IN ({}) ORDER BY id DESC", codes.join(", ")),
            [],
            "list bans",
        )
    }

    /// Live bans whose TTL has run out at `now`.
    pub fn due_bans(&self, now: UnixTimeNs) -> Result<Vec<BanRow>, StoreError> {
        self.bans_where(
            &format!("{LIVE} AND expires_at <= ?1 ORDER BY expires_at"),
            [Time(now)],
            "list expired bans",
        )
    }

    /// The first `n` bans to evict when the blocklist is full: simulated bans before active ones,
    /// then the soonest-expiring, then the lowest score.
    pub fn eviction_candidates(&self, n: u64) -> Result<Vec<BanRow>, StoreError> {
        let mut out = Vec::new();
        for state in ["simulated", "active"] {
            let left = n.saturating_sub(out.len() as u64);
            if left == 0 {
                break;
            }
            out.extend(self.bans_where(
                "state = ?1 ORDER BY expires_at, score LIMIT ?2",
                params![state, i64::try_from(left).unwrap_or(i64::MAX)],
                "choose bans to evict",
            )?);
        }
        Ok(out)
    }

    /// Number of live bans per state.
    pub fn live_counts(&self) -> Result<LiveCounts, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT state, COUNT(*) FROM bans WHERE {LIVE} GROUP BY state"
            ))
            .map_err(self.err("count bans"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Text<BanState>>(0)?.0, r.get::<_, i64>(1)?))
            })
            .map_err(self.err("count bans"))?;
        let mut counts = LiveCounts::default();
        for row in rows {
            match row.map_err(self.err("count bans"))? {
                (BanState::Active, n) => counts.active = n as u64,
                (_, n) => counts.simulated = n as u64,
            }
        }
        Ok(counts)
    }

    /// Bans that were only ever simulated and were seen since `since`, for the dry-run report.
    pub fn simulated_since(&self, since: UnixTimeNs) -> Result<Vec<BanRow>, StoreError> {
        self.bans_where(
            "enforced = 0 AND last_seen >= ?1 ORDER BY packets DESC, id",
            [Time(since)],
            "list simulated bans",
        )
    }

    /// Evidence of the verdicts behind ban `ban_id`, newest first.
    pub fn evidence(&self, ban_id: i64) -> Result<Vec<Evidence>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT body FROM evidence WHERE ban_id = ?1 ORDER BY id DESC")
            .map_err(self.err("read evidence"))?;
        let rows = stmt
            .query_map([ban_id], |r| r.get::<_, String>(0))
            .map_err(self.err("read evidence"))?;
        let mut out = Vec::new();
        for body in rows {
            let body = body.map_err(self.err("read evidence"))?;
            let ev = serde_json::from_str(&body).map_err(|e| {
                classify(
                    self.path,
                    "decode evidence",
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    ),
                )
            })?;
            out.push(ev);
        }
        Ok(out)
    }

    /// Every allowlist entry (expired ones included until the next expiry pass removes them).
    pub fn allowlist(&self) -> Result<Vec<AllowRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT prefix, comment, expires_at, created_at, created_by FROM allowlist \
                 ORDER BY prefix",
            )
            .map_err(self.err("list allowlist"))?;
        let rows = stmt
            .query_map([], allow_from_row)
            .map_err(self.err("list allowlist"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("list allowlist"))
    }

    /// Allowlist entries whose expiry has passed at `now`.
    pub fn due_allows(&self, now: UnixTimeNs) -> Result<Vec<AllowRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT prefix, comment, expires_at, created_at, created_by FROM allowlist \
                 WHERE expires_at IS NOT NULL AND expires_at <= ?1",
            )
            .map_err(self.err("list expired allowlist entries"))?;
        let rows = stmt
            .query_map([Time(now)], allow_from_row)
            .map_err(self.err("list expired allowlist entries"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("list expired allowlist entries"))
    }

    /// Prefixes unblocked for `reason` at or after `since` (the unblock grace period).
    pub fn unblocked_since(
        &self,
        reason: Reason,
        since: UnixTimeNs,
    ) -> Result<Vec<(IpNet, UnixTimeNs)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT prefix, at FROM feedback WHERE reason = ?1 AND at >= ?2")
            .map_err(self.err("list recent unblocks"))?;
        let rows = stmt
            .query_map(params![Text(reason), Time(since)], |r| {
                Ok((r.get::<_, Prefix>(0)?.0, r.get::<_, Time>(1)?.0))
            })
            .map_err(self.err("list recent unblocks"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("list recent unblocks"))
    }

    /// False-positive feedback not yet delivered to kronos, oldest first, with row ids.
    pub fn pending_feedback(&self) -> Result<Vec<(i64, Feedback)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, prefix, reason, at FROM feedback WHERE delivered_at IS NULL ORDER BY id",
            )
            .map_err(self.err("list pending feedback"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Feedback {
                        prefix: r.get::<_, Prefix>(1)?.0,
                        reason: r.get::<_, Text<Reason>>(2)?.0,
                        at: r.get::<_, Time>(3)?.0,
                    },
                ))
            })
            .map_err(self.err("list pending feedback"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("list pending feedback"))
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err("read meta"))
    }

    /// The newest mode-history row, optionally only among those from `source`.
    pub fn latest_mode(
        &self,
        source: Option<ModeSource>,
    ) -> Result<Option<ModeRecord>, StoreError> {
        let sql = "SELECT at, setting, effective, source, actor FROM mode_history \
                   WHERE ?1 IS NULL OR source = ?1 ORDER BY id DESC LIMIT 1";
        self.conn
            .query_row(sql, [source.map(Text)], |r| {
                Ok(ModeRecord {
                    at: r.get::<_, Time>(0)?.0,
                    setting: r.get::<_, Text<_>>(1)?.0,
                    effective: r.get::<_, Text<_>>(2)?.0,
                    source: r.get::<_, Text<_>>(3)?.0,
                    actor: r.get(4)?,
                })
            })
            .optional()
            .map_err(self.err("read mode history"))
    }

    /// The newest `limit` audit rows, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, actor, action, prefix, detail FROM audit ORDER BY id DESC LIMIT ?1",
            )
            .map_err(self.err("read audit log"))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(AuditRow {
                    at: r.get::<_, Time>(0)?.0,
                    actor: r.get(1)?,
                    action: r.get::<_, Text<_>>(2)?.0,
                    prefix: r.get::<_, Option<Prefix>>(3)?.map(|p| p.0),
                    detail: r.get(4)?,
                })
            })
            .map_err(self.err("read audit log"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read audit log"))
    }
}

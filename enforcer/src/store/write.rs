//! Changes, always inside a transaction opened by [`super::Store::write`].

use std::path::Path;

use argus_proto::control::BanState;
use argus_proto::{Evidence, Reason, UnixTimeNs};
use ipnet::IpNet;
use rusqlite::{params, Transaction};

use super::read::Reader;
use super::rows::{AllowRow, AuditRow, EndCause, ModeRecord, NewBan, Prefix, Text, Time};
use super::{classify, StoreError};
use crate::kernel::Counters;

/// Counters as SQLite integers (saturating; a u64 counter never reaches i64::MAX in practice).
fn sql_counters(c: Counters) -> (i64, i64) {
    let i = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    (i(c.packets), i(c.bytes))
}

/// A write transaction.
pub struct Writer<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
}

impl<'a> Writer<'a> {
    pub(super) fn new(tx: Transaction<'a>, path: &'a Path) -> Self {
        Self { tx, path }
    }

    pub(super) fn commit(self) -> Result<(), StoreError> {
        self.tx
            .commit()
            .map_err(|e| classify(self.path, "commit", e))
    }

    /// Reads inside this transaction (they see its own changes).
    pub fn read(&self) -> Reader<'_> {
        Reader::new(&self.tx, self.path)
    }

    fn exec(
        &self,
        action: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<usize, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached(sql)
            .map_err(|e| classify(self.path, action, e))?;
        stmt.execute(params)
            .map_err(|e| classify(self.path, action, e))
    }

    /// Inserts a live ban; returns its row id.
    pub fn insert_ban(&self, b: &NewBan) -> Result<i64, StoreError> {
        let family = if b.prefix.addr().is_ipv4() { 4 } else { 6 };
        self.exec(
            "insert ban",
            "INSERT INTO bans (prefix, family, reason, state, enforced, score, first_seen, \
             last_seen, expires_at, offences, created_by, comment) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11)",
            params![
                Prefix(b.prefix),
                family,
                Text(b.reason),
                Text(b.state),
                b.state == BanState::Active,
                b.score,
                Time(b.at),
                Time(b.expires_at),
                b.offences,
                b.created_by,
                b.comment,
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Records another verdict against a live ban: its time and, if higher, its score.
    pub fn refresh_ban(&self, id: i64, at: UnixTimeNs, score: f64) -> Result<(), StoreError> {
        self.exec(
            "refresh ban",
            "UPDATE bans SET last_seen = ?2, score = MAX(score, ?3) WHERE id = ?1",
            params![id, Time(at), score],
        )
        .map(drop)
    }

    /// Makes a live ban active (from simulated, or re-armed by hand) with a new expiry.
    pub fn activate_ban(
        &self,
        id: i64,
        at: UnixTimeNs,
        expires_at: UnixTimeNs,
        reason: Reason,
        comment: Option<&str>,
    ) -> Result<(), StoreError> {
        self.exec(
            "activate ban",
            "UPDATE bans SET state = 'active', enforced = 1, last_seen = ?2, expires_at = ?3, \
             reason = ?4, comment = COALESCE(?5, comment) WHERE id = ?1",
            params![id, Time(at), Time(expires_at), Text(reason), comment],
        )
        .map(drop)
    }

    /// Ends a live ban: `Expired` or `Unblocked`, with the cause and the kernel entry's final
    /// counters when they could be read.
    pub fn end_ban(
        &self,
        id: i64,
        state: BanState,
        cause: EndCause,
        at: UnixTimeNs,
        last: Option<Counters>,
    ) -> Result<(), StoreError> {
        let (packets, bytes) = last.map(sql_counters).unzip();
        self.exec(
            "end ban",
            "UPDATE bans SET state = ?2, end_cause = ?3, ended_at = ?4, \
             packets = COALESCE(?5, packets), bytes = COALESCE(?6, bytes) WHERE id = ?1",
            params![id, Text(state), Text(cause), Time(at), packets, bytes],
        )
        .map(drop)
    }

    /// Stores the kernel's counters of ban `id`.
    pub fn set_counters(&self, id: i64, c: Counters) -> Result<(), StoreError> {
        let (packets, bytes) = sql_counters(c);
        self.exec(
            "store counters",
            "UPDATE bans SET packets = ?2, bytes = ?3 WHERE id = ?1",
            params![id, packets, bytes],
        )
        .map(drop)
    }

    /// Stores a verdict's evidence against ban `ban_id`.
    pub fn add_evidence(
        &self,
        ban_id: i64,
        verdict_id: Option<u64>,
        at: UnixTimeNs,
        reason: Reason,
        evidence: &Evidence,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(evidence).map_err(|e| {
            classify(
                self.path,
                "encode evidence",
                rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            )
        })?;
        self.exec(
            "store evidence",
            "INSERT INTO evidence (ban_id, verdict_id, at, reason, model, score, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                ban_id,
                verdict_id.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
                Time(at),
                Text(reason),
                evidence.model_version,
                evidence.scores.anomaly,
                body
            ],
        )
        .map(drop)
    }

    /// Appends an audit row.
    pub fn audit(&self, row: &AuditRow) -> Result<(), StoreError> {
        self.exec(
            "write audit log",
            "INSERT INTO audit (at, actor, action, prefix, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                Time(row.at),
                row.actor,
                Text(row.action),
                row.prefix.map(Prefix),
                row.detail
            ],
        )
        .map(drop)
    }

    /// Deletes up to `batch` of the oldest audit rows that are older than `older_than` (if given) or
    /// beyond the newest `max_rows` (if given); returns how many went. Batched so one call never holds
    /// the write lock for long: the caller comes back while a full batch was deleted.
    pub fn prune_audit(
        &self,
        older_than: Option<UnixTimeNs>,
        max_rows: Option<u64>,
        batch: usize,
    ) -> Result<usize, StoreError> {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        // Rows are appended in id order, so "oldest" is "lowest id" (also when the clock was set back).
        // The newest row beyond the cap is found through the primary key, without a count.
        self.exec(
            "prune audit log",
            "DELETE FROM audit WHERE id IN (SELECT id FROM audit \
             WHERE (?1 IS NOT NULL AND at < ?1) \
                OR (?2 IS NOT NULL AND id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?2)) \
             ORDER BY id LIMIT ?3)",
            params![
                older_than.map(Time),
                max_rows.map(clamp),
                clamp(batch as u64)
            ],
        )
    }

    /// Deletes up to `batch` rows of old history; returns how many went. First delivered feedback
    /// recorded before `feedback_before`, then the evidence and rows of ended (expired or unblocked)
    /// bans that ended before `ended_before`, oldest first. Live (active or simulated) bans are never
    /// touched, nor a ban whose feedback is still kept. Evidence goes before its ban (foreign key), and
    /// a ban only once it has none left, so the batch bounds every row deleted, however much evidence
    /// a ban has; the caller comes back while a full batch was deleted.
    pub fn prune_history(
        &self,
        ended_before: UnixTimeNs,
        feedback_before: UnixTimeNs,
        batch: usize,
    ) -> Result<usize, StoreError> {
        let mut left = batch;
        let steps = [
            (
                "prune feedback",
                "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback \
                 WHERE delivered_at IS NOT NULL AND at < ?1 ORDER BY id LIMIT ?2)",
                feedback_before,
            ),
            (
                "prune evidence",
                "DELETE FROM evidence WHERE id IN (SELECT e.id FROM bans b \
                 JOIN evidence e ON e.ban_id = b.id WHERE b.ended_at < ?1 AND b.state IN \
                 ('expired', 'unblocked') AND NOT EXISTS (SELECT 1 FROM feedback f \
                 WHERE f.ban_id = b.id) ORDER BY b.ended_at LIMIT ?2)",
                ended_before,
            ),
            (
                "prune ended bans",
                "DELETE FROM bans WHERE id IN (SELECT b.id FROM bans b \
                 WHERE b.ended_at < ?1 AND b.state IN ('expired', 'unblocked') \
                 AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.ban_id = b.id) \
                 AND NOT EXISTS (SELECT 1 FROM evidence e WHERE e.ban_id = b.id) \
                 ORDER BY b.ended_at LIMIT ?2)",
                ended_before,
            ),
        ];
        for (action, sql, before) in steps {
            if left == 0 {
                break;
            }
            left -= self.exec(
                action,
                sql,
                params![Time(before), i64::try_from(left).unwrap_or(i64::MAX)],
            )?;
        }
        Ok(batch - left)
    }

    /// Adds or replaces an allowlist entry.
    pub fn upsert_allow(&self, row: &AllowRow) -> Result<(), StoreError> {
        self.exec(
            "write allowlist",
            "INSERT OR REPLACE INTO allowlist (prefix, comment, expires_at, created_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                Prefix(row.prefix),
                row.comment,
                row.expires_at.map(Time),
                Time(row.created_at),
                row.created_by
            ],
        )
        .map(drop)
    }

    /// Removes an allowlist entry; `false` if there was none.
    pub fn delete_allow(&self, prefix: IpNet) -> Result<bool, StoreError> {
        self.exec(
            "remove allowlist entry",
            "DELETE FROM allowlist WHERE prefix = ?1",
            [Prefix(prefix)],
        )
        .map(|n| n > 0)
    }

    /// Records a false positive for kronos; returns its row id.
    pub fn add_feedback(
        &self,
        prefix: IpNet,
        reason: Reason,
        at: UnixTimeNs,
        actor: &str,
        ban_id: i64,
    ) -> Result<i64, StoreError> {
        self.exec(
            "record feedback",
            "INSERT INTO feedback (prefix, reason, at, actor, ban_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![Prefix(prefix), Text(reason), Time(at), actor, ban_id],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Marks feedback rows as delivered to kronos.
    pub fn mark_feedback_delivered(&self, ids: &[i64], at: UnixTimeNs) -> Result<(), StoreError> {
        for id in ids {
            self.exec(
                "mark feedback delivered",
                "UPDATE feedback SET delivered_at = ?2 WHERE id = ?1",
                params![id, Time(at)],
            )?;
        }
        Ok(())
    }

    /// Sets a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "write meta",
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            [key, value],
        )
        .map(drop)
    }

    /// Adds `by` to the integer `meta` value `key` (missing counts as 0).
    pub fn add_to_counter(&self, key: &str, by: u64) -> Result<(), StoreError> {
        self.exec(
            "update counter",
            "INSERT INTO meta (key, value) VALUES (?1, CAST(?2 AS TEXT)) \
             ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ?2 AS TEXT)",
            params![key, i64::try_from(by).unwrap_or(i64::MAX)],
        )
        .map(drop)
    }

    /// Appends a mode-history row.
    pub fn record_mode(&self, m: &ModeRecord) -> Result<(), StoreError> {
        self.exec(
            "record mode",
            "INSERT INTO mode_history (at, setting, effective, source, actor) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                Time(m.at),
                Text(m.setting),
                Text(m.effective),
                Text(m.source),
                m.actor
            ],
        )
        .map(drop)
    }
}

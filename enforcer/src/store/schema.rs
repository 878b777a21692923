//! The database schema, as an ordered list of migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration is never edited once
//! released: schema changes append a new one, so every database upgrades the same way.

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Times are Unix nanoseconds; prefixes are canonical text (`10.0.0.0/24`, host bits cleared), so a
/// prefix has exactly one spelling and unique indexes on it mean what they say.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE bans (
    id          INTEGER PRIMARY KEY,
    prefix      TEXT    NOT NULL,
    family      INTEGER NOT NULL CHECK (family IN (4, 6)),
    reason      TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('active', 'simulated', 'expired', 'unblocked')),
    -- Whether the ban was ever active (in force), as opposed to only simulated in dry-run.
    enforced    INTEGER NOT NULL CHECK (enforced IN (0, 1)),
    score       REAL    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    offences    INTEGER NOT NULL CHECK (offences >= 1),
    created_by  TEXT    NOT NULL,
    comment     TEXT,
    ended_at    INTEGER,
    end_cause   TEXT CHECK (end_cause IN ('ttl', 'evicted', 'unblocked', 'allowlisted')),
    packets     INTEGER NOT NULL DEFAULT 0,
    bytes       INTEGER NOT NULL DEFAULT 0
) STRICT;
-- At most one live (active or simulated) ban per prefix.
CREATE UNIQUE INDEX bans_live_prefix ON bans (prefix) WHERE state IN ('active', 'simulated');
-- Expiry and eviction order.
CREATE INDEX bans_live_order ON bans (state, expires_at, score) WHERE state IN ('active', 'simulated');
-- History of a prefix (offence counting, explain).
CREATE INDEX bans_prefix_history ON bans (prefix, id);

-- The evidence of every verdict that created or refreshed a ban.
CREATE TABLE evidence (
    id         INTEGER PRIMARY KEY,
    ban_id     INTEGER NOT NULL REFERENCES bans (id),
    verdict_id INTEGER,
    at         INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    score      REAL    NOT NULL,
    body       TEXT    NOT NULL
) STRICT;
CREATE INDEX evidence_ban ON evidence (ban_id, id);

CREATE TABLE allowlist (
    prefix     TEXT PRIMARY KEY,
    comment    TEXT    NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL
) STRICT;

-- Every decision and every argusctl action, including refused ones.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    prefix TEXT,
    detail TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_at ON audit (at);

-- Each row is the mode state after a change: a new setting (from aegis.yaml or argusctl) or a switch
-- of the mode in force (the end of the dry-run period).
CREATE TABLE mode_history (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    setting   TEXT    NOT NULL CHECK (setting IN ('auto', 'dry_run', 'enforce')),
    effective TEXT    NOT NULL CHECK (effective IN ('dry_run', 'enforce')),
    source    TEXT    NOT NULL CHECK (source IN ('config', 'argusctl', 'clock')),
    actor     TEXT    NOT NULL
) STRICT;

-- False positives (unblocks) for kronos, kept until delivered and afterwards for the grace period.
CREATE TABLE feedback (
    id           INTEGER PRIMARY KEY,
    prefix       TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    ban_id       INTEGER REFERENCES bans (id),
    delivered_at INTEGER
) STRICT;
CREATE INDEX feedback_recent ON feedback (reason, at);
"#;

/// Indexes for ban-history retention: ended bans in the order they ended, and the feedback that still
/// refers to a ban (such a ban is kept until its feedback goes).
const V2: &str = r#"
CREATE INDEX bans_ended ON bans (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX feedback_ban ON feedback (ban_id);
"#;

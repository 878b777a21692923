//! Typed rows and their text encodings in SQLite.

use std::fmt;
use std::str::FromStr;

use argus_proto::control::{AllowView, BanState, BanView, EffectiveMode, ModeSetting};
use argus_proto::{Reason, UnixTimeNs};
use ipnet::IpNet;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::ToSql;

/// A value stored as text in SQLite: one canonical spelling, parsed back strictly.
pub(crate) trait TextCode: Sized {
    /// The stored spelling.
    fn code(&self) -> &'static str;
    /// The value of a stored spelling.
    fn from_code(s: &str) -> Option<Self>;
}

macro_rules! text_code {
    ($ty:ty { $($variant:path => $s:literal),+ $(,)? }) => {
        impl TextCode for $ty {
            fn code(&self) -> &'static str {
                match self { $($variant => $s),+ }
            }
            fn from_code(s: &str) -> Option<Self> {
                match s { $($s => Some($variant),)+ _ => None }
            }
        }
    };
}

text_code!(BanState {
    BanState::Active => "active",
    BanState::Simulated => "simulated",
    BanState::Expired => "expired",
    BanState::Unblocked => "unblocked",
});

text_code!(ModeSetting {
    ModeSetting::Auto => "auto",
    ModeSetting::DryRun => "dry_run",
    ModeSetting::Enforce => "enforce",
});

text_code!(EffectiveMode {
    EffectiveMode::DryRun => "dry_run",
    EffectiveMode::Enforce => "enforce",
});

text_code!(Reason {
    Reason::Manual => "manual",
    Reason::PortScan => "port_scan",
    Reason::SynFlood => "syn_flood",
    Reason::BruteForce => "brute_force",
    Reason::PayloadAttack => "payload_attack",
    Reason::Flood => "flood",
    Reason::Anomaly => "anomaly",
});

/// Why a ban ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// Its TTL ran out.
    Ttl,
    /// It was evicted to make room (the blocklist was full).
    Evicted,
    /// The owner lifted it (`argusctl unblock`).
    Unblocked,
    /// The owner allowlisted a prefix covering it (`argusctl allow`).
    Allowlisted,
}

text_code!(EndCause {
    EndCause::Ttl => "ttl",
    EndCause::Evicted => "evicted",
    EndCause::Unblocked => "unblocked",
    EndCause::Allowlisted => "allowlisted",
});

/// Where a mode change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeSource {
    /// `enforcer.mode` in aegis.yaml (recorded when it changes between starts).
    Config,
    /// `argusctl mode`.
    Argusctl,
    /// The dry-run period of `auto` mode ended.
    Clock,
}

text_code!(ModeSource {
    ModeSource::Config => "config",
    ModeSource::Argusctl => "argusctl",
    ModeSource::Clock => "clock",
});

/// What an audit row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A verdict created an active ban.
    Ban,
    /// A verdict created a simulated ban (dry-run).
    Simulate,
    /// A verdict for a prefix that is already banned.
    Refresh,
    /// A `watch` verdict: recorded, nothing banned.
    Watch,
    /// A ban verdict that was not carried out (anti-lockout, allowlist, spoofable evidence, grace).
    Suppress,
    /// A ban's TTL ran out.
    Expire,
    /// A ban was evicted because the blocklist was full.
    Evict,
    /// `argusctl block`.
    Block,
    /// `argusctl unblock`.
    Unblock,
    /// `argusctl allow`.
    Allow,
    /// `argusctl disallow`, or an allowlist entry's expiry.
    Disallow,
    /// The mode setting or the mode in force changed.
    Mode,
    /// `argusctl refit`.
    Refit,
    /// A caller was refused.
    Denied,
}

text_code!(AuditAction {
    AuditAction::Ban => "ban",
    AuditAction::Simulate => "simulate",
    AuditAction::Refresh => "refresh",
    AuditAction::Watch => "watch",
    AuditAction::Suppress => "suppress",
    AuditAction::Expire => "expire",
    AuditAction::Evict => "evict",
    AuditAction::Block => "block",
    AuditAction::Unblock => "unblock",
    AuditAction::Allow => "allow",
    AuditAction::Disallow => "disallow",
    AuditAction::Mode => "mode",
    AuditAction::Refit => "refit",
    AuditAction::Denied => "denied",
});

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Wrapper giving [`TextCode`] types and prefixes their SQLite text form.
pub(crate) struct Text<T>(pub T);

impl<T: TextCode> ToSql for Text<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.code()))
    }
}

impl<T: TextCode> FromSql for Text<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        T::from_code(s)
            .map(Text)
            .ok_or_else(|| FromSqlError::Other(format!("unknown code {s:?}").into()))
    }
}

/// A prefix column (canonical text).
pub(crate) struct Prefix(pub IpNet);

impl ToSql for Prefix {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.trunc().to_string()))
    }
}

impl FromSql for Prefix {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        IpNet::from_str(s)
            .map(Prefix)
            .map_err(|e| FromSqlError::Other(format!("bad prefix {s:?}: {e}").into()))
    }
}

/// A timestamp column (Unix nanoseconds; i64 covers until 2262).
pub(crate) struct Time(pub UnixTimeNs);

impl ToSql for Time {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(
            i64::try_from(self.0 .0).unwrap_or(i64::MAX),
        ))
    }
}

impl FromSql for Time {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let n = value.as_i64()?;
        u64::try_from(n)
            .map(|n| Time(UnixTimeNs(n)))
            .map_err(|_| FromSqlError::OutOfRange(n))
    }
}

/// A ban as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BanRow {
    /// Row id.
    pub id: i64,
    /// The banned prefix.
    pub prefix: IpNet,
    /// Why.
    pub reason: Reason,
    /// Its state.
    pub state: BanState,
    /// Whether it was ever active (not only simulated).
    pub enforced: bool,
    /// Highest anomaly score of its verdicts (eviction spares high scores).
    pub score: f64,
    /// First offence.
    pub first_seen: UnixTimeNs,
    /// Latest verdict.
    pub last_seen: UnixTimeNs,
    /// When it ends.
    pub expires_at: UnixTimeNs,
    /// Offence number of this ban (1 for a first offence).
    pub offences: u32,
    /// Who or what created it.
    pub created_by: String,
    /// The owner's comment (`argusctl block --reason`).
    pub comment: Option<String>,
    /// When it ended, if it did.
    pub ended_at: Option<UnixTimeNs>,
    /// Why it ended, if it did.
    pub end_cause: Option<EndCause>,
    /// Packets the kernel matched for it (last synchronised value).
    pub packets: u64,
    /// Bytes likewise.
    pub bytes: u64,
}

impl BanRow {
    /// Whether the ban is in the kernel map (active or simulated).
    pub fn is_live(&self) -> bool {
        matches!(self.state, BanState::Active | BanState::Simulated)
    }

    /// The `argusctl list` form.
    pub fn view(&self) -> BanView {
        BanView {
            prefix: self.prefix,
            state: self.state,
            reason: self.reason,
            created_by: self.created_by.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            expires_at: self.expires_at,
            offences: self.offences,
            packets: self.packets,
            bytes: self.bytes,
        }
    }
}

/// A ban about to be inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBan {
    /// The prefix.
    pub prefix: IpNet,
    /// Why.
    pub reason: Reason,
    /// `Active` or `Simulated`.
    pub state: BanState,
    /// Anomaly score.
    pub score: f64,
    /// Now.
    pub at: UnixTimeNs,
    /// When it ends.
    pub expires_at: UnixTimeNs,
    /// Offence number.
    pub offences: u32,
    /// Creator.
    pub created_by: String,
    /// Owner's comment.
    pub comment: Option<String>,
}

/// An allowlist entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRow {
    /// The prefix.
    pub prefix: IpNet,
    /// Comment.
    pub comment: String,
    /// Expiry; permanent when `None`.
    pub expires_at: Option<UnixTimeNs>,
    /// When it was added.
    pub created_at: UnixTimeNs,
    /// Who added it.
    pub created_by: String,
}

impl AllowRow {
    /// The `argusctl allowlist` form.
    pub fn view(&self) -> AllowView {
        AllowView {
            prefix: self.prefix,
            comment: self.comment.clone(),
            expires_at: self.expires_at,
            created_by: self.created_by.clone(),
        }
    }
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// When.
    pub at: UnixTimeNs,
    /// Who (`kronos`, `enforcer`, `argusctl:uid=0(root)`).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// The prefix concerned, if any.
    pub prefix: Option<IpNet>,
    /// Details (reason, TTL, why suppressed, the refused request).
    pub detail: String,
}

/// One row of the mode history: the state after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeRecord {
    /// When.
    pub at: UnixTimeNs,
    /// The setting from then on.
    pub setting: ModeSetting,
    /// The mode in force from then on.
    pub effective: EffectiveMode,
    /// Where the change came from.
    pub source: ModeSource,
    /// Who made it.
    pub actor: String,
}

//! The Argus enforcer: the arm that acts on kronos's verdicts, and the handle the owner holds.
//!
//! - [`store`]: the SQLite blacklist (bans, allowlist, audit log, mode history, feedback).
//! - [`policy`], [`lockout`], [`prefix`]: the rules — TTL escalation, ban prefixes, dry-run period,
//!   anti-lockout.
//! - [`kernel`]: the pinned BLOCKLIST/ALLOWLIST/CONFIG/STATS maps behind a trait.
//! - [`engine`]: the state machine applying verdicts and argusctl requests, one transaction each.
//! - [`auth`]: who may use the control socket.
//! - [`metrics`]: the Prometheus metrics.
//! - [`service`], [`daemon`]: the sockets, the writer thread and the process.
//! - [`ctl`]: the `argusctl` command line.

pub mod auth;
pub mod clock;
pub mod ctl;
pub mod daemon;
pub mod engine;
pub mod kernel;
pub mod lockout;
pub mod metrics;
pub mod policy;
pub mod prefix;
pub mod service;
pub mod store;
pub mod timefmt;

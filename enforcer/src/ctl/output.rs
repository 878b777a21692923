//! Human output of argusctl: aligned tables and short summaries.

use std::fmt::Write as _;

use argus_proto::control::{
    AllowView, BanState, BanView, ControlReply, DryRunReport, EffectiveMode, Explanation,
    ModeSetting, StatusReport,
};
use argus_proto::UnixTimeNs;

use crate::timefmt::{short, utc};

/// A table whose columns are padded to their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            rows: vec![headers.iter().map(|h| h.to_string()).collect()],
        }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, columns separated by two spaces.
    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[c] - cell.chars().count();
                    let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn state_name(s: BanState) -> &'static str {
    match s {
        BanState::Active => "active",
        BanState::Simulated => "simulated",
        BanState::Expired => "expired",
        BanState::Unblocked => "unblocked",
    }
}

fn mode_name(m: EffectiveMode) -> &'static str {
    match m {
        EffectiveMode::DryRun => "dry-run",
        EffectiveMode::Enforce => "enforce",
    }
}

fn setting_name(s: ModeSetting) -> &'static str {
    match s {
        ModeSetting::Auto => "auto",
        ModeSetting::DryRun => "dry-run",
        ModeSetting::Enforce => "enforce",
    }
}

/// `in 59m12s` for a time still ahead of `now`, else the UTC time.
fn when(t: UnixTimeNs, now: UnixTimeNs) -> String {
    if t > now {
        format!("in {}", short(t.saturating_since(now)))
    } else {
        utc(t)
    }
}

/// Renders a successful reply; `now` makes relative times testable.
pub fn render(reply: &ControlReply, now: UnixTimeNs) -> String {
    match reply {
        ControlReply::Status(s) => status(s),
        ControlReply::Bans(b) => bans(b, now),
        ControlReply::Allowlist(a) => allowlist(a, now),
        ControlReply::Explain(x) => explain(x, now),
        ControlReply::Report(r) => report(r),
        ControlReply::Mode { setting, mode } => {
            format!(
                "mode {} (setting {})\n",
                mode_name(*mode),
                setting_name(*setting)
            )
        }
        ControlReply::Done(msg) => format!("{msg}\n"),
    }
}

fn status(s: &StatusReport) -> String {
    let mut t = Table::default();
    let mut kv = |k: &str, v: String| t.row(vec![k.to_string(), v]);
    kv(
        "mode",
        format!(
            "{} (setting {})",
            mode_name(s.mode),
            setting_name(s.setting)
        ),
    );
    if let Some(left) = s.dry_run_secs_left {
        kv(
            "dry-run left",
            format!(
                "{} ({:.1} days)",
                short(std::time::Duration::from_secs(left)),
                left as f64 / 86_400.0
            ),
        );
    }
    kv(
        "bans",
        format!(
            "{} active, {} simulated, {} evicted (blocklist full)",
            s.bans_active, s.bans_simulated, s.bans_evicted
        ),
    );
    kv(
        "kernel maps",
        match &s.kernel_problem {
            None => "in sync with the database".into(),
            Some(p) => format!("NOT IN SYNC: {p}"),
        },
    );
    kv(
        "data plane",
        match &s.dataplane {
            Some(d) => format!(
                "passed {}, dropped {}, would drop {}, allowlisted {}, unparsable {}",
                d.passed, d.dropped, d.would_drop, d.allowlisted, d.parse_failed
            ),
            None => "counters unavailable (maps not pinned?)".into(),
        },
    );
    match &s.kronos {
        Some(k) => {
            kv(
                "kronos",
                format!(
                    "connected; model {}{} ({} samples), cnn {}, {} flows, {} shed, {} verdicts",
                    k.model_version,
                    if k.bootstrap_model {
                        " (bootstrap)"
                    } else {
                        ""
                    },
                    k.training_samples,
                    if k.cnn_loaded { "loaded" } else { "not loaded" },
                    k.flows_received,
                    k.flows_shed,
                    k.verdicts_sent
                ),
            );
            let xdp = match &k.sensor {
                Some(sensor) if !sensor.interfaces.is_empty() => sensor
                    .interfaces
                    .iter()
                    .map(|(name, mode)| format!("{name} {mode:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(_) => "no interfaces".into(),
                None => "unknown (sentinel not connected to kronos)".into(),
            };
            kv("xdp", xdp);
        }
        None => {
            kv("kronos", "not connected".into());
            kv("xdp", "unknown (kronos not connected)".into());
        }
    }
    kv(
        "uptime",
        short(std::time::Duration::from_secs(s.uptime_secs)),
    );
    t.render()
}

fn bans(list: &[BanView], now: UnixTimeNs) -> String {
    if list.is_empty() {
        return "no bans\n".into();
    }
    let mut t = Table::new(&[
        "PREFIX", "STATE", "REASON", "EXPIRES", "OFFENCE", "PACKETS", "BYTES", "BY",
    ]);
    for b in list {
        t.row(vec![
            b.prefix.to_string(),
            state_name(b.state).into(),
            b.reason.to_string(),
            when(b.expires_at, now),
            b.offences.to_string(),
            b.packets.to_string(),
            b.bytes.to_string(),
            b.created_by.clone(),
        ]);
    }
    t.render()
}

fn allowlist(list: &[AllowView], now: UnixTimeNs) -> String {
    let mut t = Table::new(&["PREFIX", "EXPIRES", "BY", "COMMENT"]);
    for a in list {
        t.row(vec![
            a.prefix.to_string(),
            a.expires_at
                .map(|e| when(e, now))
                .unwrap_or_else(|| "never".into()),
            a.created_by.clone(),
            a.comment.clone(),
        ]);
    }
    t.render()
}

fn explain(x: &Explanation, now: UnixTimeNs) -> String {
    let b = &x.ban;
    let ends = match b.state {
        BanState::Active | BanState::Simulated => format!("expires {}", when(b.expires_at, now)),
        BanState::Expired | BanState::Unblocked => "no longer in force".into(),
    };
    let mut out = format!(
        "{} is {} for {} (offence {}, by {}), first seen {}, last seen {}, {ends}\n\
         kernel: {} packets, {} bytes\n",
        b.prefix,
        state_name(b.state),
        b.reason,
        b.offences,
        b.created_by,
        utc(b.first_seen),
        utc(b.last_seen),
        b.packets,
        b.bytes
    );
    if x.evidence.is_empty() {
        out.push_str("no model evidence (banned by hand)\n");
    }
    for (i, e) in x.evidence.iter().enumerate() {
        let s = &e.scores;
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "\nverdict {} (newest first): model {}, anomaly {:.3}, flow forest {}, source forest {}, \
             deviation {}, {} flows seen{}",
            i + 1,
            e.model_version,
            s.anomaly,
            opt(s.flow_forest),
            opt(s.source_forest),
            opt(s.deviation),
            e.flows_seen,
            if e.spoofable { ", spoofable evidence" } else { "" }
        );
        if let Some(c) = &s.cnn {
            let _ = writeln!(
                out,
                "  payload CNN: {} ({:.1}%), model {}, excerpt {:?}",
                c.class,
                c.probability * 100.0,
                c.model,
                c.excerpt
            );
        }
        if !e.top_features.is_empty() {
            let mut t = Table::new(&["  FEATURE", "VALUE"]);
            for (name, value) in &e.top_features {
                t.row(vec![format!("  {name}"), format!("{value:.3}")]);
            }
            out.push_str(&t.render());
        }
        if !e.example_flows.is_empty() {
            let mut t = Table::new(&[
                "  FLOW",
                "IFACE",
                "PKTS FWD/BWD",
                "BYTES FWD/BWD",
                "DURATION",
            ]);
            for f in &e.example_flows {
                t.row(vec![
                    format!("  {}", f.key),
                    f.interface.clone(),
                    format!("{}/{}", f.forward.packets, f.backward.packets),
                    format!("{}/{}", f.forward.bytes, f.backward.bytes),
                    format!("{:.3}s", f.duration().as_secs_f64()),
                ]);
            }
            out.push_str(&t.render());
        }
    }
    out
}

fn report(r: &DryRunReport) -> String {
    let mut out = format!(
        "dry-run report since {}: {} prefixes would have been blocked, {} packets would have been \
         dropped\n",
        utc(r.since),
        r.entries.len(),
        r.would_drop_packets
    );
    if r.entries.is_empty() {
        return out;
    }
    let mut t = Table::new(&[
        "PREFIX",
        "REASON",
        "PACKETS",
        "FIRST SEEN",
        "LAST SEEN",
        "STATE",
        "ALLOWED NOW",
    ]);
    for e in &r.entries {
        let b = &e.ban;
        t.row(vec![
            b.prefix.to_string(),
            b.reason.to_string(),
            b.packets.to_string(),
            utc(b.first_seen),
            utc(b.last_seen),
            state_name(b.state).into(),
            if e.allowlisted_now { "yes" } else { "no" }.into(),
        ]);
    }
    out.push_str(&t.render());
    if r.entries.iter().any(|e| !e.allowlisted_now) {
        out.push_str(
            "\nAllow a friend before enforcing: argusctl allow PREFIX --comment \"whose device\"\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use argus_proto::control::ReportEntry;
    use argus_proto::Reason;

    use super::*;

    const NOW: UnixTimeNs = UnixTimeNs(1_700_000_000_000_000_000);

    fn ban(prefix: &str) -> BanView {
        BanView {
            prefix: prefix.parse().unwrap(),
            state: BanState::Active,
            reason: Reason::PortScan,
            created_by: "kronos".into(),
            first_seen: NOW,
            last_seen: NOW,
            expires_at: NOW.saturating_add(std::time::Duration::from_secs(3599)),
            offences: 1,
            packets: 12,
            bytes: 3400,
        }
    }

    #[test]
    fn tables_are_aligned() {
        let out = render(
            &ControlReply::Bans(vec![ban("10.203.1.1/32"), ban("fd00:203:1:2::/64")]),
            NOW,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        let col = |l: &str| l.find("active").or_else(|| l.find("STATE")).unwrap();
        assert_eq!(col(lines[0]), col(lines[1]));
        assert_eq!(col(lines[1]), col(lines[2]));
        assert!(lines[1].contains("in 59m59s"), "{}", lines[1]);
    }

    #[test]
    fn report_points_at_allow() {
        let r = DryRunReport {
            since: NOW,
            entries: vec![ReportEntry {
                ban: ban("10.203.1.1/32"),
                allowlisted_now: false,
            }],
            would_drop_packets: 12,
        };
        let out = render(&ControlReply::Report(r), NOW);
        assert!(
            out.contains("1 prefixes would have been blocked, 12 packets"),
            "{out}"
        );
        assert!(out.contains("argusctl allow"), "{out}");
    }
}

//! Checks that cannot be expressed in the types: ranges, ordering, absolute paths, uniqueness.

use std::path::Path;

use crate::error::Problem;
use crate::schema::Config;

/// Collects every problem in `cfg`.
pub(crate) fn check(cfg: &Config) -> Vec<Problem> {
    let mut v = Checker::default();
    let p = &cfg.paths;
    for (key, path) in [
        ("paths.sentinel_socket", &p.sentinel_socket),
        ("paths.verdict_socket", &p.verdict_socket),
        ("paths.control_socket", &p.control_socket),
        ("paths.pin_dir", &p.pin_dir),
        ("paths.state_dir", &p.state_dir),
        ("paths.models_dir", &p.models_dir),
        (
            "enforcer.blacklist_db_path",
            &cfg.enforcer.blacklist_db_path,
        ),
    ] {
        v.absolute(key, path);
    }
    if let Some(dir) = &cfg.metrics.textfile_dir {
        v.absolute("metrics.textfile_dir", dir);
    }
    if let Some(lib) = &cfg.kronos.cnn.runtime_library {
        v.absolute("kronos.cnn.runtime_library", lib);
    }
    for (i, sock) in [&p.sentinel_socket, &p.verdict_socket, &p.control_socket]
        .iter()
        .enumerate()
    {
        // sun_path holds 108 bytes including the terminating NUL.
        if sock.as_os_str().len() > 107 {
            let key = [
                "paths.sentinel_socket",
                "paths.verdict_socket",
                "paths.control_socket",
            ][i];
            v.problem(key, "longer than the 107 bytes a Unix socket path may have");
        }
    }
    v.range(
        "sockets.max_frame_bytes",
        cfg.sockets.max_frame_bytes,
        4096,
        64 << 20,
    );
    if cfg.logging.level.trim().is_empty() {
        v.problem("logging.level", "must not be empty (e.g. info)");
    }

    let s = &cfg.sentinel;
    let mut names = std::collections::HashSet::new();
    for (i, iface) in s.interfaces.iter().enumerate() {
        let key = format!("sentinel.interfaces[{i}].name");
        if iface.name.is_empty() || iface.name.len() > 15 {
            v.problem(&key, "an interface name has 1 to 15 characters");
        } else if iface.name.contains(['/', ' ', '\0']) {
            v.problem(
                &key,
                format!("{:?} is not a valid interface name", iface.name),
            );
        }
        if !names.insert(&iface.name) {
            v.problem(&key, format!("interface {:?} is listed twice", iface.name));
        }
    }
    v.range(
        "sentinel.flows.table_size",
        s.flows.table_size,
        1024,
        1 << 24,
    );
    v.range(
        "sentinel.flows.idle_timeout_secs",
        s.flows.idle_timeout_secs,
        1,
        3600,
    );
    v.range(
        "sentinel.flows.active_timeout_secs",
        s.flows.active_timeout_secs,
        1,
        86_400,
    );
    if s.flows.idle_timeout_secs > s.flows.active_timeout_secs {
        v.problem(
            "sentinel.flows.idle_timeout_secs",
            format!(
                "{} is longer than sentinel.flows.active_timeout_secs ({})",
                s.flows.idle_timeout_secs, s.flows.active_timeout_secs
            ),
        );
    }
    v.range(
        "sentinel.flows.scan_interval_ms",
        s.flows.scan_interval_ms,
        10,
        60_000,
    );
    v.range(
        "sentinel.flows.queue_capacity",
        s.flows.queue_capacity,
        16,
        1 << 22,
    );
    v.range(
        "sentinel.payload.sample_bytes",
        s.payload.sample_bytes,
        0,
        512,
    );
    v.range(
        "sentinel.payload.samples_per_flow",
        s.payload.samples_per_flow,
        0,
        16,
    );
    let rb = s.payload.ringbuf_bytes;
    if !rb.is_power_of_two() || !(4096..=1 << 30).contains(&rb) {
        v.problem(
            "sentinel.payload.ringbuf_bytes",
            format!("{rb} must be a power of two between 4096 and 1073741824"),
        );
    }

    let k = &cfg.kronos;
    v.range("kronos.queue_capacity", k.queue_capacity, 16, 1 << 24);
    v.positive("kronos.anomaly_threshold", k.anomaly_threshold);
    v.positive("kronos.high_risk_threshold", k.high_risk_threshold);
    if k.anomaly_threshold >= k.high_risk_threshold {
        v.problem(
            "kronos.high_risk_threshold",
            format!(
                "{} must be greater than kronos.anomaly_threshold ({})",
                k.high_risk_threshold, k.anomaly_threshold
            ),
        );
    }
    if k.source_windows_secs.is_empty() {
        v.problem("kronos.source_windows_secs", "needs at least one window");
    }
    for (i, w) in k.source_windows_secs.iter().enumerate() {
        v.range(&format!("kronos.source_windows_secs[{i}]"), *w, 1, 86_400);
    }
    v.range("kronos.verdict_buffer", k.verdict_buffer, 1, 1 << 20);
    let f = &k.isolation_forest;
    v.range("kronos.isolation_forest.trees", f.trees, 1, 1000);
    v.range("kronos.isolation_forest.subsample", f.subsample, 2, 1 << 16);
    v.range(
        "kronos.isolation_forest.min_samples",
        f.min_samples,
        16,
        f.baseline_max_samples.max(16),
    );
    v.range(
        "kronos.isolation_forest.refit_interval_hours",
        f.refit_interval_hours,
        1,
        24 * 30,
    );
    if !(f.calibration_holdout > 0.0 && f.calibration_holdout < 1.0) {
        v.problem(
            "kronos.isolation_forest.calibration_holdout",
            "must be between 0 and 1 (exclusive)",
        );
    }
    if !(f.calibration_quantile > 0.5 && f.calibration_quantile < 1.0) {
        v.problem(
            "kronos.isolation_forest.calibration_quantile",
            "must be between 0.5 and 1 (exclusive)",
        );
    }
    if let Some(t) = k.cnn.threshold {
        if !(t > 0.0 && t < 1.0) {
            v.problem(
                "kronos.cnn.threshold",
                format!("{t} is not a probability between 0 and 1"),
            );
        }
    }
    v.range("kronos.cnn.max_batch", k.cnn.max_batch, 1, 4096);
    v.range(
        "kronos.cnn.batch_latency_ms",
        k.cnn.batch_latency_ms,
        0,
        10_000,
    );

    let e = &cfg.enforcer;
    v.range(
        "enforcer.dry_run_duration_days",
        e.dry_run_duration_days,
        0,
        365,
    );
    v.range(
        "enforcer.default_ttl_secs",
        e.default_ttl_secs,
        1,
        e.max_ttl_secs.max(1),
    );
    v.range("enforcer.max_ttl_secs", e.max_ttl_secs, 1, 365 * 86_400);
    if !(e.repeat_offender_factor >= 1.0 && e.repeat_offender_factor <= 100.0) {
        v.problem(
            "enforcer.repeat_offender_factor",
            format!("{} must be between 1 and 100", e.repeat_offender_factor),
        );
    }
    v.range("enforcer.max_entries", e.max_entries, 1, 1 << 24);
    v.range(
        "enforcer.allowlist_max_entries",
        e.allowlist_max_entries,
        1,
        1 << 24,
    );
    v.range("enforcer.ipv4_ban_prefix", e.ipv4_ban_prefix, 8, 32);
    v.range("enforcer.ipv6_ban_prefix", e.ipv6_ban_prefix, 16, 128);
    v.range(
        "enforcer.reconcile_interval_secs",
        e.reconcile_interval_secs,
        1,
        86_400,
    );
    if e.admin_group.is_empty() {
        v.problem("enforcer.admin_group", "must name a group");
    }
    if let (Some(read), Some(sockets)) = (&e.read_group, &cfg.sockets.group) {
        if read == sockets {
            v.problem(
                "enforcer.read_group",
                format!(
                    "{read:?} is also sockets.group, whose members can send verdicts (bans) to the \
                     enforcer; name a group for read-only argusctl users only (e.g. argus-read)"
                ),
            );
        }
    }
    v.range(
        "enforcer.audit_retention_days",
        e.audit_retention_days,
        0,
        36_500,
    );
    v.range(
        "enforcer.ban_history_retention_days",
        e.ban_history_retention_days,
        0,
        36_500,
    );
    // The dry-run report lists the simulated bans of the whole dry-run period, ended ones included.
    if e.ban_history_retention_days > 0 && e.ban_history_retention_days < e.dry_run_duration_days {
        v.problem(
            "enforcer.ban_history_retention_days",
            format!(
                "{} is shorter than enforcer.dry_run_duration_days ({}), whose report needs the \
                 bans of the whole dry-run period; use 0 (keep forever) or at least {}",
                e.ban_history_retention_days, e.dry_run_duration_days, e.dry_run_duration_days
            ),
        );
    }
    v.finish()
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_owned(),
            message: message.into(),
        });
    }

    fn absolute(&mut self, key: &str, path: &Path) {
        if !path.is_absolute() {
            self.problem(key, format!("{} must be an absolute path", path.display()));
        }
    }

    fn range<T: PartialOrd + std::fmt::Display>(&mut self, key: &str, value: T, min: T, max: T) {
        if value < min || value > max {
            self.problem(key, format!("{value} is out of range ({min} to {max})"));
        }
    }

    fn positive(&mut self, key: &str, value: f64) {
        if !(value.is_finite() && value > 0.0) {
            self.problem(key, format!("{value} must be a positive number"));
        }
    }

    fn finish(self) -> Vec<Problem> {
        self.problems
    }
}

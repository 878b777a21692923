//! Human-readable times for messages and tables: UTC calendar times and short durations.

use std::time::Duration;

use argus_proto::UnixTimeNs;

/// `2025-03-01 12:00:05Z`.
pub fn utc(t: UnixTimeNs) -> String {
    let secs = t.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `3d4h`, `2h5m`, `4m10s`, `9s`: the two largest units.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (days, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m{sec}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{days}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_calendar() {
        assert_eq!(utc(UnixTimeNs(0)), "1970-01-01 00:00:00Z");
        // 2024-02-29 23:59:59 UTC, a leap day.
        assert_eq!(
            utc(UnixTimeNs(1_709_251_199 * 1_000_000_000)),
            "2024-02-29 23:59:59Z"
        );
    }

    #[test]
    fn short_durations() {
        assert_eq!(short(Duration::from_secs(9)), "9s");
        assert_eq!(short(Duration::from_secs(250)), "4m10s");
        assert_eq!(short(Duration::from_secs(7500)), "2h5m");
        assert_eq!(short(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d4h");
    }
}

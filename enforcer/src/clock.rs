//! Wall-clock time behind a trait, so TTLs, expiry and the dry-run period can be tested with a fake clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use argus_proto::UnixTimeNs;

/// A source of wall-clock time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTimeNs;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTimeNs {
        UnixTimeNs::now()
    }
}

/// A clock that only moves when told to; shared between a test and the code under test.
#[derive(Debug, Default)]
pub struct FakeClock(AtomicU64);

impl FakeClock {
    /// A clock standing at `start`.
    pub fn new(start: UnixTimeNs) -> Self {
        Self(AtomicU64::new(start.0))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> UnixTimeNs {
        UnixTimeNs(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_advanced() {
        let c = FakeClock::new(UnixTimeNs(5));
        assert_eq!(c.now(), UnixTimeNs(5));
        c.advance(Duration::from_nanos(10));
        assert_eq!(c.now(), UnixTimeNs(15));
    }
}

//! Verdicts on their way to the enforcer: queued until sent, kept after sending until the
//! enforcer acknowledges them (it acks once the verdict is committed to SQLite), and re-sent
//! after a reconnect. Bounded by `kronos.verdict_buffer`: when full, the oldest verdict (sent or
//! not) is dropped and counted, so kronos keeps working while the enforcer is down.

use std::collections::VecDeque;

use argus_proto::Verdict;

/// Verdicts not yet acknowledged.
#[derive(Debug)]
pub struct Outbox {
    unsent: VecDeque<Verdict>,
    unacked: VecDeque<Verdict>,
    capacity: usize,
    dropped: u64,
    sent: u64,
}

impl Outbox {
    /// An outbox holding at most `capacity` (at least 1) verdicts.
    pub fn new(capacity: usize) -> Self {
        Self {
            unsent: VecDeque::new(),
            unacked: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            sent: 0,
        }
    }

    /// Queues a verdict, dropping the oldest one when full.
    pub fn push(&mut self, verdict: Verdict) {
        if self.len() >= self.capacity {
            // The oldest is the longest-unacknowledged sent one, else the oldest unsent.
            if self.unacked.pop_front().is_none() {
                self.unsent.pop_front();
            }
            self.dropped += 1;
        }
        self.unsent.push_back(verdict);
    }

    /// The next verdict to send, now awaiting its acknowledgement.
    pub fn next_unsent(&mut self) -> Option<Verdict> {
        let v = self.unsent.pop_front()?;
        self.unacked.push_back(v.clone());
        self.sent += 1;
        Some(v)
    }

    /// The enforcer acknowledged verdict `id`; returns it if it was awaited.
    pub fn ack(&mut self, id: u64) -> Option<Verdict> {
        let i = self.unacked.iter().position(|v| v.id == id)?;
        self.unacked.remove(i)
    }

    /// The connection was lost: every unacknowledged verdict is sent again, in order, before
    /// the ones never sent.
    pub fn requeue_unacked(&mut self) {
        while let Some(v) = self.unacked.pop_back() {
            self.unsent.push_front(v);
        }
    }

    /// Verdicts sent and not yet acknowledged.
    pub fn awaiting_ack(&self) -> usize {
        self.unacked.len()
    }

    /// Verdicts held (unsent and unacknowledged).
    pub fn len(&self) -> usize {
        self.unsent.len() + self.unacked.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Verdicts dropped because the outbox was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Verdict transmissions, re-sends included.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_proto::{Action, Reason, UnixTimeNs};

    fn verdict(id: u64) -> Verdict {
        Verdict {
            id,
            source: "203.0.113.9".parse().unwrap(),
            prefix: "203.0.113.9/32".parse().unwrap(),
            action: Action::Ban,
            reason: Reason::PortScan,
            evidence: Default::default(),
            ttl_hint_secs: None,
            timestamp: UnixTimeNs(0),
        }
    }

    fn ids(o: &mut Outbox) -> Vec<u64> {
        std::iter::from_fn(|| o.next_unsent())
            .map(|v| v.id)
            .collect()
    }

    #[test]
    fn unacked_verdicts_are_resent_first_after_a_reconnect() {
        let mut o = Outbox::new(10);
        for id in 1..=4 {
            o.push(verdict(id));
        }
        assert_eq!(o.next_unsent().unwrap().id, 1);
        assert_eq!(o.next_unsent().unwrap().id, 2);
        assert_eq!(o.awaiting_ack(), 2);
        assert_eq!(o.ack(1).map(|v| v.id), Some(1));
        assert_eq!(o.ack(1), None);
        o.requeue_unacked();
        assert_eq!(ids(&mut o), vec![2, 3, 4]);
        assert_eq!(o.len(), 3);
        assert_eq!(o.sent(), 5);
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts() {
        let mut o = Outbox::new(3);
        for id in 1..=3 {
            o.push(verdict(id));
        }
        o.next_unsent(); // 1 is now awaiting its ack: still the oldest
        o.push(verdict(4));
        o.push(verdict(5));
        assert_eq!(o.dropped(), 2);
        o.requeue_unacked();
        assert_eq!(ids(&mut o), vec![3, 4, 5]);
        assert!(!o.is_empty());
    }
}

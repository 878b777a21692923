//! A bounded queue that sheds its oldest item when full: producers (sentinel connections) never
//! wait and memory never grows past `capacity`; the consumer (the engine) awaits items.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

/// A bounded multi-producer, single-consumer queue shedding the oldest item when full.
#[derive(Debug)]
pub struct ShedQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    notify: Notify,
}

impl<T> ShedQueue<T> {
    /// A queue holding at most `capacity` (at least 1) items.
    pub fn new(capacity: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        // A panic while holding the lock cannot leave a VecDeque inconsistent.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `item`; returns the oldest item if it had to be shed to make room.
    pub fn push(&self, item: T) -> Option<T> {
        let shed = {
            let mut items = self.lock();
            let shed = if items.len() >= self.capacity {
                items.pop_front()
            } else {
                None
            };
            items.push_back(item);
            shed
        };
        self.notify.notify_one();
        shed
    }

    /// Moves up to `max` items into `out`, oldest first; returns how many.
    pub fn drain_into(&self, out: &mut Vec<T>, max: usize) -> usize {
        let mut items = self.lock();
        let n = items.len().min(max);
        out.extend(items.drain(..n));
        n
    }

    /// Waits until at least one item is queued, then moves up to `max` into `out`.
    pub async fn pop_batch(&self, out: &mut Vec<T>, max: usize) -> usize {
        loop {
            let n = self.drain_into(out, max);
            if n > 0 {
                return n;
            }
            self.notify.notified().await;
        }
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn full_queue_sheds_the_oldest() {
        let q = ShedQueue::new(3);
        assert_eq!(q.push(1), None);
        assert_eq!(q.push(2), None);
        assert_eq!(q.push(3), None);
        assert_eq!(q.push(4), Some(1));
        assert_eq!(q.push(5), Some(2));
        assert_eq!(q.len(), 3);
        let mut out = Vec::new();
        assert_eq!(q.drain_into(&mut out, 2), 2);
        assert_eq!(out, vec![3, 4]);
        assert_eq!(q.drain_into(&mut out, 10), 1);
        assert_eq!(out, vec![3, 4, 5]);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn pop_waits_for_a_producer() {
        let q = Arc::new(ShedQueue::new(8));
        let producer = {
            let q = q.clone();
            tokio::spawn(async move {
                for i in 0..5 {
                    q.push(i);
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut got = Vec::new();
        while got.len() < 5 {
            q.pop_batch(&mut got, 2).await;
        }
        producer.await.unwrap();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }
}

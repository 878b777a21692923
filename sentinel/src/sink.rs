//! Where records go: a bounded queue that sheds the oldest messages when
//! full (counted), drained by one output task that either sends to kronos
//! over the sentinel socket (reconnecting with backoff; a message whose send
//! failed is retried, not lost) or writes JSON lines to a file (`--out`).

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use argus_proto::socket::{connect_with_backoff, Backoff};
use argus_proto::{Connection, PeerRole, SensorMessage};
use tokio::sync::Notify;

use crate::error::SentinelError;
use crate::metrics::SentinelMetrics;

/// Messages shed because the queue was full, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shed {
    /// Flow records.
    pub flows: u64,
    /// Payload samples.
    pub samples: u64,
    /// Status messages.
    pub status: u64,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<SensorMessage>,
    shed: Shed,
    closed: bool,
}

/// Bounded multi-producer queue with one consumer.
#[derive(Debug)]
pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
}

impl Queue {
    /// A queue holding at most `capacity` messages (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the deque inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enqueues `msg`; when full, the oldest message is shed (recent
    /// traffic matters more to detection than old).
    pub fn push(&self, msg: SensorMessage) {
        let mut st = self.lock();
        if st.items.len() >= self.capacity {
            match st.items.pop_front() {
                Some(SensorMessage::Flow(_)) => st.shed.flows += 1,
                Some(SensorMessage::Sample(_)) => st.shed.samples += 1,
                Some(SensorMessage::Status(_)) => st.shed.status += 1,
                None => {}
            }
        }
        st.items.push_back(msg);
        drop(st);
        self.notify.notify_one();
    }

    /// Puts back a message whose delivery failed, at the head.
    fn unpop(&self, msg: SensorMessage) {
        self.lock().items.push_front(msg);
    }

    /// The next message; `None` once the queue is closed and empty.
    pub async fn pop(&self) -> Option<SensorMessage> {
        loop {
            let notified = self.notify.notified();
            {
                let mut st = self.lock();
                if let Some(m) = st.items.pop_front() {
                    return Some(m);
                }
                if st.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// No more messages will be pushed; the consumer drains and stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Messages shed so far.
    pub fn shed(&self) -> Shed {
        self.lock().shed
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The destination of the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// kronos' sentinel socket.
    Kronos {
        /// Socket path.
        socket: PathBuf,
        /// Largest frame.
        max_frame: usize,
    },
    /// One JSON object per line (`--out`).
    JsonLines(PathBuf),
}

/// Drains `queue` into `output` until the queue is closed and empty; the
/// state of the link to kronos goes to `metrics`.
pub async fn run_output(
    queue: &Queue,
    output: Output,
    metrics: &SentinelMetrics,
) -> Result<(), SentinelError> {
    match output {
        Output::JsonLines(path) => write_json_lines(queue, path).await,
        Output::Kronos { socket, max_frame } => {
            send_to_kronos(queue, socket, max_frame, metrics).await;
            Ok(())
        }
    }
}

async fn write_json_lines(queue: &Queue, path: PathBuf) -> Result<(), SentinelError> {
    let io = |op| {
        let path = path.clone();
        move |source| SentinelError::Io { op, path, source }
    };
    let file = std::fs::File::create(&path).map_err(io("create"))?;
    let mut out = std::io::BufWriter::new(file);
    while let Some(msg) = queue.pop().await {
        serde_json::to_writer(&mut out, &msg).map_err(|e| io("write")(e.into()))?;
        out.write_all(b"\n").map_err(io("write"))?;
        // Readers (tests, operators tailing the file) see whole lines as
        // soon as the queue runs dry.
        if queue.is_empty() {
            out.flush().map_err(io("write"))?;
        }
    }
    out.flush().map_err(io("write"))
}

async fn send_to_kronos(
    queue: &Queue,
    socket: PathBuf,
    max_frame: usize,
    metrics: &SentinelMetrics,
) {
    let backoff = Backoff::default();
    let server = socket.display().to_string();
    let mut failures = 0u32;
    loop {
        let stream = connect_with_backoff(&socket, backoff).await;
        let mut conn: Connection<(), SensorMessage> = match Connection::connect(
            stream,
            PeerRole::Sentinel,
            &server,
            max_frame,
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(socket = %server, error = %e, "kronos handshake failed; retrying");
                tokio::time::sleep(backoff.delay(failures)).await;
                failures = failures.saturating_add(1);
                continue;
            }
        };
        failures = 0;
        tracing::info!(socket = %server, "sending flow records to kronos");
        metrics.set_kronos_connected(true);
        loop {
            let Some(msg) = queue.pop().await else {
                return;
            };
            if let Err(e) = conn.send(&msg).await {
                tracing::warn!(socket = %server, error = %e, "lost kronos; reconnecting");
                metrics.set_kronos_connected(false);
                queue.unpop(msg);
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_proto::SensorStatus;

    fn status(n: u64) -> SensorMessage {
        SensorMessage::Status(SensorStatus {
            interfaces: Vec::new(),
            flows_exported: n,
            flows_shed: 0,
            samples_exported: 0,
            ringbuf_lost: 0,
        })
    }

    #[tokio::test]
    async fn sheds_oldest_and_drains_after_close() {
        let q = Queue::new(2);
        for n in 0..3 {
            q.push(status(n));
        }
        assert_eq!(q.shed().status, 1);
        q.close();
        assert_eq!(q.pop().await, Some(status(1)));
        assert_eq!(q.pop().await, Some(status(2)));
        assert_eq!(q.pop().await, None);
    }

    #[tokio::test]
    async fn json_lines_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let q = Queue::new(8);
        q.push(status(7));
        q.close();
        run_output(&q, Output::JsonLines(path.clone()), &SentinelMetrics::new())
            .await
            .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let back: SensorMessage = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, status(7));
    }
}

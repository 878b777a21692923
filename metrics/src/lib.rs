//! Metrics and logs of the Argus processes: [`logging`] sets up their `tracing` output, and the rest
//! publishes Prometheus metrics the way `metrics` in aegis.yaml asks: an HTTP endpoint (`GET /metrics`)
//! on `metrics.listen` (the enforcer), the next port (kronos) and the one after (sentinel), or
//! node_exporter textfile-collector files `argus_<process>.prom` in `metrics.textfile_dir`.
//!
//! Each process owns a [`Registry`](prometheus::Registry) (no global one, so tests start from zero) with
//! its metrics, registers them where their events happen, and hands a clone of the registry to
//! [`Publisher::start`]. The exposition is the Prometheus text format 0.0.4, which both Prometheus and
//! node_exporter's textfile collector read.
//!
//! The HTTP server is a minimal handler on tokio rather than hyper (not otherwise in the tree): it serves
//! one read-only path on loopback, reads at most [`MAX_REQUEST_HEAD`] bytes of each request within
//! [`REQUEST_TIMEOUT`], serves at most [`MAX_CONNECTIONS`] at once and closes every connection after its
//! answer, which is all a scraper needs.

#![warn(missing_docs)]

pub mod logging;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use argus_config::Metrics;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

pub use prometheus;

/// How often the textfile is rewritten (node_exporter reads it at each of its own scrapes).
pub const TEXTFILE_INTERVAL: Duration = Duration::from_secs(5);
/// The longest request head the endpoint reads; a scraper's is a few hundred bytes.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long one connection may take from accept to the end of the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at accept. Any local user can connect to loopback, and
/// idle connections must not use up the file descriptors of the process (the enforcer's sockets, the
/// kernel maps).
pub const MAX_CONNECTIONS: usize = 8;

/// Why metrics cannot be published as configured.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// `metrics.listen`'s port leaves no room for this process's offset.
    #[error("metrics.listen {base}: no port {offset} above it for argus-{process}")]
    Port {
        /// The configured address.
        base: SocketAddr,
        /// This process's offset.
        offset: u16,
        /// The process.
        process: &'static str,
    },
    /// The endpoint's address cannot be bound (in use, or not an address of this machine).
    #[error("cannot serve metrics on {addr} (metrics.listen): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The textfile cannot be written.
    #[error("cannot write the metrics textfile {} (metrics.textfile_dir): {source}", path.display())]
    Textfile {
        /// The file (or its temporary sibling).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The registry holds a metric the text format cannot express (a bug).
    #[error("cannot render metrics: {0}")]
    Render(#[from] prometheus::Error),
}

/// An Argus process, which decides the endpoint's port and the textfile's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// `argus-enforcer`: `metrics.listen` itself.
    Enforcer,
    /// `argus-kronos`: the port after it.
    Kronos,
    /// `argus-sentinel`: two ports after it.
    Sentinel,
}

impl Process {
    /// The process's short name (`enforcer`, `kronos`, `sentinel`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Enforcer => "enforcer",
            Self::Kronos => "kronos",
            Self::Sentinel => "sentinel",
        }
    }

    fn port_offset(self) -> u16 {
        match self {
            Self::Enforcer => 0,
            Self::Kronos => 1,
            Self::Sentinel => 2,
        }
    }

    /// The address this process serves metrics on, given `metrics.listen`.
    pub fn listen_addr(self, base: SocketAddr) -> Result<SocketAddr, MetricsError> {
        let offset = self.port_offset();
        let port = base.port().checked_add(offset).ok_or(MetricsError::Port {
            base,
            offset,
            process: self.name(),
        })?;
        Ok(SocketAddr::new(base.ip(), port))
    }

    /// The textfile this process writes in `metrics.textfile_dir`.
    pub fn textfile(self, dir: &Path) -> PathBuf {
        dir.join(format!("argus_{}.prom", self.name()))
    }
}

/// Registers a newly built metric in `registry` and returns it (clones share its values).
///
/// Panics when the metric is invalid or its name taken: a process's metric set is fixed in its
/// code, so either is a bug that its first test run shows.
pub fn registered<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("a valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("a metric name used once");
    metric
}

/// A registered counter family named `name` with `labels` (see [`registered`]).
pub fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::IntCounterVec {
    registered(
        registry,
        prometheus::IntCounterVec::new(prometheus::Opts::new(name, help), labels),
    )
}

/// A registered gauge family named `name` with `labels` (see [`registered`]).
pub fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::IntGaugeVec {
    registered(
        registry,
        prometheus::IntGaugeVec::new(prometheus::Opts::new(name, help), labels),
    )
}

/// The registry's metrics in the Prometheus text format.
pub fn render(registry: &Registry) -> Result<String, MetricsError> {
    let mut out = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut out)?;
    Ok(String::from_utf8(out).expect("the text encoder writes UTF-8"))
}

/// Writes the registry's metrics to `path` atomically: into a temporary sibling that node_exporter
/// ignores (it reads only `*.prom`), then renamed over `path`, so a scrape never sees half a file.
pub fn write_textfile(registry: &Registry, path: &Path) -> Result<(), MetricsError> {
    let text = render(registry)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|source| MetricsError::Textfile {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        MetricsError::Textfile {
            path: path.to_owned(),
            source,
        }
    })
}

/// Publishes a registry as configured until stopped (or dropped, which aborts it).
#[derive(Debug)]
pub struct Publisher {
    task: JoinHandle<()>,
    /// The textfile and the registry, for a last write at [`Publisher::stop`].
    textfile: Option<(PathBuf, Registry)>,
    addr: Option<SocketAddr>,
}

impl Publisher {
    /// Starts publishing `registry` for `process` as `cfg` says; `None` when metrics are disabled. A
    /// busy address or an unwritable directory is an error now, naming it, since the owner asked for
    /// metrics there. Needs a tokio runtime.
    pub async fn start(
        cfg: &Metrics,
        process: Process,
        registry: Registry,
    ) -> Result<Option<Self>, MetricsError> {
        if !cfg.enabled {
            return Ok(None);
        }
        if let Some(dir) = &cfg.textfile_dir {
            let path = process.textfile(dir);
            write_textfile(&registry, &path)?;
            tracing::info!(path = %path.display(), "writing metrics for node_exporter's textfile collector");
            let task = tokio::spawn(rewrite(registry.clone(), path.clone()));
            return Ok(Some(Self {
                task,
                textfile: Some((path, registry)),
                addr: None,
            }));
        }
        let addr = process.listen_addr(cfg.listen)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError::Bind { addr, source })?;
        tracing::info!(%addr, "serving metrics at http://{addr}/metrics");
        Ok(Some(Self {
            task: tokio::spawn(serve(listener, registry)),
            textfile: None,
            addr: Some(addr),
        }))
    }

    /// The address of the HTTP endpoint, if metrics are served over HTTP.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Stops publishing; a textfile gets a last write so it holds the final counts.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
        if let Some((path, registry)) = &self.textfile {
            if let Err(e) = write_textfile(registry, path) {
                tracing::warn!(error = %e, "last metrics textfile not written");
            }
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn rewrite(registry: Registry, path: PathBuf) {
    let mut every = tokio::time::interval(TEXTFILE_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        every.tick().await;
        // A small file on a local disk: not worth a blocking-pool thread.
        match write_textfile(&registry, &path) {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(path = %path.display(), "metrics textfile written again");
            }
            Ok(()) => {}
            // Logged once per failing stretch, not every few seconds.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "metrics textfile not written; retrying");
            }
            Err(_) => {}
        }
    }
}

/// Answers scrapers on `listener` until aborted.
pub async fn serve(listener: TcpListener, registry: Registry) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, typically: wait rather than spin.
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics endpoint busy; connection closed");
            continue;
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &registry)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "metrics request failed"),
                Err(_) => tracing::debug!("metrics request timed out"),
            }
        });
    }
}

/// Reads one request head and answers it; the connection is closed afterwards.
async fn answer(mut stream: TcpStream, registry: &Registry) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let complete = loop {
        if head.len() > MAX_REQUEST_HEAD {
            break false;
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if head.is_empty() {
                // Connected and left without a word (a port check).
                return Ok(());
            }
            // A head cut short still has its request line.
            break true;
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let (status, body) = if complete {
        respond(&head, registry)
    } else {
        (
            "431 Request Header Fields Too Large",
            "request head too large\n".to_owned(),
        )
    };
    let head_only = head.starts_with(b"HEAD ");
    let content_type = if status.starts_with("200") {
        prometheus::TEXT_FORMAT
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The status line and body for a request head.
fn respond(head: &[u8], registry: &Registry) -> (&'static str, String) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // Prometheus may add query parameters; they change nothing here.
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => match render(registry) {
            Ok(text) => ("200 OK", text),
            Err(e) => {
                tracing::error!(error = %e, "metrics not rendered");
                ("500 Internal Server Error", format!("{e}\n"))
            }
        },
        ("GET" | "HEAD", _) => ("404 Not Found", "metrics are at /metrics\n".to_owned()),
        _ => ("405 Method Not Allowed", "only GET and HEAD\n".to_owned()),
    }
}

/// Test helpers: parsing an exposition back into values.
pub mod scrape {
    /// The value of the sample `name{labels}` in `text` (labels exactly as rendered, e.g.
    /// `iface="wan0",mode="generic"`; empty for none), or `None` if absent.
    pub fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
        let key = if labels.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{{{labels}}}")
        };
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == key).then(|| v.parse().ok()).flatten()
        })
    }

    /// The sum of every sample of `name` (over all label values), or `None` if there is none.
    pub fn sum(text: &str, name: &str) -> Option<f64> {
        let mut found = None;
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((k, v)) = l.rsplit_once(' ') else {
                continue;
            };
            let metric = k.split('{').next().unwrap_or(k);
            if metric == name {
                if let Ok(v) = v.parse::<f64>() {
                    *found.get_or_insert(0.0) += v;
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{IntCounter, IntCounterVec, Opts};

    fn registry() -> (Registry, IntCounterVec) {
        let r = Registry::new();
        let c =
            IntCounterVec::new(Opts::new("argus_test_events_total", "Events."), &["kind"]).unwrap();
        r.register(Box::new(c.clone())).unwrap();
        (r, c)
    }

    fn config(listen: SocketAddr, textfile_dir: Option<PathBuf>) -> Metrics {
        Metrics {
            enabled: true,
            listen,
            textfile_dir,
        }
    }

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    /// A free loopback port whose next two ports were free a moment ago.
    fn free_base() -> SocketAddr {
        loop {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let base = l.local_addr().unwrap();
            drop(l);
            let others: Vec<_> = [1, 2]
                .iter()
                .filter_map(|o| {
                    std::net::TcpListener::bind(SocketAddr::new(
                        base.ip(),
                        base.port().checked_add(*o)?,
                    ))
                    .ok()
                })
                .collect();
            if others.len() == 2 {
                return base;
            }
        }
    }

    #[test]
    fn ports_follow_the_process() {
        let base: SocketAddr = "127.0.0.1:9747".parse().unwrap();
        assert_eq!(Process::Enforcer.listen_addr(base).unwrap(), base);
        assert_eq!(Process::Kronos.listen_addr(base).unwrap().port(), 9748);
        assert_eq!(Process::Sentinel.listen_addr(base).unwrap().port(), 9749);
        let top: SocketAddr = "127.0.0.1:65535".parse().unwrap();
        let e = Process::Sentinel.listen_addr(top).unwrap_err().to_string();
        assert!(e.contains("65535") && e.contains("argus-sentinel"), "{e}");
    }

    #[tokio::test]
    async fn serves_the_registry_over_tcp() {
        let (r, c) = registry();
        let base = free_base();
        let p = Publisher::start(&config(base, None), Process::Kronos, r)
            .await
            .unwrap()
            .unwrap();
        let addr = p.addr().unwrap();
        assert_eq!(addr.port(), base.port() + 1);
        c.with_label_values(&["a"]).inc_by(3);
        let out = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(
            out.contains("Content-Type: text/plain; version=0.0.4"),
            "{out}"
        );
        let body = out.split_once("\r\n\r\n").unwrap().1;
        assert!(
            body.contains("# TYPE argus_test_events_total counter"),
            "{body}"
        );
        assert_eq!(
            scrape::value(body, "argus_test_events_total", "kind=\"a\""),
            Some(3.0)
        );
        // The value moves between scrapes.
        c.with_label_values(&["a"]).inc();
        let out = get(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n").await;
        assert_eq!(
            scrape::value(&out, "argus_test_events_total", "kind=\"a\""),
            Some(4.0)
        );

        let out = get(addr, "GET / HTTP/1.1\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        let out = get(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 405"), "{out}");
        let out = get(addr, "HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert!(
            out.starts_with("HTTP/1.1 200") && out.ends_with("\r\n\r\n"),
            "{out}"
        );
        let long = format!(
            "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_REQUEST_HEAD)
        );
        let out = get(addr, &long).await;
        assert!(out.starts_with("HTTP/1.1 431"), "{out}");
        p.stop().await;
        assert!(TcpStream::connect(addr).await.is_err(), "stopped");
    }

    #[tokio::test]
    async fn idle_connections_cannot_take_every_slot_for_long() {
        let (r, _) = registry();
        let p = Publisher::start(&config(free_base(), None), Process::Enforcer, r)
            .await
            .unwrap()
            .unwrap();
        let addr = p.addr().unwrap();
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        // Let the server accept them all before the next one arrives.
        tokio::time::sleep(Duration::from_millis(100)).await;
        // One more is closed at once, unanswered.
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), extra.read_to_end(&mut buf))
            .await
            .expect("closed at once")
            .unwrap_or(0);
        assert_eq!(n, 0);
        // Closing the idle ones frees their slots.
        drop(idle);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = get(addr, "GET /metrics HTTP/1.1\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }

    #[tokio::test]
    async fn a_busy_port_is_an_error_naming_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = Publisher::start(&config(addr, None), Process::Enforcer, Registry::new())
            .await
            .unwrap_err();
        assert!(matches!(e, MetricsError::Bind { .. }), "{e:?}");
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
    }

    #[tokio::test]
    async fn disabled_publishes_nothing() {
        let mut cfg = config(free_base(), None);
        cfg.enabled = false;
        assert!(Publisher::start(&cfg, Process::Enforcer, Registry::new())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn textfile_is_written_atomically_and_at_stop() {
        let dir = tempfile::tempdir().unwrap();
        let (r, c) = registry();
        c.with_label_values(&["b"]).inc();
        let cfg = config(free_base(), Some(dir.path().to_owned()));
        let p = Publisher::start(&cfg, Process::Sentinel, r)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.addr(), None, "no HTTP endpoint in textfile mode");
        let path = dir.path().join("argus_sentinel.prom");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            scrape::value(&text, "argus_test_events_total", "kind=\"b\""),
            Some(1.0)
        );
        c.with_label_values(&["b"]).inc();
        p.stop().await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            scrape::value(&text, "argus_test_events_total", "kind=\"b\""),
            Some(2.0)
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["argus_sentinel.prom"], "no temporary file left");
    }

    #[tokio::test]
    async fn an_unwritable_textfile_dir_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let cfg = config(free_base(), Some(missing.clone()));
        let e = Publisher::start(&cfg, Process::Enforcer, Registry::new())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains(&missing.display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn scrape_helpers() {
        let r = Registry::new();
        let c = IntCounter::new("argus_x_total", "X.").unwrap();
        r.register(Box::new(c.clone())).unwrap();
        c.inc_by(2);
        let text = render(&r).unwrap();
        assert_eq!(scrape::value(&text, "argus_x_total", ""), Some(2.0));
        assert_eq!(scrape::sum(&text, "argus_x_total"), Some(2.0));
        assert_eq!(scrape::value(&text, "argus_y_total", ""), None);
    }
}

//! Live mode: load the data plane, attach it to the configured interfaces
//! with pinned links, export flows and samples until SIGTERM/SIGINT.
//!
//! Restart semantics: maps are reused from the pin directory (bans survive),
//! and an interface whose link is pinned at `<pin_dir>/links/<ifname>` gets
//! the new program swapped in atomically on that link (`bpf_link_update`),
//! so there is no instant without filtering. If sentinel dies (even by
//! SIGKILL), the pinned links keep the program attached and dropping. On
//! SIGTERM the links are unpinned (detaching the program) unless
//! `sentinel.keep_dataplane_on_exit` is set.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argus_config::{Config, InterfaceRole, XdpMode as ConfigMode};
use argus_proto::{AttachMode, SensorMessage, SensorStatus};
use argus_sentinel_common::abi::FlowValue;
use argus_sentinel_common::bpffs::ensure_bpffs;
use argus_sentinel_common::entry::Role;
use argus_sentinel_common::maps::{ConfigMap, Event, Events, Flows, Ifaces, StatsMap};
use argus_sentinel_common::program::{Dataplane, MapSizes};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::xdp::XdpLink;
use aya::programs::XdpMode;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

use crate::clock::{monotonic_ns, monotonic_to_unix_offset_ns};
use crate::error::SentinelError;
use crate::metrics::SentinelMetrics;
use crate::records::{FlowBuilder, Timeouts};
use crate::sink::Queue;

/// How often a status message is queued.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// One interface the program is attached to.
#[derive(Debug)]
pub struct Attached {
    /// Interface name.
    pub name: String,
    /// Its ifindex.
    pub ifindex: u32,
    /// The XDP mode the kernel reports.
    pub mode: AttachMode,
    /// The pinned link (keeps the program attached after we exit).
    link: PinnedLink,
}

/// The loaded and attached data plane.
#[derive(Debug)]
pub struct Live {
    dp: Dataplane,
    pin_dir: PathBuf,
    attached: Vec<Attached>,
    keep_on_exit: bool,
}

fn ifindex_of(name: &str) -> Result<u32, SentinelError> {
    let c = std::ffi::CString::new(name).map_err(|_| SentinelError::UnknownInterface {
        name: name.to_owned(),
    })?;
    // SAFETY: c is a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(SentinelError::UnknownInterface {
            name: name.to_owned(),
        }),
        i => Ok(i),
    }
}

/// Map sizes from the configuration.
pub fn map_sizes(cfg: &Config) -> MapSizes {
    MapSizes {
        blocklist: cfg.enforcer.max_entries,
        allowlist: cfg.enforcer.allowlist_max_entries,
        flows: cfg.sentinel.flows.table_size,
        events_bytes: cfg.sentinel.payload.ringbuf_bytes,
    }
}

impl Live {
    /// Loads (or reuses) the data plane under `paths.pin_dir`, writes the
    /// interface roles and sentinel's part of CONFIG, and attaches to every
    /// configured interface.
    pub fn start(cfg: &Config) -> Result<Self, SentinelError> {
        if cfg.sentinel.interfaces.is_empty() {
            return Err(SentinelError::NoInterfaces);
        }
        let pin_dir = cfg.paths.pin_dir.clone();
        ensure_bpffs(&pin_dir)?;
        let links_dir = pin_dir.join("links");
        std::fs::create_dir_all(&links_dir).map_err(|source| SentinelError::Io {
            op: "create",
            path: links_dir.clone(),
            source,
        })?;
        let dp = Dataplane::load(&pin_dir, &map_sizes(cfg))?;

        // Only sentinel's fields: the dry-run bit belongs to the enforcer.
        let mut config = ConfigMap::open(&pin_dir)?;
        let mut c = config.get()?;
        c.drop_lan_to_banned = cfg.sentinel.drop_lan_to_banned;
        c.sample_bytes = cfg.sentinel.payload.sample_bytes;
        c.samples_per_direction = u16::from(cfg.sentinel.payload.samples_per_flow);
        config.set(&c)?;

        let mut live = Self {
            dp,
            pin_dir,
            attached: Vec::new(),
            keep_on_exit: cfg.sentinel.keep_dataplane_on_exit,
        };
        let mut ifaces = Ifaces::open(&live.pin_dir)?;
        for iface in &cfg.sentinel.interfaces {
            let ifindex = ifindex_of(&iface.name)?;
            let role = match iface.role {
                InterfaceRole::Wan => Role::Wan,
                InterfaceRole::Lan => Role::Lan,
            };
            // The role goes in before the program can see the interface's
            // first packet.
            ifaces.set(ifindex, role)?;
            let attached = live.attach(&iface.name, ifindex, cfg.sentinel.xdp_mode)?;
            tracing::info!(
                interface = %attached.name,
                ifindex,
                role = ?iface.role,
                mode = ?attached.mode,
                "XDP attached"
            );
            live.attached.push(attached);
        }
        live.detach_unconfigured(&links_dir, cfg)?;
        Ok(live)
    }

    /// Detaches links pinned by an earlier run for interfaces that are no
    /// longer configured: the program must not keep filtering an interface
    /// the operator removed from aegis.yaml.
    fn detach_unconfigured(&self, links_dir: &Path, cfg: &Config) -> Result<(), SentinelError> {
        let entries = std::fs::read_dir(links_dir).map_err(|source| SentinelError::Io {
            op: "list",
            path: links_dir.to_owned(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if cfg.sentinel.interfaces.iter().any(|i| i.name == name) {
                continue;
            }
            let path = entry.path();
            let link_err = |detail: String| SentinelError::Link {
                path: path.clone(),
                detail,
            };
            let pinned = PinnedLink::from_pin(&path).map_err(|e| link_err(format!("open: {e}")))?;
            drop(
                pinned
                    .unpin()
                    .map_err(|e| link_err(format!("unpin: {e}")))?,
            );
            tracing::warn!(interface = %name, "detached XDP from an interface no longer configured");
        }
        Ok(())
    }

    fn link_path(&self, name: &str) -> PathBuf {
        self.pin_dir.join("links").join(name)
    }

    fn attach(
        &mut self,
        name: &str,
        ifindex: u32,
        mode: ConfigMode,
    ) -> Result<Attached, SentinelError> {
        let path = self.link_path(name);
        let link = match self.replace_on_pinned_link(&path)? {
            Some(link) => link,
            None => self.attach_fresh(name, ifindex, mode, &path)?,
        };
        let mode = crate::netlink::xdp_mode(ifindex).unwrap_or_else(|e| {
            tracing::warn!(interface = name, error = %e, "cannot read the XDP mode back");
            AttachMode::None
        });
        Ok(Attached {
            name: name.to_owned(),
            ifindex,
            mode,
            link,
        })
    }

    /// Swaps this program into the link pinned at `path`, if there is one
    /// that still works; a stale pin (interface gone) is removed.
    fn replace_on_pinned_link(&mut self, path: &Path) -> Result<Option<PinnedLink>, SentinelError> {
        if !path.exists() {
            return Ok(None);
        }
        let link_err = |detail: String| SentinelError::Link {
            path: path.to_owned(),
            detail,
        };
        let fd_link: FdLink = PinnedLink::from_pin(path)
            .map_err(|e| link_err(format!("open: {e}")))?
            .into();
        let xdp_link =
            XdpLink::try_from(fd_link).map_err(|e| link_err(format!("not an XDP link: {e}")))?;
        let prog = self.dp.program_mut();
        match prog.attach_to_link(xdp_link) {
            Ok(id) => {
                // The program now references the updated link; take it back
                // and keep holding it through its (unchanged) pin.
                let link = prog
                    .take_link(id)
                    .map_err(|e| link_err(format!("take link: {e}")))?;
                drop(link);
                let pinned =
                    PinnedLink::from_pin(path).map_err(|e| link_err(format!("reopen: {e}")))?;
                tracing::info!(pin = %path.display(), "replaced the program on the pinned link");
                Ok(Some(pinned))
            }
            Err(e) => {
                tracing::warn!(pin = %path.display(), error = %e,
                    "pinned link unusable (interface re-created?); attaching anew");
                std::fs::remove_file(path)
                    .map_err(|e| link_err(format!("remove stale pin: {e}")))?;
                Ok(None)
            }
        }
    }

    fn attach_fresh(
        &mut self,
        name: &str,
        ifindex: u32,
        mode: ConfigMode,
        path: &Path,
    ) -> Result<PinnedLink, SentinelError> {
        let prog = self.dp.program_mut();
        let id = match mode {
            ConfigMode::Native => {
                prog.attach_to_if_index(ifindex, XdpMode::Driver)
                    .map_err(|e| SentinelError::Attach {
                        name: name.to_owned(),
                        mode: "native",
                        source: Box::new(e),
                    })?
            }
            ConfigMode::Generic => prog
                .attach_to_if_index(ifindex, XdpMode::Skb)
                .map_err(|e| SentinelError::Attach {
                    name: name.to_owned(),
                    mode: "generic",
                    source: Box::new(e),
                })?,
            ConfigMode::Auto => match prog.attach_to_if_index(ifindex, XdpMode::Driver) {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(interface = name, error = %e,
                        "native XDP unavailable; falling back to generic (slower) XDP");
                    prog.attach_to_if_index(ifindex, XdpMode::Skb)
                        .map_err(|e| SentinelError::Attach {
                            name: name.to_owned(),
                            mode: "generic",
                            source: Box::new(e),
                        })?
                }
            },
        };
        let link_err = |detail: String| SentinelError::Link {
            path: path.to_owned(),
            detail,
        };
        let link = prog
            .take_link(id)
            .map_err(|e| link_err(format!("take link: {e}")))?;
        let fd_link = FdLink::try_from(link)
            .map_err(|e| link_err(format!("kernel without bpf_link for XDP: {e}")))?;
        fd_link.pin(path).map_err(|e| link_err(format!("pin: {e}")))
    }

    /// Attached interfaces.
    pub fn attached(&self) -> &[Attached] {
        &self.attached
    }

    /// Stops: detaches (unpins the links) unless the configuration keeps
    /// the data plane running without sentinel. Maps stay pinned either way.
    pub fn stop(self) -> Result<(), SentinelError> {
        for a in self.attached {
            if self.keep_on_exit {
                tracing::info!(interface = %a.name, "leaving XDP attached (keep_dataplane_on_exit)");
                continue;
            }
            let path = self.pin_dir.join("links").join(&a.name);
            // Unpinning and dropping the last fd detaches the program.
            let fd = a.link.unpin().map_err(|e| SentinelError::Link {
                path,
                detail: format!("unpin: {e}"),
            })?;
            drop(fd);
            tracing::info!(interface = %a.name, "XDP detached");
        }
        Ok(())
    }
}

/// The exporter: walks FLOWS every scan interval, consumes EVENTS as they
/// arrive, queues records, samples and status (counting them in `metrics`),
/// and returns on SIGTERM or SIGINT after exporting every remaining flow.
pub async fn export(
    cfg: &Config,
    live: &Live,
    queue: &Queue,
    metrics: &SentinelMetrics,
) -> Result<(), SentinelError> {
    let pin_dir = &cfg.paths.pin_dir;
    let mut flows = Flows::open(pin_dir)?;
    let events = Events::open(pin_dir)?;
    let stats = StatsMap::open(pin_dir)?;
    let interfaces: HashMap<u32, String> = live
        .attached()
        .iter()
        .map(|a| (a.ifindex, a.name.clone()))
        .collect();
    let mut builder = FlowBuilder::new(
        Timeouts::from_config(&cfg.sentinel.flows),
        monotonic_to_unix_offset_ns(),
        interfaces,
    );
    // SAFETY: EventsFd owns the ring buffer's map fd and keeps it open,
    // unreplaced, for as long as the AsyncFd lives.
    let registered = unsafe { AsyncFd::register(EventsFd(events)) };
    let mut events = registered.map_err(|source| SentinelError::Io {
        op: "poll",
        path: pin_dir.join("EVENTS"),
        source: source.into(),
    })?;
    let mut term = signal(SignalKind::terminate()).map_err(SentinelError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(SentinelError::Signals)?;
    let mut scan =
        tokio::time::interval(Duration::from_millis(cfg.sentinel.flows.scan_interval_ms));
    let mut status = tokio::time::interval(STATUS_EVERY);

    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            ready = events.readable_mut() => {
                let mut guard = ready.map_err(|source| SentinelError::Io {
                    op: "poll",
                    path: pin_dir.join("EVENTS"),
                    source,
                })?;
                drain_events(&mut guard.get_inner_mut().0, &flows, &builder, queue, metrics);
                guard.clear_ready();
            }
            _ = scan.tick() => {
                // The ring buffer may hold events its wakeup heuristics did
                // not signal yet; samples go out before their flow's record.
                drain_events(&mut events.get_mut().0, &flows, &builder, queue, metrics);
                builder.set_clock_offset(monotonic_to_unix_offset_ns());
                let snapshot = flows.list()?;
                for e in builder.scan(&snapshot, monotonic_ns()) {
                    if e.remove {
                        flows.remove(&e.key)?;
                    }
                    metrics.flow_exported();
                    queue.push(SensorMessage::Flow(e.record));
                }
            }
            _ = status.tick() => {
                queue.push(SensorMessage::Status(status_of(live, queue, &stats, metrics)));
            }
        }
    }
    tracing::info!("stopping: exporting remaining flows");
    drain_events(&mut events.get_mut().0, &flows, &builder, queue, metrics);
    let snapshot = flows.list()?;
    for e in builder.flush(&snapshot) {
        flows.remove(&e.key)?;
        metrics.flow_exported();
        queue.push(SensorMessage::Flow(e.record));
    }
    queue.push(SensorMessage::Status(status_of(
        live, queue, &stats, metrics,
    )));
    Ok(())
}

/// Lets tokio poll the ring buffer's fd.
struct EventsFd(Events);

impl AsRawFd for EventsFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsFd::as_fd(&self.0).as_raw_fd()
    }
}

fn drain_events(
    events: &mut Events,
    flows: &Flows,
    builder: &FlowBuilder,
    queue: &Queue,
    metrics: &SentinelMetrics,
) {
    while let Some(ev) = events.next_event() {
        match ev {
            // FLOWS itself is the source of records; the event only says a
            // flow began (for debugging: no per-flow work here).
            Ok(Event::NewFlow(nf)) => tracing::trace!(key = ?nf.key, "new flow"),
            Ok(Event::Sample(s)) => {
                // Join: the flow (if still there and the same incarnation)
                // names ICMP flows by type/code.
                let flow: Option<FlowValue> = flows
                    .get(&s.key)
                    .ok()
                    .flatten()
                    .filter(|f| f.dir[0].first_seen_ns == s.flow_start_ns);
                metrics.sample_exported();
                queue.push(SensorMessage::Sample(builder.sample(&s, flow.as_ref())));
            }
            Err(e) => {
                let total = metrics.bad_event();
                tracing::warn!(error = %e, total, "undecodable ring-buffer event");
            }
        }
    }
}

fn status_of(live: &Live, queue: &Queue, stats: &StatsMap, m: &SentinelMetrics) -> SensorStatus {
    let ringbuf_lost = stats.read().map(|s| s.ringbuf_full).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read STATS");
        0
    });
    let shed = queue.shed();
    let (flows_exported, samples_exported) = m.exported();
    SensorStatus {
        interfaces: live
            .attached()
            .iter()
            .map(|a| (a.name.clone(), a.mode))
            .collect(),
        flows_exported,
        flows_shed: shed.flows,
        samples_exported,
        ringbuf_lost,
    }
}

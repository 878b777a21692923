//! argus-sentinel: see the crate documentation of `argus_sentinel`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use argus_config::{Config, DEFAULT_CONFIG_PATH};
use argus_metrics::{Process, Publisher};
use argus_sentinel::live::{export, Live};
use argus_sentinel::metrics::SentinelMetrics;
use argus_sentinel::sink::{run_output, Output, Queue};
use argus_sentinel::{pcap, SentinelError};
use argus_sentinel_common::maps::StatsMap;
use clap::Parser;

/// How long buffered records may take to leave after SIGTERM.
const DRAIN_GRACE: Duration = Duration::from_secs(3);

/// Argus sentinel: XDP data plane loader and flow exporter.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file (aegis.yaml).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// Replay this pcap/pcapng file through the data plane's flow logic
    /// instead of attaching to interfaces (no root needed).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Interface name recorded on flows read with --pcap.
    #[arg(long, value_name = "NAME", default_value = "pcap", requires = "pcap")]
    pcap_interface: String,
    /// Write records as JSON lines to FILE instead of sending them to kronos.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("argus-sentinel: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = argus_metrics::logging::init(&cfg.logging) {
        eprintln!("argus-sentinel: {e}");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args, cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The configuration; in --pcap mode a missing default file means defaults.
fn load_config(args: &Args) -> Result<Config, SentinelError> {
    let defaulted = args.config.as_os_str() == DEFAULT_CONFIG_PATH;
    if args.pcap.is_some() && defaulted && !args.config.exists() {
        return Ok(Config::default());
    }
    Ok(Config::load(&args.config)?)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn run(args: Args, cfg: Config) -> Result<(), SentinelError> {
    let output = match &args.out {
        Some(path) => Output::JsonLines(path.clone()),
        None => Output::Kronos {
            socket: cfg.paths.sentinel_socket.clone(),
            max_frame: cfg.sockets.max_frame_bytes,
        },
    };
    let metrics = SentinelMetrics::new();
    if let Some(path) = &args.pcap {
        // A capture is finite: queue everything rather than shed. Offline, so no metrics.
        let queue = Queue::new(usize::MAX);
        let summary = pcap::replay(&cfg, path, &args.pcap_interface, &queue)?;
        queue.close();
        run_output(&queue, output, &metrics).await?;
        tracing::info!(?summary, "capture replayed");
        return Ok(());
    }

    // Before attaching: a busy metrics port stops sentinel without touching the data plane.
    let publisher =
        Publisher::start(&cfg.metrics, Process::Sentinel, metrics.registry().clone()).await?;
    let live = Live::start(&cfg)?;
    for a in live.attached() {
        metrics.set_xdp_mode(&a.name, a.mode);
    }
    let queue = std::sync::Arc::new(Queue::new(cfg.sentinel.flows.queue_capacity));
    metrics.watch_dataplane(StatsMap::open(&cfg.paths.pin_dir)?, queue.clone());
    let writer = {
        let queue = queue.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move { run_output(&queue, output, &metrics).await })
    };
    let exported = export(&cfg, &live, &queue, &metrics).await;
    queue.close();
    match tokio::time::timeout(DRAIN_GRACE, writer).await {
        Ok(Ok(res)) => res?,
        Ok(Err(join)) => tracing::error!(error = %join, "output task failed"),
        Err(_) => tracing::warn!(
            left = queue.len(),
            "output did not drain in time (kronos unreachable?); dropping the rest"
        ),
    }
    let stopped = live.stop();
    if let Some(p) = publisher {
        p.stop().await;
    }
    exported?;
    stopped
}

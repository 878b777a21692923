//! `argus-lab`: the throwaway netns lab, for the demo, recording benign baseline traffic and measuring
//! detection.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use argus_config::Mode;
use argus_tests::lab::Lab;
use argus_tests::process::Managed;
use argus_tests::scenarios::{self, Attack};
use argus_tests::traffic;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "The Argus network-namespace lab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The demo: the whole appliance on a throwaway lab, dry-run then enforce, with real benign and attack
    /// traffic; tears everything down at the end or on Ctrl-C.
    Demo,
    /// Record benign lab traffic (web, DNS-like, bulk, interactive from many sources) to a pcap file,
    /// captured on the gateway's WAN interface: the bootstrap isolation forest is trained on it.
    RecordBaseline {
        /// Output pcap file.
        #[arg(long)]
        out: PathBuf,
        /// How long to generate traffic.
        #[arg(long, default_value_t = 120)]
        secs: u64,
        /// Extra client addresses per family, besides the client's primary ones.
        #[arg(long, default_value_t = 8)]
        sources: u8,
        /// Seed of the activity schedule.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Detection figures: a benign mix from many sources, then every attack (each on a fresh lab while
    /// the client keeps browsing) through the real appliance; prints a Markdown table of who was banned,
    /// why, and how fast (first attack packet → ban → first XDP drop).
    Evaluate {
        /// Run the appliance in dry-run: simulated bans and would-drop counters.
        #[arg(long)]
        dry_run: bool,
        /// Length of the benign-only mix (0: skip it).
        #[arg(long, default_value_t = 60)]
        benign_secs: u64,
        /// Extra client addresses per family in the benign mix.
        #[arg(long, default_value_t = 8)]
        sources: u8,
        /// Seed of the benign mix.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only the attacks whose name contains this (case-insensitive); repeatable.
        #[arg(long = "attack")]
        attacks: Vec<String>,
        /// Save each scenario's traffic on the gateway's WAN interface to `<DIR>/<scenario>.pcap`.
        #[arg(long, value_name = "DIR")]
        capture: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    argus_tests::require_root("argus-lab");
    match cli.command {
        Command::Demo => argus_tests::demo::run(),
        Command::RecordBaseline {
            out,
            secs,
            sources,
            seed,
        } => record_baseline(&out, Duration::from_secs(secs), sources, seed),
        Command::Evaluate {
            dry_run,
            benign_secs,
            sources,
            seed,
            attacks,
            capture,
        } => evaluate(&scenarios::EvaluateParams {
            mode: if dry_run { Mode::DryRun } else { Mode::Enforce },
            benign: Duration::from_secs(benign_secs),
            aliases: sources,
            seed,
            attacks: Attack::ALL
                .into_iter()
                .filter(|a| {
                    attacks.is_empty()
                        || attacks
                            .iter()
                            .any(|f| a.name().to_lowercase().contains(&f.to_lowercase()))
                })
                .collect(),
            capture_dir: capture,
        }),
    }
}

fn record_baseline(
    out: &std::path::Path,
    duration: Duration,
    aliases: u8,
    seed: u64,
) -> Result<()> {
    let lab = Lab::new()?;
    let _servers = scenarios::start_content(&lab)?;
    let sources = scenarios::benign_sources(&lab, aliases)?;
    let pcap = lab.path("baseline.pcap");
    let mut dump = lab.gateway.command("tcpdump");
    // Whole packets: sentinel's --pcap mode counts the bytes a packet has in the capture, so a snap
    // length would shrink every large packet's size (and with it the byte features).
    dump.args(["-i", "wan0", "-s", "0", "-U", "-w"]).arg(&pcap);
    let mut capture = Managed::spawn("tcpdump", dump, lab.path("tcpdump.log"))?;
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let report = scenarios::benign_mix(
        &lab.client,
        &sources,
        &scenarios::MixParams::new(duration, seed),
    );
    std::thread::sleep(Duration::from_millis(500));
    capture.signal(nix::sys::signal::Signal::SIGINT)?;
    capture.wait()?;
    std::fs::copy(&pcap, out).with_context(|| format!("write {}", out.display()))?;
    for e in &report.errors {
        eprintln!("could not run: {e}");
    }
    eprintln!(
        "recorded {} activities from {} sources in {:?} to {}",
        report.activities,
        sources.len(),
        start.elapsed(),
        out.display()
    );
    for (kind, n) in traffic::Activity::ALL.iter().zip(report.per_kind) {
        eprintln!("  {kind:?}: {n}");
    }
    Ok(())
}

fn evaluate(params: &scenarios::EvaluateParams) -> Result<()> {
    let outcomes = scenarios::evaluate(params)?;
    print!("{}", scenarios::table(&outcomes));
    Ok(())
}

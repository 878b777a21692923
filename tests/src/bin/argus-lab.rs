//! `argus-lab`: the throwaway netns lab, for the demo and for recording benign baseline traffic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use argus_tests::lab::Lab;
use argus_tests::process::Managed;
use argus_tests::traffic::{self, Activity};
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
        /// Benign source addresses per family.
        #[arg(long, default_value_t = 8)]
        sources: u8,
        /// Seed of the activity schedule.
        #[arg(long, default_value_t = 1)]
        seed: u64,
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
    }
}

/// A small deterministic generator (SplitMix64) so a recording's schedule is reproducible from its seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn record_baseline(
    out: &std::path::Path,
    duration: Duration,
    sources: u8,
    seed: u64,
) -> Result<()> {
    let lab = Lab::new()?;
    let _servers = traffic::start_servers(&lab)?;
    traffic::add_bulk_file(&lab, 2)?;
    let addrs = traffic::add_client_aliases(&lab, sources)?;
    let pcap = lab.path("baseline.pcap");
    let mut dump = lab.gateway.command("tcpdump");
    // 600 bytes keep every header and the first 512 payload bytes sentinel samples, and keep the file small.
    dump.args(["-i", "wan0", "-s", "600", "-U", "-w"])
        .arg(&pcap);
    let mut capture = Managed::spawn("tcpdump", dump, lab.path("tcpdump.log"))?;
    std::thread::sleep(Duration::from_millis(500));

    // Each source has habits: a preferred activity it does most, others now and then.
    let mut rng = SplitMix(seed);
    let habits: Vec<Activity> = addrs.iter().map(|_| rng.pick(&Activity::ALL)).collect();
    let start = Instant::now();
    let mut rounds = 0u64;
    while start.elapsed() < duration {
        let i = (rng.next() % addrs.len() as u64) as usize;
        let activity = if rng.next().is_multiple_of(3) {
            rng.pick(&Activity::ALL)
        } else {
            habits[i]
        };
        traffic::run_activity(&lab.client, &addrs[i], activity)
            .with_context(|| format!("{activity:?} from {}", addrs[i]))?;
        rounds += 1;
        std::thread::sleep(Duration::from_millis(rng.next() % 400));
    }
    std::thread::sleep(Duration::from_millis(500));
    capture.signal(nix::sys::signal::Signal::SIGINT)?;
    capture.wait()?;
    std::fs::copy(&pcap, out).with_context(|| format!("write {}", out.display()))?;
    eprintln!(
        "recorded {rounds} activities from {} sources in {:?} to {}",
        addrs.len(),
        start.elapsed(),
        out.display()
    );
    Ok(())
}

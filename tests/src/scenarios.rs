//! Detection scenarios: benign users and attacks run through the real appliance in the lab, and what Argus
//! did about each source — whether it was banned, why, how long after the first attack packet, and when
//! XDP dropped its first packet. `argus-lab evaluate`, `argus-lab record-baseline` and the detection tests
//! are built from these pieces.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use argus_config::{Config, Mode};

use crate::appliance::{lab_config, models_dir, Appliance};
use crate::lab::{Lab, ATTACKER_V4, ATTACKER_V6, CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6};
use crate::netns::Netns;
use crate::process::Managed;
use crate::traffic::{self, Activity, Rng, ScanKind};

/// How often the benign mix does each activity (weights out of their sum): mostly pages, page loads,
/// API polls and DNS-like lookups, now and then an interactive session, a download or a load test.
pub const MIX: [(Activity, u64); 7] = [
    (Activity::Browse, 4),
    (Activity::PageBurst, 4),
    (Activity::Poll, 3),
    (Activity::Dns, 4),
    (Activity::Interactive, 2),
    (Activity::Bulk, 1),
    (Activity::Load, 1),
];

fn weighted(rng: &mut Rng) -> Activity {
    let total: u64 = MIX.iter().map(|(_, w)| w).sum();
    let mut x = rng.below(total);
    for (activity, w) in MIX {
        if x < w {
            return activity;
        }
        x -= w;
    }
    unreachable!("x is below the sum of the weights")
}

/// How the users of a benign mix behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixParams {
    /// No activity starts after this long.
    pub duration: Duration,
    /// Seed of every user's schedule.
    pub seed: u64,
    /// Shortest think time between two activities of one user.
    pub think_min: Duration,
    /// Longest think time.
    pub think_max: Duration,
}

impl MixParams {
    /// Users with think times of 2.5 to 8 s: people reading pages, scripts polling now and then.
    pub fn new(duration: Duration, seed: u64) -> Self {
        Self {
            duration,
            seed,
            think_min: Duration::from_millis(2500),
            think_max: Duration::from_secs(8),
        }
    }
}

/// What a benign mix did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MixReport {
    /// Activities run.
    pub activities: u64,
    /// How often each kind ran, in [`Activity::ALL`] order.
    pub per_kind: [u64; Activity::ALL.len()],
    /// Activities that could not run (a tool failed to start), with the reason.
    pub errors: Vec<String>,
}

/// Benign users on `host`, one per address in `sources`, until `params.duration` has passed. Each has a
/// habit (an activity drawn from [`MIX`]) it does two times in three, otherwise any activity of the mix,
/// and thinks between activities. Users start at random moments of their first think time; user `i`
/// starts with the `i`-th kind of [`Activity::ALL`], so with as many users as kinds every kind runs.
pub fn benign_mix(host: &Netns, sources: &[String], params: &MixParams) -> MixReport {
    let start = Instant::now();
    let reports: Vec<MixReport> = std::thread::scope(|s| {
        let users: Vec<_> = sources
            .iter()
            .enumerate()
            .map(|(i, src)| {
                s.spawn(move || {
                    let mut rng = Rng::new(params.seed ^ (i as u64).wrapping_mul(0x5851_f42d));
                    let habit = weighted(&mut rng);
                    let mut report = MixReport::default();
                    std::thread::sleep(rng.between(Duration::ZERO, params.think_min));
                    let mut activity = Activity::ALL[i % Activity::ALL.len()];
                    while start.elapsed() < params.duration {
                        if let Err(e) = traffic::run_activity(host, src, activity, &mut rng) {
                            report
                                .errors
                                .push(format!("{activity:?} from {src}: {e:#}"));
                        }
                        report.activities += 1;
                        if let Some(k) = Activity::ALL.iter().position(|a| *a == activity) {
                            report.per_kind[k] += 1;
                        }
                        activity = if rng.below(3) < 2 {
                            habit
                        } else {
                            weighted(&mut rng)
                        };
                        std::thread::sleep(rng.between(params.think_min, params.think_max));
                    }
                    report
                })
            })
            .collect();
        users
            .into_iter()
            .map(|u| u.join().unwrap_or_default())
            .collect()
    });
    let mut total = MixReport::default();
    for r in reports {
        total.activities += r.activities;
        for (t, n) in total.per_kind.iter_mut().zip(r.per_kind) {
            *t += n;
        }
        total.errors.extend(r.errors);
    }
    total
}

/// The client's primary addresses plus `aliases` extra addresses per family (see
/// [`traffic::add_client_aliases`]): the sources of a benign mix.
pub fn benign_sources(lab: &Lab, aliases: u8) -> Result<Vec<String>> {
    let mut sources = vec![CLIENT_V4.to_owned(), CLIENT_V6.to_owned()];
    sources.extend(traffic::add_client_aliases(lab, aliases)?);
    Ok(sources)
}

/// Servers plus the content the benign activities fetch (the site and a 2 MiB file).
pub fn start_content(lab: &Lab) -> Result<traffic::Servers> {
    let servers = traffic::start_servers(lab)?;
    traffic::add_site(lab)?;
    traffic::add_bulk_file(lab, 2)?;
    Ok(servers)
}

/// The ONNX Runtime library for the payload CNN: `ORT_DYLIB_PATH`, else the one in the model training
/// environment (`models/.venv`, see `models/README.md`).
pub fn onnxruntime_library() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let lib = models_dir().join(".venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .map(|python| python.path().join("site-packages/onnxruntime/capi"))
        .filter_map(|capi| std::fs::read_dir(capi).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
}

/// The lab configuration for detection: `mode`, the payload CNN required (so a missing runtime is an
/// error, not a silently weaker kronos), and IPv6 bans of single addresses — the lab's internet side is
/// one /64 shared by the attacker and the client, where on the internet one host owns a /64.
pub fn detection_config(lab: &Lab, mode: Mode) -> Result<Config> {
    let mut cfg = lab_config(lab, mode);
    let ort = onnxruntime_library().context(
        "no ONNX Runtime library for the payload CNN: set ORT_DYLIB_PATH to libonnxruntime.so (from the \
         onnxruntime wheel: python3 -m venv /tmp/ort && /tmp/ort/bin/pip install onnxruntime), or run \
         models/train/train.sh",
    )?;
    cfg.kronos.cnn.runtime_library = Some(ort);
    cfg.kronos.cnn.required = true;
    cfg.enforcer.ipv6_ban_prefix = 128;
    Ok(cfg)
}

/// An attack the lab can run from the attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// nmap SYN scan of every TCP port of the server.
    SynScan {
        /// Over IPv6.
        v6: bool,
    },
    /// nmap connect scan of every TCP port of the server.
    ConnectScan {
        /// Over IPv6.
        v6: bool,
    },
    /// hping3 SYN flood at the web port: 50 000 SYNs at 5000/s.
    SynFlood,
    /// The [`traffic::WEB_ATTACKS`] requests: SQL injection, XSS, path traversal, command injection.
    WebAttacks,
    /// An HTTP Basic-auth login brute force: a guess per connection, 25 a second, for up to a minute.
    BruteForce,
    /// hping3 UDP flood at a closed port: 20 000 datagrams at 5000/s; spoofable evidence only.
    UdpFlood,
}

impl Attack {
    /// Every attack, in the order `argus-lab evaluate` runs them.
    pub const ALL: [Attack; 8] = [
        Self::SynScan { v6: false },
        Self::SynScan { v6: true },
        Self::ConnectScan { v6: false },
        Self::ConnectScan { v6: true },
        Self::SynFlood,
        Self::WebAttacks,
        Self::BruteForce,
        Self::UdpFlood,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::SynScan { v6: false } => "nmap SYN scan (IPv4)",
            Self::SynScan { v6: true } => "nmap SYN scan (IPv6)",
            Self::ConnectScan { v6: false } => "nmap connect scan (IPv4)",
            Self::ConnectScan { v6: true } => "nmap connect scan (IPv6)",
            Self::SynFlood => "hping3 SYN flood",
            Self::WebAttacks => "HTTP SQLi/XSS/traversal/cmd",
            Self::BruteForce => "HTTP login brute force",
            Self::UdpFlood => "hping3 UDP flood",
        }
    }

    fn v6(self) -> bool {
        matches!(
            self,
            Self::SynScan { v6: true } | Self::ConnectScan { v6: true }
        )
    }

    /// The attacker address it comes from.
    pub fn source(self) -> &'static str {
        if self.v6() {
            ATTACKER_V6
        } else {
            ATTACKER_V4
        }
    }

    /// The ban reason Argus should give, or `None` when it must not ban by default (spoofable
    /// evidence).
    pub fn expected_reason(self) -> Option<&'static str> {
        match self {
            Self::SynScan { .. } | Self::ConnectScan { .. } => Some("port_scan"),
            Self::SynFlood => Some("syn_flood"),
            Self::WebAttacks => Some("payload_attack"),
            Self::BruteForce => Some("brute_force"),
            Self::UdpFlood => None,
        }
    }

    fn target(self) -> &'static str {
        if self.v6() {
            SERVER_V6
        } else {
            SERVER_V4
        }
    }

    /// The attack tool's command, run in the attacker's namespace.
    pub fn command(self, lab: &Lab) -> Command {
        let (host, target) = (&lab.attacker, self.target());
        match self {
            Self::SynScan { .. } => traffic::nmap_command(host, ScanKind::Syn, target, u16::MAX),
            Self::ConnectScan { .. } => {
                traffic::nmap_command(host, ScanKind::Connect, target, u16::MAX)
            }
            Self::SynFlood => traffic::hping3_syn_flood_command(host, target, 50_000),
            Self::WebAttacks => traffic::web_attacks_command(host, target),
            Self::BruteForce => traffic::http_brute_force_command(host, target, 1500, 25),
            Self::UdpFlood => traffic::hping3_udp_flood_command(host, target, 20_000),
        }
    }
}

/// What Argus did about one source during a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The scenario.
    pub scenario: String,
    /// The source address.
    pub source: String,
    /// Whether the source is an attacker.
    pub attacker: bool,
    /// The ban covering it (`state` active, or simulated in dry-run), if any.
    pub ban: Option<BanInfo>,
    /// From the source's first packet to the ban's creation.
    pub to_ban: Option<Duration>,
    /// From the source's first packet until the ban's kernel counter was first seen above zero.
    pub to_drop: Option<Duration>,
}

impl Outcome {
    /// Whether the source was banned.
    pub fn banned(&self) -> bool {
        self.ban.is_some()
    }

    /// The ban's reason, if banned.
    pub fn reason(&self) -> Option<&str> {
        self.ban.as_ref().map(|b| b.reason.as_str())
    }
}

/// One ban as `argusctl --json list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BanInfo {
    /// The banned prefix.
    pub prefix: String,
    /// `active` or `simulated`.
    pub state: String,
    /// Why.
    pub reason: String,
    /// When it was created (the enforcer's clock).
    pub created: SystemTime,
    /// Packets the kernel dropped for it (would have dropped, in dry-run).
    pub packets: u64,
}

/// Every ban, simulated ones included.
pub fn bans(app: &Appliance) -> Result<Vec<BanInfo>> {
    let list = app.argusctl_json(&["list", "--simulated"])?;
    let Some(bans) = list["bans"].as_array() else {
        bail!("argusctl list printed no bans array: {list}");
    };
    Ok(bans
        .iter()
        .map(|b| BanInfo {
            prefix: b["prefix"].as_str().unwrap_or_default().to_owned(),
            state: b["state"].as_str().unwrap_or_default().to_owned(),
            reason: b["reason"].as_str().unwrap_or_default().to_owned(),
            created: UNIX_EPOCH + Duration::from_nanos(b["first_seen"].as_u64().unwrap_or(0)),
            packets: b["packets"].as_u64().unwrap_or(0),
        })
        .collect())
}

/// The ban among `bans` whose prefix covers `addr`.
pub fn ban_of<'b>(bans: &'b [BanInfo], addr: &str) -> Option<&'b BanInfo> {
    let ip: IpAddr = addr.parse().ok()?;
    bans.iter().find(|b| prefix_contains(&b.prefix, ip))
}

/// Whether `prefix` (`addr/len`) contains `ip`.
fn prefix_contains(prefix: &str, ip: IpAddr) -> bool {
    let Some((net, len)) = prefix.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    let bits = |a: IpAddr| -> (u128, u32) {
        match a {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    };
    let ((n, width), (x, width_x)) = (bits(net), bits(ip));
    if width != width_x || len > width {
        return false;
    }
    let shift = width - len;
    shift >= 128 || (n >> shift) == (x >> shift)
}

/// The time of the first packet `host` sends to `dst`, caught by tcpdump on the host's `eth0`.
struct FirstPacket {
    tcpdump: Managed,
}

impl FirstPacket {
    /// Starts watching; returns once tcpdump listens.
    fn watch(lab: &Lab, host: &Netns, dst: &str, tag: &str) -> Result<Self> {
        let mut cmd = host.command("tcpdump");
        cmd.args(["-i", "eth0", "-n", "-tt", "-c", "1", "-Q", "out"])
            .args(["--immediate-mode", "dst", "host", dst]);
        let tcpdump = Managed::spawn("tcpdump", cmd, lab.path(&format!("first-{tag}.log")))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !tcpdump.log().contains("listening on") {
            if Instant::now() > deadline {
                bail!("tcpdump did not start: {}", tcpdump.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { tcpdump })
    }

    /// The packet's time, if one was seen (its line starts with `seconds.micros`).
    fn time(&self) -> Option<SystemTime> {
        let log = self.tcpdump.log();
        let stamp = log
            .lines()
            .find_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())?;
        Some(UNIX_EPOCH + Duration::from_secs_f64(stamp))
    }
}

/// How long an attack may take at most, and how long to wait for a verdict after its tool finished
/// (flows are exported after their close or idle timeout).
const ATTACK_LIMIT: Duration = Duration::from_secs(50);
const AFTER_ATTACK: Duration = Duration::from_secs(6);

/// Runs `attack` against the appliance and watches the bans until the attacker's ban drops packets, the
/// tool finished and [`AFTER_ATTACK`] passed without a ban, or [`ATTACK_LIMIT`]; the tool is then
/// stopped.
pub fn run_attack(lab: &Lab, app: &Appliance, attack: Attack) -> Result<Outcome> {
    let tag = crate::unique_tag();
    let first = FirstPacket::watch(lab, &lab.attacker, attack.target(), &tag)?;
    let started = SystemTime::now();
    let mut tool = Managed::spawn(
        attack.name(),
        attack.command(lab),
        lab.path(&format!("attack-{tag}.log")),
    )?;
    let t0 = Instant::now();
    let mut finished_at: Option<Instant> = None;
    let mut drop_seen: Option<SystemTime> = None;
    let mut ban = None;
    while t0.elapsed() < ATTACK_LIMIT {
        let all = bans(app)?;
        ban = ban_of(&all, attack.source()).cloned();
        if ban.as_ref().is_some_and(|b| b.packets > 0) {
            drop_seen = Some(SystemTime::now());
            break;
        }
        if finished_at.is_none() && !tool.is_running() {
            finished_at = Some(Instant::now());
        }
        if finished_at.is_some_and(|f| f.elapsed() > AFTER_ATTACK) {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    drop(tool);
    let first_packet = first.time().unwrap_or(started);
    let since_first = |t: SystemTime| t.duration_since(first_packet).ok();
    Ok(Outcome {
        scenario: attack.name().to_owned(),
        source: attack.source().to_owned(),
        attacker: true,
        to_ban: ban.as_ref().and_then(|b| since_first(b.created)),
        to_drop: drop_seen.and_then(since_first),
        ban,
    })
}

/// The outcome of every source in `sources` after benign traffic (they are not attackers).
pub fn benign_outcomes(
    app: &Appliance,
    scenario: &str,
    sources: &[String],
) -> Result<Vec<Outcome>> {
    let all = bans(app)?;
    Ok(sources
        .iter()
        .map(|src| Outcome {
            scenario: scenario.to_owned(),
            source: src.clone(),
            attacker: false,
            ban: ban_of(&all, src).cloned(),
            to_ban: None,
            to_drop: None,
        })
        .collect())
}

/// After an attack, one more request from the attacker, so a ban that came after the tool finished still
/// shows XDP drops; returns the ban's kernel counter afterwards (0 without a ban).
pub fn probe_attacker(lab: &Lab, app: &Appliance, attack: Attack) -> Result<u64> {
    traffic::can_reach_web(&lab.attacker, attack.v6(), Duration::from_millis(500));
    let all = bans(app)?;
    Ok(ban_of(&all, attack.source()).map_or(0, |b| b.packets))
}

/// What `argus-lab evaluate` runs.
#[derive(Debug, Clone)]
pub struct EvaluateParams {
    /// Enforce, or dry-run (simulated bans count as bans, would-drop counters as drops).
    pub mode: Mode,
    /// Length of the benign-only mix.
    pub benign: Duration,
    /// Extra client addresses per family in the benign mix.
    pub aliases: u8,
    /// Seed of the benign mix.
    pub seed: u64,
    /// The attacks, each on a fresh lab while the client runs [`traffic::benign_round`] over and over.
    pub attacks: Vec<Attack>,
    /// Save each scenario's traffic on the gateway's WAN interface here (`<scenario>.pcap`), for
    /// `argus-sentinel --pcap` and `argus-kronos score`.
    pub capture_dir: Option<PathBuf>,
}

/// tcpdump of whole packets on the gateway's WAN interface, saved to `<capture_dir>/<name>.pcap` by
/// [`Self::save`].
struct Capture {
    tcpdump: Managed,
    file: PathBuf,
    dir: PathBuf,
}

impl Capture {
    /// Starts a capture if `params` names a capture directory.
    fn start(lab: &Lab, params: &EvaluateParams) -> Result<Option<Self>> {
        let Some(dir) = params.capture_dir.clone() else {
            return Ok(None);
        };
        let file = lab.path("capture.pcap");
        let mut cmd = lab.gateway.command("tcpdump");
        cmd.args(["-i", "wan0", "-s", "0", "-U", "-w"]).arg(&file);
        let tcpdump = Managed::spawn("tcpdump", cmd, lab.path("capture.log"))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !tcpdump.log().contains("listening on") {
            if Instant::now() > deadline {
                bail!("tcpdump did not start: {}", tcpdump.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(Self { tcpdump, file, dir }))
    }

    fn save(mut self, name: &str) -> Result<()> {
        let dir = &self.dir;
        self.tcpdump.signal(nix::sys::signal::Signal::SIGINT)?;
        self.tcpdump.wait()?;
        let slug: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        std::fs::create_dir_all(dir)?;
        let to = dir.join(format!("{slug}.pcap"));
        std::fs::copy(&self.file, &to).with_context(|| format!("write {}", to.display()))?;
        Ok(())
    }
}

/// Runs the benign mix, then every attack, each on a fresh lab and appliance, printing progress to
/// stderr; returns every source's outcome.
pub fn evaluate(params: &EvaluateParams) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    if !params.benign.is_zero() {
        let lab = Lab::new()?;
        let _servers = start_content(&lab)?;
        let sources = benign_sources(&lab, params.aliases)?;
        let app = Appliance::start(&lab, detection_config(&lab, params.mode)?)?;
        let capture = Capture::start(&lab, params)?;
        let scenario = format!(
            "benign mix, {} sources, {} s",
            sources.len(),
            params.benign.as_secs()
        );
        eprintln!("{scenario} …");
        let report = benign_mix(
            &lab.client,
            &sources,
            &MixParams::new(params.benign, params.seed),
        );
        // Let the last flows close and be judged.
        std::thread::sleep(AFTER_ATTACK);
        eprintln!(
            "  {} activities, {} could not run",
            report.activities,
            report.errors.len()
        );
        outcomes.extend(benign_outcomes(&app, &scenario, &sources)?);
        if let Some(c) = capture {
            c.save("benign-mix")?;
        }
    }
    for &attack in &params.attacks {
        eprintln!("{} …", attack.name());
        let lab = Lab::new()?;
        let _servers = start_content(&lab)?;
        let app = Appliance::start(&lab, detection_config(&lab, params.mode)?)?;
        let capture = Capture::start(&lab, params)?;
        let stop = std::sync::atomic::AtomicBool::new(false);
        let outcome = std::thread::scope(|s| {
            let client = s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = traffic::benign_round(&lab.client);
                }
            });
            let outcome = run_attack(&lab, &app, attack);
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = client.join();
            outcome
        })?;
        eprintln!(
            "  banned: {} ({}), after {:?}",
            outcome.banned(),
            outcome.reason().unwrap_or("-"),
            outcome.to_ban
        );
        outcomes.push(outcome);
        let client = format!("benign round during {}", attack.name());
        outcomes.extend(benign_outcomes(
            &app,
            &client,
            &[CLIENT_V4.to_owned(), CLIENT_V6.to_owned()],
        )?);
        if let Some(c) = capture {
            c.save(attack.name())?;
        }
    }
    Ok(outcomes)
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()))
}

/// The outcomes as a Markdown table (attacks, then benign sources grouped by scenario), followed by the
/// false-positive count.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "| scenario | source | banned | reason | first packet → ban | → first XDP drop | packets dropped |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for o in outcomes.iter().filter(|o| o.attacker) {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            o.scenario,
            o.source,
            if o.banned() { "y" } else { "n" },
            o.reason().unwrap_or("–"),
            secs(o.to_ban),
            secs(o.to_drop),
            o.ban.as_ref().map_or(0, |b| b.packets),
        ));
    }
    let mut scenarios: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.attacker)
        .map(|o| o.scenario.as_str())
        .collect();
    scenarios.dedup();
    for scenario in &scenarios {
        let of: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| !o.attacker && o.scenario == *scenario)
            .collect();
        let banned: Vec<String> = of
            .iter()
            .filter(|o| o.banned())
            .map(|o| format!("{} ({})", o.source, o.reason().unwrap_or("?")))
            .collect();
        out.push_str(&format!(
            "| {scenario} | {} benign | {} | {} | | | |\n",
            of.len(),
            if banned.is_empty() {
                "n".to_owned()
            } else {
                format!("y: {}", banned.len())
            },
            if banned.is_empty() {
                "–".to_owned()
            } else {
                banned.join(", ")
            },
        ));
    }
    let benign = outcomes.iter().filter(|o| !o.attacker).count();
    let fp = outcomes
        .iter()
        .filter(|o| !o.attacker && o.banned())
        .count();
    let attacks = outcomes.iter().filter(|o| o.attacker).count();
    let expected = |o: &&Outcome| {
        Attack::ALL
            .iter()
            .find(|a| a.name() == o.scenario)
            .is_some_and(|a| a.expected_reason() == o.reason())
    };
    let right = outcomes
        .iter()
        .filter(|o| o.attacker)
        .filter(expected)
        .count();
    out.push_str(&format!(
        "\nAttacks handled as expected: {right} of {attacks}. Benign false positives: {fp} of {benign} benign source observations banned.\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_contain_their_addresses_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(prefix_contains("10.203.1.10/32", ip("10.203.1.10")));
        assert!(!prefix_contains("10.203.1.10/32", ip("10.203.1.20")));
        assert!(prefix_contains("10.203.1.0/24", ip("10.203.1.20")));
        assert!(prefix_contains("fd00:203:1::/64", ip("fd00:203:1::20")));
        assert!(!prefix_contains("fd00:203:1::10/128", ip("fd00:203:1::20")));
        assert!(!prefix_contains("10.203.1.0/24", ip("fd00:203:1::20")));
        assert!(prefix_contains("0.0.0.0/0", ip("10.203.1.20")));
    }

    #[test]
    fn the_mix_draws_every_activity() {
        let mut rng = Rng::new(7);
        let drawn: std::collections::HashSet<_> = (0..500)
            .map(|_| format!("{:?}", weighted(&mut rng)))
            .collect();
        assert_eq!(drawn.len(), Activity::ALL.len());
    }
}

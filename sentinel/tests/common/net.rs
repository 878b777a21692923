//! Network namespaces, veth pairs, child processes and the gateway
//! topology for sentinel's tests. Everything removes itself on drop (also
//! when a test panics). Only 10.203.0.0/16 and fd00:203::/32 are used.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// Runs `cmd args…`, panicking with its stderr on failure.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "`{cmd} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A name unique to this process and call (fits interface-name limits).
pub fn unique_tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:x}{:x}",
        std::process::id() % 0xffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace, deleted on drop (its processes killed first).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name` with loopback up and IPv6 DAD off (so
    /// addresses are usable at once).
    pub fn new(name: &str) -> Self {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        run("ip", &["netns", "add", name]);
        let ns = Self {
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        for key in [
            "net.ipv6.conf.default.accept_dad",
            "net.ipv6.conf.all.accept_dad",
        ] {
            ns.exec("sysctl", &["-qw", &format!("{key}=0")]);
        }
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> args…`.
    pub fn ip(&self, args: &[&str]) -> Output {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs a command inside the namespace and waits for it.
    pub fn exec(&self, cmd: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", &self.name, cmd];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A `Command` running `cmd` inside the namespace.
    pub fn command(&self, cmd: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, cmd]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).output();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair `a` (in `ns_a`) — `b` (in `ns_b`), both up.
pub fn veth(ns_a: &Netns, a: &str, ns_b: &Netns, b: &str) {
    ns_a.ip(&[
        "link",
        "add",
        a,
        "type",
        "veth",
        "peer",
        "name",
        b,
        "netns",
        ns_b.name(),
    ]);
    ns_a.ip(&["link", "set", a, "up"]);
    ns_b.ip(&["link", "set", b, "up"]);
}

/// Adds an address in CIDR notation.
pub fn addr(ns: &Netns, ifname: &str, cidr: &str) {
    if cidr.contains(':') {
        ns.ip(&["-6", "addr", "add", cidr, "dev", ifname, "nodad"]);
    } else {
        ns.ip(&["addr", "add", cidr, "dev", ifname]);
    }
}

/// A child process, SIGKILLed and reaped on drop; output goes to a log.
#[derive(Debug)]
pub struct Managed {
    child: Option<Child>,
    log: PathBuf,
}

impl Managed {
    /// Spawns `cmd` with stdout and stderr to `log`.
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Self {
            child: Some(child),
            log,
        }
    }

    /// Sends `sig` (SIGKILL also reaps the child).
    pub fn signal(&mut self, sig: libc::c_int) {
        if let Some(child) = self.child.as_mut() {
            // SAFETY: kill(2) on our own child's pid.
            assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
            if sig == libc::SIGKILL {
                let _ = child.wait();
                self.child = None;
            }
        }
    }

    /// Waits for the child to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let status = self.child.as_mut().expect("running").wait().unwrap();
        self.child = None;
        status
    }

    /// The output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// client 10.203.21.2 — (wan0) gateway (lan0) — server 10.203.22.2, with
/// fd00:203:21::/64 and fd00:203:22::/64; the gateway forwards.
pub struct Gateway {
    /// The client side (the "internet").
    pub client: Netns,
    /// The gateway running sentinel on wan0 and lan0.
    pub gateway: Netns,
    /// The LAN server.
    pub server: Netns,
}

/// Client's IPv4 address.
pub const CLIENT_V4: &str = "10.203.21.2";
/// Client's IPv6 address.
pub const CLIENT_V6: &str = "fd00:203:21::2";
/// Server's IPv4 address.
pub const SERVER_V4: &str = "10.203.22.2";
/// Server's IPv6 address.
pub const SERVER_V6: &str = "fd00:203:22::2";

impl Gateway {
    /// Builds the topology (root).
    pub fn new() -> Self {
        let tag = unique_tag();
        let g = Self {
            client: Netns::new(&format!("argus-{tag}-c")),
            gateway: Netns::new(&format!("argus-{tag}-g")),
            server: Netns::new(&format!("argus-{tag}-s")),
        };
        veth(&g.client, "eth0", &g.gateway, "wan0");
        veth(&g.gateway, "lan0", &g.server, "eth0");
        for (ns, ifname, v4, v6) in [
            (&g.client, "eth0", "10.203.21.2/24", "fd00:203:21::2/64"),
            (&g.gateway, "wan0", "10.203.21.1/24", "fd00:203:21::1/64"),
            (&g.gateway, "lan0", "10.203.22.1/24", "fd00:203:22::1/64"),
            (&g.server, "eth0", "10.203.22.2/24", "fd00:203:22::2/64"),
        ] {
            addr(ns, ifname, v4);
            addr(ns, ifname, v6);
        }
        for (ns, v4, v6) in [
            (&g.client, "10.203.21.1", "fd00:203:21::1"),
            (&g.server, "10.203.22.1", "fd00:203:22::1"),
        ] {
            ns.ip(&["route", "add", "default", "via", v4]);
            ns.ip(&["-6", "route", "add", "default", "via", v6]);
        }
        g.gateway.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        g.gateway
            .exec("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"]);
        g
    }
}

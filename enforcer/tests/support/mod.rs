//! Root-test support: a namespace pair (argus-tests' namespaces and veths), the XDP data plane
//! attached to its veth, the enforcer process, a kronos stand-in and argusctl.
//!
//! Traffic stays between the two namespaces a test creates (10.203.0.0/16, fd00:203::/32); pins
//! live on a private bpffs. Everything is removed in `Drop`, also when a test panics.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::fs::File;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use argus_proto::{
    Connection, EnforcerMessage, Evidence, KronosMessage, PeerRole, Reason, Scores, UnixTimeNs,
    Verdict, DEFAULT_MAX_FRAME_BYTES,
};
use argus_sentinel_common::program::{Dataplane, MapSizes};
use argus_tests::netns::{addr, veth, Netns};
use argus_tests::unique_tag;
use aya::programs::XdpMode;
use tokio::net::UnixStream;

/// How long a test waits for something that normally takes milliseconds before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Two namespaces joined by a veth: `a` (the remote side, "attacker") and `b` (the appliance side,
/// where the XDP program sits on `vb`). Both are deleted on drop.
pub struct NetPair {
    /// Remote namespace.
    pub a: Netns,
    /// Appliance namespace.
    pub b: Netns,
    /// Remote IPv4.
    pub a4: IpAddr,
    /// Appliance IPv4.
    pub b4: IpAddr,
    /// Remote IPv6.
    pub a6: IpAddr,
    /// Appliance IPv6.
    pub b6: IpAddr,
}

impl NetPair {
    /// Creates the namespaces and the link.
    pub fn new() -> Self {
        Self::build().expect("creating the namespace pair")
    }

    fn build() -> anyhow::Result<Self> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        // A subnet per pair, so tests running in parallel never share addresses.
        let subnet = 100 + (std::process::id() % 50) * 3 + n;
        let tag = unique_tag();
        let pair = Self {
            a: Netns::new(&format!("argus-enf-a-{tag}"))?,
            b: Netns::new(&format!("argus-enf-b-{tag}"))?,
            a4: format!("10.203.{subnet}.2").parse()?,
            b4: format!("10.203.{subnet}.1").parse()?,
            a6: format!("fd00:203:{subnet:x}::2").parse()?,
            b6: format!("fd00:203:{subnet:x}::1").parse()?,
        };
        veth(&pair.a, "va", &pair.b, "vb")?;
        for (ns, dev, v4, v6) in [
            (&pair.a, "va", pair.a4, pair.a6),
            (&pair.b, "vb", pair.b4, pair.b6),
        ] {
            addr(ns, dev, &format!("{v4}/24"))?;
            addr(ns, dev, &format!("{v6}/64"))?;
        }
        Ok(pair)
    }

    /// Whether `to` answers pings sent from namespace `a`.
    pub fn ping_from_a(&self, to: IpAddr) -> bool {
        self.a.ping(&to.to_string())
    }

    /// The appliance's XDP data plane: the embedded object loaded with its maps pinned in `pin_dir`
    /// and attached (generic mode) to `vb`. Loading happens on a thread that entered namespace `b`,
    /// since the interface is only visible there.
    pub fn attach_xdp(&self, pin_dir: &Path) -> Dataplane {
        let pin_dir = pin_dir.to_owned();
        self.b.run_in(move || {
            let mut dp =
                Dataplane::load(&pin_dir, &MapSizes::default()).expect("loading the XDP object");
            dp.program_mut()
                .attach("vb", XdpMode::Skb)
                .expect("attaching XDP to vb");
            dp
        })
    }
}

/// A directory others (the `nobody` caller) may traverse.
pub fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The real `argus-enforcer` process.
pub struct Enforcer {
    child: Option<Child>,
    /// Its configuration file.
    pub config: PathBuf,
    /// Control socket.
    pub control: PathBuf,
    /// Verdict socket.
    pub verdict: PathBuf,
    /// Database.
    pub db: PathBuf,
    log: PathBuf,
}

impl Enforcer {
    /// Writes a configuration into `dir` (sockets, database) with `pin_dir` and `mode`, then starts
    /// the enforcer and waits until it answers. No read group: only root may use argusctl.
    pub fn start(dir: &Path, pin_dir: &Path, mode: &str) -> Self {
        Self::start_with_read_group(dir, pin_dir, mode, None)
    }

    /// The same with `enforcer.read_group` set.
    pub fn start_with_read_group(
        dir: &Path,
        pin_dir: &Path,
        mode: &str,
        read_group: Option<&str>,
    ) -> Self {
        let config = dir.join("aegis.yaml");
        let yaml = format!(
            "paths:\n  verdict_socket: {d}/verdict.sock\n  control_socket: {d}/control.sock\n  \
             pin_dir: {p}\nsockets:\n  group: null\nlogging:\n  level: debug\n\
             enforcer:\n  mode: {mode}\n  blacklist_db_path: {d}/blacklist.db\n  \
             read_group: {r}\n  reconcile_interval_secs: 2\n\
             metrics:\n  enabled: false\n",
            d = dir.display(),
            p = pin_dir.display(),
            r = read_group.unwrap_or("null"),
        );
        std::fs::write(&config, yaml).unwrap();
        let mut e = Self {
            child: None,
            control: dir.join("control.sock"),
            verdict: dir.join("verdict.sock"),
            db: dir.join("blacklist.db"),
            log: dir.join("enforcer.log"),
            config,
        };
        e.restart();
        e
    }

    /// Starts the process (again) and waits until `argusctl status` answers.
    pub fn restart(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_argus-enforcer"))
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting argus-enforcer");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if self.ctl(&["status"]).0 == 0 {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("argus-enforcer exited with {status}:\n{}", self.log());
            }
            assert!(
                start.elapsed() < PATIENCE,
                "argus-enforcer did not answer:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `argusctl --config … ARGS` as root: (exit code, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        argusctl(None, &self.config, args)
    }

    /// The same as the user `user`.
    pub fn ctl_as(&self, user: &str, args: &[&str]) -> (i32, String, String) {
        argusctl(Some(user), &self.config, args)
    }
}

impl Drop for Enforcer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn argusctl(user: Option<&str>, config: &Path, args: &[&str]) -> (i32, String, String) {
    let bin = env!("CARGO_BIN_EXE_argusctl");
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--", bin]);
            c
        }
        None => Command::new(bin),
    };
    let out = cmd
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("running argusctl");
    (
        out.status.code().expect("argusctl exited normally"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A ban verdict against `source` with non-spoofable evidence.
pub fn ban_verdict(id: u64, source: IpAddr, reason: Reason) -> Verdict {
    let evidence = Evidence {
        scores: Scores {
            anomaly: 4.2,
            ..Scores::default()
        },
        model_version: "root-test".into(),
        top_features: vec![("syn_ratio".into(), 0.97)],
        ..Evidence::default()
    };
    Verdict::host_ban(id, source, reason, evidence, UnixTimeNs::now())
}

/// A kronos stand-in on the verdict socket.
pub struct Kronos {
    rt: tokio::runtime::Runtime,
    conn: Option<Connection<EnforcerMessage, KronosMessage>>,
    socket: PathBuf,
}

impl Kronos {
    /// Connects to `socket`.
    pub fn connect(socket: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut k = Self {
            rt,
            conn: None,
            socket: socket.to_owned(),
        };
        k.conn = Some(k.try_connect().expect("connecting to the verdict socket"));
        k
    }

    fn try_connect(&self) -> Result<Connection<EnforcerMessage, KronosMessage>, String> {
        self.rt.block_on(async {
            let s = UnixStream::connect(&self.socket)
                .await
                .map_err(|e| e.to_string())?;
            Connection::connect(
                s,
                PeerRole::Kronos,
                "verdict socket",
                DEFAULT_MAX_FRAME_BYTES,
            )
            .await
            .map_err(|e| e.to_string())
        })
    }

    /// Sends `v` and waits for its acknowledgement, skipping other messages. `Err` when the
    /// connection broke first (the verdict may or may not be recorded, and is not acknowledged).
    pub fn send(&mut self, v: &Verdict) -> Result<(), String> {
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => self.conn.insert(self.try_connect()?),
        };
        let id = v.id;
        let result = self.rt.block_on(async {
            conn.send(&KronosMessage::Verdict(v.clone()))
                .await
                .map_err(|e| e.to_string())?;
            loop {
                match conn.recv().await.map_err(|e| e.to_string())? {
                    Some(EnforcerMessage::Ack { id: acked }) if acked == id => return Ok(()),
                    Some(_) => continue,
                    None => return Err("connection closed".to_string()),
                }
            }
        });
        if result.is_err() {
            // A real kronos reconnects and sends unacknowledged verdicts again.
            self.conn = None;
        }
        result
    }
}

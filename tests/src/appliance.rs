//! The whole appliance — enforcer, kronos and sentinel — running on the lab's gateway.
//!
//! The processes are the real binaries, started inside the gateway namespace with a generated
//! `aegis.yaml` whose sockets, database and state live in the lab's work directory and whose pins live on
//! the lab's private bpffs.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use argus_config::{Config, Interface, InterfaceRole, Mode};

use crate::lab::Lab;
use crate::process::Managed;

/// One of the three Argus processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// argus-enforcer.
    Enforcer,
    /// argus-kronos.
    Kronos,
    /// argus-sentinel.
    Sentinel,
}

impl Component {
    /// All three, in start order (servers before their clients, though each tolerates any order).
    pub const ALL: [Component; 3] = [Self::Enforcer, Self::Kronos, Self::Sentinel];

    fn binary(self) -> &'static str {
        match self {
            Self::Enforcer => "argus-enforcer",
            Self::Kronos => "argus-kronos",
            Self::Sentinel => "argus-sentinel",
        }
    }

    fn metrics(self) -> argus_metrics::Process {
        match self {
            Self::Enforcer => argus_metrics::Process::Enforcer,
            Self::Kronos => argus_metrics::Process::Kronos,
            Self::Sentinel => argus_metrics::Process::Sentinel,
        }
    }
}

/// Directory holding the workspace's binaries: `ARGUS_BIN_DIR`, else the Cargo target directory this
/// test or tool was built into.
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("ARGUS_BIN_DIR") {
        return Ok(dir.into());
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable has no directory")?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps has no parent")?;
    }
    Ok(dir.to_owned())
}

/// Path of a workspace binary, with a clear error if it was not built.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} is missing: build the workspace first (cargo build --workspace)",
            path.display()
        );
    }
    Ok(path)
}

/// The repository's `models/` directory.
pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// The lab's configuration: gateway interfaces, paths in the lab, the given mode.
pub fn lab_config(lab: &Lab, mode: Mode) -> Config {
    let mut cfg = Config::default();
    cfg.paths.sentinel_socket = lab.path("run/sentinel.sock");
    cfg.paths.verdict_socket = lab.path("run/verdict.sock");
    cfg.paths.control_socket = lab.path("run/control.sock");
    cfg.paths.pin_dir = lab.bpffs.path().join("argus");
    cfg.paths.state_dir = lab.path("state");
    cfg.paths.models_dir = models_dir().canonicalize().unwrap_or_else(|_| models_dir());
    cfg.enforcer.blacklist_db_path = lab.path("state/blacklist.db");
    // Root runs everything in the lab; the packaged groups do not exist here.
    cfg.sockets.group = None;
    // Metrics on their default ports: each lab's gateway has its own loopback, so parallel labs
    // never compete for them.
    cfg.metrics.enabled = true;
    cfg.logging.level = "info".into();
    cfg.enforcer.mode = mode;
    cfg.sentinel.interfaces = vec![
        Interface {
            name: "wan0".into(),
            role: InterfaceRole::Wan,
        },
        Interface {
            name: "lan0".into(),
            role: InterfaceRole::Lan,
        },
    ];
    // Short flow timeouts so a bounded test sees records quickly.
    cfg.sentinel.flows.idle_timeout_secs = 2;
    cfg.sentinel.flows.active_timeout_secs = 5;
    cfg.sentinel.flows.scan_interval_ms = 200;
    cfg
}

/// The running appliance; every process is killed on drop (and the lab removes the rest).
#[derive(Debug)]
pub struct Appliance<'a> {
    lab: &'a Lab,
    config_path: PathBuf,
    config: Config,
    procs: [Option<Managed>; 3],
    restarts: u32,
}

impl<'a> Appliance<'a> {
    /// Writes `config` into the lab and starts the three processes, waiting until each is ready.
    pub fn start(lab: &'a Lab, config: Config) -> Result<Self> {
        std::fs::create_dir_all(lab.path("run"))?;
        std::fs::create_dir_all(lab.path("state"))?;
        let config_path = lab.path("aegis.yaml");
        std::fs::write(&config_path, config.to_yaml())?;
        let mut app = Self {
            lab,
            config_path,
            config,
            procs: [None, None, None],
            restarts: 0,
        };
        for c in Component::ALL {
            app.start_one(c)?;
        }
        Ok(app)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Path of the configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    fn slot(c: Component) -> usize {
        c as usize
    }

    /// Starts one process and waits until it is ready.
    pub fn start_one(&mut self, c: Component) -> Result<()> {
        let mut cmd = self
            .lab
            .gateway
            .command(binary(c.binary())?.to_str().context("path")?);
        cmd.arg("--config").arg(&self.config_path);
        if c == Component::Kronos {
            cmd.arg("serve");
        }
        let log = self
            .lab
            .path(&format!("{}-{}.log", c.binary(), self.restarts));
        self.restarts += 1;
        let proc = Managed::spawn(c.binary(), cmd, log)?;
        self.procs[Self::slot(c)] = Some(proc);
        self.wait_ready(c)
    }

    fn wait_ready(&mut self, c: Component) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match c {
                Component::Enforcer => self.argusctl(&["status"]).is_ok(),
                // A connect, not the file's existence: a killed kronos leaves its socket file behind.
                Component::Kronos => {
                    std::os::unix::net::UnixStream::connect(&self.config.paths.sentinel_socket)
                        .is_ok()
                }
                Component::Sentinel => self.config.sentinel.interfaces.iter().all(|i| {
                    self.config
                        .paths
                        .pin_dir
                        .join("links")
                        .join(&i.name)
                        .exists()
                }),
            };
            let proc = self.procs[Self::slot(c)].as_mut().context("not started")?;
            if ready {
                return Ok(());
            }
            if !proc.is_running() || Instant::now() > deadline {
                bail!(
                    "{} did not become ready; its log:\n{}",
                    c.binary(),
                    proc.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs one process (as a crash would).
    pub fn kill(&mut self, c: Component) -> Result<()> {
        if let Some(p) = self.procs[Self::slot(c)].as_mut() {
            p.signal(nix::sys::signal::Signal::SIGKILL)?;
        }
        Ok(())
    }

    /// Sends SIGTERM to one process and waits for it to exit.
    pub fn stop(&mut self, c: Component) -> Result<()> {
        if let Some(mut p) = self.procs[Self::slot(c)].take() {
            p.signal(nix::sys::signal::Signal::SIGTERM)?;
            p.wait()?;
        }
        Ok(())
    }

    /// The process's log so far.
    pub fn log(&self, c: Component) -> String {
        self.procs[Self::slot(c)]
            .as_ref()
            .map(Managed::log)
            .unwrap_or_default()
    }

    /// Every process's log, for failure reports.
    pub fn logs(&self) -> String {
        Component::ALL
            .iter()
            .map(|c| format!("===== {} =====\n{}", c.binary(), self.log(*c)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Scrapes one process's metrics endpoint (`GET /metrics` on the gateway's loopback).
    pub fn scrape(&self, c: Component) -> Result<String> {
        let addr = c.metrics().listen_addr(self.config.metrics.listen)?;
        let out = self.lab.gateway.exec(
            "curl",
            &["-sSf", "-m", "5", &format!("http://{addr}/metrics")],
        )?;
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Runs `argusctl --config … args…` in the gateway; fails on a non-zero exit.
    pub fn argusctl(&self, args: &[&str]) -> Result<Output> {
        let out = self.argusctl_raw(args)?;
        if !out.status.success() {
            bail!(
                "argusctl {} exited {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }

    /// Runs argusctl and returns its output whatever the exit status.
    pub fn argusctl_raw(&self, args: &[&str]) -> Result<Output> {
        self.lab
            .gateway
            .command(binary("argusctl")?.to_str().context("path")?)
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .output()
            .context("run argusctl")
    }

    /// Runs `argusctl --json args…` and parses its output.
    pub fn argusctl_json(&self, args: &[&str]) -> Result<serde_json::Value> {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.argusctl(&full)?;
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "argusctl {} printed no JSON: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

//! Child processes that are killed when their handle is dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

/// A running child; SIGKILLed and reaped on drop. Its stderr goes to a log file kept for failure reports.
#[derive(Debug)]
pub struct Managed {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Managed {
    /// Spawns `cmd`, sending its stdout and stderr to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Result<Self> {
        let file =
            std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("spawn {name}"))?;
        Ok(Self {
            name: name.to_owned(),
            child: Some(child),
            log,
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// True while the child runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Sends `signal` to the child and, for SIGKILL, reaps it.
    pub fn signal(&mut self, signal: nix::sys::signal::Signal) -> Result<()> {
        if let Some(child) = self.child.as_mut() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            nix::sys::signal::kill(pid, signal).with_context(|| format!("signal {}", self.name))?;
            if signal == nix::sys::signal::Signal::SIGKILL {
                let _ = child.wait();
                self.child = None;
            }
        }
        Ok(())
    }

    /// Waits for the child to exit, returning its status.
    pub fn wait(&mut self) -> Result<std::process::ExitStatus> {
        let child = self.child.as_mut().context("already reaped")?;
        let status = child.wait()?;
        self.child = None;
        Ok(status)
    }

    /// The child's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

//! `argusctl`: the owner's handle on the enforcer.
//!
//! [`parse`] and [`run`] turn arguments into an [`Outcome`] (exit code and output) without touching
//! the process, so the binary stays a thin shell and the behaviour is testable.

pub mod cli;
pub mod output;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argus_config::{Config, ConfigError, DEFAULT_CONFIG_PATH};
use argus_proto::control::ControlErrorKind;
use argus_proto::{
    Connection, ControlRequest, ControlResponse, PeerRole, ProtoError, UnixTimeNs,
    DEFAULT_MAX_FRAME_BYTES,
};
use clap::Parser;
use serde_json::json;
use tokio::net::UnixStream;

use cli::{Action, Cli, ConfigCommand, GenerateCommand};

/// How long argusctl waits for the enforcer's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// argusctl's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// Bad usage or invalid argument (also an invalid configuration); nothing was changed.
    Usage = 1,
    /// Nothing matches (unknown address, no such ban or entry).
    NotFound = 2,
    /// The caller may not do this.
    Denied = 3,
    /// The enforcer could not be reached.
    Unreachable = 4,
    /// The enforcer (or argusctl) failed; nothing was changed.
    Internal = 5,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    fn of(kind: ControlErrorKind) -> Self {
        match kind {
            ControlErrorKind::PermissionDenied => Self::Denied,
            ControlErrorKind::InvalidArgument => Self::Usage,
            ControlErrorKind::NotFound => Self::NotFound,
            ControlErrorKind::Internal => Self::Internal,
        }
    }

    fn kind_name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Usage => "invalid_argument",
            Self::NotFound => "not_found",
            Self::Denied => "permission_denied",
            Self::Unreachable => "unreachable",
            Self::Internal => "internal",
        }
    }
}

/// What argusctl prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code.
    pub exit: Exit,
    /// Printed on standard output.
    pub stdout: String,
    /// Printed on standard error.
    pub stderr: String,
}

impl Outcome {
    fn ok(stdout: String) -> Self {
        Self {
            exit: Exit::Ok,
            stdout,
            stderr: String::new(),
        }
    }

    /// A failure, as JSON on stdout with `--json` (so scripts parse one stream) or a message on stderr.
    fn fail(exit: Exit, message: String, json: bool) -> Self {
        if json {
            let body = json!({ "error": { "kind": exit.kind_name(), "message": message } });
            Self {
                exit,
                stdout: format!("{body:#}\n"),
                stderr: String::new(),
            }
        } else {
            Self {
                exit,
                stdout: String::new(),
                stderr: format!("argusctl: {message}\n"),
            }
        }
    }
}

/// Parses the arguments; usage errors exit 1, `--help` and `--version` exit 0.
pub fn parse(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> Result<Cli, Outcome> {
    Cli::try_parse_from(args).map_err(|e| {
        let text = e.render().to_string();
        if e.use_stderr() {
            Outcome {
                exit: Exit::Usage,
                stdout: String::new(),
                stderr: text,
            }
        } else {
            Outcome::ok(text)
        }
    })
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> Outcome {
    let json = cli.json;
    let req = match cli.command.action() {
        Action::Remote(req) => req,
        Action::Config(ConfigCommand::Check { path }) => {
            let path = path
                .clone()
                .or_else(|| cli.config.clone())
                .unwrap_or_else(|| DEFAULT_CONFIG_PATH.into());
            return config_check(&path, json);
        }
        Action::Generate(what) => return generate(what),
    };
    let socket = match socket_path(&cli) {
        Ok(s) => s,
        Err(e) => return Outcome::fail(Exit::Usage, e.to_string(), json),
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, request(&socket, req)).await {
        Err(_) => Outcome::fail(
            Exit::Unreachable,
            format!(
                "the enforcer at {} did not answer within {}s",
                socket.display(),
                ANSWER_TIMEOUT.as_secs()
            ),
            json,
        ),
        Ok(Err((exit, message))) => Outcome::fail(exit, message, json),
        Ok(Ok(Err(e))) => Outcome::fail(Exit::of(e.kind), e.message, json),
        Ok(Ok(Ok(reply))) if json => Outcome::ok(format!(
            "{:#}\n",
            serde_json::to_value(&reply).expect("replies serialise")
        )),
        Ok(Ok(Ok(reply))) => Outcome::ok(output::render(&reply, UnixTimeNs::now())),
    }
}

/// Man pages (clap_mangen) or a completion script (clap_complete) from the CLI definition itself, so
/// they never drift from `--help`.
fn generate(what: &GenerateCommand) -> Outcome {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    match what {
        GenerateCommand::Man { dir } => {
            let written =
                std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir));
            match written {
                Ok(()) => Outcome::ok(format!("man pages written to {}\n", dir.display())),
                Err(e) => Outcome::fail(Exit::Internal, format!("{}: {e}", dir.display()), false),
            }
        }
        GenerateCommand::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "argusctl", &mut out);
            Outcome::ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

/// The control socket: `--socket`, else from `--config`, else from the default configuration file
/// if there is one, else the built-in default.
fn socket_path(cli: &Cli) -> Result<PathBuf, ConfigError> {
    if let Some(s) = &cli.socket {
        return Ok(s.clone());
    }
    let cfg = match &cli.config {
        Some(p) => Config::load(p)?,
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
            unless_unreadable(Config::load(Path::new(DEFAULT_CONFIG_PATH)))?
        }
        None => Config::default(),
    };
    Ok(cfg.paths.control_socket)
}

/// The default configuration file as loaded, or the built-in defaults if the caller may not read it:
/// the package keeps it to the services' group (it names the management hosts and the allowlist),
/// which read-only users (`enforcer.read_group`) and admins are not in, and its socket path is
/// seldom changed. An explicit `--config` is never replaced.
fn unless_unreadable(loaded: Result<Config, ConfigError>) -> Result<Config, ConfigError> {
    match loaded {
        Err(ConfigError::Read { source, .. })
            if source.kind() == io::ErrorKind::PermissionDenied =>
        {
            Ok(Config::default())
        }
        other => other,
    }
}

/// Sends one request and reads the answer; failures come with their exit code.
async fn request(socket: &Path, req: ControlRequest) -> Result<ControlResponse, (Exit, String)> {
    let stream = UnixStream::connect(socket).await.map_err(|e| {
        let exit = match e.kind() {
            io::ErrorKind::PermissionDenied => Exit::Denied,
            _ => Exit::Unreachable,
        };
        (
            exit,
            format!(
                "cannot reach the enforcer at {}: {e} (is argus-enforcer running? --socket overrides the path)",
                socket.display()
            ),
        )
    })?;
    let server = socket.display().to_string();
    let proto = |e: ProtoError| {
        let exit = match e {
            ProtoError::VersionMismatch { .. } | ProtoError::Decode { .. } => Exit::Internal,
            _ => Exit::Unreachable,
        };
        (exit, e.to_string())
    };
    let mut conn: Connection<ControlResponse, ControlRequest> =
        Connection::connect(stream, PeerRole::Ctl, &server, DEFAULT_MAX_FRAME_BYTES)
            .await
            .map_err(proto)?;
    conn.send(&req).await.map_err(proto)?;
    conn.recv().await.map_err(proto)?.ok_or_else(|| {
        (
            Exit::Unreachable,
            format!("the enforcer at {server} closed the connection without answering"),
        )
    })
}

/// `argusctl config check`: the effective YAML, or every problem with its key path.
fn config_check(path: &Path, json: bool) -> Outcome {
    match Config::load(path) {
        Ok(cfg) if json => Outcome::ok(format!(
            "{:#}\n",
            json!({ "ok": true, "path": path, "config": cfg })
        )),
        Ok(cfg) => Outcome {
            exit: Exit::Ok,
            stdout: cfg.to_yaml(),
            stderr: format!("{}: configuration is valid\n", path.display()),
        },
        Err(e) if json => {
            let problems: Vec<_> = match &e {
                ConfigError::Invalid { problems, .. } => problems
                    .iter()
                    .map(|p| json!({ "key": p.key, "message": p.message }))
                    .collect(),
                other => vec![json!({ "key": null, "message": other.to_string() })],
            };
            Outcome {
                exit: Exit::Usage,
                stdout: format!(
                    "{:#}\n",
                    json!({ "ok": false, "path": path, "errors": problems })
                ),
                stderr: String::new(),
            }
        }
        Err(e) => Outcome::fail(Exit::Usage, e.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        parse(std::iter::once("argusctl").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn usage_errors_exit_1_and_help_exits_0() {
        let e = parse(["argusctl", "block", "10.203.1.300"]).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(e.stderr.contains("not an address"), "{}", e.stderr);
        let e = parse(["argusctl", "frobnicate"]).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        let h = parse(["argusctl", "--help"]).unwrap_err();
        assert_eq!(h.exit, Exit::Ok);
        assert!(h.stdout.contains("4 enforcer unreachable"), "{}", h.stdout);
        let v = parse(["argusctl", "--version"]).unwrap_err();
        assert_eq!(v.exit, Exit::Ok);
    }

    #[tokio::test]
    async fn man_pages_and_completions_come_from_the_cli_definition() {
        let dir = tempfile::tempdir().unwrap();
        let man = dir.path().join("man");
        let out = run(cli(&["generate", "man", man.to_str().unwrap()])).await;
        assert_eq!(out.exit, Exit::Ok, "{}", out.stderr);
        let page = std::fs::read_to_string(man.join("argusctl.1")).unwrap();
        assert!(page.contains(".TH argusctl"), "{page}");
        assert!(page.contains("unblock"), "{page}");
        let sub = std::fs::read_to_string(man.join("argusctl-unblock.1")).unwrap();
        assert!(sub.contains("false positive"), "{sub}");
        for shell in ["bash", "zsh", "fish"] {
            let out = run(cli(&["generate", "completions", shell])).await;
            assert_eq!(out.exit, Exit::Ok);
            assert!(out.stdout.contains("unblock"), "{shell}: {}", out.stdout);
        }
    }

    #[test]
    fn an_unreadable_default_config_means_the_default_socket() {
        let denied = ConfigError::Read {
            path: DEFAULT_CONFIG_PATH.into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(unless_unreadable(Err(denied)).unwrap(), Config::default());
        let broken = Config::from_yaml("enforcer: [\n", DEFAULT_CONFIG_PATH);
        assert!(
            unless_unreadable(broken).is_err(),
            "a bad file is still an error"
        );
    }

    #[tokio::test]
    async fn an_absent_enforcer_exits_4_with_the_socket_named() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("control.sock");
        let out = run(cli(&["--socket", sock.to_str().unwrap(), "status"])).await;
        assert_eq!(out.exit, Exit::Unreachable);
        assert!(
            out.stderr.contains(sock.to_str().unwrap()),
            "{}",
            out.stderr
        );
        let out = run(cli(&[
            "--socket",
            sock.to_str().unwrap(),
            "--json",
            "status",
        ]))
        .await;
        assert_eq!(out.exit, Exit::Unreachable);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["error"]["kind"], "unreachable");
    }

    #[tokio::test]
    async fn config_check_prints_the_effective_yaml_or_the_key_paths() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yaml");
        std::fs::write(&good, "enforcer:\n  mode: enforce\n").unwrap();
        let out = run(cli(&["config", "check", good.to_str().unwrap()])).await;
        assert_eq!(out.exit, Exit::Ok, "{}", out.stderr);
        assert!(out.stdout.contains("mode: enforce"), "{}", out.stdout);
        assert!(
            out.stdout.contains("dry_run_duration_days: 7"),
            "defaults filled in"
        );

        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            "enforcer:\n  max_ttl_secs: 0\n  ipv6_ban_prefix: 200\n",
        )
        .unwrap();
        let out = run(cli(&["--config", bad.to_str().unwrap(), "config", "check"])).await;
        assert_eq!(out.exit, Exit::Usage);
        assert!(
            out.stderr.contains("enforcer.max_ttl_secs"),
            "{}",
            out.stderr
        );
        let out = run(cli(&["--json", "config", "check", bad.to_str().unwrap()])).await;
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["ok"], false);
        let keys: Vec<&str> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        assert!(keys.contains(&"enforcer.ipv6_ban_prefix"), "{keys:?}");

        let out = run(cli(&["config", "check", "/nonexistent/aegis.yaml"])).await;
        assert_eq!(out.exit, Exit::Usage);
        assert!(
            out.stderr.contains("/nonexistent/aegis.yaml"),
            "{}",
            out.stderr
        );
    }

    #[tokio::test]
    async fn a_bad_config_for_the_socket_is_a_usage_error() {
        let out = run(cli(&["--config", "/nonexistent/aegis.yaml", "status"])).await;
        assert_eq!(out.exit, Exit::Usage);
        assert!(
            out.stderr.contains("/nonexistent/aegis.yaml"),
            "{}",
            out.stderr
        );
    }
}

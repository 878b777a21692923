//! The `argusctl` command line (clap derive) and its translation into control requests.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use argus_proto::control::ModeSetting;
use argus_proto::ControlRequest;
use clap::{Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

/// Control the Argus enforcer.
///
/// Exit codes: 0 ok, 1 usage or invalid argument (also an invalid configuration), 2 not found,
/// 3 permission denied, 4 enforcer unreachable, 5 internal error.
#[derive(Debug, Parser)]
#[command(name = "argusctl", version, about, long_about)]
pub struct Cli {
    /// Configuration file, read for the control socket's path [default: /etc/argus/aegis.yaml].
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Control socket, instead of `paths.control_socket` from the configuration.
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mode, dry-run days left, XDP mode per interface, counters, process health.
    Status,
    /// Active bans, with the kernel's hit counters.
    List {
        /// Include simulated (dry-run) bans.
        #[arg(long)]
        simulated: bool,
        /// Include expired and unblocked bans.
        #[arg(long)]
        history: bool,
    },
    /// Ban a prefix or address by hand.
    Block {
        /// Address or prefix (10.0.0.1, 10.0.0.0/24, fd00::/64).
        #[arg(value_parser = parse_prefix)]
        prefix: IpNet,
        /// How long (90, 90s, 30m, 2h, 7d); enforcer.default_ttl_secs when absent.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<u64>,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a ban at once and record it as a false positive.
    Unblock {
        /// The banned prefix, or an address inside it.
        #[arg(value_parser = parse_prefix)]
        prefix: IpNet,
        /// Also allowlist the prefix for this long (90s, 30m, 2h, 7d).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        allow_for: Option<u64>,
    },
    /// Never ban a prefix or address (checked first by the data plane too).
    Allow {
        /// Address or prefix.
        #[arg(value_parser = parse_prefix)]
        prefix: IpNet,
        /// A note, e.g. whose device it is.
        #[arg(long)]
        comment: Option<String>,
        /// Expiry (90s, 30m, 2h, 7d); permanent when absent.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<u64>,
    },
    /// Remove an allowlist entry.
    Disallow {
        /// The allowlisted prefix.
        #[arg(value_parser = parse_prefix)]
        prefix: IpNet,
    },
    /// The allowlist, with the anti-lockout entries.
    Allowlist,
    /// Why an address was banned: scores, model, features, sample flows.
    Explain {
        /// The address.
        ip: IpAddr,
    },
    /// What the dry-run would have blocked, and who of it is allowlisted now.
    Report,
    /// Show the mode, or change it.
    Mode {
        /// The new mode.
        set: Option<ModeArg>,
    },
    /// Ask kronos to re-fit its baseline model now.
    Refit,
    /// Configuration commands (local; the enforcer is not contacted).
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Man pages and shell completions, for packaging (local).
    #[command(hide = true)]
    Generate {
        /// What to generate.
        #[command(subcommand)]
        what: GenerateCommand,
    },
}

/// `argusctl generate …`.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum GenerateCommand {
    /// Write argusctl.1 and one page per subcommand (argusctl-list.1 …) into DIR.
    Man {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
    /// Print the completion script for SHELL.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `argusctl config …`.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum ConfigCommand {
    /// Load a configuration and print the effective YAML, or its errors with key paths.
    Check {
        /// The file [default: --config, else /etc/argus/aegis.yaml].
        path: Option<PathBuf>,
    },
}

/// A mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Dry-run for the configured period from the first start, then enforce.
    Auto,
    /// Drop banned sources.
    Enforce,
    /// Never drop; simulate bans.
    #[value(alias = "dry_run")]
    DryRun,
}

impl From<ModeArg> for ModeSetting {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Auto => Self::Auto,
            ModeArg::Enforce => Self::Enforce,
            ModeArg::DryRun => Self::DryRun,
        }
    }
}

/// What a command does: ask the enforcer, or work locally.
#[derive(Debug, PartialEq)]
pub enum Action<'a> {
    /// Send this request to the enforcer.
    Remote(ControlRequest),
    /// A local configuration command.
    Config(&'a ConfigCommand),
    /// Generate man pages or completions.
    Generate(&'a GenerateCommand),
}

impl Command {
    /// What this command does.
    pub fn action(&self) -> Action<'_> {
        Action::Remote(match self {
            Self::Status => ControlRequest::Status,
            Self::List { simulated, history } => ControlRequest::List {
                simulated: *simulated,
                history: *history,
            },
            Self::Block {
                prefix,
                ttl,
                reason,
            } => ControlRequest::Block {
                prefix: *prefix,
                ttl_secs: *ttl,
                comment: reason.clone(),
            },
            Self::Unblock { prefix, allow_for } => ControlRequest::Unblock {
                prefix: *prefix,
                allow_for_secs: *allow_for,
            },
            Self::Allow {
                prefix,
                comment,
                ttl,
            } => ControlRequest::Allow {
                prefix: *prefix,
                comment: comment.clone(),
                ttl_secs: *ttl,
            },
            Self::Disallow { prefix } => ControlRequest::Disallow { prefix: *prefix },
            Self::Allowlist => ControlRequest::Allowlist,
            Self::Explain { ip } => ControlRequest::Explain { ip: *ip },
            Self::Report => ControlRequest::Report,
            Self::Mode { set } => ControlRequest::Mode {
                set: set.map(ModeSetting::from),
            },
            Self::Refit => ControlRequest::Refit,
            Self::Config { command } => return Action::Config(command),
            Self::Generate { what } => return Action::Generate(what),
        })
    }
}

/// An address (as its host prefix) or a prefix without host bits.
pub fn parse_prefix(s: &str) -> Result<IpNet, String> {
    if let Ok(addr) = IpAddr::from_str(s) {
        return Ok(IpNet::from(addr.to_canonical()));
    }
    let net = IpNet::from_str(s).map_err(|_| {
        format!("{s:?} is not an address (10.0.0.1, fd00::1) or a prefix (10.0.0.0/24, fd00::/64)")
    })?;
    if net.trunc() != net {
        return Err(format!(
            "{s} has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// A positive duration: seconds, or a number with `s`, `m`, `h` or `d`; returns seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a duration: use e.g. 90, 90s, 30m, 2h or 7d");
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(factor) {
        Some(0) => Err(format!("{s:?}: a duration must be longer than zero")),
        Some(secs) => Ok(secs),
        None => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn prefixes_and_addresses() {
        assert_eq!(
            parse_prefix("10.203.1.1").unwrap().to_string(),
            "10.203.1.1/32"
        );
        assert_eq!(
            parse_prefix("::ffff:10.203.1.1").unwrap().to_string(),
            "10.203.1.1/32"
        );
        assert_eq!(
            parse_prefix("fd00:203::/64").unwrap().to_string(),
            "fd00:203::/64"
        );
        let e = parse_prefix("10.203.1.7/24").unwrap_err();
        assert!(e.contains("did you mean 10.203.1.0/24"), "{e}");
        let e = parse_prefix("10.203.1.300").unwrap_err();
        assert!(e.contains("not an address"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("0")
            .unwrap_err()
            .contains("longer than zero"));
        assert!(parse_duration("2w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("-5").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn global_flags_work_after_the_command() {
        let cli = Cli::try_parse_from(["argusctl", "list", "--simulated", "--json"]).unwrap();
        assert!(cli.json);
        assert_eq!(
            cli.command.action(),
            Action::Remote(ControlRequest::List {
                simulated: true,
                history: false
            })
        );
        let cli = Cli::try_parse_from(["argusctl", "mode", "dry-run"]).unwrap();
        assert_eq!(
            cli.command.action(),
            Action::Remote(ControlRequest::Mode {
                set: Some(ModeSetting::DryRun)
            })
        );
        let cli = Cli::try_parse_from([
            "argusctl",
            "block",
            "10.203.1.1",
            "--ttl",
            "2h",
            "--reason",
            "scanner",
        ])
        .unwrap();
        assert_eq!(
            cli.command.action(),
            Action::Remote(ControlRequest::Block {
                prefix: "10.203.1.1/32".parse().unwrap(),
                ttl_secs: Some(7200),
                comment: Some("scanner".into())
            })
        );
    }
}

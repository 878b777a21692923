//! `argusctl`: see `argusctl --help` (exit codes: 0 ok, 1 usage/invalid argument, 2 not found,
//! 3 permission denied, 4 enforcer unreachable, 5 internal).

use std::io::Write;
use std::process::ExitCode;

use argus_enforcer::ctl::{self, Exit, Outcome};

fn main() -> ExitCode {
    let outcome = match ctl::parse(std::env::args_os()) {
        Err(outcome) => outcome,
        Ok(cli) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(ctl::run(cli)),
            Err(e) => Outcome {
                exit: Exit::Internal,
                stdout: String::new(),
                stderr: format!("argusctl: cannot start the async runtime: {e}\n"),
            },
        },
    };
    // A closed pipe (argusctl list | head) is not an error worth reporting.
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    ExitCode::from(outcome.exit.code())
}

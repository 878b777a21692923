//! `argus-kronos`: the Argus brain. See the library documentation for the design.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use argus_config::{Config, DEFAULT_CONFIG_PATH};
use argus_kronos::learning::StatePaths;
use argus_kronos::model::{self, ActiveModel};
use argus_kronos::service::{self, ServiceOptions};
use argus_kronos::{cnn, features, offline};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "argus-kronos",
    version,
    about = "Argus brain: scores flows and payloads, sends verdicts to the enforcer"
)]
struct Cli {
    /// The configuration file.
    #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sentinel socket and send verdicts to the enforcer (the default).
    Serve,
    /// Fit an anomaly model on a JSON-lines records file (e.g. from `argus-sentinel --pcap FILE --out records.jsonl`).
    Train {
        /// The records file.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the model (its metadata goes to `<output>.json`).
        #[arg(long)]
        output: PathBuf,
    },
    /// Score a records file offline and print the verdicts kronos would send.
    Score {
        /// The records file.
        #[arg(long)]
        input: PathBuf,
        /// The anomaly model; default: the learned model, else the bootstrap model.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Do not load the payload CNN.
        #[arg(long)]
        no_cnn: bool,
        /// Print verdicts as JSON lines instead of one summary line each.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let cfg = Config::load(&cli.config)?;
    argus_metrics::logging::init(&cfg.logging)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cfg),
        Command::Train { input, output } => {
            let report = offline::train(&cfg, &input, &output)?;
            println!("{}", serde_json::to_string_pretty(&report.info)?);
            eprintln!("{:?}", report.counters);
            Ok(())
        }
        Command::Score {
            input,
            model,
            no_cnn,
            json,
        } => score(&cfg, &input, model.as_deref(), no_cnn, json),
    }
}

fn serve(cfg: Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        service::run(cfg, ServiceOptions::default(), shutdown)
            .await
            .context("argus-kronos")
    })
}

fn score(
    cfg: &Config,
    input: &Path,
    model_path: Option<&Path>,
    no_cnn: bool,
    json: bool,
) -> Result<()> {
    let names = features::feature_names(&cfg.kronos.source_windows_secs)?;
    let model = match model_path {
        Some(p) => Some(ActiveModel::load(p, &names, false)?),
        None => model::load_configured(cfg, &StatePaths::new(&cfg.paths.state_dir).model, &names),
    };
    let mut cnn = if no_cnn {
        None
    } else {
        match cnn::load_from_config(cfg) {
            Ok(c) => c,
            Err(e) if cfg.kronos.cnn.required => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "scoring without the payload CNN");
                None
            }
        }
    };
    let counters = offline::score(cfg, input, model, cnn.as_mut(), |v| {
        if json {
            println!("{}", serde_json::to_string(v).expect("verdicts serialise"));
        } else {
            println!("{}", offline::summary_line(v));
        }
    })?;
    eprintln!("{counters:?}");
    Ok(())
}

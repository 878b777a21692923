//! The kronos service end to end, in-process: a temp config with sockets in a temp dir, a fake
//! sentinel sending records and payload samples, a fake enforcer receiving verdicts and status.
//! Timeouts only guard against hangs; nothing asserts on timing.

mod support;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use argus_config::Config;
use argus_kronos::learning::{BaselineStore, StatePaths};
use argus_kronos::service::{self, ServiceOptions};
use argus_kronos::synth::{self, NS};
use argus_kronos::{features, FeatureMatrix};
use argus_proto::socket::{self, Backoff, SocketPermissions};
use argus_proto::{
    Action, Connection, Direction, EnforcerMessage, KronosMessage, KronosStatus, PayloadSample,
    PeerRole, Reason, SensorMessage, SensorStatus, UnixTimeNs, Verdict,
};
use base64::Engine as _;
use tokio::net::UnixListener;
use tokio::sync::oneshot;

const T1: u64 = 1_700_086_400 * NS;
const SERVER: &str = "192.0.2.10";
const SCANNER: &str = "203.0.113.66";
const GUARD: Duration = Duration::from_secs(120);

type EnforcerSide = Connection<KronosMessage, EnforcerMessage>;
type SentinelSide = Connection<(), SensorMessage>;

struct Harness {
    dir: tempfile::TempDir,
    cfg: Config,
    stop: Option<oneshot::Sender<()>>,
    service: tokio::task::JoinHandle<()>,
}

fn config(dir: &Path) -> Config {
    let yaml = format!(
        "paths:\n  sentinel_socket: {d}/run/sentinel.sock\n  verdict_socket: {d}/run/verdict.sock\n  state_dir: {d}/state\n  models_dir: {models}\n\
         sockets:\n  group: null\n\
         metrics:\n  enabled: false\n\
         kronos:\n  cnn:\n    runtime_library: {ort}\n    max_batch: 8\n    batch_latency_ms: 1\n  isolation_forest:\n    bootstrap_model: absent_bootstrap.bin\n",
        d = dir.display(),
        models = support::repo_root().join("models").display(),
        ort = support::onnx_runtime().display(),
    );
    Config::from_yaml(&yaml, "service-test.yaml").expect("valid test config")
}

impl Harness {
    fn start() -> Self {
        // Logs of the service under test: RUST_LOG=argus_kronos=debug to see them.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let (stop, stopped) = oneshot::channel::<()>();
        let options = ServiceOptions {
            status_interval: Duration::from_millis(50),
            backoff: Backoff {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(100),
            },
        };
        let run_cfg = cfg.clone();
        let service = tokio::spawn(async move {
            service::run(run_cfg, options, async {
                let _ = stopped.await;
            })
            .await
            .expect("service runs");
        });
        Self {
            dir,
            cfg,
            stop: Some(stop),
            service,
        }
    }

    async fn sentinel(&self) -> SentinelSide {
        let stream =
            socket::connect_with_backoff(&self.cfg.paths.sentinel_socket, Backoff::default()).await;
        Connection::connect(stream, PeerRole::Sentinel, "kronos", 1 << 20)
            .await
            .expect("handshake with kronos")
    }

    /// Sends each message on its own sentinel connection. One long connection is what sentinel
    /// does, but argus-proto's FrameCodec currently breaks on a frame split across two reads,
    /// which a fast stream of frames provokes; one frame per connection always arrives whole.
    async fn send_all(&self, msgs: impl IntoIterator<Item = SensorMessage>) {
        for m in msgs {
            let mut conn = self.sentinel().await;
            conn.send(&m).await.unwrap();
        }
    }

    fn enforcer_listener(&self) -> UnixListener {
        socket::bind(
            &self.cfg.paths.verdict_socket,
            &SocketPermissions::default(),
        )
        .expect("bind verdict socket")
    }

    /// Stops the service and hands back its (still existing) temp dir.
    async fn stop(mut self) -> tempfile::TempDir {
        self.stop.take().unwrap().send(()).unwrap();
        guard(&mut self.service).await.unwrap();
        self.dir
    }
}

async fn guard<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(GUARD, f)
        .await
        .expect("did not happen in time")
}

async fn accept(listener: &UnixListener) -> EnforcerSide {
    let (stream, _) = guard(listener.accept()).await.unwrap();
    Connection::accept(stream, PeerRole::Kronos, 1 << 20)
        .await
        .expect("kronos handshake")
        .0
}

/// Reads messages until a verdict arrives, collecting statuses on the way.
async fn next_verdict(conn: &mut EnforcerSide, statuses: &mut Vec<KronosStatus>) -> Verdict {
    guard(async {
        loop {
            match conn.recv().await.expect("recv").expect("kronos closed") {
                KronosMessage::Verdict(v) => return v,
                KronosMessage::Status(s) => statuses.push(s),
            }
        }
    })
    .await
}

fn scan() -> Vec<SensorMessage> {
    synth::port_scan(SCANNER, SERVER, 1..=300, T1, 100, 50)
        .into_iter()
        .map(SensorMessage::Flow)
        .collect()
}

/// The first two attack fixtures of the shipped CNN: (class, payload).
fn attack_fixtures() -> Vec<(String, Vec<u8>)> {
    let path = support::repo_root().join("models/fixtures/payload_cnn_fixtures.json");
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let attacks: Vec<(String, Vec<u8>)> = list
        .iter()
        .filter(|f| f["class"] != "benign")
        .take(2)
        .map(|f| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f["payload_b64"].as_str().unwrap())
                .unwrap();
            (f["class"].as_str().unwrap().to_owned(), bytes)
        })
        .collect();
    assert_eq!(attacks.len(), 2, "two attack fixtures");
    attacks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_records_and_payloads_become_verdicts() {
    let h = Harness::start();
    let listener = h.enforcer_listener();
    let mut enforcer = accept(&listener).await;
    let mut statuses = Vec::new();

    h.send_all([SensorMessage::Status(SensorStatus {
        interfaces: vec![("wan0".into(), argus_proto::AttachMode::None)],
        flows_exported: 300,
        flows_shed: 0,
        samples_exported: 2,
        ringbuf_lost: 0,
    })])
    .await;
    let normal = synth::normal_traffic(3, 20, 200, T1, 60);
    h.send_all(normal.iter().cloned().map(SensorMessage::Flow))
        .await;
    h.send_all(scan()).await;

    let ban = loop {
        let v = next_verdict(&mut enforcer, &mut statuses).await;
        enforcer
            .send(&EnforcerMessage::Ack { id: v.id })
            .await
            .unwrap();
        if v.action == Action::Ban {
            break v;
        }
    };
    assert_eq!(ban.source, SCANNER.parse::<std::net::IpAddr>().unwrap());
    assert_eq!(ban.reason, Reason::PortScan);
    assert!(!ban.evidence.example_flows.is_empty());

    // Payload attacks to an inspected port go through the CNN; two different ones ban.
    let attacks = attack_fixtures();
    let attacker = "203.0.113.44";
    for (i, (_, payload)) in (0u16..).zip(&attacks) {
        let mut flow = synth::tcp_flow(attacker, SERVER, 8080, T1 + 70 * NS, NS).key;
        flow.src_port = 41_000 + i;
        let sample = PayloadSample {
            flow,
            direction: Direction::Forward,
            index: 0,
            timestamp: UnixTimeNs(T1 + 70 * NS),
            payload_len: payload.len() as u32,
            bytes: payload.clone(),
        };
        h.send_all([SensorMessage::Sample(sample)]).await;
    }
    let payload_ban = loop {
        let v = next_verdict(&mut enforcer, &mut statuses).await;
        enforcer
            .send(&EnforcerMessage::Ack { id: v.id })
            .await
            .unwrap();
        if v.reason == Reason::PayloadAttack && v.action == Action::Ban {
            break v;
        }
    };
    let cnn = payload_ban
        .evidence
        .scores
        .cnn
        .as_ref()
        .expect("cnn evidence");
    assert_eq!(cnn.class, attacks[1].0);
    assert!(cnn.model.starts_with("cnn-"));

    // Status reports what happened.
    let status = guard(async {
        loop {
            if let Some(s) = statuses
                .iter()
                .rev()
                .find(|s| s.flows_received >= 500 && s.samples_scored >= 2)
            {
                return s.clone();
            }
            if let KronosMessage::Status(s) = enforcer.recv().await.unwrap().unwrap() {
                statuses.push(s);
            }
        }
    })
    .await;
    assert_eq!(status.flows_received, 500);
    assert_eq!(status.flows_shed, 0);
    assert!(status.cnn_loaded, "{status:?}");
    assert!(!status.bootstrap_model);
    assert_eq!(status.model_version, "none (behaviour rules only)");
    assert_eq!(status.sensor.as_ref().map(|s| s.flows_exported), Some(300));
    assert!(status.verdicts_sent >= 2);

    // The learning baseline survives the shutdown: the normal clients are in it, the scanner is not.
    let dir = h.stop().await;
    let names = features::feature_names(&[10, 60, 600]).unwrap();
    let (mut store, _) = BaselineStore::open(
        &StatePaths::new(&dir.path().join("state")).baseline,
        &names,
        200_000,
    )
    .unwrap();
    let rows: FeatureMatrix = store.rows().unwrap().expect("baseline rows were kept");
    assert!(rows.n_rows() >= 20, "{}", rows.n_rows());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_wait_for_the_enforcer_and_unacked_ones_are_resent() {
    let h = Harness::start();
    // The enforcer is not there yet: kronos keeps scoring, its link keeps retrying, and the
    // verdicts wait in the outbox.
    h.send_all(scan()).await;
    let mut statuses = Vec::new();
    // The enforcer comes up; its first connection reads a verdict and never acks it.
    let listener = h.enforcer_listener();
    let mut first = accept(&listener).await;
    let v1 = next_verdict(&mut first, &mut statuses).await;
    assert_eq!(v1.source, SCANNER.parse::<std::net::IpAddr>().unwrap());
    // No ack: the enforcer goes away; the verdict comes again on the next connection.
    drop(first);
    let mut second = accept(&listener).await;
    let again = next_verdict(&mut second, &mut statuses).await;
    assert_eq!(
        again.id, v1.id,
        "the unacknowledged verdict is re-sent first"
    );
    assert_eq!(again, v1);
    // Acknowledged verdicts are done with: the next one is a different verdict.
    second
        .send(&EnforcerMessage::Ack { id: again.id })
        .await
        .unwrap();
    if again.action == Action::Watch {
        let ban = next_verdict(&mut second, &mut statuses).await;
        assert_ne!(ban.id, again.id);
        assert_eq!((ban.action, ban.reason), (Action::Ban, Reason::PortScan));
    }
    h.stop().await;
}

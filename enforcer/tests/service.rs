//! The enforcer's sockets end to end, with in-memory kernel maps (no root needed).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_config::Config;
use argus_enforcer::auth::AccessGroups;
use argus_enforcer::clock::SystemClock;
use argus_enforcer::engine::{Engine, Settings};
use argus_enforcer::kernel::FakeMaps;
use argus_enforcer::lockout::StaticSystem;
use argus_enforcer::service::{self, Endpoints, Listeners};
use argus_enforcer::store::Store;
use argus_proto::control::{ControlErrorKind, ControlReply};
use argus_proto::{
    Connection, ControlRequest, ControlResponse, EnforcerMessage, Evidence, KronosMessage,
    PeerRole, Reason, UnixTimeNs, Verdict, DEFAULT_MAX_FRAME_BYTES,
};
use ipnet::IpNet;
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    _dir: tempfile::TempDir,
    db: PathBuf,
    verdict_socket: PathBuf,
    control_socket: PathBuf,
    maps: FakeMaps,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<Engine>,
}

fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blacklist.db");
    let mut cfg = Config::default();
    cfg.enforcer.mode = argus_config::Mode::Enforce;
    let maps = FakeMaps::new();
    let engine = Engine::new(
        Store::open(&db).unwrap(),
        Box::new(maps.clone()),
        Arc::new(SystemClock),
        Box::new(StaticSystem::default()),
        Settings::from_config(&cfg),
    )
    .unwrap();
    let endpoints = Endpoints {
        verdict_socket: dir.path().join("run/verdict.sock"),
        control_socket: dir.path().join("run/control.sock"),
        socket_group: None,
        max_frame: DEFAULT_MAX_FRAME_BYTES,
    };
    let listeners = Listeners::bind(&endpoints).unwrap();
    let groups = AccessGroups {
        admin: None,
        read: None,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(service::run(engine, listeners, groups, async {
        let _ = stopped.await;
    }));
    Running {
        db,
        verdict_socket: endpoints.verdict_socket,
        control_socket: endpoints.control_socket,
        _dir: dir,
        maps,
        stop: Some(stop),
        server,
    }
}

async fn kronos(path: &Path) -> Connection<EnforcerMessage, KronosMessage> {
    let s = UnixStream::connect(path).await.unwrap();
    Connection::connect(
        s,
        PeerRole::Kronos,
        "verdict socket",
        DEFAULT_MAX_FRAME_BYTES,
    )
    .await
    .unwrap()
}

async fn ctl(path: &Path) -> Connection<ControlResponse, ControlRequest> {
    let s = UnixStream::connect(path).await.unwrap();
    Connection::connect(s, PeerRole::Ctl, "control socket", DEFAULT_MAX_FRAME_BYTES)
        .await
        .unwrap()
}

fn verdict(id: u64) -> Verdict {
    let source: IpAddr = format!("10.203.{}.{}", 10 + id / 200, 1 + id % 200)
        .parse()
        .unwrap();
    Verdict::host_ban(
        id,
        source,
        Reason::PortScan,
        Evidence::default(),
        UnixTimeNs::now(),
    )
}

/// Whether the evidence of verdict `id` is committed, read through a separate connection.
fn committed(db: &Path, id: u64) -> bool {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM evidence WHERE verdict_id = ?1",
        [id as i64],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_verdict_is_acknowledged_only_once_committed() {
    let mut run = start();
    let mut k = kronos(&run.verdict_socket).await;
    for id in 0..60 {
        k.send(&KronosMessage::Verdict(verdict(id))).await.unwrap();
        assert_eq!(k.recv().await.unwrap(), Some(EnforcerMessage::Ack { id }));
        assert!(
            committed(&run.db, id),
            "verdict {id} acknowledged before commit"
        );
    }
    assert_eq!(run.maps.blocks().len(), 60);
    run.stop.take().unwrap().send(()).unwrap();
    let engine = run.server.await.unwrap();
    assert_eq!(engine.counts().active, 60);
    assert!(!run.verdict_socket.exists(), "socket files are removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_verdict_streams_are_acknowledged_in_order() {
    let mut run = start();
    let mut k = kronos(&run.verdict_socket).await;
    for id in 0..300 {
        k.send(&KronosMessage::Verdict(verdict(id))).await.unwrap();
        assert_eq!(k.recv().await.unwrap(), Some(EnforcerMessage::Ack { id }));
    }
    // Pipelined: everything is sent before any acknowledgement is read.
    for id in 300..600 {
        k.send(&KronosMessage::Verdict(verdict(id))).await.unwrap();
    }
    for id in 300..600 {
        assert_eq!(k.recv().await.unwrap(), Some(EnforcerMessage::Ack { id }));
        assert!(
            committed(&run.db, id),
            "verdict {id} acknowledged before commit"
        );
    }
    run.stop.take().unwrap().send(()).unwrap();
    run.server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unblock_reaches_kronos_as_a_false_positive_and_refit_is_relayed() {
    let mut run = start();
    let mut c = ctl(&run.control_socket).await;
    // Without kronos a refit cannot be relayed.
    c.send(&ControlRequest::Refit).await.unwrap();
    let e = c.recv().await.unwrap().unwrap().unwrap_err();
    assert_eq!(e.kind, ControlErrorKind::Internal);
    assert!(
        e.message.contains("kronos is not connected"),
        "{}",
        e.message
    );

    let mut k = kronos(&run.verdict_socket).await;
    k.send(&KronosMessage::Verdict(verdict(1))).await.unwrap();
    assert_eq!(
        k.recv().await.unwrap(),
        Some(EnforcerMessage::Ack { id: 1 })
    );

    let banned: IpNet = "10.203.10.2/32".parse().unwrap();
    c.send(&ControlRequest::Unblock {
        prefix: banned,
        allow_for_secs: None,
    })
    .await
    .unwrap();
    let reply = c.recv().await.unwrap().unwrap();
    assert!(matches!(reply, Ok(ControlReply::Done(_))), "{reply:?}");
    assert!(
        run.maps.blocks().is_empty(),
        "lifted in the kernel when the reply arrives"
    );
    match k.recv().await.unwrap() {
        Some(EnforcerMessage::FalsePositive(fb)) => {
            assert_eq!((fb.prefix, fb.reason), (banned, Reason::PortScan));
        }
        other => panic!("expected feedback, got {other:?}"),
    }

    c.send(&ControlRequest::Refit).await.unwrap();
    assert!(c.recv().await.unwrap().unwrap().is_ok());
    assert_eq!(k.recv().await.unwrap(), Some(EnforcerMessage::Refit));

    // Shutting down with both clients still connected completes.
    run.stop.take().unwrap().send(()).unwrap();
    run.server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_recorded_while_kronos_was_away_is_delivered_on_connect() {
    let mut run = start();
    let mut k = kronos(&run.verdict_socket).await;
    k.send(&KronosMessage::Verdict(verdict(5))).await.unwrap();
    assert_eq!(
        k.recv().await.unwrap(),
        Some(EnforcerMessage::Ack { id: 5 })
    );
    drop(k);
    let mut c = ctl(&run.control_socket).await;
    c.send(&ControlRequest::Unblock {
        prefix: "10.203.10.6/32".parse().unwrap(),
        allow_for_secs: None,
    })
    .await
    .unwrap();
    assert!(c.recv().await.unwrap().unwrap().is_ok());
    let mut k = kronos(&run.verdict_socket).await;
    assert!(matches!(
        k.recv().await.unwrap(),
        Some(EnforcerMessage::FalsePositive(_))
    ));
    run.stop.take().unwrap().send(()).unwrap();
    run.server.await.unwrap();
}

/// Runs the argusctl binary against `socket`; returns (exit code, stdout, stderr).
async fn argusctl(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_argusctl"));
    cmd.arg("--socket").arg(socket).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argusctl_commands_exit_codes_and_json() {
    let mut run = start();
    let sock = run.control_socket.clone();

    let (code, out, err) = argusctl(
        &sock,
        &["block", "10.203.4.4", "--ttl", "2h", "--reason", "test"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("blocked 10.203.4.4/32 until"), "{out}");
    assert_eq!(
        run.maps.blocks().get(&"10.203.4.4/32".parse().unwrap()),
        Some(&false)
    );

    let (code, out, _) = argusctl(&sock, &["list"]).await;
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().starts_with("PREFIX"), "{out}");
    assert!(
        out.contains("10.203.4.4/32") && out.contains("manual"),
        "{out}"
    );

    let (code, out, _) = argusctl(&sock, &["list", "--json"]).await;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bans"][0]["prefix"], "10.203.4.4/32");

    let (code, _, err) = argusctl(&sock, &["explain", "10.203.9.9"]).await;
    assert_eq!(code, 2, "unknown address is not found: {err}");
    assert!(err.contains("10.203.9.9 is not banned"), "{err}");

    let (code, out, _) = argusctl(&sock, &["unblock", "10.203.4.4"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("false positive"), "{out}");
    assert!(run.maps.blocks().is_empty());

    let (code, out, _) = argusctl(&sock, &["unblock", "10.203.4.4", "--json"]).await;
    assert_eq!(code, 2, "already lifted");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["kind"], "not_found");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("was unblocked"));

    let (code, _, err) = argusctl(&sock, &["block", "10.203.4.0/16"]).await;
    assert_eq!(code, 1, "host bits set");
    assert!(err.contains("did you mean 10.203.0.0/16"), "{err}");
    let (code, _, err) = argusctl(&sock, &["block", "10.203.4.4", "--ttl", "400d"]).await;
    assert_eq!(code, 1, "longer than max_ttl");
    assert!(err.contains("max_ttl_secs"), "{err}");

    let (code, out, _) = argusctl(&sock, &["mode", "dry-run"]).await;
    assert_eq!(code, 0);
    assert_eq!(out, "mode dry-run (setting dry-run)\n");
    let (code, out, _) = argusctl(&sock, &["status"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("mode") && out.contains("dry-run"), "{out}");
    assert!(run.maps.dry_run());

    run.stop.take().unwrap().send(()).unwrap();
    run.server.await.unwrap();
    let (code, _, err) = argusctl(&sock, &["status"]).await;
    assert_eq!(code, 4, "enforcer gone: {err}");
}

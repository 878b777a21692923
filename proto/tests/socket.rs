//! Socket files: stale removal, refusal to clobber, permissions, backoff, peer credentials.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use argus_proto::socket::{bind, connect_with_backoff, Backoff, PeerCred, SocketPermissions};
use argus_proto::ProtoError;

#[tokio::test]
async fn stale_socket_is_replaced_live_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/argus/x.sock");
    let live = bind(&path, &SocketPermissions::default()).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o660
    );
    let err = bind(&path, &SocketPermissions::default()).unwrap_err();
    assert!(matches!(err, ProtoError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("x.sock"), "{err}");
    drop(live);
    // The file is left behind by the dropped listener: a stale socket.
    assert!(path.exists());
    bind(&path, &SocketPermissions::default()).unwrap();
}

#[tokio::test]
async fn a_regular_file_is_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("important.db");
    std::fs::write(&path, b"data").unwrap();
    let err = bind(&path, &SocketPermissions::default()).unwrap_err();
    assert!(matches!(err, ProtoError::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"data");
}

#[tokio::test]
async fn unknown_group_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sock");
    let perms = SocketPermissions {
        mode: 0o660,
        group: Some("no-such-group-argus".into()),
    };
    let err = bind(&path, &perms).unwrap_err();
    assert!(err.to_string().contains("no-such-group-argus"), "{err}");
}

#[tokio::test]
async fn socket_group_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sock");
    let gid = nix::unistd::getgid();
    let group = nix::unistd::Group::from_gid(gid).unwrap().unwrap().name;
    bind(
        &path,
        &SocketPermissions {
            mode: 0o600,
            group: Some(group),
        },
    )
    .unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), gid.as_raw());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn client_connects_once_the_server_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.sock");
    let p2 = path.clone();
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let l = bind(&p2, &SocketPermissions::default()).unwrap();
        let (s, _) = l.accept().await.unwrap();
        PeerCred::of(&s).unwrap()
    });
    let backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
    };
    let _stream = tokio::time::timeout(
        Duration::from_secs(10),
        connect_with_backoff(&path, backoff),
    )
    .await
    .expect("connected");
    let cred = server.await.unwrap();
    assert_eq!(cred.pid, std::process::id() as i32);
    assert_eq!(cred.uid, nix::unistd::geteuid().as_raw());
    assert!(cred.in_group(nix::unistd::getegid()));
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let b = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_secs(5),
    };
    assert_eq!(b.delay(0), Duration::from_millis(50));
    assert_eq!(b.delay(1), Duration::from_millis(100));
    assert_eq!(b.delay(3), Duration::from_millis(400));
    assert_eq!(b.delay(10), Duration::from_secs(5));
    assert_eq!(b.delay(u32::MAX), Duration::from_secs(5));
}

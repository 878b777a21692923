//! Who may do what on the control socket, decided from the caller's kernel-verified credentials.
//!
//! root and members of `enforcer.admin_group` may do everything; members of `enforcer.read_group` may
//! make read-only requests ([`ControlRequest::is_read_only`]); everyone else is refused.

use std::fmt;

use argus_proto::control::{ControlError, ControlErrorKind};
use argus_proto::socket::{group_id, PeerCred};
use argus_proto::ControlRequest;
use nix::unistd::{Gid, Uid, User};

/// Who did something, as written in the audit log and in `created_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A verdict from kronos.
    Kronos,
    /// The enforcer itself (expiry, eviction, the end of the dry-run period).
    Enforcer,
    /// aegis.yaml.
    Config,
    /// An argusctl caller.
    Ctl {
        /// User id.
        uid: u32,
        /// User name, if the uid has one.
        user: Option<String>,
    },
}

impl Actor {
    /// The argusctl caller with these credentials.
    pub fn ctl(cred: &PeerCred) -> Self {
        let user = User::from_uid(Uid::from_raw(cred.uid))
            .ok()
            .flatten()
            .map(|u| u.name);
        Self::Ctl {
            uid: cred.uid,
            user,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kronos => f.write_str("kronos"),
            Self::Enforcer => f.write_str("enforcer"),
            Self::Config => f.write_str("aegis.yaml"),
            Self::Ctl { uid, user: Some(u) } => write!(f, "argusctl:uid={uid}({u})"),
            Self::Ctl { uid, user: None } => write!(f, "argusctl:uid={uid}"),
        }
    }
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing.
    Denied,
    /// Read-only requests.
    ReadOnly,
    /// Everything.
    Admin,
}

/// The configured groups, resolved once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessGroups {
    /// `enforcer.admin_group`, if it exists.
    pub admin: Option<Gid>,
    /// `enforcer.read_group`, if configured and existing.
    pub read: Option<Gid>,
}

impl AccessGroups {
    /// Resolves the group names; a configured group that does not exist grants nothing, and is
    /// logged so the owner knows why members are refused.
    pub fn resolve(admin: &str, read: Option<&str>) -> Self {
        let lookup = |name: &str, key: &str| {
            let gid = group_id(name);
            if gid.is_none() {
                tracing::warn!(
                    group = name,
                    key,
                    "configured group does not exist; it grants nothing"
                );
            }
            gid
        };
        Self {
            admin: lookup(admin, "enforcer.admin_group"),
            read: read.and_then(|r| lookup(r, "enforcer.read_group")),
        }
    }

    /// What the peer with `cred` may do.
    pub fn access_of(&self, cred: &PeerCred) -> Access {
        if cred.is_root() || self.admin.is_some_and(|g| cred.in_group(g)) {
            Access::Admin
        } else if self.read.is_some_and(|g| cred.in_group(g)) {
            Access::ReadOnly
        } else {
            Access::Denied
        }
    }
}

/// Allows `req` for a caller with `access`, or says why not.
pub fn authorize(access: Access, req: &ControlRequest) -> Result<(), ControlError> {
    let denied = |message: String| {
        Err(ControlError {
            kind: ControlErrorKind::PermissionDenied,
            message,
        })
    };
    match access {
        Access::Admin => Ok(()),
        Access::ReadOnly if req.is_read_only() => Ok(()),
        Access::ReadOnly => denied(
            "permission denied: this request changes the enforcer; it needs root or membership \
             of enforcer.admin_group"
                .into(),
        ),
        Access::Denied => denied(
            "permission denied: argusctl needs root, membership of enforcer.admin_group, or for \
             read-only commands membership of enforcer.read_group"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_may_do_everything_readers_only_read_others_nothing() {
        let block = ControlRequest::Block {
            prefix: "10.203.1.1/32".parse().unwrap(),
            ttl_secs: None,
            comment: None,
        };
        let mode_set = ControlRequest::Mode {
            set: Some(argus_proto::control::ModeSetting::Enforce),
        };
        for req in [&ControlRequest::Status, &block, &mode_set] {
            assert!(authorize(Access::Admin, req).is_ok());
        }
        assert!(authorize(Access::ReadOnly, &ControlRequest::Status).is_ok());
        assert!(authorize(Access::ReadOnly, &ControlRequest::Mode { set: None }).is_ok());
        for req in [&block, &mode_set] {
            let e = authorize(Access::ReadOnly, req).unwrap_err();
            assert_eq!(e.kind, ControlErrorKind::PermissionDenied);
            assert!(e.message.contains("admin_group"), "{}", e.message);
        }
        let e = authorize(Access::Denied, &ControlRequest::Status).unwrap_err();
        assert_eq!(e.kind, ControlErrorKind::PermissionDenied);
    }

    #[test]
    fn root_is_admin_and_an_unknown_uid_without_groups_is_denied() {
        let groups = AccessGroups {
            admin: None,
            read: None,
        };
        let root = PeerCred {
            pid: 1,
            uid: 0,
            gid: 0,
        };
        assert_eq!(groups.access_of(&root), Access::Admin);
        let stranger = PeerCred {
            pid: 1,
            uid: 4_000_000,
            gid: 4_000_000,
        };
        assert_eq!(groups.access_of(&stranger), Access::Denied);
        // Membership by primary group.
        let readers = AccessGroups {
            admin: None,
            read: Some(Gid::from_raw(4_000_000)),
        };
        assert_eq!(readers.access_of(&stranger), Access::ReadOnly);
    }

    #[test]
    fn actors_are_spelled_for_the_audit_log() {
        assert_eq!(Actor::Kronos.to_string(), "kronos");
        let a = Actor::Ctl {
            uid: 0,
            user: Some("root".into()),
        };
        assert_eq!(a.to_string(), "argusctl:uid=0(root)");
    }
}

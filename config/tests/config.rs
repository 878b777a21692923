//! Parsing, defaults and every error path of aegis.yaml.

use argus_config::{Config, ConfigError, InterfaceRole, Mode, DEFAULT_CONFIG_YAML};

fn problems(yaml: &str) -> Vec<String> {
    match Config::from_yaml(yaml, "test.yaml") {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(|p| p.to_string()).collect()
        }
        other => panic!("expected validation problems, got {other:?}"),
    }
}

fn yaml_error(yaml: &str) -> (usize, usize, String) {
    match Config::from_yaml(yaml, "test.yaml") {
        Err(ConfigError::Yaml {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected a YAML error, got {other:?}"),
    }
}

#[test]
fn empty_and_comment_only_files_mean_defaults() {
    assert_eq!(Config::from_yaml("", "e.yaml").unwrap(), Config::default());
    assert_eq!(
        Config::from_yaml("# nothing\n\n", "e.yaml").unwrap(),
        Config::default()
    );
    let d = Config::default();
    assert_eq!(d.enforcer.dry_run_duration_days, 7);
    assert_eq!(d.enforcer.mode, Mode::Auto);
    assert_eq!(d.enforcer.ipv6_ban_prefix, 64);
    assert_eq!(d.enforcer.max_entries, 1 << 20);
    assert!(d.validate().is_empty());
}

#[test]
fn shipped_default_file_is_valid_and_matches_the_defaults() {
    let cfg = Config::from_yaml(DEFAULT_CONFIG_YAML, "config/aegis.yaml").unwrap();
    assert_eq!(cfg.sentinel.interfaces.len(), 1);
    assert_eq!(cfg.sentinel.interfaces[0].name, "eth0");
    assert_eq!(cfg.sentinel.interfaces[0].role, InterfaceRole::Wan);
    let mut expected = Config::default();
    expected.sentinel.interfaces = cfg.sentinel.interfaces.clone();
    assert_eq!(cfg, expected);
}

#[test]
fn every_commented_default_in_the_shipped_file_is_the_real_default() {
    // Uncomment the documented defaults (lines starting with "# " followed by a key) and check the result
    // still equals the built-in defaults, so the comments cannot drift from the code.
    // Only top-level commented blocks count ("# key: value" at column 0); indented examples inside real
    // sections (the second interface) stay comments.
    let uncommented: String = DEFAULT_CONFIG_YAML
        .lines()
        .filter_map(|l| {
            let t = l.strip_prefix("# ")?;
            let (key, _) = t.trim_start().split_once(':')?;
            let is_setting =
                !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            is_setting.then(|| t.to_string())
        })
        .collect::<Vec<_>>()
        .join("\n");
    let cfg = Config::from_yaml(&uncommented, "uncommented.yaml")
        .unwrap_or_else(|e| panic!("uncommented defaults do not parse: {e}\n{uncommented}"));
    assert_eq!(cfg.kronos, Config::default().kronos);
    assert_eq!(cfg.enforcer, Config::default().enforcer);
    assert_eq!(cfg.paths, Config::default().paths);
    assert_eq!(cfg.metrics, Config::default().metrics);
}

#[test]
fn unknown_key_is_an_error_with_its_path_and_position() {
    let (line, column, message) = yaml_error("enforcer:\n  mode: enforce\n  dry_run_days: 3\n");
    assert_eq!(line, 3);
    assert!(column >= 3, "column {column}");
    assert!(message.contains("enforcer"), "{message}");
    assert!(message.contains("dry_run_days"), "{message}");
}

#[test]
fn nested_unknown_key_names_the_full_path() {
    let (line, _, message) = yaml_error("sentinel:\n  flows:\n    idle_timeout: 5\n");
    assert_eq!(line, 3);
    assert!(message.contains("sentinel.flows"), "{message}");
}

#[test]
fn wrong_type_and_bad_enum_are_errors() {
    let (line, _, message) = yaml_error("kronos:\n  anomaly_threshold: high\n");
    assert_eq!(line, 2);
    assert!(message.contains("kronos.anomaly_threshold"), "{message}");
    let (_, _, message) = yaml_error("enforcer:\n  mode: maybe\n");
    assert!(message.contains("enforcer.mode"), "{message}");
    assert!(message.contains("maybe"), "{message}");
}

#[test]
fn bad_cidr_in_allowlist_names_the_entry() {
    let (line, _, message) = yaml_error("allowlist:\n  - 10.203.0.0/16\n  - 10.203.0.0/40\n");
    assert_eq!(line, 3);
    assert!(message.contains("allowlist[1]"), "{message}");
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let (line, column, _) = yaml_error("enforcer:\n  mode: [enforce\n");
    assert!(line >= 2, "line {line}");
    assert!(column > 0);
    let err = Config::from_yaml("enforcer: [\n", "/etc/argus/aegis.yaml").unwrap_err();
    assert!(
        err.to_string().starts_with("/etc/argus/aegis.yaml:"),
        "{err}"
    );
}

#[test]
fn thresholds_must_be_ordered() {
    let p = problems("kronos:\n  anomaly_threshold: 5\n  high_risk_threshold: 2\n");
    assert!(
        p.iter()
            .any(|p| p.starts_with("kronos.high_risk_threshold:")),
        "{p:?}"
    );
}

#[test]
fn paths_must_be_absolute() {
    let p = problems("paths:\n  pin_dir: bpf/argus\nenforcer:\n  blacklist_db_path: bl.db\n");
    assert!(p.iter().any(|p| p.starts_with("paths.pin_dir:")), "{p:?}");
    assert!(
        p.iter()
            .any(|p| p.starts_with("enforcer.blacklist_db_path:")),
        "{p:?}"
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let p = problems(
        "enforcer:\n  ipv6_ban_prefix: 200\n  repeat_offender_factor: 0.5\n  default_ttl_secs: 999999999\n\
         sentinel:\n  payload:\n    sample_bytes: 1500\n    ringbuf_bytes: 5000\n  flows:\n    idle_timeout_secs: 600\n    active_timeout_secs: 60\n",
    );
    for key in [
        "enforcer.ipv6_ban_prefix",
        "enforcer.repeat_offender_factor",
        "enforcer.default_ttl_secs",
        "sentinel.payload.sample_bytes",
        "sentinel.payload.ringbuf_bytes",
        "sentinel.flows.idle_timeout_secs",
    ] {
        assert!(
            p.iter().any(|p| p.starts_with(&format!("{key}:"))),
            "{key} missing from {p:?}"
        );
    }
}

#[test]
fn interface_names_are_checked() {
    let p = problems(
        "sentinel:\n  interfaces:\n    - {name: eth0, role: wan}\n    - {name: eth0, role: lan}\n    - {name: averyveryverylongname, role: lan}\n",
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("sentinel.interfaces[1].name:") && p.contains("twice")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("sentinel.interfaces[2].name:")),
        "{p:?}"
    );
}

#[test]
fn missing_file_names_the_path() {
    let err = Config::load(std::path::Path::new("/nonexistent/argus/aegis.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().contains("/nonexistent/argus/aegis.yaml"),
        "{err}"
    );
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aegis.yaml");
    std::fs::write(&path, "enforcer:\n  mode: dry_run\n").unwrap();
    assert_eq!(Config::load(&path).unwrap().enforcer.mode, Mode::DryRun);
}

#[test]
fn effective_config_round_trips() {
    let mut cfg = Config::from_yaml(DEFAULT_CONFIG_YAML, "d.yaml").unwrap();
    cfg.allowlist.push("fd00:203::/32".parse().unwrap());
    cfg.kronos.cnn.threshold = Some(0.8);
    let again = Config::from_yaml(&cfg.to_yaml(), "effective.yaml").unwrap();
    assert_eq!(again, cfg);
}

#[test]
fn relative_model_paths_resolve_under_models_dir() {
    let cfg = Config::default();
    assert_eq!(
        cfg.model_path(&cfg.kronos.cnn.model),
        std::path::Path::new("/usr/share/argus/models/payload_cnn.onnx")
    );
    assert_eq!(
        cfg.model_path(std::path::Path::new("/opt/m.onnx")),
        std::path::Path::new("/opt/m.onnx")
    );
}

#[test]
fn the_read_group_must_not_be_the_socket_group() {
    let p = problems("sockets:\n  group: argus\nenforcer:\n  read_group: argus\n");
    assert!(
        p.iter()
            .any(|p| p.starts_with("enforcer.read_group:") && p.contains("verdicts")),
        "{p:?}"
    );
    // Separate groups, or no socket group at all, are fine.
    for ok in [
        "enforcer:\n  read_group: ops\n",
        "sockets:\n  group: null\nenforcer:\n  read_group: argus\n",
    ] {
        Config::from_yaml(ok, "test.yaml").unwrap();
    }
    let defaults = Config::default();
    assert_ne!(defaults.enforcer.read_group, defaults.sockets.group);
}

#[test]
fn audit_retention_is_bounded_by_default_and_checked() {
    let e = Config::default().enforcer;
    assert_eq!((e.audit_retention_days, e.audit_max_rows), (90, 500_000));
    Config::from_yaml(
        "enforcer:\n  audit_retention_days: 0\n  audit_max_rows: 0\n",
        "test.yaml",
    )
    .unwrap();
    let p = problems("enforcer:\n  audit_retention_days: 100000\n");
    assert!(
        p.iter()
            .any(|p| p.starts_with("enforcer.audit_retention_days:")),
        "{p:?}"
    );
}

#[test]
fn ban_history_retention_is_bounded_by_default_and_covers_the_dry_run_report() {
    assert_eq!(Config::default().enforcer.ban_history_retention_days, 180);
    Config::from_yaml("enforcer:\n  ban_history_retention_days: 0\n", "test.yaml").unwrap();
    Config::from_yaml(
        "enforcer:\n  ban_history_retention_days: 7\n  dry_run_duration_days: 7\n",
        "test.yaml",
    )
    .unwrap();
    for yaml in [
        "enforcer:\n  ban_history_retention_days: 100000\n",
        "enforcer:\n  ban_history_retention_days: 6\n  dry_run_duration_days: 7\n",
    ] {
        let p = problems(yaml);
        assert!(
            p.iter()
                .any(|p| p.starts_with("enforcer.ban_history_retention_days:")),
            "{yaml}: {p:?}"
        );
    }
}

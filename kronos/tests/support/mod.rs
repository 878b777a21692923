//! Helpers shared by the service-level integration tests.
//!
//! Each test binary compiles its own copy of this module and uses only some helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("kronos/ has a parent")
        .to_path_buf()
}

/// The ONNX Runtime library for tests: `ORT_DYLIB_PATH`, else the onnxruntime wheel in
/// `models/.venv`. Panics with the fix when neither exists: tests that need the runtime fail
/// rather than skip.
pub fn onnx_runtime() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let lib = repo_root().join("models/.venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|pythons| {
        pythons.flatten().find_map(|python| {
            let capi = python.path().join("site-packages/onnxruntime/capi");
            std::fs::read_dir(capi)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so."))
                })
        })
    });
    found.unwrap_or_else(|| {
        panic!(
            "no ONNX Runtime library: set ORT_DYLIB_PATH or run `python3 -m venv models/.venv && models/.venv/bin/pip install onnxruntime` (looked in {})",
            lib.display()
        )
    })
}

//! Compiles `sentinel-ebpf/src/argus_xdp.c` into a BPF object embedded as
//! `XDP_OBJECT`.
//!
//! Needs clang (the `CLANG` environment variable overrides the binary) and the
//! libbpf headers (`libbpf-dev`). The kernel UAPI headers include `<asm/...>`,
//! which Debian-style systems keep under `/usr/include/<multiarch>`; the
//! multiarch triple is derived from the host target below.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let ebpf_dir = manifest_dir.join("../sentinel-ebpf");
    let source = ebpf_dir.join("src/argus_xdp.c");
    let include = ebpf_dir.join("include");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("argus_xdp.o");

    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed={}", include.display());
    for entry in std::fs::read_dir(&include).expect("sentinel-ebpf/include is readable") {
        let path = entry.expect("directory entry").path();
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed=CLANG");

    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    match Command::new(&clang).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`{clang} --version` failed ({}): install clang (apt-get install clang) or set CLANG",
            o.status
        ),
        Err(e) => panic!(
            "cannot run `{clang}` ({e}): the XDP program is built with clang; \
             install it (apt-get install clang libbpf-dev) or set CLANG to its path"
        ),
    }

    let mut cmd = Command::new(&clang);
    cmd.args([
        "-O2", "-g", "-target", "bpfel", "-mcpu=v3", "-Wall", "-Wextra",
    ])
    .arg("-I")
    .arg(&include);
    if let Some(dir) = multiarch_include() {
        cmd.arg("-I").arg(dir);
    }
    cmd.arg("-c").arg(&source).arg("-o").arg(&out);

    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !output.status.success() {
        panic!(
            "compiling {} failed ({}):\n{}\n(is libbpf-dev installed? command: {cmd:?})",
            source.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // clang warnings would otherwise be invisible on success.
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("cargo:warning={line}");
    }
}

/// The directory holding `asm/types.h` for the host, or `None` when the
/// system keeps it directly under `/usr/include` (non-multiarch layouts).
fn multiarch_include() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    // Cargo's TARGET is the Rust triple; Debian's multiarch names differ.
    if let Ok(target) = env::var("TARGET") {
        candidates.extend(rust_to_multiarch(&target));
    }
    for (prog, args) in [
        ("dpkg-architecture", &["-qDEB_HOST_MULTIARCH"][..]),
        ("gcc", &["-print-multiarch"][..]),
    ] {
        if let Ok(o) = Command::new(prog).args(args).output() {
            let s = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if o.status.success() && !s.is_empty() {
                candidates.push(s);
            }
        }
    }
    for triple in candidates {
        let dir = Path::new("/usr/include").join(&triple);
        if dir.join("asm/types.h").exists() {
            return Some(dir);
        }
    }
    if Path::new("/usr/include/asm/types.h").exists() {
        return None;
    }
    panic!(
        "cannot find asm/types.h under /usr/include/<multiarch> or /usr/include/asm: \
         install the kernel UAPI headers (apt-get install linux-libc-dev)"
    );
}

/// Maps a Rust target triple to Debian multiarch triples to try.
fn rust_to_multiarch(target: &str) -> Vec<String> {
    let arch = target.split('-').next().unwrap_or_default();
    let abi = target.rsplit('-').next().unwrap_or_default();
    let deb_arch = match arch {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        "i686" | "i586" => "i386",
        a if a.starts_with("armv7") || a.starts_with("arm") => "arm",
        a if a.starts_with("riscv64") => "riscv64",
        a => a,
    };
    let deb_abi = match abi {
        "gnueabihf" | "musleabihf" => "gnueabihf",
        "gnueabi" | "musleabi" => "gnueabi",
        _ => "gnu",
    };
    vec![format!("{deb_arch}-linux-{deb_abi}")]
}

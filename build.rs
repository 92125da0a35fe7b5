//! Lays the gateway's hot code out together when it is linked.
//!
//! The functions a serving gateway runs are about a quarter of its code, scattered through the
//! rest; the kernel maps code around each page touched, so scattered they kept 7–9 MiB of the
//! binary resident. `link/hot-functions.txt` lists them (written by `bench/hot_functions.py`)
//! and lld's `--symbol-ordering-file` places them first: about 3.6 MiB resident instead
//! (docs/PERFORMANCE.md, fifteenth step). The names are exact symbols, tied to Cargo.lock, the
//! toolchain and the release profile; names a build does not have are passed over silently, so
//! a stale list costs memory, never a build.
//!
//! Only where rustc links with lld by default (x86_64 Linux with glibc, Rust 1.90 and later):
//! another linker may not know the option. `GATEWAY_HOT_ORDER=off` leaves the layout to the
//! linker.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=link/hot-functions.txt");
    println!("cargo:rerun-if-env-changed=GATEWAY_HOT_ORDER");
    let list = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("link")
        .join("hot-functions.txt");
    let off = env::var("GATEWAY_HOT_ORDER").is_ok_and(|v| v == "off");
    if off || !list.is_file() || !links_with_lld() {
        return;
    }
    for arg in [
        format!("-Wl,--symbol-ordering-file={}", list.display()),
        "-Wl,--no-warn-symbol-ordering".to_owned(),
    ] {
        println!("cargo:rustc-link-arg-bin=gemini-gateway={arg}");
    }
}

/// Whether the target is linked by lld: x86_64 GNU/Linux with a rustc of 1.90 or later.
fn links_with_lld() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&out.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}

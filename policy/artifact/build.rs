//! Builds `tokengate-policy-component` for `wasm32-unknown-unknown` and wraps
//! the core module as a component, and builds the proxy-wasm filter
//! (`tokengate-proxy-wasm`) for `wasm32-wasip1`, so a plain `cargo build` needs
//! no other tool.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

const GUEST_PACKAGE: &str = "tokengate-policy-component";
const GUEST_TARGET: &str = "wasm32-unknown-unknown";
const GUEST_PROFILE: &str = "wasm";
const FILTER_PACKAGE: &str = "tokengate-proxy-wasm";
const FILTER_TARGET: &str = "wasm32-wasip1";

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .context("finding the workspace root")?;
    for watched in [
        "policy/src",
        "policy/Cargo.toml",
        "policy/component/src",
        "policy/component/Cargo.toml",
        "policy/proxy-wasm/src",
        "policy/proxy-wasm/Cargo.toml",
        "policy/proxy-wasm/README.md",
        "wit",
        "Cargo.lock",
        // The guest's `wasm` profile.
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let module = build_guest(&root, GUEST_PACKAGE, GUEST_TARGET)?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .context("reading the guest's component-type section")?
        .validate(true)
        .encode()
        .context("wrapping the guest module as a component")?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("tokengate_policy.wasm"), &component)?;
    let digest = hex::encode(Sha256::digest(&component));
    fs::write(out_dir.join("tokengate_policy.sha256"), digest)?;

    // The filter is a plain core module: proxy-wasm hosts load it as built.
    if env::var_os("CARGO_FEATURE_PROXY_WASM_FILTER").is_some() {
        let filter = build_guest(&root, FILTER_PACKAGE, FILTER_TARGET)?;
        fs::write(out_dir.join("tokengate_proxy_wasm.wasm"), &filter)?;
    }
    Ok(())
}

/// Runs a nested cargo on a target directory of its own: the outer cargo
/// holds the lock on the workspace's.
fn build_guest(root: &Path, package: &str, target: &str) -> Result<Vec<u8>> {
    let target_root = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target_dir = target_root.join("guest");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--quiet", "--package", package])
        .args(["--target", target, "--profile", GUEST_PROFILE])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags and wrappers (clippy, coverage) are for the
    // host target; the guest gets none of them.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
    let status = command.status().context("running cargo for the guest")?;
    if !status.success() {
        bail!("building {package} for {target} failed ({status})");
    }

    let wasm = target_dir
        .join(target)
        .join(GUEST_PROFILE)
        .join(format!("{}.wasm", package.replace('-', "_")));
    fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))
}

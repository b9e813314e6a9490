//! The built policy component itself: exports only, small, and the digest
//! the gateway reports is the digest of these bytes.

use sha2::{Digest, Sha256};
use tokengate_policy_artifact::{COMPONENT, COMPONENT_SHA256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// The browser page transfers the component; keep it near the regex crate's size.
const MAX_COMPONENT_BYTES: usize = 1 << 20;

#[test]
fn component_has_exports_only() -> wasmtime::Result<()> {
    let engine = Engine::new(&Config::new())?;
    let component = Component::new(&engine, COMPONENT)?;
    let ty = component.component_type();
    let imports: Vec<&str> = ty.imports(&engine).map(|(name, _)| name).collect();
    assert!(
        imports.is_empty(),
        "the policy must import nothing, found {imports:?}"
    );
    let exports: Vec<&str> = ty.exports(&engine).map(|(name, _)| name).collect();
    assert_eq!(exports, ["tokengate:policy/decide@0.1.0"]);
    Ok(())
}

#[test]
fn component_is_at_most_one_megabyte() {
    assert!(
        COMPONENT.len() <= MAX_COMPONENT_BYTES,
        "the component is {} bytes, over {MAX_COMPONENT_BYTES}",
        COMPONENT.len()
    );
}

#[test]
fn reported_digest_is_the_digest_of_the_bytes() {
    assert_eq!(COMPONENT_SHA256, hex::encode(Sha256::digest(COMPONENT)));
    let runtime = tokengate::policy::PolicyRuntime::new();
    assert!(runtime.is_ok_and(|runtime| runtime.digest() == COMPONENT_SHA256));
}

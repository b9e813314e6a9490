//! Writes the policy component to a file, for tools outside Cargo (jco, the
//! web page's build, `wasm-tools component wit`).

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: write-policy-component OUTPUT.wasm");
        return ExitCode::from(2);
    };
    match std::fs::write(&path, tokengate_policy_artifact::COMPONENT) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("writing {}: {err}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}

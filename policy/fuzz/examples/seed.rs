//! Writes the starting corpora of every fuzz target (this crate's and `host/fuzz`'s) from
//! the decision vectors in `tests/vectors/`, so each run starts from inputs that already
//! reach deep into the parsers instead of from nothing.
//!
//! `cargo run --example seed`; `.ci/fuzz` runs it before fuzzing. It lives here, not in
//! `host/fuzz`, because building anything there builds the whole gateway.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// A token value of the chosen kind the admin API accepts (what the vectors never hold).
const TOKEN: &str = "ip9ul19f8jenb92tji8lo34qt7tb1meo";

#[derive(Default)]
struct Corpora {
    restrictions: BTreeSet<String>,
    canonicalize: BTreeSet<String>,
    authorization: BTreeSet<String>,
    admin_json: BTreeSet<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.join("../..").canonicalize()?;
    let mut corpora = Corpora::default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("tests/vectors"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|e| e == "json"));
    files.sort();
    for path in &files {
        let text = std::fs::read_to_string(path)?;
        let file: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        match file["kind"].as_str() {
            Some("decisions") => decisions(&file, &mut corpora),
            Some("validation") => validation(&file, &mut corpora),
            other => return Err(format!("{}: unknown kind {other:?}", path.display()).into()),
        }
    }
    corpora
        .admin_json
        .insert(json!({ "id": "0123456789abcdef" }).to_string());
    corpora
        .admin_json
        .insert(json!({ "token": TOKEN }).to_string());

    let policy = crate_dir.join("corpus");
    let host = root.join("host/fuzz/corpus");
    for (dir, inputs) in [
        (policy.join("restrictions"), &corpora.restrictions),
        (policy.join("canonicalize"), &corpora.canonicalize),
        (policy.join("authorization"), &corpora.authorization),
        (host.join("admin_json"), &corpora.admin_json),
    ] {
        write_all(&dir, inputs)?;
        println!("{:>5} seeds in {}", inputs.len(), dir.display());
    }
    Ok(())
}

/// A case's section merged field by field over the file's defaults (the vectors' rule).
fn merged(file: &Value, case: &Value, section: &str) -> Map<String, Value> {
    let mut fields = file["defaults"][section]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some(own) = case[section].as_object() {
        fields.extend(own.clone());
    }
    fields
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> &'a str {
    fields.get(name).and_then(Value::as_str).unwrap_or("")
}

fn decisions(file: &Value, corpora: &mut Corpora) {
    for case in file["cases"].as_array().into_iter().flatten() {
        let token = merged(file, case, "token");
        let request = merged(file, case, "request");
        let target = text(&request, "target");
        // The `restrictions` target's input: its fields separated by NUL.
        let fields = [
            text(&token, "limitTo"),
            text(&token, "ip"),
            target,
            text(&request, "method"),
            text(&request, "body"),
            text(&request, "clientIp"),
        ];
        corpora.restrictions.insert(fields.join("\0"));
        corpora.canonicalize.insert(target.to_owned());
        let user = text(&request, "user");
        corpora
            .authorization
            .insert(match text(&request, "scheme") {
                "bearer" => format!("Bearer {TOKEN}"),
                _ => format!("Basic {}", STANDARD.encode(format!("{user}:{TOKEN}"))),
            });
        corpora.admin_json.insert(
            json!({
                "label": case["id"],
                "userName": token.get("user").cloned().unwrap_or(Value::Null),
                "limitTo": text(&token, "limitTo"),
                "ip": text(&token, "ip"),
                "daysUntilExpiry": 30,
            })
            .to_string(),
        );
    }
}

fn validation(file: &Value, corpora: &mut Corpora) {
    for case in file["cases"].as_array().into_iter().flatten() {
        let text = case["text"].as_str().unwrap_or("");
        let field = case["field"].as_str().unwrap_or("limitTo");
        let restrictions = match field {
            "ip" => format!("\0{text}"),
            _ => text.to_owned(),
        };
        corpora.restrictions.insert(restrictions);
        corpora
            .admin_json
            .insert(json!({ "label": case["id"], field: text }).to_string());
    }
}

/// Writes each input to a file named by its hash, so seeding twice adds nothing.
fn write_all(dir: &Path, inputs: &BTreeSet<String>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for input in inputs {
        let mut hasher = DefaultHasher::new();
        input.hash(&mut hasher);
        std::fs::write(dir.join(format!("seed-{:016x}", hasher.finish())), input)?;
    }
    Ok(())
}

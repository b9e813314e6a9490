//! The decision vectors (`tests/vectors/*.json`) as data, and the one checker
//! that every Rust runner (native library, component in wasmtime) goes through.
//!
//! The format is described in `tests/vectors/README.md`; the Node runner in
//! `tests/node/` reads the same files.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Where the vector files live.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// One vector file.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum VectorFile {
    /// Decision cases.
    Decisions {
        /// Merged under each case's sections.
        #[serde(default)]
        defaults: Sections,
        /// The cases.
        cases: Vec<DecisionCase>,
    },
    /// Validation cases.
    Validation {
        /// The cases.
        cases: Vec<ValidationCase>,
    },
}

/// The `token`, `request` and `settings` objects of a case or of defaults.
#[derive(Debug, Default, Deserialize)]
pub struct Sections {
    #[serde(default)]
    token: Map<String, Value>,
    #[serde(default)]
    request: Map<String, Value>,
    #[serde(default)]
    settings: Map<String, Value>,
}

/// A decision case as written.
#[derive(Debug, Deserialize)]
pub struct DecisionCase {
    id: String,
    #[serde(flatten)]
    sections: Sections,
    expect: Value,
}

/// A validation case as written.
#[derive(Debug, Deserialize)]
pub struct ValidationCase {
    id: String,
    field: Field,
    text: String,
    expect: Value,
}

/// Which token text a validation case checks.
#[derive(Debug, Clone, Copy, Deserialize)]
pub enum Field {
    /// The restriction lines.
    #[serde(rename = "limitTo")]
    LimitTo,
    /// The IP rules.
    #[serde(rename = "ip")]
    Ip,
}

/// A decision case after merging its defaults: what a runner is given.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionInput {
    /// The token's bound user.
    pub token_user: Option<String>,
    /// The token's expiry, epoch ms.
    pub valid_until: Option<i64>,
    /// The token's start of validity, epoch ms.
    pub valid_from: Option<i64>,
    /// The restriction lines as typed.
    pub limit_to: String,
    /// The IP rules as typed.
    pub ip: String,
    /// `basic` or `bearer`.
    pub scheme: String,
    /// The presented Basic user.
    pub user: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The raw request target.
    pub target: String,
    /// The JSON body text.
    pub body: Option<String>,
    /// The client address text.
    pub client_ip: String,
    /// Now, epoch ms.
    pub now: i64,
    /// `rest` or `extender`.
    pub scope: String,
    /// The public base URL.
    pub public_base: String,
}

/// The canonical target as a runner saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Canonical {
    /// The checked path.
    pub path: String,
    /// The checked URL.
    pub url: String,
    /// The forwarded query.
    pub query: Option<String>,
    /// The decoded pairs.
    pub query_pairs: Vec<(String, String)>,
}

/// One line of an explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainedLine {
    /// 1-based line number.
    pub line: u32,
    /// Method tag result, none without a tag.
    pub method: Option<bool>,
    /// Whether the URL regex matched.
    pub url: bool,
    /// Each condition's result.
    pub conditions: Vec<bool>,
    /// Whether the whole line matched.
    pub matched: bool,
}

/// What a runner observed for a decision case.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// Canonicalisation refused the target with this reason.
    BadTarget(String),
    /// The token's texts did not compile (a broken vector).
    CompileFailed(Vec<String>),
    /// A decision was reached.
    Decided {
        /// The canonical target.
        canonical: Canonical,
        /// `Ok((line, user))` for allow, `Err(reason)` for deny.
        decision: Result<(Option<u32>, String), String>,
        /// The explanation, one entry per line.
        explain: Vec<ExplainedLine>,
    },
}

/// What a runner observed for a validation case.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// `(line, message)` of every problem.
    pub problems: Vec<(u32, String)>,
    /// For a valid `limitTo`: the lines.
    pub lines: Option<Vec<String>>,
}

/// A way of running the policy: natively or through the component.
pub trait Runner {
    /// Canonicalise, compile, decide and explain one case.
    fn decide(&mut self, input: &DecisionInput) -> Result<Observed, String>;
    /// Validate one text.
    fn validate(&mut self, field: Field, text: &str) -> Result<Validated, String>;
}

/// What a run over every vector file found.
#[derive(Debug, Default)]
pub struct Report {
    /// Decision cases run.
    pub decisions: usize,
    /// Validation cases run.
    pub validations: usize,
    /// One entry per disagreeing case: id, expected, observed.
    pub mismatches: Vec<String>,
}

/// Runs every case of every vector file through `runner`.
pub fn run_all(runner: &mut dyn Runner) -> Result<Report, String> {
    let mut report = Report::default();
    let mut ids = std::collections::BTreeSet::new();
    let mut unique = |id: &str, report: &mut Report| {
        if !ids.insert(id.to_owned()) {
            report.mismatches.push(format!("{id}: duplicate case id"));
        }
    };
    for (name, file) in load()? {
        match file {
            VectorFile::Decisions { defaults, cases } => {
                for case in cases {
                    report.decisions += 1;
                    unique(&case.id, &mut report);
                    let id = format!("{name}:{}", case.id);
                    let input = merge(&defaults, &case.sections)
                        .map_err(|err| format!("{id}: bad case: {err}"))?;
                    let observed = runner.decide(&input);
                    if let Some(mismatch) = check_decision(&case.expect, &observed) {
                        report.mismatches.push(format!("{id}: {mismatch}"));
                    }
                }
            }
            VectorFile::Validation { cases } => {
                for case in cases {
                    report.validations += 1;
                    unique(&case.id, &mut report);
                    let observed = runner.validate(case.field, &case.text);
                    if let Some(mismatch) = check_validation(&case.expect, &observed) {
                        report
                            .mismatches
                            .push(format!("{name}:{}: {mismatch}", case.id));
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Every vector file, by name, in name order.
pub fn load() -> Result<Vec<(String, VectorFile)>, String> {
    let dir = vectors_dir();
    let entries = std::fs::read_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .map_err(|err| format!("{}: {err}", path.display()))?;
            let file =
                serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
            Ok((name, file))
        })
        .collect()
}

fn merge(defaults: &Sections, case: &Sections) -> Result<DecisionInput, serde_json::Error> {
    let section = |base: &Map<String, Value>, over: &Map<String, Value>| {
        let mut merged = base.clone();
        merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged
    };
    let token = section(&defaults.token, &case.token);
    let request = section(&defaults.request, &case.request);
    let settings = section(&defaults.settings, &case.settings);
    let field = |map: &Map<String, Value>, key: &str| map.get(key).cloned().unwrap_or(Value::Null);
    let flat = serde_json::json!({
        "tokenUser": field(&token, "user"),
        "validUntil": field(&token, "validUntil"),
        "validFrom": field(&token, "validFrom"),
        "limitTo": token.get("limitTo").cloned().unwrap_or_else(|| Value::from("")),
        "ip": token.get("ip").cloned().unwrap_or_else(|| Value::from("")),
        "scheme": field(&request, "scheme"),
        "user": field(&request, "user"),
        "method": field(&request, "method"),
        "target": field(&request, "target"),
        "body": field(&request, "body"),
        "clientIp": field(&request, "clientIp"),
        "now": field(&request, "now"),
        "scope": field(&settings, "scope"),
        "publicBase": field(&settings, "publicBase"),
    });
    serde_json::from_value(flat)
}

fn check_decision(expect: &Value, observed: &Result<Observed, String>) -> Option<String> {
    let observed = match observed {
        Ok(observed) => observed,
        Err(err) => return Some(format!("runner failed: {err}")),
    };
    let want = expect
        .get("decision")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mut wrong = String::new();
    match (want, observed) {
        ("bad-target", Observed::BadTarget(reason)) => {
            expect_eq(
                &mut wrong,
                "reason",
                expect.get("reason"),
                &Value::from(reason.as_str()),
            );
        }
        (
            "allow" | "deny",
            Observed::Decided {
                canonical,
                decision,
                explain,
            },
        ) => {
            match (want, decision) {
                ("allow", Ok((line, user))) => {
                    expect_eq(
                        &mut wrong,
                        "line",
                        expect.get("line"),
                        &serde_json::json!(line),
                    );
                    expect_eq(
                        &mut wrong,
                        "user",
                        expect.get("user"),
                        &Value::from(user.as_str()),
                    );
                }
                ("deny", Err(reason)) => {
                    expect_eq(
                        &mut wrong,
                        "reason",
                        expect.get("reason"),
                        &Value::from(reason.as_str()),
                    );
                }
                _ => {
                    let _ = write!(wrong, " decision: expected {want}, got {decision:?};");
                }
            }
            expect_eq(
                &mut wrong,
                "path",
                expect.get("path"),
                &Value::from(canonical.path.as_str()),
            );
            expect_eq(
                &mut wrong,
                "url",
                expect.get("url"),
                &Value::from(canonical.url.as_str()),
            );
            expect_eq(
                &mut wrong,
                "query",
                expect.get("query"),
                &serde_json::json!(canonical.query),
            );
            let pairs: Vec<[&str; 2]> = canonical
                .query_pairs
                .iter()
                .map(|(k, v)| [k.as_str(), v.as_str()])
                .collect();
            expect_eq(
                &mut wrong,
                "queryPairs",
                expect.get("queryPairs"),
                &serde_json::json!(pairs),
            );
            if let Some(lines) = expect.get("explain") {
                let got: Vec<Value> = explain
                    .iter()
                    .map(|line| {
                        serde_json::json!({
                            "line": line.line, "method": line.method, "url": line.url,
                            "conditions": line.conditions, "matched": line.matched,
                        })
                    })
                    .collect();
                expect_eq(&mut wrong, "explain", Some(lines), &Value::Array(got));
            }
        }
        _ => {
            let _ = write!(wrong, " expected {want}, got {observed:?};");
        }
    }
    (!wrong.is_empty()).then_some(wrong)
}

/// Records a difference when the case states an expectation for `what`.
fn expect_eq(wrong: &mut String, what: &str, expected: Option<&Value>, got: &Value) {
    if let Some(expected) = expected.filter(|expected| *expected != got) {
        let _ = write!(wrong, " {what}: expected {expected}, got {got};");
    }
}

fn check_validation(expect: &Value, observed: &Result<Validated, String>) -> Option<String> {
    let observed = match observed {
        Ok(observed) => observed,
        Err(err) => return Some(format!("runner failed: {err}")),
    };
    let mut wrong = String::new();
    let valid = expect
        .get("valid")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if valid {
        if !observed.problems.is_empty() {
            let _ = write!(wrong, " expected valid, got {:?};", observed.problems);
        }
        if let Some(lines) = expect.get("lines") {
            expect_eq(
                &mut wrong,
                "lines",
                Some(lines),
                &serde_json::json!(observed.lines),
            );
        }
    } else {
        let wanted = expect
            .get("problems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if wanted.len() != observed.problems.len() {
            let _ = write!(
                wrong,
                " expected {} problems, got {:?};",
                wanted.len(),
                observed.problems
            );
        }
        for (want, (line, message)) in wanted.iter().zip(&observed.problems) {
            let want_line = want.get("line").and_then(Value::as_u64);
            let contains = want
                .get("contains")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_lowercase();
            if want_line != Some(u64::from(*line)) || !message.to_lowercase().contains(&contains) {
                let _ = write!(
                    wrong,
                    " expected line {want_line:?} containing {contains:?}, got line {line}: {message:?};"
                );
            }
        }
    }
    (!wrong.is_empty()).then_some(wrong)
}

/// Fails with every mismatch listed, and requires the suite's minimum size.
pub fn assert_clean(runner: &str, report: &Report) {
    assert!(
        report.mismatches.is_empty(),
        "{runner}: {} of {} cases disagree with the vectors:\n{}",
        report.mismatches.len(),
        report.decisions + report.validations,
        report.mismatches.join("\n")
    );
    assert!(
        report.decisions >= 250 && report.validations >= 60,
        "{runner}: the vectors must hold at least 250 decision and 60 validation cases, found {} and {}",
        report.decisions,
        report.validations
    );
}

//! The command line's habits through the real `tokengate` binary (issue 16): time flags,
//! tables and `--json`, completions and the man page, progress only on a terminal,
//! and the configuration file with its precedence and its located errors.
//!
//! A terminal is a real pseudo-terminal from util-linux's `script`.

// A test that cannot run its binary, files or terminal has failed: it says which.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use clap::CommandFactory as _;
use http::StatusCode;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use serde_json::Value;
use tokengate::config::file::{ConfigFile, settings};

use crate::gateway::binary::{Process, tokengate_binary};

/// Runs the binary with `args` and no `TOKENGATE_*` variable but `env`.
fn tokengate(args: &[&str], env: &[(&str, &str)]) -> Option<Output> {
    let binary = tokengate_binary()?;
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("TOKENGATE_") {
            command.env_remove(name);
        }
    }
    command.args(args).envs(env.iter().copied());
    Some(
        command
            .stdin(Stdio::null())
            .output()
            .expect("tokengate runs"),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and requires success; stdout.
fn ok(args: &[&str]) -> Option<String> {
    let output = tokengate(args, &[])?;
    assert!(
        output.status.success(),
        "tokengate {args:?}: {}\n{}",
        output.status,
        text(&output.stderr)
    );
    Some(text(&output.stdout))
}

/// A data directory with two tokens (and so two audit records of their creation).
fn data_dir() -> Option<(tempfile::TempDir, String)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data").display().to_string();
    ok(&[
        "token",
        "create",
        "--label",
        "alice's",
        "--user",
        "alice",
        "--data-dir",
        &data,
    ])?;
    ok(&[
        "token",
        "create",
        "--label",
        "spaces only",
        "--limit-to",
        ".*/rest/api/space/.*",
        "--data-dir",
        &data,
    ])?;
    Some((dir, data))
}

/// `command` run on a pseudo-terminal `columns` wide; what the terminal showed.
fn on_terminal(command: &str, columns: u16) -> String {
    let output = Command::new("script")
        .args([
            "-qfec",
            &format!("stty rows 24 cols {columns}; {command}"),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    assert!(
        output.status.success(),
        "{command}: {}",
        text(&output.stderr)
    );
    text(&output.stdout).replace("\r\n", "\n")
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[test]
fn time_flags_take_rfc3339_dates_durations_and_epoch_ms() {
    let Some((_dir, data)) = data_dir() else {
        return;
    };
    let count = |flag: &str, value: &str| -> String {
        ok(&["audit", "--count", "--data-dir", &data, flag, value])
            .expect("binary")
            .trim()
            .to_owned()
    };
    // The issue's example, a date: midnight UTC.
    assert_eq!(count("--from", "2000-01-01"), "2");
    assert_eq!(count("--from", "2999-11-29"), "0");
    assert_eq!(count("--from", "1999-12-31T23:00:00-01:00"), "2");
    assert_eq!(count("--from", "2999-01-01T01:00:00+01:00"), "0");
    assert_eq!(count("--from", "1h"), "2");
    assert_eq!(count("--to", "1h"), "0");
    assert_eq!(count("--to", "1h30m"), "0");
    assert_eq!(count("--from", "now"), "0");
    assert_eq!(count("--from", "0"), "2");
    assert_eq!(count("--to", "0"), "0");
    let ambiguous = tokengate(
        &["audit", "--data-dir", &data, "--from", "2026-11-29T10:00"],
        &[],
    )
    .expect("binary");
    assert!(!ambiguous.status.success());
    let message = text(&ambiguous.stderr);
    assert!(
        message.contains("--from <TIME>") && message.contains("add Z or an offset"),
        "{message}"
    );
}

#[test]
fn lists_are_tables_or_json_and_end_with_a_newline() {
    let Some((_dir, data)) = data_dir() else {
        return;
    };
    // Piped: aligned columns, nothing cut, every line ends with a newline.
    let list = ok(&["token", "list", "--data-dir", &data]).expect("binary");
    assert!(list.ends_with('\n'), "{list:?}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("ID "), "{list}");
    let column = |line: &str, at: usize| -> String { line.chars().skip(at).collect() };
    let label_at = lines[0].chars().take_while(|c| *c != 'L').count();
    assert!(
        lines[1..].iter().all(|line| {
            let label = column(line, label_at);
            label.starts_with("alice's") || label.starts_with("spaces only")
        }),
        "columns are aligned:\n{list}"
    );
    assert!(lines.iter().all(|line| !line.ends_with(' ')), "{list:?}");
    assert!(list.contains(".*/rest/api/space/.*"), "{list}");

    let json = ok(&["token", "list", "--json", "--data-dir", &data]).expect("binary");
    assert!(json.ends_with('\n'));
    let parsed: Value = serde_json::from_str(&json).expect("token list --json is JSON");
    assert_eq!(parsed["tokens"].as_array().map(Vec::len), Some(2));

    let audit = ok(&["audit", "--data-dir", &data]).expect("binary");
    assert!(audit.ends_with('\n'));
    assert!(audit.starts_with("TIME "), "{audit}");
    assert_eq!(audit.lines().count(), 3, "{audit}");
    let records = ok(&["audit", "--json", "--data-dir", &data]).expect("binary");
    assert!(records.ends_with('\n'));
    for line in records.lines() {
        let record: Value = serde_json::from_str(line).expect("one JSON record per line");
        assert!(record["action"].is_string(), "{line}");
    }

    // On a terminal: cut to its width.
    let binary = tokengate_binary().expect("binary");
    let shown = on_terminal(
        &format!(
            "{} token list --data-dir {}",
            shell_quote(&binary.display().to_string()),
            shell_quote(&data)
        ),
        50,
    );
    let rows: Vec<&str> = shown.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 3, "{shown}");
    assert!(rows.iter().all(|row| row.chars().count() <= 50), "{shown}");
    assert!(rows.iter().any(|row| row.ends_with('…')), "{shown}");
}

#[test]
fn completions_and_man_pages_come_from_the_definitions() {
    let Some(bash) = ok(&["completions", "bash"]) else {
        return;
    };
    assert!(bash.ends_with('\n'));
    assert!(
        bash.contains("tokengate") && bash.contains("--upstream"),
        "{bash}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("tokengate.bash");
    std::fs::write(&script, &bash).expect("write");
    let syntax = Command::new("bash").arg("-n").arg(&script).status();
    assert!(syntax.expect("bash runs").success(), "bash -n accepts it");
    for shell in ["zsh", "fish"] {
        let script = ok(&["completions", shell]).expect("binary");
        assert!(script.ends_with('\n'), "{shell}");
        assert!(
            script.contains("audit") && script.contains("serve"),
            "{shell}"
        );
    }
    let refused = tokengate(&["completions", "tcsh"], &[]).expect("binary");
    assert!(!refused.status.success());

    let man = ok(&["man"]).expect("binary");
    assert!(
        man.starts_with(".ie") || man.contains(".TH tokengate 1"),
        "{man}"
    );
    assert!(man.contains("completions") && man.ends_with('\n'));
    let pages = dir.path().join("man");
    ok(&["man", "--dir", &pages.display().to_string()]).expect("binary");
    for page in [
        "tokengate.1",
        "tokengate-serve.1",
        "tokengate-token-create.1",
    ] {
        let text = std::fs::read_to_string(pages.join(page)).expect(page);
        assert!(text.contains(".TH"), "{page}");
    }
}

/// Adds `records` old audit records to a data directory's SQLite file.
fn add_old_records(data: &str, records: u32) {
    let db = rusqlite::Connection::open(Path::new(data).join("tokengate.db")).expect("open");
    db.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {records})
         INSERT INTO audit (time, client_ip, method, url, decision, component)
         SELECT 1000 + i, '10.0.0.1', 'GET', 'https://x/rest/api', 'allow', 'old' FROM n;"
    ))
    .expect("insert");
}

#[test]
fn prune_shows_progress_on_a_terminal_only() {
    let Some((_dir, data)) = data_dir() else {
        return;
    };
    add_old_records(&data, 25_000);
    let piped = tokengate(
        &[
            "audit",
            "prune",
            "--before",
            "2000-01-01",
            "--data-dir",
            &data,
        ],
        &[],
    )
    .expect("binary");
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert_eq!(
        text(&piped.stdout),
        "deleted 25000 audit records before 2000-01-01T00:00:00.000Z\n"
    );
    assert_eq!(text(&piped.stderr), "", "no progress when not a terminal");
    assert_eq!(
        ok(&["audit", "--count", "--data-dir", &data]).expect("binary"),
        "3\n",
        "the two creations and the prune itself are left"
    );

    add_old_records(&data, 25_000);
    let binary = tokengate_binary().expect("binary");
    let shown = on_terminal(
        &format!(
            "{} audit prune --before 1970-01-02 --data-dir {}",
            shell_quote(&binary.display().to_string()),
            shell_quote(&data)
        ),
        120,
    );
    assert!(
        shown.contains("deleted [") && shown.contains("/25,000"),
        "a bar: {shown:?}"
    );
    assert!(shown.contains("deleted 25000 audit records"), "{shown:?}");
}

/// The file that the README shows, by its first line.
fn readme_config() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let start = readme
        .find("```toml\n# /etc/tokengate/tokengate.toml")
        .expect("the README shows a configuration file");
    let body = &readme[start + "```toml\n".len()..];
    body[..body.find("```").expect("closed")].to_owned()
}

fn serve_command() -> clap::Command {
    tokengate::cli::Cli::command()
        .find_subcommand("serve")
        .cloned()
        .expect("serve")
}

#[test]
fn the_readme_shows_every_setting_in_a_valid_file() {
    let example = readme_config();
    let parsed = ConfigFile::parse(Path::new("README.md"), &example, &serve_command());
    assert!(parsed.is_ok(), "{parsed:?}");
    let serve = serve_command();
    let missing: Vec<String> = settings(&serve)
        .into_keys()
        .filter(|key| {
            !example.lines().any(|line| {
                let line = line.trim_start_matches(['#', ' ']);
                line.strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.starts_with(" = "))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "add these settings to the README's configuration file: {missing:?}"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn config_check_names_the_key_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = write(
        dir.path(),
        "good.toml",
        "upstream = \"http://127.0.0.1:9\"\nadmins = [\"admin\"]\npassthrough = true\n",
    );
    let Some(output) = tokengate(&["config", "check", &good.display().to_string()], &[]) else {
        return;
    };
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!("{}: ok (3 settings)\n", good.display())
    );

    let cases = [
        (
            "# settings\n\nupstream = \"http://x\"\nbody-limit = 5\n",
            ":4: body-limit: unknown key; the setting is spelled `body_limit`",
        ),
        (
            "upstream = \"http://x\"\nsurprise = 1\n",
            ":2: surprise: unknown key",
        ),
        (
            "upstream = \"http://x\"\nbody_limit = \"lots\"\n",
            ":2: body_limit: invalid value 'lots'",
        ),
        (
            "upstream = \"http://x\"\n\nbody_limit = 0\n",
            ":3: body_limit: must be above 0 (TOKENGATE_BODY_LIMIT, --body-limit)",
        ),
        (
            "upstream = \"ftp://x\"\n",
            ":1: upstream: `ftp://x` must start with http:// or https://",
        ),
        ("listen = \"127.0.0.1:1\"\n", "--upstream <UPSTREAM>"),
        ("upstream = \n", "line 1"),
    ];
    for (content, expected) in cases {
        let file = write(dir.path(), "bad.toml", content);
        let output =
            tokengate(&["config", "check", &file.display().to_string()], &[]).expect("binary");
        assert!(!output.status.success(), "{content}");
        let message = text(&output.stderr);
        assert!(message.contains(expected), "{content}: {message}");
    }

    // `serve --config` refuses the same file before starting.
    let file = write(
        dir.path(),
        "bad.toml",
        "upstream = \"http://x\"\nsurprise = 1\n",
    );
    let output =
        tokengate(&["serve", "--config", &file.display().to_string()], &[]).expect("binary");
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("bad.toml:2: surprise: unknown key"));

    // The secret is never a flag.
    let output = tokengate(
        &[
            "serve",
            "--upstream",
            "http://x",
            "--upstream-authorization",
            "Basic eA==",
        ],
        &[],
    )
    .expect("binary");
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("not accepted as a flag"));
}

#[tokio::test]
async fn serve_takes_flag_then_environment_then_file_then_default() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    let (upstream, _echo) = tokengate::demo::start_echo().await.expect("echo");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let file = write(
        dir.path(),
        "tokengate.toml",
        &format!(
            "upstream = \"http://{upstream}\"\n\
             data_dir = \"{}\"\n\
             listen = \"127.0.0.1:1\"\n\
             identity_header = \"X-From-File\"\n\
             public_base = \"https://file.example\"\n\
             admins = [\"admin\"]\n",
            data.display()
        ),
    );
    let file = file.display().to_string();
    // `token create` reads its data directory from the same file.
    let token = ok(&[
        "token", "create", "--config", &file, "--label", "t", "--user", "alice",
    ])
    .expect("binary")
    .trim()
    .to_owned();

    let mut serve = Command::new(&binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("TOKENGATE_") {
            serve.env_remove(name);
        }
    }
    let mut serve = Process::spawn(
        serve
            .args(["serve", "--config", &file, "--listen", "127.0.0.1:0"])
            .env("TOKENGATE_PUBLIC_BASE", "https://env.example"),
    );
    // The flag beat the file's listen address (port 1 would not bind).
    let addr = serve.wait_serving().await;
    let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = http::Request::get(format!("http://{addr}/rest/api/space"))
        .header("authorization", crate::gateway::basic("alice", &token))
        .body(Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK, "{}", serve.stderr());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let echoed: Value = serde_json::from_slice(&body).expect("echo JSON");
    // The file's identity header (no flag or variable set it)...
    assert_eq!(echoed["headers"]["x-from-file"], "alice", "{echoed}");
    // ...and the environment's public base over the file's: the audit URL shows it.
    let records = ok(&[
        "audit",
        "--json",
        "--config",
        &file,
        "--decision",
        "allow",
        "--user",
        "alice",
    ])
    .expect("binary");
    let last: Value =
        serde_json::from_str(records.lines().last().expect("a record")).expect("JSON");
    assert_eq!(
        last["url"], "https://env.example/rest/api/space",
        "{records}"
    );
    // The file's header replaced the default one.
    assert_eq!(echoed["headers"].get("x-forwarded-user"), None, "{echoed}");
}

#[test]
fn token_rotate_quota_and_lifetime_violations_on_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data").display().to_string();
    let Some(forever) = ok(&[
        "token",
        "create",
        "--data-dir",
        &data,
        "--label",
        "forever",
        "--user",
        "alice",
    ]) else {
        return;
    };
    let forever = forever.trim().to_owned();
    ok(&[
        "token",
        "create",
        "--data-dir",
        &data,
        "--label",
        "counted",
        "--days",
        "10",
        "--remaining-uses",
        "5",
    ])
    .expect("binary");

    // The limit refuses creation, naming it; older tokens show up as violations.
    let refused = tokengate(
        &["token", "create", "--data-dir", &data, "--label", "new"],
        &[("TOKENGATE_MAX_TOKEN_DAYS", "30")],
    )
    .expect("binary");
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("at most 30 days"),
        "{}",
        text(&refused.stderr)
    );
    let violations = ok(&[
        "token",
        "list",
        "--violations",
        "--max-token-days",
        "30",
        "--json",
        "--data-dir",
        &data,
    ])
    .expect("binary");
    let violations: Value = serde_json::from_str(&violations).expect("JSON");
    let tokens = violations["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 1, "{violations}");
    assert_eq!(tokens[0]["label"], "forever");
    assert!(
        tokens[0]["violation"]
            .as_str()
            .is_some_and(|v| v.contains("never expires"))
    );

    // Rotation prints the new value; the old token is then shown as rotated.
    let new = ok(&["token", "rotate", "--data-dir", &data, "--token", &forever]).expect("binary");
    assert!(new.trim().starts_with("tgk_"), "{new}");
    let list = ok(&["token", "list", "--json", "--data-dir", &data]).expect("binary");
    let list: Value = serde_json::from_str(&list).expect("JSON");
    let tokens = list["tokens"].as_array().expect("tokens");
    let old = tokens
        .iter()
        .find(|t| t["label"] == "forever" && t["rotatedTo"].is_string());
    let successor = tokens.iter().find(|t| t["rotatedFrom"].is_string());
    assert!(old.is_some() && successor.is_some(), "{list}");
    assert!(tokens.iter().any(|t| t["remainingUses"] == 5), "{list}");
    let again = tokengate(
        &["token", "rotate", "--data-dir", &data, "--token", &forever],
        &[],
    )
    .expect("binary");
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("rotated already"),
        "{}",
        text(&again.stderr)
    );
}

//! The Java side: compiles `tests/java/RegexOracle.java` and runs it once on every request,
//! base64 on the wire so patterns and inputs may hold any character.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub(crate) fn b64(text: &str) -> String {
    BASE64.encode(text.as_bytes())
}

/// The message of a `refused <base64>` answer.
pub(crate) fn message(answer: &str) -> String {
    answer
        .strip_prefix("refused ")
        .or_else(|| answer.strip_prefix("error "))
        .and_then(|m| BASE64.decode(m).ok())
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .unwrap_or_else(|| answer.to_string())
}

/// Compiles the oracle, or `None` (skip) when there is no JDK outside CI.
pub(crate) fn compile_oracle() -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/java/RegexOracle.java");
    let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("java-oracle");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(&source)
        .output();
    match javac {
        Ok(output) if output.status.success() => Some(classes),
        Ok(output) => panic!(
            "javac failed on {}: {}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(why) if std::env::var_os("CI").is_some_and(|ci| !ci.is_empty()) => {
            panic!("CI is set but there is no javac ({why}); .ci/run installs default-jdk-headless")
        }
        Err(why) => {
            eprintln!("skipped: no javac ({why}); install a JDK 17 to compare with Java");
            None
        }
    }
}

/// Starts one Java process on every request; the handle yields its answers, one per
/// request (the `u` request answers with many lines, through `end`).
pub(crate) fn start_java(
    classes: &Path,
    requests: Vec<String>,
) -> std::thread::JoinHandle<Vec<String>> {
    let mut child = match Command::new("java")
        .arg("-cp")
        .arg(classes)
        .arg("RegexOracle")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(child) => child,
        Err(why) => panic!("java does not start: {why}"),
    };
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        panic!("no pipes to java");
    };
    // Written and read on threads of their own: Java answers while it reads, both pipes
    // are bounded, and the caller computes meanwhile.
    let input = requests.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    std::thread::spawn(move || {
        let answers: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        assert!(
            matches!(writer.join(), Ok(Ok(()))),
            "writing to java failed"
        );
        let status = child.wait().map(|s| s.success());
        assert!(matches!(status, Ok(true)), "java failed: {status:?}");
        answers
    })
}

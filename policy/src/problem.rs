//! What is wrong with a token's `limitTo` or `ip` text, line by line.
//! Problems are collected, not stopped at, so an administrator sees every one at once.

/// One problem found in a token's `limitTo` or `ip` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the text (lines as split by the policy, blank ones counted).
    pub line: u32,
    /// A sentence for a person, starting with `line N: `.
    pub message: String,
}

impl Problem {
    /// A problem on `line`; the message gets its `line N: ` prefix here.
    pub(crate) fn new(line: u32, sentence: impl AsRef<str>) -> Problem {
        Problem {
            line,
            message: format!("line {line}: {}", sentence.as_ref()),
        }
    }
}

/// Why a token's texts were refused: every problem of each field.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("{}", summary(.limit_to, .ip))]
pub struct CompileError {
    /// The problems of `limitTo`.
    pub limit_to: Vec<Problem>,
    /// The problems of `ip`.
    pub ip: Vec<Problem>,
}

fn summary(limit_to: &[Problem], ip: &[Problem]) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.extend(limit_to.iter().map(|p| format!("limitTo {}", p.message)));
    parts.extend(ip.iter().map(|p| format!("ip {}", p.message)));
    parts.join("; ")
}

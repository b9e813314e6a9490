//! One token's compiled restriction lines and IP rules, built once and reused.
//! Compiling collects every problem of both texts before giving up.

use crate::ip::IpRules;
use crate::limits::{CONDITION_WORK_BUDGET, MAX_CONDITION_BYTES, MAX_LINE_CHARS, MAX_LINES};
use crate::pattern::{PatternSet, Share};
use crate::problem::{CompileError, Problem};
use crate::rule::Rule;
use crate::{condition, lines};

/// One token's compiled restriction lines and IP rules. Compile a token once and reuse
/// this for every request that presents it; it is immutable and cheap to share.
#[derive(Debug, Clone)]
pub struct Rules {
    pub(crate) rules: Vec<Rule>,
    /// All URL regexes in one set, when there are several lines and the set fits its bound.
    pub(crate) url_set: Option<PatternSet>,
    pub(crate) ip: IpRules,
    /// Every distinct path the `[JsonData::…]` conditions read, for one walk of the body.
    pub(crate) json_paths: Vec<Vec<String>>,
    /// How many bytes each condition reads at most (see `CONDITION_WORK_BUDGET`).
    pub(crate) condition_bytes: usize,
}

impl Rules {
    /// Compiles `limit_to` and `ip`; on any problem, every problem of both.
    pub fn compile(limit_to: &str, ip: &str) -> Result<Rules, CompileError> {
        let rules = compile_lines(limit_to);
        let ip = IpRules::parse(ip);
        match (rules, ip) {
            (Ok(rules), Ok(ip)) => {
                let url_set = if rules.len() > 1 {
                    PatternSet::build(rules.iter().map(|r| &r.url))
                } else {
                    None
                };
                let mut json_paths: Vec<Vec<String>> = Vec::new();
                for path in rules.iter().flat_map(Rule::json_paths) {
                    if !json_paths.contains(path) {
                        json_paths.push(path.clone());
                    }
                }
                let condition_bytes = condition_bytes(&rules);
                Ok(Rules {
                    rules,
                    url_set,
                    ip,
                    json_paths,
                    condition_bytes,
                })
            }
            (rules, ip) => Err(CompileError {
                limit_to: rules.err().unwrap_or_default(),
                ip: ip.err().unwrap_or_default(),
            }),
        }
    }

    /// The restriction lines, trimmed, blank ones dropped, in order.
    pub fn lines(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.text.as_str()).collect()
    }

    /// Whether any line has a `[JsonData::…]` condition, so the host knows to read the
    /// body before deciding.
    pub fn needs_body(&self) -> bool {
        self.rules.iter().any(Rule::needs_body)
    }
}

/// The bytes each condition of `rules` may read, so that all of them together cost a
/// decision at most `CONDITION_WORK_BUDGET` (units times bytes), and at most
/// `MAX_CONDITION_BYTES`.
fn condition_bytes(rules: &[Rule]) -> usize {
    let units: usize = rules
        .iter()
        .flat_map(|rule| &rule.conditions)
        .map(|condition| condition.pattern.units)
        .sum();
    (CONDITION_WORK_BUDGET / units.max(1)).min(MAX_CONDITION_BYTES)
}

/// Compiles every non-blank line of a `limitTo` text, or lists every problem.
pub(crate) fn compile_lines(text: &str) -> Result<Vec<Rule>, Vec<Problem>> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    let mut count = 0usize;
    let pieces = lines::split(text);
    let regexes = pieces
        .iter()
        .filter(|piece| !piece.text.is_empty())
        .take(MAX_LINES)
        .count()
        + condition::count_at_most(text);
    let share = Share::of(regexes);
    for piece in pieces {
        if piece.text.is_empty() {
            continue;
        }
        count += 1;
        if count > MAX_LINES {
            problems.push(Problem::new(
                piece.number,
                format!("too many restriction lines; a token may have at most {MAX_LINES}"),
            ));
            break;
        }
        let chars = piece.text.chars().count();
        if chars > MAX_LINE_CHARS {
            problems.push(Problem::new(
                piece.number,
                format!(
                    "the line is {chars} characters long; at most {MAX_LINE_CHARS} are allowed"
                ),
            ));
            continue;
        }
        match Rule::compile(piece.number, piece.text, share) {
            Ok(rule) => rules.push(rule),
            Err(sentence) => problems.push(Problem::new(piece.number, sentence)),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems)
    }
}

/// Checks a `limitTo` text; empty when valid.
pub fn validate_limit_to(text: &str) -> Vec<Problem> {
    compile_lines(text).err().unwrap_or_default()
}

/// Checks an `ip` text; empty when valid.
pub fn validate_ip(text: &str) -> Vec<Problem> {
    IpRules::parse(text).err().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(limit_to: &str) -> Rules {
        match Rules::compile(limit_to, "") {
            Ok(rules) => rules,
            Err(e) => panic!("{limit_to}: {e}"),
        }
    }

    #[test]
    fn conditions_read_less_when_their_regexes_are_large() {
        let ordinary = ".*/a[QueryParam::expand==body.*][QueryParam::k==[A-Z]{1,10}]\n\
                        [post].*/b[JsonData::space.key==(ABC|DEF)]";
        assert_eq!(compiled(ordinary).condition_bytes, MAX_CONDITION_BYTES);
        // The vectors' `cond-qp-large-regexes-*` cases rely on 300 < bound < 600.
        let large = compiled(".*/rest/api/content[QueryParam::q==(?:[a-z]{1,500})+]");
        assert!(
            (300..600).contains(&large.condition_bytes),
            "{}",
            large.condition_bytes
        );
        let units: usize = large.rules[0].conditions[0].pattern.units;
        assert_eq!(large.condition_bytes, CONDITION_WORK_BUDGET / units);
    }
}

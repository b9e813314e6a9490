//! Which parts of each restriction line matched a request, for the playground and the
//! audit log. It reports every part, where the decision stops at the first failure.

use crate::condition::Inputs;
use crate::facts::RequestFacts;
use crate::rules::Rules;

/// One condition of a line and whether it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionCheck {
    /// The condition as written, e.g. `[QueryParam::expand==body.*]`.
    pub text: String,
    /// Whether it held.
    pub matched: bool,
}

/// How one restriction line fared against a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineCheck {
    /// 1-based line number in the `limitTo` text.
    pub line: u32,
    /// The line as written (trimmed).
    pub text: String,
    /// Whether the method tag admitted the method; `None` without a tag.
    pub method: Option<bool>,
    /// Whether the regex matched the whole URL.
    pub url: bool,
    /// Each condition, in written order.
    pub conditions: Vec<ConditionCheck>,
    /// Method, URL and every condition held.
    pub matched: bool,
}

impl Rules {
    /// Per line: which parts matched the request. Only the lines are checked, not the
    /// method's being a REST method, expiry, user, IP or scope: a tag compares methods as
    /// the decision does (`[get]` refuses `get`), but an untagged line reports `TRACE` as
    /// matched although the decision refuses it first.
    pub fn explain(&self, request: &RequestFacts) -> Vec<LineCheck> {
        let mut inputs = Inputs::new(
            &request.target.query_pairs,
            request.body.as_deref(),
            &self.json_paths,
            self.condition_bytes,
        );
        self.rules
            .iter()
            .map(|rule| {
                let outcome = rule.outcome(&request.method, &request.target.url, &mut inputs);
                let matched = outcome.method.unwrap_or(true)
                    && outcome.url
                    && outcome.conditions.iter().all(|&held| held);
                LineCheck {
                    line: rule.number,
                    text: rule.text.clone(),
                    method: outcome.method,
                    url: outcome.url,
                    conditions: rule
                        .conditions
                        .iter()
                        .zip(outcome.conditions)
                        .map(|(c, matched)| ConditionCheck {
                            text: c.text.clone(),
                            matched,
                        })
                        .collect(),
                    matched,
                }
            })
            .collect()
    }
}

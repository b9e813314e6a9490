//! One restriction line: an optional method tag, a URL regex and trailing conditions.
//! Parsing a line into those parts, and checking each part against a request.

use crate::condition::{self, Condition, Inputs};
use crate::methods;
use crate::pattern::{Pattern, Share};

/// A compiled restriction line.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// 1-based line number in the `limitTo` text.
    pub(crate) number: u32,
    /// The line as written, trimmed.
    pub(crate) text: String,
    /// The upper-case methods of the tag; `None` without a tag.
    pub(crate) methods: Option<Vec<&'static str>>,
    pub(crate) url: Pattern,
    pub(crate) conditions: Vec<Condition>,
}

/// How each part of a rule fared against a request.
pub(crate) struct Outcome {
    pub(crate) method: Option<bool>,
    pub(crate) url: bool,
    pub(crate) conditions: Vec<bool>,
}

impl Rule {
    /// Parses and compiles a trimmed, non-blank line; the error is a sentence without the
    /// `line N: ` prefix.
    ///
    /// A leading `[…]` is a method tag only when it holds method names (written in any case,
    /// separated by `,` or `|`); otherwise it is part of the regex (`[abc].*` is a class).
    /// A tag `[get]` does not admit HEAD: HEAD must be listed.
    pub(crate) fn compile(number: u32, text: &str, share: Share) -> Result<Rule, String> {
        let (methods, rest) = match method_tag(text) {
            Some((methods, rest)) => (Some(methods), rest.trim_start()),
            None => (None, text),
        };
        let (url, written) = condition::split_trailing(rest);
        if url.is_empty() {
            return Err(
                "the line has no URL regular expression (write .* to allow any URL)".to_string(),
            );
        }
        if condition::last_prefix(url).is_some() {
            return Err(
                "conditions ([QueryParam::…] and [JsonData::…]) must come at the end \
                        of the line, after the URL regular expression"
                    .to_string(),
            );
        }
        let url = Pattern::compile(url, share)?;
        let conditions = written
            .iter()
            .map(|written| condition::compile(written, share))
            .collect::<Result<_, _>>()?;
        Ok(Rule {
            number,
            text: text.to_string(),
            methods,
            url,
            conditions,
        })
    }

    /// Whether every condition holds (true without conditions).
    pub(crate) fn conditions_hold(&self, inputs: &mut Inputs<'_>) -> bool {
        self.conditions.iter().all(|c| c.holds(inputs))
    }

    /// Every part checked, for `explain`.
    pub(crate) fn outcome(&self, method: &str, url: &str, inputs: &mut Inputs<'_>) -> Outcome {
        Outcome {
            method: self.method_holds(method),
            url: self.url.matches(url),
            conditions: self.conditions.iter().map(|c| c.holds(inputs)).collect(),
        }
    }

    pub(crate) fn needs_body(&self) -> bool {
        self.json_paths().next().is_some()
    }

    /// The JSON paths this line's conditions read.
    pub(crate) fn json_paths(&self) -> impl Iterator<Item = &Vec<String>> {
        self.conditions.iter().filter_map(|c| match &c.subject {
            condition::Subject::JsonData(path) => Some(path),
            condition::Subject::QueryParam(_) => None,
        })
    }

    /// Whether the tag admits `method`, compared case-sensitively as HTTP defines methods
    /// (`[get]` admits `GET`, never `get`); `None` without a tag.
    pub(crate) fn method_holds(&self, method: &str) -> Option<bool> {
        self.methods
            .as_ref()
            .map(|methods| methods.contains(&method))
    }
}

/// The methods of a leading tag and the text after it, when the line starts with one.
fn method_tag(text: &str) -> Option<(Vec<&'static str>, &str)> {
    let inner_and_rest = text.strip_prefix('[')?;
    let (inner, rest) = inner_and_rest.split_once(']')?;
    let methods = inner
        .split([',', '|'])
        .map(|item| methods::tag_method(item.trim()))
        .collect::<Option<Vec<_>>>()?;
    Some((methods, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        match Rule::compile(1, text, Share::of(1)) {
            Ok(rule) => rule,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn method_tags() {
        assert_eq!(rule("[post].*").methods, Some(vec!["POST"]));
        assert_eq!(
            rule("[GET, Post | head].*").methods,
            Some(vec!["GET", "POST", "HEAD"])
        );
        assert_eq!(rule("[abc].*").methods, None);
        assert_eq!(rule("[get,].*").methods, None);
        assert_eq!(rule("[get] .*").methods, Some(vec!["GET"]));
        let get = rule("[get].*");
        assert_eq!(get.method_holds("GET"), Some(true));
        assert_eq!(get.method_holds("get"), Some(false));
        assert_eq!(get.method_holds("gEt"), Some(false));
        assert_eq!(get.method_holds("HEAD"), Some(false));
        assert_eq!(rule(".*").method_holds("GET"), None);
    }

    #[test]
    fn a_line_needs_a_url_regex_before_its_conditions() {
        assert!(
            Rule::compile(1, "[get]", Share::of(1))
                .err()
                .unwrap_or_default()
                .contains("no URL")
        );
        assert!(
            Rule::compile(1, "[QueryParam::a==b]", Share::of(1))
                .err()
                .unwrap_or_default()
                .contains("no URL")
        );
        assert!(
            Rule::compile(1, ".*[QueryParam::a==b].*", Share::of(1))
                .err()
                .unwrap_or_default()
                .contains("end of the line")
        );
    }

    #[test]
    fn conditions_are_compiled() {
        let r = rule("[get].*/rest/api/content[QueryParam::expand==body.*][JsonData::a.0==x]");
        assert_eq!(r.conditions.len(), 2);
        assert!(r.needs_body());
        assert!(!rule(".*[QueryParam::a==b]").needs_body());
    }
}

//! The trailing `[QueryParam::name==regex]` and `[JsonData::path==regex]` of a line.
//! Recognising them at the end of a line, and checking them against a request.

use crate::json_path;
use crate::limits::MAX_CONDITION_VALUES;
use crate::pattern::{Pattern, Share};

/// What a condition looks at.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    /// Every decoded value of the query parameter with this decoded name; all must match.
    QueryParam(String),
    /// The scalar at this path of the JSON body.
    JsonData(Vec<String>),
}

/// One compiled condition.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    /// The condition as written, brackets included.
    pub(crate) text: String,
    pub(crate) subject: Subject,
    pub(crate) pattern: Pattern,
}

/// The request data conditions read; the body is walked once, on first use, for every
/// JSON path of the token.
pub(crate) struct Inputs<'a> {
    pub(crate) query_pairs: &'a [(String, String)],
    body: Option<&'a str>,
    json_paths: &'a [Vec<String>],
    found: Option<Option<Vec<Option<String>>>>,
    /// The most bytes a condition reads (the token's share of `CONDITION_WORK_BUDGET`).
    max_bytes: usize,
    /// The first condition that did not hold because its input was over a bound, and why:
    /// a sentence for the deny detail, so an administrator sees it was not a mismatch.
    pub(crate) unread: Option<String>,
}

impl<'a> Inputs<'a> {
    pub(crate) fn new(
        query_pairs: &'a [(String, String)],
        body: Option<&'a str>,
        json_paths: &'a [Vec<String>],
        max_bytes: usize,
    ) -> Self {
        Inputs {
            query_pairs,
            body,
            json_paths,
            found: None,
            max_bytes,
            unread: None,
        }
    }

    /// The text of the scalar at `path`, one of the token's JSON paths.
    fn json_text(&mut self, path: &[String]) -> Option<&str> {
        let slot = self.json_paths.iter().position(|known| known == path)?;
        let (body, paths) = (self.body, self.json_paths);
        self.found
            .get_or_insert_with(|| json_path::scalar_texts(body, paths))
            .as_ref()?
            .get(slot)?
            .as_deref()
    }
}

/// Why a condition's input was not read: it is larger than a condition reads.
enum Unread {
    /// More than `MAX_CONDITION_VALUES` values of the parameter.
    Values(usize),
    /// More bytes to match than the token's conditions read: how many, and the bound.
    Bytes(usize, usize),
}

impl Condition {
    /// Whether the condition holds. `[QueryParam::…]`: the parameter is present and EVERY
    /// value of it matches, so no upstream reading a repeated parameter (the first value,
    /// the last, or all) acts on a value the condition did not admit. `[JsonData::…]`: the
    /// scalar matches. An absent parameter, a missing node or a non-JSON body does not hold,
    /// nor does an input over the bounds of `limits` (recorded in `inputs.unread`).
    pub(crate) fn holds(&self, inputs: &mut Inputs<'_>) -> bool {
        let max_bytes = inputs.max_bytes;
        let checked = match &self.subject {
            Subject::QueryParam(name) => {
                self.every_value_matches(name, inputs.query_pairs, max_bytes)
            }
            Subject::JsonData(path) => match inputs.json_text(path) {
                None => Ok(false),
                Some(text) if text.len() > max_bytes => Err(Unread::Bytes(text.len(), max_bytes)),
                Some(text) => Ok(self.pattern.matches(text)),
            },
        };
        checked.unwrap_or_else(|unread| {
            if inputs.unread.is_none() {
                inputs.unread = Some(self.unread_sentence(&unread));
            }
            false
        })
    }

    /// The bounds are checked before any value is matched, so a request over them costs
    /// one pass over the pairs whatever the regex.
    fn every_value_matches(
        &self,
        name: &str,
        pairs: &[(String, String)],
        max_bytes: usize,
    ) -> Result<bool, Unread> {
        let values = || pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let (count, bytes) = values().fold((0usize, 0usize), |(count, bytes), v| {
            (count + 1, bytes.saturating_add(v.len()))
        });
        if count > MAX_CONDITION_VALUES {
            return Err(Unread::Values(count));
        }
        if bytes > max_bytes {
            return Err(Unread::Bytes(bytes, max_bytes));
        }
        Ok(count > 0 && values().all(|v| self.pattern.matches(v)))
    }

    /// Names the condition (the token's text) and the bound, never the request's values,
    /// which may hold secrets.
    fn unread_sentence(&self, unread: &Unread) -> String {
        let over = match unread {
            Unread::Values(count) => format!(
                "the request has {count} values of its parameter, over the \
                 {MAX_CONDITION_VALUES} a condition reads"
            ),
            Unread::Bytes(bytes, max_bytes) => format!(
                "its input is {bytes} bytes, over the {max_bytes} this token's conditions read"
            ),
        };
        format!("the condition {} was not checked: {over}", self.text)
    }
}

/// The condition prefixes, as written (recognised ignoring ASCII case).
const PREFIXES: [&str; 2] = ["[QueryParam::", "[JsonData::"];

/// A condition split off the end of a line, not yet compiled.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Written<'a> {
    /// The whole condition, `[` to `]`.
    pub(crate) text: &'a str,
    /// True for `JsonData`, false for `QueryParam`.
    pub(crate) json: bool,
    /// Between `::` and the final `]`.
    pub(crate) body: &'a str,
}

/// Splits the trailing conditions off `line`: the part before them (end-trimmed) and the
/// conditions in written order.
///
/// The rule: while the line ends with `]`, the last condition runs from the LAST
/// `[QueryParam::` or `[JsonData::` to that final `]`. So the condition's regex may hold
/// brackets (`[QueryParam::id==[0-9]+]`) but not the text of a condition prefix.
pub(crate) fn split_trailing(line: &str) -> (&str, Vec<Written<'_>>) {
    let mut rest = line;
    let mut found = Vec::new();
    while rest.ends_with(']') {
        let Some((start, json)) = last_prefix(rest) else {
            break;
        };
        let prefix_len = if json {
            PREFIXES[1].len()
        } else {
            PREFIXES[0].len()
        };
        let text = &rest[start..];
        let body = &rest[start + prefix_len..rest.len() - 1];
        found.push(Written { text, json, body });
        rest = rest[..start].trim_end();
    }
    found.reverse();
    (rest, found)
}

/// The byte offset of the last condition prefix in `text`, and whether it is `JsonData`.
pub(crate) fn last_prefix(text: &str) -> Option<(usize, bool)> {
    let lower = text.to_ascii_lowercase();
    let query = lower.rfind(&PREFIXES[0].to_ascii_lowercase());
    let json = lower.rfind(&PREFIXES[1].to_ascii_lowercase());
    match (query, json) {
        (Some(q), Some(j)) if j > q => Some((j, true)),
        (Some(q), _) => Some((q, false)),
        (None, Some(j)) => Some((j, true)),
        (None, None) => None,
    }
}

/// At most how many conditions `text` holds: every prefix counts, even one inside a URL
/// regex, so a budget shared by this many regexes is never overdrawn.
pub(crate) fn count_at_most(text: &str) -> usize {
    let folded = text.to_ascii_lowercase();
    PREFIXES
        .iter()
        .map(|prefix| folded.matches(&prefix.to_ascii_lowercase()).count())
        .sum()
}

/// Compiles one written condition within its `share`, or says what is wrong with it.
pub(crate) fn compile(written: &Written<'_>, share: Share) -> Result<Condition, String> {
    let text = written.text;
    let Some((name, regex)) = written.body.split_once("==") else {
        return Err(format!(
            "condition \"{text}\" needs \"==\" between the name and the regular expression"
        ));
    };
    let subject = if written.json {
        let path: Vec<String> = name.split('.').map(String::from).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!(
                "condition \"{text}\" needs a JSON path of dot-separated names, e.g. space.key"
            ));
        }
        Subject::JsonData(path)
    } else {
        if name.is_empty() {
            return Err(format!(
                "condition \"{text}\" needs a parameter name before \"==\""
            ));
        }
        Subject::QueryParam(name.to_string())
    };
    let pattern =
        Pattern::compile(regex, share).map_err(|e| format!("condition \"{text}\": {e}"))?;
    Ok(Condition {
        text: text.to_string(),
        subject,
        pattern,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_split_from_the_end() {
        let (rest, found) =
            split_trailing(".*/rest/api/content [QueryParam::id==[0-9]+][JsonData::a.b==x]");
        assert_eq!(rest, ".*/rest/api/content");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].text, "[QueryParam::id==[0-9]+]");
        assert_eq!(found[0].body, "id==[0-9]+");
        assert!(!found[0].json);
        assert_eq!(found[1].body, "a.b==x");
        assert!(found[1].json);
    }

    #[test]
    fn a_line_without_conditions_is_kept() {
        assert_eq!(split_trailing("[abc].*"), ("[abc].*", vec![]));
        assert_eq!(split_trailing(".*[QueryParam::a==b].*").1.len(), 0);
        assert_eq!(split_trailing("[queryparam::a==b]").1.len(), 1);
    }

    #[test]
    fn written_conditions_compile() {
        let (_, found) = split_trailing("x[QueryParam::==a][JsonData::a..b==x][QueryParam::a]");
        assert!(
            compile(&found[0], Share::of(1))
                .err()
                .unwrap_or_default()
                .contains("parameter name")
        );
        assert!(
            compile(&found[1], Share::of(1))
                .err()
                .unwrap_or_default()
                .contains("JSON path")
        );
        assert!(
            compile(&found[2], Share::of(1))
                .err()
                .unwrap_or_default()
                .contains("\"==\"")
        );
    }
}

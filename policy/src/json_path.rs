//! Finding a value in a JSON body by a dot-separated path (`space.key`, `labels.0.name`).
//! Only scalars have a text to match; a missing node or a non-JSON body matches nothing.

use serde_json::Value;

/// Parses a request body; `None` when there is no body or it is not JSON.
pub(crate) fn parse(body: Option<&str>) -> Option<Value> {
    serde_json::from_str(body?).ok()
}

/// The text of the scalar at `path` in `root`.
///
/// Segments name object keys; on an array a segment must be a decimal index. Strings give
/// their content (unquoted), numbers the text `serde_json` prints (`3`, `2.5`), booleans
/// `true`/`false`, null `null`. Objects and arrays give `None`: their text form depends on
/// key order and spacing, so a regex over it would be fragile.
pub(crate) fn scalar_text(root: &Value, path: &[String]) -> Option<String> {
    let mut node = root;
    for segment in path {
        node = match node {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(index(segment)?)?,
            _ => return None,
        };
    }
    match node {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_string()),
        Value::Object(_) | Value::Array(_) => None,
    }
}

/// A canonical decimal array index: digits only, no sign, no leading zero.
fn index(segment: &str) -> Option<usize> {
    let canonical = segment == "0"
        || (!segment.starts_with('0') && segment.bytes().all(|b| b.is_ascii_digit()));
    if canonical {
        segment.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &str, path: &str) -> Option<String> {
        let path: Vec<String> = path.split('.').map(String::from).collect();
        scalar_text(&parse(Some(body))?, &path)
    }

    #[test]
    fn scalars_by_path() {
        let body = r#"{"space":{"key":"EXT"},"labels":[{"name":"a"},{"name":"b"}],
                       "n":3,"f":2.5,"t":true,"z":null,"0":"zero"}"#;
        assert_eq!(text(body, "space.key").as_deref(), Some("EXT"));
        assert_eq!(text(body, "labels.1.name").as_deref(), Some("b"));
        assert_eq!(text(body, "n").as_deref(), Some("3"));
        assert_eq!(text(body, "f").as_deref(), Some("2.5"));
        assert_eq!(text(body, "t").as_deref(), Some("true"));
        assert_eq!(text(body, "z").as_deref(), Some("null"));
        assert_eq!(text(body, "0").as_deref(), Some("zero"));
        assert_eq!(text(body, "space"), None);
        assert_eq!(text(body, "labels"), None);
        assert_eq!(text(body, "labels.2.name"), None);
        assert_eq!(text(body, "labels.01.name"), None);
        assert_eq!(text(body, "labels.-1.name"), None);
        assert_eq!(text(body, "missing"), None);
        assert_eq!(text(body, "n.x"), None);
    }

    #[test]
    fn non_json_is_nothing() {
        assert_eq!(parse(None), None);
        assert_eq!(parse(Some("not json")), None);
        assert_eq!(text("\"top\"", "a"), None);
        let deep = "[".repeat(10_000);
        assert_eq!(parse(Some(&deep)), None);
    }
}

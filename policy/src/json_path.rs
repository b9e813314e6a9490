//! Finding values in a JSON body by dot-separated paths (`space.key`, `labels.0.name`).
//! Only scalars have a text to match; a missing node or a non-JSON body matches nothing.
//!
//! The body is walked once for all of a token's paths and never built as a document: as a
//! `serde_json::Value`, a 1 MiB body of small objects takes over 64 MiB, more than a
//! host gives a policy instance. Walking keeps only the path being followed.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// The text of the scalar at each of `paths` in `body`, in order; `None` when there is no
/// body or it is not JSON.
///
/// Segments name object keys; on an array a segment must be a decimal index. Strings give
/// their content (unquoted), numbers the text `serde_json` prints (`3`, `2.5`), booleans
/// `true`/`false`, null `null`. Objects and arrays give `None`: their text form depends on
/// key order and spacing, so a regex over it would be fragile. Of duplicate keys the last
/// counts, as when the body is parsed into a map.
pub(crate) fn scalar_texts(
    body: Option<&str>,
    paths: &[Vec<String>],
) -> Option<Vec<Option<String>>> {
    let mut texts = vec![None; paths.len()];
    let following: Vec<Following<'_>> = paths
        .iter()
        .enumerate()
        .map(|(slot, path)| Following { slot, rest: path })
        .collect();
    let mut json = serde_json::Deserializer::from_str(body?);
    Node {
        following: &following,
        texts: &mut texts,
    }
    .deserialize(&mut json)
    .ok()?;
    json.end().ok()?;
    Some(texts)
}

/// A path being followed: where its text goes, and the segments still to go down.
#[derive(Clone, Copy)]
struct Following<'p> {
    slot: usize,
    rest: &'p [String],
}

/// One JSON value, reached by the paths in `following`.
struct Node<'a, 'p> {
    following: &'a [Following<'p>],
    texts: &'a mut [Option<String>],
}

impl Node<'_, '_> {
    /// The paths that go on into the child `accepts` names.
    fn into_child<'p>(
        following: &[Following<'p>],
        accepts: impl Fn(&str) -> bool,
    ) -> Vec<Following<'p>> {
        following
            .iter()
            .filter_map(|path| {
                let (head, rest) = path.rest.split_first()?;
                accepts(head).then_some(Following {
                    slot: path.slot,
                    rest,
                })
            })
            .collect()
    }

    /// A scalar: the text of every path that ends here.
    fn scalar(self, text: &str) {
        for path in self.following.iter().filter(|path| path.rest.is_empty()) {
            if let Some(slot) = self.texts.get_mut(path.slot) {
                *slot = Some(text.to_owned());
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // Whatever an earlier duplicate key gave these paths is replaced.
        for path in self.following {
            if let Some(slot) = self.texts.get_mut(path.slot) {
                *slot = None;
            }
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<(), E> {
        self.scalar(if value { "true" } else { "false" });
        Ok(())
    }

    fn visit_i64<E>(self, value: i64) -> Result<(), E> {
        self.scalar(&Number::from(value).to_string());
        Ok(())
    }

    fn visit_u64<E>(self, value: u64) -> Result<(), E> {
        self.scalar(&Number::from(value).to_string());
        Ok(())
    }

    fn visit_f64<E>(self, value: f64) -> Result<(), E> {
        // JSON has no NaN or infinity, so `from_f64` always gives a number; a map into
        // `Value` would read the impossible case as null too.
        let text = Number::from_f64(value).map_or_else(|| "null".to_owned(), |n| n.to_string());
        self.scalar(&text);
        Ok(())
    }

    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        self.scalar(value);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.scalar("null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut position = 0usize;
        loop {
            let into = Self::into_child(self.following, |segment| index(segment) == Some(position));
            let more = if into.is_empty() {
                items.next_element::<IgnoredAny>()?.is_some()
            } else {
                let child = Node {
                    following: &into,
                    texts: &mut *self.texts,
                };
                items.next_element_seed(child)?.is_some()
            };
            if !more {
                return Ok(());
            }
            position = position.saturating_add(1);
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        while let Some(key) = entries.next_key::<String>()? {
            let into = Self::into_child(self.following, |segment| segment == key);
            if into.is_empty() {
                entries.next_value::<IgnoredAny>()?;
            } else {
                entries.next_value_seed(Node {
                    following: &into,
                    texts: &mut *self.texts,
                })?;
            }
        }
        Ok(())
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
        scalar_texts(Some(body), &[path])?.pop()?
    }

    /// The reference: the body parsed into a `Value` and the path looked up in it.
    fn by_value(body: &str, path: &str) -> Option<String> {
        let mut node = &serde_json::from_str::<serde_json::Value>(body).ok()?;
        for segment in path.split('.') {
            node = match node {
                serde_json::Value::Object(map) => map.get(segment)?,
                serde_json::Value::Array(items) => items.get(index(segment)?)?,
                _ => return None,
            };
        }
        match node {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => None,
            scalar => Some(scalar.to_string()),
        }
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
    fn the_walk_agrees_with_the_parsed_document() {
        let bodies = [
            r#"{"a":{"b":"x"},"a":5}"#,
            r#"{"a":5,"a":{"b":"x"}}"#,
            r#"{"a":{"b":"x"},"a":{"c":1}}"#,
            r#"{"a":[1,{"b":-0},1e3,-7,18446744073709551615,"é
"]}"#,
            r#"{"a":{"b":1.0000000000000002,"c":12345678901234567890}}"#,
            r#"[{"a":{"b":true}},null,[[],{}]]"#,
            r#"{"a":{"b":"x"}} trailing"#,
            r#"{"a":{"b":"x"}"#,
            r#"{"a":{"b":"x",}}"#,
        ];
        let paths = [
            "a", "a.b", "a.c", "a.0", "a.1.b", "a.2", "a.3", "a.4", "a.5", "0.a.b", "1", "2.1",
        ];
        for body in bodies {
            for path in paths {
                assert_eq!(text(body, path), by_value(body, path), "{body} at {path}");
            }
        }
    }

    #[test]
    fn many_paths_in_one_walk() {
        let body = r#"{"space":{"key":"EXT"},"type":"page","space":{"key":"OTHER","id":4}}"#;
        let paths: Vec<Vec<String>> = ["space.key", "type", "space.id", "nope"]
            .iter()
            .map(|p| p.split('.').map(String::from).collect())
            .collect();
        assert_eq!(
            scalar_texts(Some(body), &paths),
            Some(vec![
                Some("OTHER".into()),
                Some("page".into()),
                Some("4".into()),
                None
            ])
        );
    }

    #[test]
    fn non_json_is_nothing() {
        let path = vec![vec!["a".to_string()]];
        assert_eq!(scalar_texts(None, &path), None);
        assert_eq!(scalar_texts(Some("not json"), &path), None);
        assert_eq!(text("\"top\"", "a"), None);
        let deep = "[".repeat(10_000);
        assert_eq!(scalar_texts(Some(&deep), &path), None);
    }
}

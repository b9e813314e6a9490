//! Canonicalising a request target into the one form that is both matched and forwarded.
//! Anything servers could read in more than one way is refused instead of guessed at.

use crate::limits::MAX_TARGET_LEN;

/// Why a request target was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRefusal {
    /// Not origin-form (`/path?query`), e.g. absolute-form, `*`, or with a `#` fragment.
    NotOriginForm,
    /// Bytes outside printable ASCII (a space included).
    NonAscii,
    /// `%` not followed by two hex digits, a path escape decoding to a control byte, or a
    /// query escape decoding to invalid UTF-8.
    BadEscape,
    /// `%2F` in the path.
    EncodedSlash,
    /// `\` or `%5C` in the path.
    Backslash,
    /// A `.` or `..` segment written with escapes (`%2e`).
    EncodedDotSegment,
    /// `..` that climbs above the root.
    AboveRoot,
    /// `;` path parameters (`;jsessionid=`).
    PathParameter,
    /// An empty segment (`//`).
    EmptySegment,
    /// Longer than [`MAX_TARGET_LEN`](crate::limits::MAX_TARGET_LEN).
    TooLong,
}

impl TargetRefusal {
    /// The kebab-case name used in vectors and audit records, e.g. `encoded-slash`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetRefusal::NotOriginForm => "not-origin-form",
            TargetRefusal::NonAscii => "non-ascii",
            TargetRefusal::BadEscape => "bad-escape",
            TargetRefusal::EncodedSlash => "encoded-slash",
            TargetRefusal::Backslash => "backslash",
            TargetRefusal::EncodedDotSegment => "encoded-dot-segment",
            TargetRefusal::AboveRoot => "above-root",
            TargetRefusal::PathParameter => "path-parameter",
            TargetRefusal::EmptySegment => "empty-segment",
            TargetRefusal::TooLong => "too-long",
        }
    }
}

/// A refused request target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct TargetError {
    /// The kind of refusal.
    pub reason: TargetRefusal,
    /// A sentence for a person.
    pub detail: String,
}

/// The checked form of a request target: exactly what is matched and what is forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CanonicalTarget {
    /// The canonical path (dot segments resolved, escapes normalised).
    pub path: String,
    /// The query string as forwarded (escapes upper-cased), without `?`; `None` when the
    /// target had no `?`.
    pub query: Option<String>,
    /// The decoded query pairs, in order, repeats kept.
    pub query_pairs: Vec<(String, String)>,
    /// The public base URL (trailing `/` dropped) plus `path`: what restriction lines match.
    pub url: String,
}

fn refuse(reason: TargetRefusal, detail: impl Into<String>) -> TargetError {
    TargetError {
        reason,
        detail: detail.into(),
    }
}

/// The canonical form of an origin-form request target under `public_base`.
///
/// Path: `%XX` of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes
/// kept with upper-case hex (`%25` stays `%25`: nothing is decoded twice), `.` and `..`
/// segments resolved (a final dot segment leaves a trailing `/`, as in RFC 3986). Refused:
/// see [`TargetRefusal`]. A single trailing `/` is kept; `/` alone is the root.
///
/// Query: kept as sent except that escape hex is upper-cased; pairs split on `&`, name and
/// value on the first `=`, `+` read as a space, escapes decoded; empty pieces skipped.
/// Escapes of control bytes are refused in the query too, as the contract's `bad-escape`
/// says: an upstream may read `%00` or `%0A` in a parameter differently than we do.
pub fn canonicalize(target: &str, public_base: &str) -> Result<CanonicalTarget, TargetError> {
    if target.len() > MAX_TARGET_LEN {
        return Err(refuse(
            TargetRefusal::TooLong,
            format!(
                "the request target is {} bytes; at most {MAX_TARGET_LEN} are accepted",
                target.len()
            ),
        ));
    }
    if let Some(b) = target.bytes().find(|b| !(0x21..=0x7e).contains(b)) {
        return Err(refuse(
            TargetRefusal::NonAscii,
            format!("the request target holds byte 0x{b:02X}, outside printable ASCII"),
        ));
    }
    if !target.starts_with('/') {
        return Err(refuse(
            TargetRefusal::NotOriginForm,
            "the request target must be a path starting with \"/\" (origin-form)",
        ));
    }
    if target.contains('#') {
        return Err(refuse(
            TargetRefusal::NotOriginForm,
            "the request target holds a \"#\" fragment, which clients never send",
        ));
    }
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let path = canonical_path(raw_path)?;
    let (query, query_pairs) = match raw_query {
        Some(q) => {
            let (forwarded, pairs) = canonical_query(q)?;
            (Some(forwarded), pairs)
        }
        None => (None, Vec::new()),
    };
    let base = public_base.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + path.len());
    url.push_str(base);
    url.push_str(&path);
    Ok(CanonicalTarget {
        path,
        query,
        query_pairs,
        url,
    })
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn control_escape(part: &str, b: u8) -> TargetError {
    refuse(
        TargetRefusal::BadEscape,
        format!("the {part} holds \"%{b:02X}\", an escaped control character"),
    )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte an escape at `bytes[at]` (a `%`) encodes, if two hex digits follow.
fn escaped_byte(bytes: &[u8], at: usize) -> Option<u8> {
    let high = hex_value(*bytes.get(at + 1)?)?;
    let low = hex_value(*bytes.get(at + 2)?)?;
    Some(high << 4 | low)
}

fn bad_escape(text: &[u8], at: usize) -> TargetError {
    let shown: String = text
        .iter()
        .skip(at)
        .take(3)
        .map(|&b| char::from(b))
        .collect();
    refuse(
        TargetRefusal::BadEscape,
        format!("\"{shown}\": \"%\" must be followed by two hex digits"),
    )
}

/// Appends `%XX` with upper-case hex for `byte`.
fn push_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

/// Appends one path segment normalised to `out`: unreserved escapes decoded, others
/// upper-cased. Returns whether any `.` came from an escape.
fn push_canonical_segment(out: &mut String, raw: &str) -> Result<bool, TargetError> {
    let bytes = raw.as_bytes();
    let mut escaped_dot = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\\' => {
                return Err(refuse(TargetRefusal::Backslash, "the path holds a \"\\\""));
            }
            b';' => {
                return Err(refuse(
                    TargetRefusal::PathParameter,
                    "the path holds a \";\" (path parameters such as ;jsessionid= are refused)",
                ));
            }
            b'%' => {
                let Some(decoded) = escaped_byte(bytes, i) else {
                    return Err(bad_escape(bytes, i));
                };
                match decoded {
                    b'/' => {
                        return Err(refuse(
                            TargetRefusal::EncodedSlash,
                            "the path holds \"%2F\"",
                        ));
                    }
                    b'\\' => {
                        return Err(refuse(TargetRefusal::Backslash, "the path holds \"%5C\""));
                    }
                    d if is_control(d) => return Err(control_escape("path", d)),
                    d if is_unreserved(d) => {
                        escaped_dot |= d == b'.';
                        out.push(char::from(d));
                    }
                    d => push_escape(out, d),
                }
                i += 3;
            }
            _ => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    Ok(escaped_dot)
}

/// The canonical path of `raw`, which starts with `/`. Built in one buffer, a segment at a
/// time, since every request pays for it: `..` cuts the buffer back to its parent.
fn canonical_path(raw: &str) -> Result<String, TargetError> {
    let mut path = String::with_capacity(raw.len() + 1);
    let mut trailing_slash = false;
    let mut segments = raw.get(1..).unwrap_or("").split('/').peekable();
    while let Some(raw_segment) = segments.next() {
        let is_last = segments.peek().is_none();
        let start = path.len();
        path.push('/');
        let escaped_dot = push_canonical_segment(&mut path, raw_segment)?;
        let segment = match &path[start + 1..] {
            "." => Segment::Dot,
            ".." => Segment::DotDot,
            "" => Segment::Empty,
            _ => Segment::Name,
        };
        trailing_slash = false;
        match segment {
            Segment::Dot | Segment::DotDot if escaped_dot => {
                return Err(refuse(
                    TargetRefusal::EncodedDotSegment,
                    format!(
                        "the path segment \"{raw_segment}\" is a dot segment written with escapes"
                    ),
                ));
            }
            Segment::Dot => {
                path.truncate(start);
                trailing_slash = is_last;
            }
            Segment::DotDot => {
                path.truncate(start);
                let Some(parent) = path.rfind('/') else {
                    return Err(refuse(
                        TargetRefusal::AboveRoot,
                        "the path climbs above the root with \"..\"",
                    ));
                };
                path.truncate(parent);
                trailing_slash = is_last;
            }
            Segment::Empty if !is_last => {
                return Err(refuse(
                    TargetRefusal::EmptySegment,
                    "the path holds an empty segment (\"//\")",
                ));
            }
            Segment::Empty => {
                path.truncate(start);
                trailing_slash = true;
            }
            Segment::Name => {}
        }
    }
    if trailing_slash || path.is_empty() {
        path.push('/');
    }
    Ok(path)
}

/// What a canonical path segment does to the path.
enum Segment {
    /// `.`: stays.
    Dot,
    /// `..`: back to the parent.
    DotDot,
    /// Nothing between two slashes, or after the last one.
    Empty,
    /// Any other segment.
    Name,
}

/// The query as forwarded (escape hex upper-cased) and its decoded pairs.
fn canonical_query(raw: &str) -> Result<(String, Vec<(String, String)>), TargetError> {
    let bytes = raw.as_bytes();
    let mut forwarded = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let Some(decoded) = escaped_byte(bytes, i) else {
                return Err(bad_escape(bytes, i));
            };
            if is_control(decoded) {
                return Err(control_escape("query", decoded));
            }
            push_escape(&mut forwarded, decoded);
            i += 3;
        } else {
            forwarded.push(char::from(bytes[i]));
            i += 1;
        }
    }
    let mut pairs = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        pairs.push((form_decode(name)?, form_decode(value)?));
    }
    Ok((forwarded, pairs))
}

/// `application/x-www-form-urlencoded` decoding of one name or value (escapes checked).
fn form_decode(text: &str) -> Result<String, TargetError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                out.push(escaped_byte(bytes, i).ok_or_else(|| bad_escape(bytes, i))?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| {
        refuse(
            TargetRefusal::BadEscape,
            format!("the query piece \"{text}\" decodes to invalid UTF-8"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://wiki.example.com";

    fn canonical(target: &str, base: &str) -> CanonicalTarget {
        match canonicalize(target, base) {
            Ok(t) => t,
            Err(e) => panic!("{target}: {e}"),
        }
    }

    fn path(target: &str) -> String {
        canonical(target, BASE).path
    }

    fn refusal(target: &str) -> &'static str {
        match canonicalize(target, BASE) {
            Ok(t) => panic!("{target} accepted as {t:?}"),
            Err(e) => e.reason.as_str(),
        }
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(path("/"), "/");
        assert_eq!(path("/rest/api/space"), "/rest/api/space");
        assert_eq!(path("/rest/api/"), "/rest/api/");
        assert_eq!(path("/rest/%61pi/%7e%2D"), "/rest/api/~-");
        assert_eq!(path("/rest/a%40b"), "/rest/a%40b");
        assert_eq!(path("/rest/%c3%a9"), "/rest/%C3%A9");
        assert_eq!(path("/rest/%25"), "/rest/%25");
        assert_eq!(path("/rest/%252e"), "/rest/%252e");
        assert_eq!(path("/rest/./api/../x"), "/rest/x");
        assert_eq!(path("/rest/api/.."), "/rest/");
        assert_eq!(path("/rest/api/."), "/rest/api/");
        assert_eq!(path("/rest/a.%2e.b"), "/rest/a...b");
        assert_eq!(path("/rest/%2e%2e%2e"), "/rest/...");
        assert_eq!(path("/."), "/");
    }

    #[test]
    fn ambiguous_targets_are_refused() {
        assert_eq!(refusal(""), "not-origin-form");
        assert_eq!(refusal("*"), "not-origin-form");
        assert_eq!(refusal("http://evil/rest/api"), "not-origin-form");
        assert_eq!(refusal("/rest/api#x"), "not-origin-form");
        assert_eq!(refusal("/rest/api space"), "non-ascii");
        assert_eq!(refusal("/rest/caf\u{e9}"), "non-ascii");
        assert_eq!(refusal("/rest/%zz"), "bad-escape");
        assert_eq!(refusal("/rest/%2"), "bad-escape");
        assert_eq!(refusal("/rest/%00"), "bad-escape");
        assert_eq!(refusal("/rest/%7f"), "bad-escape");
        assert_eq!(refusal("/rest/a%2fb"), "encoded-slash");
        assert_eq!(refusal("/rest/a%2Fb"), "encoded-slash");
        assert_eq!(refusal("/rest\\api"), "backslash");
        assert_eq!(refusal("/rest/%5capi"), "backslash");
        assert_eq!(refusal("/rest/%2e/api"), "encoded-dot-segment");
        assert_eq!(refusal("/rest/%2E%2E/api"), "encoded-dot-segment");
        assert_eq!(refusal("/rest/.%2e"), "encoded-dot-segment");
        assert_eq!(refusal("/.."), "above-root");
        assert_eq!(refusal("/rest/../../x"), "above-root");
        assert_eq!(refusal("/rest/api;jsessionid=1"), "path-parameter");
        assert_eq!(refusal("/rest//api"), "empty-segment");
        assert_eq!(refusal("//"), "empty-segment");
        assert_eq!(
            refusal(&format!("/{}", "a".repeat(MAX_TARGET_LEN))),
            "too-long"
        );
    }

    #[test]
    fn queries_are_kept_and_decoded() {
        let t = canonical("/rest/api?a=1&b=x+y%2b%c3%a9&&a=2&c&=v", BASE);
        assert_eq!(t.query.as_deref(), Some("a=1&b=x+y%2B%C3%A9&&a=2&c&=v"));
        let pairs: Vec<(&str, &str)> = t
            .query_pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![("a", "1"), ("b", "x y+é"), ("a", "2"), ("c", ""), ("", "v")]
        );
        assert_eq!(t.url, "https://wiki.example.com/rest/api");
        let bare = canonical("/rest/api?", "https://w.example.com/");
        assert_eq!(bare.query.as_deref(), Some(""));
        assert_eq!(bare.url, "https://w.example.com/rest/api");
        assert_eq!(canonical("/rest/api", BASE).query, None);
        assert_eq!(refusal("/rest/api?a=%zz"), "bad-escape");
        assert_eq!(refusal("/rest/api?a=%ff"), "bad-escape");
        assert_eq!(refusal("/rest/api?a=%00"), "bad-escape");
        assert_eq!(refusal("/rest/api?a=%0a"), "bad-escape");
        assert_eq!(path("/rest/api?x=/../%2f;"), "/rest/api");
    }
}

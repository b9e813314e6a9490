//! Raw request targets through the policy's canonicalisation: the one form that is both
//! matched by restriction lines and forwarded upstream.
//!
//! Besides "no panic", it checks what the gateway relies on: the canonical form is a fixed
//! point, it holds nothing a server could read in another way (no dot segment, `//`, `\`,
//! `;`, lower-case or needless escapes, even after the upstream decodes it once), the
//! query is forwarded as sent, and refusals follow the documented order.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tokengate_policy::limits::MAX_TARGET_LEN;
use tokengate_policy::{CanonicalTarget, TargetRefusal, canonicalize};

const PUBLIC_BASE: &str = "https://wiki.example.com/";

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let (raw_path, raw_query) = match raw.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (&*raw, None),
    };
    match canonicalize(&raw, PUBLIC_BASE) {
        Ok(target) => {
            check_path(&target.path);
            assert!(
                target.path.len() <= raw_path.len(),
                "{raw:?} grew to {target:?}"
            );
            assert_eq!(
                target.url,
                format!("https://wiki.example.com{}", target.path)
            );
            check_query(&target, raw_query);
            // Canonicalising the canonical form changes nothing.
            let again = match &target.query {
                Some(query) => format!("{}?{query}", target.path),
                None => target.path.clone(),
            };
            assert_eq!(canonicalize(&again, PUBLIC_BASE).as_ref(), Ok(&target));
            // The path does not depend on the query.
            let path_only = canonicalize(raw_path, PUBLIC_BASE).map(|t| t.path);
            assert_eq!(path_only.as_ref(), Ok(&target.path));
        }
        Err(error) => {
            assert!(!error.detail.is_empty());
            let reason = error.reason;
            let expected_first = if raw.len() > MAX_TARGET_LEN {
                Some(TargetRefusal::TooLong)
            } else if raw.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
                Some(TargetRefusal::NonAscii)
            } else if !raw.starts_with('/') || raw.contains('#') {
                Some(TargetRefusal::NotOriginForm)
            } else {
                None
            };
            match expected_first {
                Some(expected) => assert_eq!(reason, expected, "{raw:?}"),
                None => {
                    // The path is checked before the query, which can only hold bad escapes.
                    match canonicalize(raw_path, PUBLIC_BASE) {
                        Err(path_error) => assert_eq!(reason, path_error.reason, "{raw:?}"),
                        Ok(_) => assert_eq!(reason, TargetRefusal::BadEscape, "{raw:?}"),
                    }
                }
            }
        }
    }
});

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The path's escapes: each `%` followed by two upper-case hex digits, as (index, byte).
fn escapes(path: &str) -> Vec<(usize, u8)> {
    let bytes = path.as_bytes();
    let mut found = Vec::new();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let (Some(&high), Some(&low)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
            panic!("{path:?}: a \"%\" without two digits");
        };
        let upper = |d: u8| d.is_ascii_digit() || (b'A'..=b'F').contains(&d);
        assert!(
            upper(high) && upper(low),
            "{path:?}: escape not upper-case hex"
        );
        let (Some(high), Some(low)) = (hex_digit(high), hex_digit(low)) else {
            unreachable!("checked as hex digits");
        };
        found.push((i, high << 4 | low));
    }
    found
}

fn check_path(path: &str) {
    assert!(path.starts_with('/'), "{path:?}");
    assert!(path.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{path:?}");
    for forbidden in ['\\', ';', '?', '#'] {
        assert!(!path.contains(forbidden), "{path:?} holds {forbidden:?}");
    }
    assert!(!path.contains("//"), "{path:?}");
    let mut decoded = path.as_bytes().to_vec();
    // Decode from the end so earlier indexes stay valid.
    for (i, byte) in escapes(path).into_iter().rev() {
        let unreserved = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
        assert!(
            !unreserved,
            "{path:?}: an unreserved character left escaped"
        );
        assert!(
            byte >= 0x20 && byte != 0x7f,
            "{path:?}: an escaped control byte"
        );
        assert!(
            byte != b'/' && byte != b'\\',
            "{path:?}: an escaped separator"
        );
        decoded.splice(i..i + 3, [byte]);
    }
    // An upstream that decodes the path once sees the same segments: no dot segment and
    // no empty one (a final empty segment is the trailing slash).
    let segments: Vec<&[u8]> = decoded[1..].split(|&b| b == b'/').collect();
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        assert!(
            *segment != b"." && *segment != b"..",
            "{path:?}: a dot segment"
        );
        assert!(
            !segment.is_empty() || index == last,
            "{path:?}: an empty segment"
        );
    }
}

fn check_query(target: &CanonicalTarget, raw_query: Option<&str>) {
    let Some(raw_query) = raw_query else {
        assert_eq!(target.query, None);
        assert!(target.query_pairs.is_empty());
        return;
    };
    let Some(query) = target.query.as_deref() else {
        panic!("the query {raw_query:?} was dropped");
    };
    // Forwarded as sent, but for the case of escape digits.
    assert!(
        query.eq_ignore_ascii_case(raw_query),
        "{raw_query:?} became {query:?}"
    );
    let bytes = query.as_bytes();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let digits = bytes.get(i + 1..i + 3).unwrap_or_default();
        assert!(
            digits.len() == 2
                && digits
                    .iter()
                    .all(|d| d.is_ascii_digit() || (b'A'..=b'F').contains(d)),
            "{query:?}"
        );
    }
    let pieces = raw_query.split('&').filter(|p| !p.is_empty()).count();
    assert_eq!(target.query_pairs.len(), pieces, "{raw_query:?}");
}

//! `Authorization` header values through the one parser the gateway and the proxy-wasm
//! filter share, in each auth mode.
//!
//! Besides "no panic", it checks: `both` reads a header exactly as the one mode that owns
//! its scheme does; the scheme's case does not matter; credentials read from a header
//! encode back to that very header (so one credential has one spelling); and a header sent
//! twice is refused.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use tokengate_policy::credentials::{AuthMode, Credentials, Presented, presented};

fuzz_target!(|value: &[u8]| {
    let basic = presented(&[value], AuthMode::Basic);
    let bearer = presented(&[value], AuthMode::Bearer);
    let both = presented(&[value], AuthMode::Both);

    // A header has one scheme: at most one of the single modes reads it, and `both`
    // answers as that one does.
    match (&basic, &bearer) {
        (Presented::Nothing, _) => assert_eq!(both, bearer),
        (_, Presented::Nothing) => assert_eq!(both, basic),
        _ => {
            let visible = value
                .iter()
                .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
            assert!(
                !visible,
                "both modes read {value:?}: {basic:?} / {bearer:?}"
            );
            assert_eq!(basic, bearer);
            assert_eq!(both, basic);
        }
    }
    if let Presented::Token(credentials) = &both {
        check_round_trip(value, credentials);
    }

    // The scheme is case-insensitive.
    if let Some(space) = value.iter().position(|&b| b == b' ') {
        let mut swapped = value.to_vec();
        for b in &mut swapped[..space] {
            if b.is_ascii_alphabetic() {
                *b ^= 0x20;
            }
        }
        assert_eq!(presented(&[&swapped], AuthMode::Both), both);
    }

    // Two headers are never credentials, whatever they say.
    for mode in [AuthMode::Basic, AuthMode::Bearer, AuthMode::Both] {
        assert!(matches!(
            presented(&[value, value], mode),
            Presented::Malformed(_)
        ));
    }
});

/// Credentials read from `value` encode back to it: the scheme as sent, one space and the
/// canonical encoding (surrounding spaces aside).
fn check_round_trip(value: &[u8], credentials: &Credentials) {
    let Ok(text) = std::str::from_utf8(value) else {
        panic!("credentials from a header that is not text: {value:?}");
    };
    let Some((scheme, rest)) = text.split_once(' ') else {
        panic!("credentials from a header without a space: {text:?}");
    };
    let rest = rest.trim_matches(' ');
    let (expected_scheme, encoded) = match credentials {
        Credentials::Basic { user, token } => {
            assert!(!user.contains(':'), "{credentials:?}");
            assert!(!token.is_empty(), "{credentials:?}");
            ("basic", STANDARD.encode(format!("{user}:{token}")))
        }
        Credentials::Bearer { token } => {
            assert!(!token.is_empty() && !token.contains(' '), "{credentials:?}");
            ("bearer", token.clone())
        }
    };
    assert!(scheme.eq_ignore_ascii_case(expected_scheme), "{text:?}");
    assert_eq!(encoded, rest, "{text:?} read as {credentials:?}");
    let canonical = format!("{scheme} {encoded}");
    assert_eq!(
        presented(&[canonical.as_bytes()], AuthMode::Both),
        Presented::Token(credentials.clone())
    );
}

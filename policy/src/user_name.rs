//! The one rule for user names, applied when a token is created and when a request runs.
//! A name an upstream could read two ways (trimmed, or cut at a control byte) is refused.

/// How a user name breaks the rule; the message names the rule, for a 400 at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadUserName {
    /// It holds a control character (Unicode category Cc: `\0`–`\x1F`, `\x7F`–`\x9F`).
    #[error("a user name must not contain control characters")]
    ControlCharacter,
    /// It starts or ends with whitespace (Unicode `White_Space`).
    #[error("a user name must not start or end with whitespace")]
    SurroundingWhitespace,
}

/// Checks `name` against the rule: no control characters, no leading or trailing whitespace.
///
/// Why: a header cannot carry `\r` or `\0` (the forward fails after an *allow* was audited),
/// and an upstream that trims `" admin"` acts as `admin` while the audit log says otherwise.
/// The empty name passes; whether it is allowed is the caller's question (it means "unbound"
/// for a token and "missing" for a Basic credential).
pub fn check_user_name(name: &str) -> Result<(), BadUserName> {
    if name.chars().any(char::is_control) {
        return Err(BadUserName::ControlCharacter);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(BadUserName::SurroundingWhitespace);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_anywhere() {
        for name in [
            "bob\r",
            "bob\0",
            "bob\x7f",
            "b\nob",
            "\u{85}bob",
            "bob\u{9f}",
        ] {
            assert_eq!(
                check_user_name(name),
                Err(BadUserName::ControlCharacter),
                "{name:?}"
            );
        }
    }

    #[test]
    fn surrounding_whitespace_is_refused() {
        for name in [" admin", "admin ", "\u{a0}admin", "admin\u{3000}"] {
            assert_eq!(
                check_user_name(name),
                Err(BadUserName::SurroundingWhitespace),
                "{name:?}"
            );
        }
    }

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "admin",
            "Jane Doe",
            "jane.doe@example.com",
            "zoë",
            "",
            "a\u{a0}b",
        ] {
            assert_eq!(check_user_name(name), Ok(()), "{name:?}");
        }
        let message = BadUserName::ControlCharacter.to_string();
        assert!(message.contains("control characters"), "{message}");
    }
}

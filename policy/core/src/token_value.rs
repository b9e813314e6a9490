//! Token values: the recognisable generated format (`tgk_`, 30 random base62 characters,
//! a 6-character base62 CRC32), caller-chosen values, hints, and finding token-shaped text.
//!
//! A mistyped or truncated generated token is refused before any lookup, and secret
//! scanners (and our own audit scrubbing) can recognise a leaked one.

/// The prefix of every generated token; reserved (caller-chosen tokens may not use it).
pub const PREFIX: &str = "tgk_";
/// Random base62 characters in a generated token: 30 × log2(62) ≈ 178 bits.
pub const RANDOM_CHARS: usize = 30;
/// Base62 characters of the CRC32 checksum (62^6 > 2^32).
const CHECKSUM_CHARS: usize = 6;
/// Total length of a generated token.
pub const GENERATED_LEN: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
/// Shortest caller-chosen token.
pub const MIN_CHOSEN_LEN: usize = 16;
/// Longest caller-chosen token.
pub const MAX_CHOSEN_LEN: usize = 256;
/// Characters shown at the end of a hint.
const HINT_TAIL: usize = 4;

/// The base62 alphabet of generated tokens and ids.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a chosen token value is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The wrong length or invisible characters.
    #[error("a chosen token must be {MIN_CHOSEN_LEN} to {MAX_CHOSEN_LEN} visible ASCII characters")]
    BadChosen,
    /// It starts with the generated prefix.
    #[error("a chosen token must not start with `{PREFIX}` (reserved for generated tokens)")]
    ReservedPrefix,
}

/// A generated token from [`RANDOM_CHARS`] random base62 characters.
pub fn assemble(random: &str) -> String {
    let body = format!("{PREFIX}{random}");
    let sum = checksum(&body);
    body + &sum
}

/// Whether a presented value claims to be a generated token (by its prefix).
pub fn claims_generated(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// Whether a value that claims to be generated has the right shape and checksum.
pub fn generated_well_formed(value: &str) -> bool {
    if value.len() != GENERATED_LEN || !claims_generated(value) {
        return false;
    }
    if !value
        .bytes()
        .all(|b| b == b'_' || b.is_ascii_alphanumeric())
    {
        return false;
    }
    let (body, sum) = value.split_at(GENERATED_LEN - CHECKSUM_CHARS);
    checksum(body).as_bytes() == sum.as_bytes()
}

/// Checks a token value chosen by the caller of `set`.
pub fn validate_chosen(value: &str) -> Result<(), ValueError> {
    if claims_generated(value) {
        return Err(ValueError::ReservedPrefix);
    }
    let len_ok = (MIN_CHOSEN_LEN..=MAX_CHOSEN_LEN).contains(&value.len());
    if !len_ok || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValueError::BadChosen);
    }
    Ok(())
}

/// A short reminder of a token shown instead of its value: the prefix of generated
/// tokens and the last four characters.
pub fn hint(value: &str) -> String {
    let tail_start = value.len().saturating_sub(HINT_TAIL);
    let tail = value.get(tail_start..).unwrap_or("");
    if claims_generated(value) {
        format!("{PREFIX}…{tail}")
    } else {
        format!("…{tail}")
    }
}

/// `text` with every generated token inside it (prefix, shape and checksum) replaced by
/// its hint; borrowed when there is none, which is the usual case.
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(PREFIX) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        match from
            .get(..GENERATED_LEN)
            .filter(|v| generated_well_formed(v))
        {
            Some(value) => {
                out.push_str(&hint(value));
                rest = &from[GENERATED_LEN..];
            }
            None => {
                out.push_str(PREFIX);
                rest = &from[PREFIX.len()..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

fn checksum(body: &str) -> String {
    let mut value = u64::from(crc32(body.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// CRC-32 (IEEE) with a table built at compile time: 1 KiB, no crate.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in bytes {
        crc = (crc >> 8) ^ TABLE[usize::from((crc as u8) ^ byte)];
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> String {
        assemble("0123456789abcdefghijABCDEFGHIJ")
    }

    #[test]
    fn generated_tokens_need_their_checksum() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let token = generated();
        assert_eq!(token.len(), GENERATED_LEN);
        assert!(generated_well_formed(&token));
        assert!(!generated_well_formed(&token.replace("abc", "abd")));
        assert!(!generated_well_formed("tgk_short"));
    }

    #[test]
    fn chosen_tokens_are_bounded_and_visible() {
        assert_eq!(validate_chosen("ip9ul19f8jenb92tji8lo34qt7tb1meo"), Ok(()));
        assert_eq!(validate_chosen("short"), Err(ValueError::BadChosen));
        assert_eq!(
            validate_chosen("has a space in it ok"),
            Err(ValueError::BadChosen)
        );
        assert_eq!(
            validate_chosen("tgk_0123456789abcdef"),
            Err(ValueError::ReservedPrefix)
        );
    }

    #[test]
    fn redaction_replaces_generated_tokens_only() {
        let token = generated();
        let text = format!("/rest/x?t={token}&u=tgk_not-a-token{token}");
        let redacted = redact(&text);
        assert!(!redacted.contains(&token), "{redacted}");
        assert_eq!(
            redacted,
            format!("/rest/x?t={0}&u=tgk_not-a-token{0}", hint(&token))
        );
        assert!(matches!(redact("/rest/x"), std::borrow::Cow::Borrowed(_)));
    }
}

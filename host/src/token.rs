//! Token values: generation, the recognisable format, caller-chosen values and the
//! keyed digest that is all the store ever keeps.
//!
//! Generated tokens are `tgk_`, 30 base62 characters from the OS CSPRNG (178 bits)
//! and a 6-character base62 CRC32 of the rest, so a mistyped or truncated token is
//! refused before any lookup and secret scanners can recognise leaked ones.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of every generated token; reserved (caller-chosen tokens may not use it).
pub const PREFIX: &str = "tgk_";
/// Random base62 characters in a generated token: 30 × log2(62) ≈ 178 bits.
const RANDOM_CHARS: usize = 30;
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
/// Length of the server key (HMAC-SHA256 key).
pub const KEY_LEN: usize = 32;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a token value is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The OS random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// A caller-chosen token of the wrong length or with invisible characters.
    #[error("a chosen token must be {MIN_CHOSEN_LEN} to {MAX_CHOSEN_LEN} visible ASCII characters")]
    BadChosen,
    /// A caller-chosen token that starts with the generated prefix.
    #[error("a chosen token must not start with `{PREFIX}` (reserved for generated tokens)")]
    ReservedPrefix,
}

/// The HMAC-SHA256 digest of a token value under the server key.
pub type Digest = [u8; 32];

/// The server key: tokens are stored only as HMACs under it.
#[derive(Clone)]
pub struct ServerKey([u8; KEY_LEN]);

impl ServerKey {
    /// Wraps key bytes read from the key file.
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The keyed digest of `token`. Always computed, even for malformed input, so
    /// that authentication failures take similar time.
    pub fn digest(&self, token: &str) -> Digest {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key's public id: exports and databases record it, so a proxy-wasm filter
    /// or a second gateway with another key is refused instead of silently
    /// rejecting every token.
    pub fn id(&self) -> String {
        hex::encode(&self.digest(KEY_ID_INPUT)[..KEY_ID_BYTES])
    }
}

/// What the key id is the HMAC of. It starts with a NUL byte, which no token value can
/// contain, so the key id is never a token's digest. The filter computes the same value
/// from the key it is given (`policy/proxy-wasm/src/key.rs`).
const KEY_ID_INPUT: &str = "\u{0}tokengate key id";
/// Bytes of that HMAC shown as the key id.
const KEY_ID_BYTES: usize = 8;

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// Constant-time digest comparison.
pub fn digests_equal(a: &Digest, b: &Digest) -> bool {
    a.ct_eq(b).into()
}

/// Random bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], TokenError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| TokenError::Random(err.to_string()))?;
    Ok(bytes)
}

/// `n` uniformly random base62 characters (rejection sampling: no modulo bias).
fn random_base62(n: usize) -> Result<String, TokenError> {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in random_bytes::<64>()? {
            // 248 = 4 × 62: bytes at or above it would bias the low characters.
            if byte < 248 && out.len() < n {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}

/// `value` in base62, left-padded with `0` to `width` characters.
fn base62_fixed(mut value: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.into_iter().map(char::from).collect()
}

fn checksum(body: &str) -> String {
    base62_fixed(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_CHARS)
}

/// A new generated token.
pub fn generate() -> Result<String, TokenError> {
    let body = format!("{PREFIX}{}", random_base62(RANDOM_CHARS)?);
    let sum = checksum(&body);
    Ok(body + &sum)
}

/// A new opaque token id (not a secret; never resembles a token).
pub fn new_id() -> Result<String, TokenError> {
    random_base62(20)
}

/// Whether a presented value claims to be a generated token (by its prefix).
pub fn claims_generated(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// Whether a value that claims to be generated has the right shape and checksum.
pub fn generated_well_formed(token: &str) -> bool {
    if token.len() != GENERATED_LEN
        || !token
            .bytes()
            .all(|b| b == b'_' || b.is_ascii_alphanumeric())
    {
        return false;
    }
    let (body, sum) = token.split_at(GENERATED_LEN - CHECKSUM_CHARS);
    checksum(body) == sum
}

/// Checks a token value chosen by the caller of `set`.
pub fn validate_chosen(token: &str) -> Result<(), TokenError> {
    if claims_generated(token) {
        return Err(TokenError::ReservedPrefix);
    }
    let len_ok = (MIN_CHOSEN_LEN..=MAX_CHOSEN_LEN).contains(&token.len());
    if !len_ok || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenError::BadChosen);
    }
    Ok(())
}

/// A short reminder of a token shown instead of its value: the prefix of generated
/// tokens and the last four characters.
pub fn hint(token: &str) -> String {
    let tail_start = token.len().saturating_sub(HINT_TAIL);
    let tail = token.get(tail_start..).unwrap_or("");
    if claims_generated(token) {
        format!("{PREFIX}…{tail}")
    } else {
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_prefix_length_and_checksum() {
        let token = generate().unwrap_or_default();
        assert_eq!(token.len(), GENERATED_LEN);
        assert!(generated_well_formed(&token));
        let mut broken = token.into_bytes();
        broken[10] = if broken[10] == b'a' { b'b' } else { b'a' };
        assert!(!generated_well_formed(&String::from_utf8_lossy(&broken)));
    }

    #[test]
    fn chosen_tokens_are_bounded_and_visible() {
        assert_eq!(validate_chosen("ip9ul19f8jenb92tji8lo34qt7tb1meo"), Ok(()));
        assert_eq!(validate_chosen("short"), Err(TokenError::BadChosen));
        assert_eq!(
            validate_chosen("has a space in it ok"),
            Err(TokenError::BadChosen)
        );
        assert_eq!(
            validate_chosen("tgk_0123456789abcdef"),
            Err(TokenError::ReservedPrefix)
        );
    }

    #[test]
    fn digest_depends_on_key() {
        let a = ServerKey::new([1; KEY_LEN]).digest("token");
        let b = ServerKey::new([2; KEY_LEN]).digest("token");
        assert!(!digests_equal(&a, &b));
        assert!(digests_equal(
            &a,
            &ServerKey::new([1; KEY_LEN]).digest("token")
        ));
    }
}

//! The exported tokens, compiled once at configuration and found by keyed digest, with
//! the gateway's checks before any lookup (`host/src/token.rs`, `host/src/index.rs`).

use std::collections::HashMap;

use tokengate_policy::Rules;

use crate::key::{Digest, digests_equal};

/// The prefix of every generated token.
const GENERATED_PREFIX: &str = "tgk_";
/// Random base62 characters of a generated token.
const RANDOM_CHARS: usize = 30;
/// Base62 characters of the CRC32 checksum that ends a generated token.
const CHECKSUM_CHARS: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A live token as the filter knows it: never its value.
#[derive(Debug)]
pub struct Token {
    /// The gateway's opaque id.
    pub id: String,
    /// HMAC-SHA256 of the value under the server key.
    pub digest: Digest,
    /// The user the token is bound to; `None` = any user (Basic only).
    pub user: Option<String>,
    /// Restriction lines as stored (normalised, joined by `\n`).
    pub limit_to: String,
    /// Expiry, epoch ms.
    pub valid_until: Option<i64>,
    /// The compiled `limitTo` and `ip`.
    pub rules: Rules,
    /// Whether a line has a `[JsonData::…]` condition (the body is read first).
    pub needs_body: bool,
}

impl Token {
    /// The restriction line `n` (1-based) as stored, for the audit record.
    pub fn line(&self, n: u32) -> Option<&str> {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        self.limit_to.split('\n').nth(index)
    }
}

/// What a presented token value came to.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// A live token.
    Found(&'a Token),
    /// A token revoked before the export; its id, for the audit log.
    Revoked(&'a str),
    /// A value that claims to be generated but has a wrong shape or checksum.
    BadChecksum,
    /// No such token.
    Unknown,
}

impl Lookup<'_> {
    /// The audit reason of a failed lookup.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Found(_) => "found",
            Self::Revoked(_) => "revoked",
            Self::BadChecksum => "bad-checksum",
            Self::Unknown => "unknown-token",
        }
    }
}

/// Live tokens by digest, and the digests of revoked ones.
#[derive(Debug, Default)]
pub struct TokenTable {
    tokens: Vec<Token>,
    by_digest: HashMap<Digest, usize>,
    revoked: HashMap<Digest, String>,
}

impl TokenTable {
    /// A table of `tokens` and `revoked` (id, digest) pairs.
    pub fn new(tokens: Vec<Token>, revoked: Vec<(String, Digest)>) -> Self {
        let by_digest = tokens
            .iter()
            .enumerate()
            .map(|(index, token)| (token.digest, index))
            .collect();
        let revoked = revoked
            .into_iter()
            .map(|(id, digest)| (digest, id))
            .collect();
        Self {
            tokens,
            by_digest,
            revoked,
        }
    }

    /// Number of live tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token is live.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The live tokens, in export order.
    pub fn iter(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter()
    }

    /// The live token with this digest.
    pub fn by_digest(&self, digest: &Digest) -> Option<&Token> {
        self.by_digest
            .get(digest)
            .and_then(|&index| self.tokens.get(index))
            .filter(|token| digests_equal(&token.digest, digest))
    }

    /// Finds the token presented as `value`, whose digest is `digest`. The map key is a
    /// keyed digest the client cannot predict, so the lookup's timing tells nothing; the
    /// final comparison is constant-time all the same.
    pub fn find(&self, value: &str, digest: &Digest) -> Lookup<'_> {
        if value.starts_with(GENERATED_PREFIX) && !generated_well_formed(value) {
            return Lookup::BadChecksum;
        }
        match (self.by_digest(digest), self.revoked.get(digest)) {
            (Some(token), _) => Lookup::Found(token),
            (None, Some(id)) => Lookup::Revoked(id),
            (None, None) => Lookup::Unknown,
        }
    }
}

/// Whether a value that claims to be generated has the right shape and checksum.
fn generated_well_formed(token: &str) -> bool {
    let len = GENERATED_PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
    if token.len() != len
        || !token
            .bytes()
            .all(|b| b == b'_' || b.is_ascii_alphanumeric())
    {
        return false;
    }
    let (body, sum) = token.split_at(len - CHECKSUM_CHARS);
    let mut value = u64::from(crc32(body.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits == sum.as_bytes()
}

/// CRC-32 (IEEE), bit by bit: the checksum covers 34 bytes, and the table-driven crate
/// would add 16 KB to a filter that must stay small.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_need_their_checksum() {
        // A token the gateway generated (tests/all/gateway uses the same format).
        let body = format!("{GENERATED_PREFIX}{}", "a".repeat(RANDOM_CHARS));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let mut value = u64::from(crc32(body.as_bytes()));
        let mut sum = [b'0'; CHECKSUM_CHARS];
        for slot in sum.iter_mut().rev() {
            *slot = BASE62[(value % 62) as usize];
            value /= 62;
        }
        let token = format!("{body}{}", String::from_utf8_lossy(&sum));
        assert!(generated_well_formed(&token));
        assert!(!generated_well_formed(&token.replace("aaa", "aab")));
        let table = TokenTable::default();
        assert!(matches!(table.find(&token, &[0; 32]), Lookup::Unknown));
        assert!(matches!(
            table.find("tgk_short", &[0; 32]),
            Lookup::BadChecksum
        ));
    }

    #[test]
    fn revoked_digests_are_told_apart() {
        let table = TokenTable::new(Vec::new(), vec![("gone".into(), [7; 32])]);
        assert!(matches!(
            table.find("chosen-value-0001", &[7; 32]),
            Lookup::Revoked("gone")
        ));
    }
}

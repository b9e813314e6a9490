//! The exported tokens, compiled once at configuration: the filter's token table for the
//! shared pipeline (`tokengate_core::tokens`), found by keyed digest.

use std::collections::HashMap;
use std::rc::Rc;

use tokengate_core::key::{Digest, digests_equal};
use tokengate_core::tokens::{self, TokenView, stored_line};
use tokengate_policy::Rules;

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
    /// IP rules as stored.
    pub ip: String,
    /// Expiry, epoch ms.
    pub valid_until: Option<i64>,
    /// A rotated token's end, epoch ms.
    pub retire_at: Option<i64>,
    /// Start of validity, epoch ms.
    pub valid_from: Option<i64>,
    /// The compiled `limitTo` and `ip`.
    pub rules: Rules,
    /// Whether a line has a `[JsonData::…]` condition (the body is read first).
    pub needs_body: bool,
}

impl TokenView for Token {
    fn id(&self) -> &str {
        &self.id
    }
    fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    fn valid_until(&self) -> Option<i64> {
        self.valid_until
    }
    fn retire_at(&self) -> Option<i64> {
        self.retire_at
    }
    fn valid_from(&self) -> Option<i64> {
        self.valid_from
    }
    fn line(&self, n: u32) -> Option<&str> {
        stored_line(&self.limit_to, n)
    }
}

/// Live tokens by digest, and the ids of revoked ones.
#[derive(Debug, Default)]
pub struct TokenTable {
    tokens: Vec<Rc<Token>>,
    by_digest: HashMap<Digest, Rc<Token>>,
    revoked: HashMap<Digest, String>,
}

impl TokenTable {
    /// A table of `tokens` and `revoked` (id, digest) pairs.
    pub fn new(tokens: Vec<Rc<Token>>, revoked: Vec<(String, Digest)>) -> Self {
        let by_digest = tokens
            .iter()
            .map(|token| (token.digest, Rc::clone(token)))
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
        self.tokens.iter().map(|token| &**token)
    }

    /// The live tokens as shared handles (a new configuration takes unchanged ones over).
    pub fn shared(&self) -> &[Rc<Token>] {
        &self.tokens
    }
}

impl tokens::TokenTable for TokenTable {
    type Token = Rc<Token>;

    fn live(&self, digest: &Digest) -> Option<Rc<Token>> {
        self.by_digest
            .get(digest)
            .filter(|token| digests_equal(&token.digest, digest))
            .cloned()
    }

    fn revoked(&self, digest: &Digest) -> Option<String> {
        self.revoked.get(digest).cloned()
    }
}

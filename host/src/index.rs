//! The in-memory token index: live (unrevoked) tokens by keyed digest, so a request
//! never touches SQLite to find its token. `set` and `delete` update it at once.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::token::Digest;

/// What the gateway knows about a live token (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Opaque random id.
    pub id: String,
    /// HMAC-SHA256 of the value under the server key.
    pub digest: Digest,
    /// A short reminder of the value (prefix + last 4 characters).
    pub hint: String,
    /// Name given at creation.
    pub label: String,
    /// The user the token is bound to; `None` = any user (Basic only).
    pub user: Option<String>,
    /// Normalised restriction lines joined by `\n`.
    pub limit_to: String,
    /// IP rules as given.
    pub ip: String,
    /// Expiry, epoch ms; `None` = never.
    pub valid_until: Option<i64>,
    /// Creation time, epoch ms.
    pub date_created: i64,
    /// Who created it (admin user or `cli`).
    pub created_by: Option<String>,
}

impl Token {
    /// The restriction line `n` (1-based) as stored.
    pub fn line(&self, n: u32) -> Option<&str> {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        self.limit_to.split('\n').nth(index)
    }
}

/// Live tokens by digest.
#[derive(Debug, Default)]
pub struct TokenIndex {
    by_digest: RwLock<HashMap<Digest, Arc<Token>>>,
}

impl TokenIndex {
    /// An index of `tokens`.
    pub fn new(tokens: impl IntoIterator<Item = Token>) -> Self {
        let by_digest = tokens
            .into_iter()
            .map(|token| (token.digest, Arc::new(token)))
            .collect();
        Self {
            by_digest: RwLock::new(by_digest),
        }
    }

    /// The live token with this digest. The map key is a keyed digest the client
    /// cannot predict, so the lookup's timing tells nothing; the final comparison
    /// is constant-time all the same.
    pub fn find(&self, digest: &Digest) -> Option<Arc<Token>> {
        let map = self
            .by_digest
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(digest)
            .filter(|token| crate::token::digests_equal(&token.digest, digest))
            .cloned()
    }

    /// Adds a new token.
    pub fn insert(&self, token: Arc<Token>) {
        let mut map = self
            .by_digest
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(token.digest, token);
    }

    /// Removes a token; the next request that presents it is refused.
    pub fn remove(&self, digest: &Digest) -> Option<Arc<Token>> {
        let mut map = self
            .by_digest
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.remove(digest)
    }

    /// Replaces every token (after another process changed the store).
    pub fn replace(&self, tokens: impl IntoIterator<Item = Token>) {
        let fresh: HashMap<Digest, Arc<Token>> = tokens
            .into_iter()
            .map(|token| (token.digest, Arc::new(token)))
            .collect();
        *self
            .by_digest
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fresh;
    }

    /// Number of live tokens.
    pub fn len(&self) -> usize {
        self.by_digest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no token is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

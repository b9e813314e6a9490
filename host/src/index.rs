//! The in-memory token index: live tokens and the digests of revoked ones, so a request
//! never touches the database to find its token or to learn that it was revoked.
//!
//! Revocation is for ever, so a revoked digest stays a tombstone: nothing (a refresh that
//! read the token just before it was revoked, say) can make it live again.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokengate_core::tokens::{TokenTable, TokenView, stored_line};

use crate::policy::{PolicyToken, RulesRef, TokenState};
use crate::token::{Digest, digests_equal};

/// What the gateway knows about a token (never its value).
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
    /// Rotation and quota.
    pub life: Lifecycle,
}

/// Where a token stands in its life beyond its expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Start of validity, epoch ms (`validFrom`); before it the policy refuses the token
    /// as `not-yet-valid`.
    pub valid_from: Option<i64>,
    /// The token this one replaced (`tokenTools/rotate`).
    pub rotated_from: Option<String>,
    /// The token that replaced this one.
    pub rotated_to: Option<String>,
    /// A rotated token's last moment (the end of its grace period), epoch ms.
    pub retire_at: Option<i64>,
    /// Uses left as read; `None` = unlimited. The store counts them down in the audit
    /// commit, so only whether there is a quota is taken from here.
    pub remaining_uses: Option<i64>,
}

impl Token {
    /// The restriction line `n` (1-based) as stored.
    pub fn line(&self, n: u32) -> Option<&str> {
        stored_line(&self.limit_to, n)
    }
}

/// How often one token's use from one address is noted among its last addresses.
const NOTE_IP_EVERY_MS: i64 = 60_000;
/// Addresses remembered per token for that (more than are kept: a token used from many
/// addresses in turn notes each at most once a minute all the same, nearly).
const NOTED_IPS: usize = 16;

/// A live token and what the policy threads learnt about it.
#[derive(Debug)]
pub struct Live {
    token: Token,
    state: TokenState,
    /// When each recent client address was last noted in the store.
    noted: Mutex<Vec<(String, i64)>>,
}

impl Live {
    /// A live token with nothing learnt yet.
    pub fn new(token: Token) -> Self {
        Self {
            token,
            state: TokenState::default(),
            noted: Mutex::new(Vec::new()),
        }
    }

    /// Whether a use from `ip` at `now` should be noted among the token's last
    /// addresses: at most once a minute per address (per gateway).
    pub fn note_ip(&self, ip: &str, now: i64) -> bool {
        let mut noted = self.noted.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = noted.iter_mut().find(|(known, _)| known == ip) {
            if now - entry.1 < NOTE_IP_EVERY_MS {
                return false;
            }
            entry.1 = now;
            return true;
        }
        if noted.len() >= NOTED_IPS
            && let Some(oldest) = noted
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(i, _)| i)
        {
            noted.swap_remove(oldest);
        }
        noted.push((ip.to_owned(), now));
        true
    }
}

impl Deref for Live {
    type Target = Token;
    fn deref(&self) -> &Token {
        &self.token
    }
}

impl PolicyToken for Live {
    fn rules(&self) -> RulesRef<'_> {
        RulesRef {
            id: &self.token.id,
            limit_to: &self.token.limit_to,
            ip: &self.token.ip,
        }
    }

    fn state(&self) -> &TokenState {
        &self.state
    }
}

impl TokenView for Live {
    fn id(&self) -> &str {
        &self.token.id
    }
    fn user(&self) -> Option<&str> {
        self.token.user.as_deref()
    }
    fn valid_until(&self) -> Option<i64> {
        self.token.valid_until
    }
    fn line(&self, n: u32) -> Option<&str> {
        self.token.line(n)
    }
    fn retire_at(&self) -> Option<i64> {
        self.token.life.retire_at
    }
    fn valid_from(&self) -> Option<i64> {
        self.token.life.valid_from
    }
    fn has_quota(&self) -> bool {
        self.token.life.remaining_uses.is_some()
    }
}

#[derive(Debug, Default)]
struct Tables {
    live: HashMap<Digest, Arc<Live>>,
    /// Revoked token ids by digest.
    revoked: HashMap<Digest, String>,
}

/// Live tokens and revoked digests.
#[derive(Debug, Default)]
pub struct TokenIndex {
    tables: RwLock<Tables>,
}

impl TokenIndex {
    /// An index of `live` tokens and `revoked` (id, digest) pairs.
    pub fn new(live: impl IntoIterator<Item = Token>, revoked: Vec<(String, Digest)>) -> Self {
        let revoked: HashMap<Digest, String> = revoked
            .into_iter()
            .map(|(id, digest)| (digest, id))
            .collect();
        let live = live
            .into_iter()
            .filter(|token| !revoked.contains_key(&token.digest))
            .map(|token| (token.digest, Arc::new(Live::new(token))))
            .collect();
        Self {
            tables: RwLock::new(Tables { live, revoked }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live token with this digest. The map key is a keyed digest the client cannot
    /// predict, so the lookup's timing tells nothing; the final comparison is constant-time
    /// all the same.
    pub fn find(&self, digest: &Digest) -> Option<Arc<Live>> {
        self.read()
            .live
            .get(digest)
            .filter(|live| digests_equal(&live.digest, digest))
            .cloned()
    }

    /// The id of the revoked token with this digest.
    pub fn revoked(&self, digest: &Digest) -> Option<String> {
        self.read().revoked.get(digest).cloned()
    }

    /// Adds a live token, or replaces it when its stored fields changed (a rotation
    /// sets its end), unless its digest was revoked (then it stays refused).
    pub fn insert(&self, token: Token) -> Option<Arc<Live>> {
        let mut tables = self.write();
        if tables.revoked.contains_key(&token.digest) {
            return None;
        }
        if let Some(live) = tables.live.get(&token.digest)
            && live.token == token
        {
            return Some(Arc::clone(live));
        }
        let live = Arc::new(Live::new(token));
        tables.live.insert(live.digest, Arc::clone(&live));
        Some(live)
    }

    /// Revokes a token: the next request that presents it is refused as `revoked`.
    pub fn revoke(&self, digest: Digest, id: &str) -> Option<Arc<Live>> {
        let mut tables = self.write();
        tables.revoked.insert(digest, id.to_owned());
        tables.live.remove(&digest)
    }

    /// Number of live tokens.
    pub fn len(&self) -> usize {
        self.read().live.len()
    }

    /// Whether no token is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TokenTable for TokenIndex {
    type Token = Arc<Live>;

    fn live(&self, digest: &Digest) -> Option<Arc<Live>> {
        self.find(digest)
    }

    fn revoked(&self, digest: &Digest) -> Option<String> {
        TokenIndex::revoked(self, digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, digest: u8) -> Token {
        Token {
            id: id.into(),
            digest: [digest; 32],
            hint: String::new(),
            label: id.into(),
            user: None,
            limit_to: String::new(),
            ip: String::new(),
            valid_until: None,
            date_created: 0,
            created_by: None,
            life: Default::default(),
        }
    }

    #[test]
    fn an_address_is_noted_once_a_minute() {
        let live = Live::new(token("a", 1));
        assert!(live.note_ip("10.0.0.1", 0));
        assert!(!live.note_ip("10.0.0.1", 59_999));
        assert!(live.note_ip("10.0.0.2", 59_999));
        assert!(live.note_ip("10.0.0.1", 60_000));
    }

    #[test]
    fn a_revoked_token_is_never_live_again() {
        let index = TokenIndex::new([token("a", 1)], Vec::new());
        assert!(index.find(&[1; 32]).is_some());
        // A refresh that read the token before its revocation inserts it after.
        assert!(index.revoke([1; 32], "a").is_some());
        assert!(index.insert(token("a", 1)).is_none());
        assert!(index.find(&[1; 32]).is_none());
        assert_eq!(index.revoked(&[1; 32]).as_deref(), Some("a"));
        let loaded = TokenIndex::new([token("b", 2)], vec![("b".into(), [2; 32])]);
        assert!(loaded.is_empty());
    }
}

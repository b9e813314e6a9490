//! Finding the token a request presents: by keyed digest, behind a trait each host
//! implements over its own table (the gateway's live index, the filter's export).
//!
//! Every failed lookup costs the same (a digest and two map probes), so timing tells an
//! unknown, a revoked and a mistyped token apart no better than the uniform 401 does.

use crate::key::Digest;
use crate::token_value::{claims_generated, generated_well_formed};

/// What the pipeline needs to know about a live token.
pub trait TokenView {
    /// The opaque id.
    fn id(&self) -> &str;
    /// The user the token is bound to; `None` = any user (Basic only).
    fn user(&self) -> Option<&str>;
    /// Expiry, epoch ms; `None` = never.
    fn valid_until(&self) -> Option<i64>;
    /// Start of validity, epoch ms; `None` = from creation.
    fn valid_from(&self) -> Option<i64> {
        None
    }
    /// Restriction line `n` (1-based) as stored, for the audit record.
    fn line(&self, n: u32) -> Option<&str>;
    /// The end of a rotated token's grace period, epoch ms: from then on its value is
    /// refused as `rotated`. `None` = not rotated.
    fn retire_at(&self) -> Option<i64> {
        None
    }
    /// Whether each allowed use takes one of a limited number of uses (the store
    /// counts them down in the audit commit).
    fn has_quota(&self) -> bool {
        false
    }
}

/// Shared handles to a token are views of it.
macro_rules! view_through {
    ($($pointer:ident)::+) => {
        impl<T: TokenView + ?Sized> TokenView for $($pointer)::+<T> {
            fn id(&self) -> &str {
                (**self).id()
            }
            fn user(&self) -> Option<&str> {
                (**self).user()
            }
            fn valid_until(&self) -> Option<i64> {
                (**self).valid_until()
            }
            fn valid_from(&self) -> Option<i64> {
                (**self).valid_from()
            }
            fn line(&self, n: u32) -> Option<&str> {
                (**self).line(n)
            }
            fn retire_at(&self) -> Option<i64> {
                (**self).retire_at()
            }
            fn has_quota(&self) -> bool {
                (**self).has_quota()
            }
        }
    };
}
view_through!(std::rc::Rc);
view_through!(std::sync::Arc);

/// A host's tokens: live ones by digest, and the ids of revoked ones by digest.
pub trait TokenTable {
    /// A live token as the host holds it (cheap to clone: an `Arc` or a reference).
    type Token: TokenView;
    /// The live token with this digest (compared in constant time).
    fn live(&self, digest: &Digest) -> Option<Self::Token>;
    /// The id of the revoked token with this digest.
    fn revoked(&self, digest: &Digest) -> Option<String>;
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// A live token.
    Found(T),
    /// A revoked token: its id.
    Revoked(String),
    /// A value that claims to be generated but has a wrong shape or checksum.
    BadChecksum,
    /// No such token.
    Unknown,
}

/// Finds the token presented as `value`, whose digest is `digest`. Both maps are probed
/// whatever the outcome, so every failure does the same work.
pub fn lookup<T: TokenTable + ?Sized>(table: &T, value: &str, digest: &Digest) -> Lookup<T::Token> {
    let bad_checksum = claims_generated(value) && !generated_well_formed(value);
    let live = table.live(digest);
    let revoked = table.revoked(digest);
    match (bad_checksum, live, revoked) {
        (true, _, _) => Lookup::BadChecksum,
        (false, Some(token), _) => Lookup::Found(token),
        (false, None, Some(id)) => Lookup::Revoked(id),
        (false, None, None) => Lookup::Unknown,
    }
}

/// A restriction line (1-based) of a `limitTo` text as stored (lines joined by `\n`).
pub fn stored_line(limit_to: &str, n: u32) -> Option<&str> {
    let index = usize::try_from(n).ok()?.checked_sub(1)?;
    limit_to.split('\n').nth(index)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::token_value::assemble;

    struct Table {
        live: HashMap<Digest, &'static str>,
        revoked: HashMap<Digest, String>,
    }

    impl TokenView for &'static str {
        fn id(&self) -> &str {
            self
        }
        fn user(&self) -> Option<&str> {
            None
        }
        fn valid_until(&self) -> Option<i64> {
            None
        }
        fn line(&self, _n: u32) -> Option<&str> {
            None
        }
    }

    impl TokenTable for Table {
        type Token = &'static str;
        fn live(&self, digest: &Digest) -> Option<&'static str> {
            self.live.get(digest).copied()
        }
        fn revoked(&self, digest: &Digest) -> Option<String> {
            self.revoked.get(digest).cloned()
        }
    }

    #[test]
    fn lookups_tell_live_revoked_and_malformed_apart() {
        let table = Table {
            live: HashMap::from([([1; 32], "live")]),
            revoked: HashMap::from([([2; 32], "gone".to_string())]),
        };
        assert_eq!(
            lookup(&table, "chosen-value-001", &[1; 32]),
            Lookup::Found("live")
        );
        assert_eq!(
            lookup(&table, "chosen-value-001", &[2; 32]),
            Lookup::Revoked("gone".into())
        );
        assert_eq!(
            lookup(&table, "chosen-value-001", &[3; 32]),
            Lookup::Unknown
        );
        assert_eq!(lookup(&table, "tgk_short", &[1; 32]), Lookup::BadChecksum);
        let generated = assemble("0123456789abcdefghijABCDEFGHIJ");
        assert_eq!(lookup(&table, &generated, &[3; 32]), Lookup::Unknown);
    }

    #[test]
    fn stored_lines_are_one_based() {
        assert_eq!(stored_line("a\nb", 2), Some("b"));
        assert_eq!(stored_line("a\nb", 0), None);
        assert_eq!(stored_line("a\nb", 3), None);
    }
}

//! Token lifetime rules: the longest lifetime an organisation allows
//! (`TOKENGATE_MAX_TOKEN_DAYS`) and how early an expiry is announced
//! (`TOKENGATE_EXPIRY_WARNING_DAYS`). Shared by `serve` (the admin API) and the CLI.

use crate::config::{default, env};
use crate::index::Token;

/// Milliseconds per day.
pub const DAY_MS: i64 = 86_400_000;

/// The lifetime settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Lifetime {
    /// Longest token lifetime, days: a token without an expiry, or expiring later, is
    /// refused at creation (0 = no limit). `token list --violations` shows tokens made
    /// before the limit that break it.
    #[arg(long, env = env::MAX_TOKEN_DAYS, default_value_t = default::MAX_TOKEN_DAYS)]
    pub max_token_days: u32,
    /// Days before its expiry from which a token is reported as `expiresSoon`.
    #[arg(long, env = env::EXPIRY_WARNING_DAYS, default_value_t = default::EXPIRY_WARNING_DAYS)]
    pub expiry_warning_days: u32,
}

impl Default for Lifetime {
    fn default() -> Self {
        Self {
            max_token_days: default::MAX_TOKEN_DAYS,
            expiry_warning_days: default::EXPIRY_WARNING_DAYS,
        }
    }
}

impl Lifetime {
    /// Why a token expiring in `days` (0 = never) may not be created, if it may not.
    pub fn refuse_days(&self, days: i64) -> Option<String> {
        let max = i64::from(self.max_token_days);
        if max == 0 || (1..=max).contains(&days) {
            return None;
        }
        Some(format!(
            "daysUntilExpiry must be from 1 to {max}: tokens live at most {max} days here \
             (TOKENGATE_MAX_TOKEN_DAYS)"
        ))
    }

    /// Why `token` breaks the lifetime limit (made before it was set), if it does.
    pub fn violation(&self, token: &Token) -> Option<String> {
        let max = i64::from(self.max_token_days);
        if max == 0 {
            return None;
        }
        let limit = token
            .date_created
            .saturating_add(max.saturating_mul(DAY_MS));
        match token.valid_until {
            None => Some(format!("never expires (limit: {max} days)")),
            Some(until) if until > limit => Some(format!(
                "lives {} days (limit: {max} days)",
                (until - token.date_created) / DAY_MS
            )),
            Some(_) => None,
        }
    }

    /// Whether `token` expires within the warning window at `now` (and has not yet).
    pub fn expires_soon(&self, token: &Token, now: i64) -> bool {
        let window = i64::from(self.expiry_warning_days).saturating_mul(DAY_MS);
        token
            .valid_until
            .is_some_and(|until| now < until && until - now <= window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(created: i64, until: Option<i64>) -> Token {
        Token {
            id: "t".into(),
            digest: [0; 32],
            hint: String::new(),
            label: "t".into(),
            user: None,
            limit_to: String::new(),
            ip: String::new(),
            valid_until: until,
            date_created: created,
            created_by: None,
            life: Default::default(),
        }
    }

    #[test]
    fn a_limit_refuses_no_expiry_and_longer_lives() {
        let limit = Lifetime {
            max_token_days: 90,
            ..Lifetime::default()
        };
        assert!(limit.refuse_days(0).is_some_and(|m| m.contains("90")));
        assert!(limit.refuse_days(91).is_some());
        assert_eq!(limit.refuse_days(90), None);
        assert_eq!(Lifetime::default().refuse_days(0), None);
        assert!(limit.violation(&token(0, None)).is_some());
        assert!(limit.violation(&token(0, Some(91 * DAY_MS))).is_some());
        assert_eq!(limit.violation(&token(0, Some(90 * DAY_MS))), None);
    }

    #[test]
    fn expiry_is_soon_within_the_window_only() {
        let lifetime = Lifetime::default();
        let now = 1_000 * DAY_MS;
        assert!(lifetime.expires_soon(&token(0, Some(now + 7 * DAY_MS)), now));
        assert!(!lifetime.expires_soon(&token(0, Some(now + 7 * DAY_MS + 1)), now));
        assert!(!lifetime.expires_soon(&token(0, Some(now)), now));
        assert!(!lifetime.expires_soon(&token(0, None), now));
    }
}

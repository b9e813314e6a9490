//! `tokengate token export --for proxy-wasm`, and the gateway's answer to a filter's pull
//! (`crate::filter_api`): the proxy-wasm filter's configuration (`policy/proxy-wasm`),
//! from one snapshot of the store and the gateway's settings.
//!
//! The export carries tokens as keyed digests only, plus the id of the key. The key
//! itself never goes in it: [`filter_key`] reads it for the operator to hand to the filter
//! as a secret of its own (Envoy: the VM configuration, or `TOKENGATE_FILTER_KEY`).

use std::fs;
use std::path::Path;

use http::HeaderName;
use ipnet::IpNet;
use tokengate_core::export::{Export, ExportedToken, FORMAT, RevokedToken};

use crate::config::{AuthMode, Config, ScopeSetting, Secret};
use crate::index::Token;
use crate::store::{KEY_FILE, Store, StoreError};
use crate::token::{Digest, KEY_LEN};

/// The gateway settings the filter applies too; [`FilterSettings::from_config`] takes
/// them from a running gateway's configuration.
#[derive(Debug, Clone)]
pub struct FilterSettings {
    /// Which `Authorization` schemes carry tokens.
    pub auth_mode: AuthMode,
    /// Paths tokens may reach.
    pub scope: ScopeSetting,
    /// What restriction lines match before the path, e.g. `https://wiki.example.com`.
    pub public_base: String,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Header naming the user to the upstream.
    pub identity_header: HeaderName,
    /// Users whose own tokens may reach the admin API path.
    pub admins: Vec<String>,
    /// Let requests without token credentials through.
    pub passthrough: bool,
    /// Pass `Cookie` and `Set-Cookie` of token requests.
    pub pass_cookies: bool,
    /// Largest body buffered for JSON conditions.
    pub body_limit: usize,
    /// Requests per minute per token in each filter instance (0: no limit).
    pub rate_limit_per_minute: u32,
}

impl FilterSettings {
    /// The settings of a gateway configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            auth_mode: config.auth_mode,
            scope: config.scope,
            public_base: config.public_base.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            identity_header: config.identity_header.clone(),
            admins: config.admins.clone(),
            passthrough: config.passthrough,
            pass_cookies: config.pass_cookies,
            body_limit: config.body_limit,
            rate_limit_per_minute: config.rate_limit_per_minute,
        }
    }
}

/// The filter's configuration: the settings, every live token without a quota (id,
/// digest, user, `limitTo`, `ip`, `validUntil`, `validFrom`, a rotated one's end) and the digests of revoked ones, so the filter audits
/// them as `revoked`, from one snapshot of the store with its change version. Expired
/// tokens stay in: the filter refuses them as `expired` by its own clock.
pub async fn proxy_wasm_config(
    store: &Store,
    settings: &FilterSettings,
) -> Result<Export, StoreError> {
    let (live, revoked, version) = store.backend().load_tokens().await?;
    Ok(export(settings, store.key_id(), version, live, revoked))
}

/// The configuration of `live` and `revoked` tokens at change `version`, in id order, so
/// that every instance serving one version serves the same bytes.
pub fn export(
    settings: &FilterSettings,
    key_id: String,
    version: i64,
    mut live: Vec<Token>,
    mut revoked: Vec<(String, Digest)>,
) -> Export {
    live.sort_by(|a, b| a.id.cmp(&b.id));
    revoked.sort();
    Export {
        format: FORMAT.into(),
        version,
        auth_mode: settings.auth_mode,
        scope: settings.scope.to_native(),
        public_base: settings.public_base.clone(),
        trusted_proxies: settings
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect(),
        identity_header: settings.identity_header.as_str().to_owned(),
        admins: settings.admins.clone(),
        passthrough: settings.passthrough,
        pass_cookies: settings.pass_cookies,
        body_limit: settings.body_limit,
        rate_limit_per_minute: settings.rate_limit_per_minute,
        key_id,
        // A token with a quota is the gateway's alone: its uses are taken in the gateway's
        // audit commit, which a filter cannot share.
        tokens: live
            .into_iter()
            .filter(|token| token.life.remaining_uses.is_none())
            .map(|token| ExportedToken {
                digest: hex::encode(token.digest),
                id: token.id,
                user: token.user,
                limit_to: token.limit_to,
                ip: token.ip,
                valid_until: token.valid_until,
                retire_at: token.life.retire_at,
                valid_from: token.life.valid_from,
            })
            .collect(),
        revoked: revoked
            .into_iter()
            .map(|(id, digest)| RevokedToken {
                id,
                digest: hex::encode(digest),
            })
            .collect(),
    }
}

/// The server key of `data_dir` as hex, for the filter only: hand it over as a secret
/// (never inside the export, never in a shared file or a process list).
pub fn filter_key(data_dir: &Path) -> Result<Secret, StoreError> {
    let path = data_dir.join(KEY_FILE);
    let bytes = fs::read(&path).map_err(|source| StoreError::Io {
        what: "reading",
        path: path.clone(),
        source,
    })?;
    if bytes.len() != KEY_LEN {
        return Err(StoreError::BadKey(path));
    }
    Ok(Secret::new(hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Location, NewToken};

    fn settings() -> FilterSettings {
        FilterSettings {
            auth_mode: AuthMode::Both,
            scope: ScopeSetting::Rest,
            public_base: "https://wiki.example.com".into(),
            trusted_proxies: "10.0.0.0/8".parse().into_iter().collect(),
            identity_header: HeaderName::from_static("x-forwarded-user"),
            admins: vec!["admin".into()],
            passthrough: false,
            pass_cookies: false,
            body_limit: 1024,
            rate_limit_per_minute: 30,
        }
    }

    #[tokio::test]
    async fn the_export_holds_digests_and_never_the_key_or_a_value() -> Result<(), StoreError> {
        let dir = std::env::temp_dir().join(format!("tokengate-export-{}", std::process::id()));
        let store = Store::open(&dir, &Location::Sqlite).await?;
        let new = |label: &str, value: &str| NewToken {
            label: label.into(),
            user: Some("admin".into()),
            limit_to: "[get].*/rest/api/.*".into(),
            value: Some(value.into()),
            ..NewToken::default()
        };
        let (live, _) = store.create(new("live", "live-token-value-0001")).await?;
        let (gone, _) = store.create(new("gone", "gone-token-value-0001")).await?;
        store.revoke_id(&gone.id).await?;
        // A token with a quota stays the gateway's: a filter could not take its uses.
        store
            .create(NewToken {
                remaining_uses: Some(5),
                ..new("counted", "counted-value-00001")
            })
            .await?;

        let export = proxy_wasm_config(&store, &settings()).await?;
        let export = serde_json::to_value(&export).unwrap_or_default();
        assert_eq!(export["format"], FORMAT);
        assert_eq!(export["keyId"], store.key_id());
        assert_eq!(
            export["tokens"].as_array().map(Vec::len),
            Some(1),
            "{export}"
        );
        assert_eq!(export["tokens"][0]["id"], live.id.as_str());
        assert_eq!(export["tokens"][0]["digest"], hex::encode(live.digest));
        assert_eq!(export["tokens"][0]["limitTo"], "[get].*/rest/api/.*");
        assert_eq!(export["revoked"][0]["id"], gone.id.as_str());
        assert_eq!(export["trustedProxies"][0], "10.0.0.0/8");
        assert_eq!(export["rateLimitPerMinute"], 30);
        assert!(export["version"].as_i64().unwrap_or(0) >= 3, "{export}");

        let key = filter_key(&dir)?;
        let text = export.to_string();
        assert_eq!(key.expose().len(), KEY_LEN * 2);
        assert!(!text.contains(key.expose()));
        assert!(!text.contains("live-token-value-0001"));
        assert_eq!(format!("{key:?}"), "<redacted>");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

//! `tokengate check`: whether a token's restriction lines (stored, or given on the
//! command line) admit a method and URL, line by line, through the policy component.

use anyhow::{Context as _, Result, bail};
use clap::Args;

use super::{DataDir, open_store};
use crate::admin;
use crate::config::{ScopeSetting, default, env};
use crate::policy::{
    AuthScheme, Decision, PolicyRuntime, RequestFacts, Settings, TokenFacts, TokenRules,
};

/// `tokengate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
    /// A stored token's id (its lines, IP rules, user and expiry are used).
    #[arg(long, conflicts_with = "limit_to")]
    pub token_id: Option<String>,
    /// Restriction lines to try instead of a stored token's.
    #[arg(long)]
    pub limit_to: Option<String>,
    /// IP rules to try with --limit-to.
    #[arg(long, default_value = "")]
    pub ip: String,
    /// The user presenting the token (default: the token's user, or `user`).
    #[arg(long)]
    pub user: Option<String>,
    /// Present the token as Bearer instead of Basic.
    #[arg(long)]
    pub bearer: bool,
    /// The client address.
    #[arg(long, default_value = "127.0.0.1")]
    pub client_ip: String,
    /// A request body (for [JsonData::…] conditions).
    #[arg(long)]
    pub body: Option<String>,
    /// Scope setting of the gateway.
    #[arg(long, env = env::SCOPE, value_enum, default_value_t = default::SCOPE)]
    pub scope: ScopeSetting,
    /// Public base used when URL is only a path (default: the one `serve` derives
    /// from its default listen address).
    #[arg(long, env = env::PUBLIC_BASE,
          default_value_t = crate::config::derived_public_base(default::LISTEN, false))]
    pub public_base: String,
    /// HTTP method, e.g. GET.
    pub method: String,
    /// URL (https://host/path?query) or path (/rest/...).
    pub url: String,
}

/// Splits a URL into public base and origin-form target.
fn split_url(url: &str, default_base: &str) -> (String, String) {
    for scheme in ["https://", "http://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let cut = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, target) = rest.split_at(cut);
            let target = if target.starts_with('/') {
                target.to_owned()
            } else {
                format!("/{target}")
            };
            return (format!("{scheme}{authority}"), target);
        }
    }
    (
        default_base.trim_end_matches('/').to_owned(),
        url.to_owned(),
    )
}

/// Explains the decision.
pub(super) async fn run(args: CheckArgs) -> Result<()> {
    let policy = PolicyRuntime::new()?;
    let (rules, token_facts) = match (&args.token_id, &args.limit_to) {
        (Some(id), _) => {
            let store = open_store(&args.data).await?;
            let row = store
                .get(id)
                .await?
                .with_context(|| format!("no token with id {id}"))?;
            if row.revoked.is_some() {
                eprintln!(
                    "note: token {id} is revoked; the gateway refuses it whatever the lines say"
                );
            }
            let token = row.token;
            (
                TokenRules {
                    id: token.id.clone(),
                    limit_to: token.limit_to.clone(),
                    ip: token.ip.clone(),
                },
                TokenFacts {
                    user: token.user.clone(),
                    valid_until: token.valid_until,
                    valid_from: token.life.valid_from,
                },
            )
        }
        (None, Some(limit_to)) => {
            let mut session = policy.session()?;
            if let Err(error) = session.check(limit_to, &args.ip)? {
                bail!(
                    "the lines are not valid:\n  {}",
                    admin::compile_messages(&error).join("\n  ")
                );
            }
            (
                TokenRules {
                    id: "check".into(),
                    limit_to: limit_to.clone(),
                    ip: args.ip.clone(),
                },
                TokenFacts {
                    user: args.user.clone(),
                    valid_until: None,
                    valid_from: None,
                },
            )
        }
        (None, None) => bail!("give --token-id ID or --limit-to LINES"),
    };
    let (base, target) = split_url(&args.url, &args.public_base);
    let mut session = policy.session()?;
    let canonical = match session.canonicalize(&target, &base)? {
        Ok(canonical) => canonical,
        Err(refusal) => {
            println!(
                "refused target ({}): {}",
                refusal.reason.as_str(),
                refusal.detail
            );
            std::process::exit(1);
        }
    };
    let user = args
        .user
        .clone()
        .or_else(|| token_facts.user.clone())
        .unwrap_or_else(|| "user".into());
    let request = RequestFacts {
        scheme: if args.bearer {
            AuthScheme::Bearer
        } else {
            AuthScheme::Basic
        },
        presented_user: (!args.bearer).then_some(user),
        method: args.method.to_ascii_uppercase(),
        target: canonical.clone(),
        body: args.body.clone(),
        client_ip: args.client_ip.clone(),
        now_ms: crate::now_ms(),
    };
    println!("{} {}", request.method, canonical.url);
    for line in session.explain(&rules, &request)? {
        let method = match line.method {
            None => "any",
            Some(true) => "yes",
            Some(false) => "no",
        };
        println!(
            "  line {}: {}\n    method: {method}, url: {}{}  => {}",
            line.line,
            line.text,
            if line.url { "yes" } else { "no" },
            line.conditions
                .iter()
                .map(|c| format!(", {}: {}", c.text, if c.matched { "yes" } else { "no" }))
                .collect::<String>(),
            if line.matched { "matches" } else { "no match" }
        );
    }
    let settings = Settings {
        scope: args.scope.to_native().into(),
    };
    match session.decide(&rules, &token_facts, &request, settings)? {
        Decision::Allow(allowed) => {
            match allowed.line {
                Some(line) => println!("allow: line {line}, as user {}", allowed.user),
                None => println!("allow: the token has no lines, as user {}", allowed.user),
            }
            Ok(())
        }
        Decision::Deny(denied) => {
            println!("deny: {} ({})", denied.reason.as_str(), denied.detail);
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_base_and_target() {
        assert_eq!(
            split_url("https://wiki.example.com/rest/api?x=1", "http://b"),
            ("https://wiki.example.com".into(), "/rest/api?x=1".into())
        );
        assert_eq!(
            split_url("/rest/api", "http://b/"),
            ("http://b".into(), "/rest/api".into())
        );
    }
}

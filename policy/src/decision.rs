//! The decision on one request: method, expiry, user binding, IP, scope, restriction lines.
//! The first check that fails names the reason; an allowed request says who it runs as.

use crate::condition::Inputs;
use crate::facts::{AuthScheme, RequestFacts, Settings, TokenFacts};
use crate::ip::IpRefusal;
use crate::methods::{self, REST_METHODS};
use crate::rules::Rules;
use crate::user_name::check_user_name;

/// Machine-readable reasons for a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The method is not one REST APIs use, in HTTP's exact case
    /// ([`is_rest_method`](crate::methods::is_rest_method)).
    MethodNotAllowed,
    /// `now >= valid_until`.
    Expired,
    /// `now < valid_from`.
    NotYetValid,
    /// Basic credential with an empty user name.
    MissingUser,
    /// The presented user name (Basic) or the token's user (Bearer) breaks the rule of
    /// [`check_user_name`](crate::user_name::check_user_name).
    BadUserName,
    /// The presented user is not the token's user.
    UserMismatch,
    /// Bearer needs a token bound to a user.
    BearerNeedsUser,
    /// The client address is unparsable, excluded or not included.
    IpNotAllowed,
    /// The path is outside the gateway's scope.
    OutOfScope,
    /// The token has restriction lines and none matched.
    NoMatchingRule,
}

impl DenyReason {
    /// The kebab-case name used in vectors and audit records, e.g. `no-matching-rule`.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::MethodNotAllowed => "method-not-allowed",
            DenyReason::Expired => "expired",
            DenyReason::NotYetValid => "not-yet-valid",
            DenyReason::MissingUser => "missing-user",
            DenyReason::BadUserName => "bad-user-name",
            DenyReason::UserMismatch => "user-mismatch",
            DenyReason::BearerNeedsUser => "bearer-needs-user",
            DenyReason::IpNotAllowed => "ip-not-allowed",
            DenyReason::OutOfScope => "out-of-scope",
            DenyReason::NoMatchingRule => "no-matching-rule",
        }
    }
}

/// The request may proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// The user the request runs as upstream.
    pub user: String,
    /// The line that admitted it; `None` when the token has no lines.
    pub line: Option<u32>,
}

/// The request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Why.
    pub reason: DenyReason,
    /// A sentence for administrators and the audit log; never shown to the client.
    pub detail: String,
}

/// The outcome of [`Rules::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The request may proceed.
    Allow(Allowed),
    /// The request is refused.
    Deny(Denied),
}

fn deny(reason: DenyReason, detail: impl Into<String>) -> Decision {
    Decision::Deny(Denied {
        reason,
        detail: detail.into(),
    })
}

impl Rules {
    /// The decision, in order: method, expiry, user binding, IP, scope, lines.
    ///
    /// Method first: a method no REST API uses is refused whatever the credentials, as hosts
    /// refuse it for requests without a token, so the answer says nothing about the token.
    ///
    /// User binding: Bearer needs a bound token and runs as its user; Basic needs a
    /// non-empty user name, which must equal a bound token's user exactly (case-sensitive)
    /// and is the user an unbound token runs as. A token bound to the empty name counts as
    /// unbound. The user a request would run as (and a presented Basic name) must pass
    /// [`check_user_name`].
    ///
    /// Details never repeat the presented user name: a client that swaps user and token
    /// presents the token there, and the detail goes to the audit log.
    pub fn decide(
        &self,
        token: &TokenFacts,
        request: &RequestFacts,
        settings: &Settings,
    ) -> Decision {
        if !methods::is_rest_method(&request.method) {
            return deny(
                DenyReason::MethodNotAllowed,
                format!(
                    "the method {:?} is not one REST APIs use ({})",
                    method_for_detail(&request.method),
                    REST_METHODS.join(" ")
                ),
            );
        }
        if let Some(valid_from) = token.valid_from
            && request.now_ms < valid_from
        {
            return deny(
                DenyReason::NotYetValid,
                format!(
                    "the token is valid from {valid_from} (now {})",
                    request.now_ms
                ),
            );
        }
        if let Some(valid_until) = token.valid_until
            && request.now_ms >= valid_until
        {
            return deny(
                DenyReason::Expired,
                format!(
                    "the token expired at {valid_until} (now {})",
                    request.now_ms
                ),
            );
        }
        let bound = token.user.as_deref().filter(|u| !u.is_empty());
        let user = match (request.scheme, bound) {
            (AuthScheme::Bearer, None) => {
                return deny(
                    DenyReason::BearerNeedsUser,
                    "a Bearer token must be bound to a user",
                );
            }
            (AuthScheme::Bearer, Some(user)) => {
                if let Err(rule) = check_user_name(user) {
                    return deny(
                        DenyReason::BadUserName,
                        format!("the token's user name breaks the rule: {rule}"),
                    );
                }
                user
            }
            (AuthScheme::Basic, bound) => {
                let presented = request.presented_user.as_deref().unwrap_or("");
                if presented.is_empty() {
                    return deny(
                        DenyReason::MissingUser,
                        "the Basic credential has no user name",
                    );
                }
                if let Err(rule) = check_user_name(presented) {
                    return deny(
                        DenyReason::BadUserName,
                        format!("the presented user name breaks the rule: {rule}"),
                    );
                }
                if let Some(user) = bound
                    && user != presented
                {
                    return deny(
                        DenyReason::UserMismatch,
                        format!("the token is bound to \"{user}\", not to the presented user"),
                    );
                }
                presented
            }
        };
        if let Err(refusal) = self.ip.check(&request.client_ip) {
            let why = match refusal {
                IpRefusal::Unparsable => "is not an IP address",
                IpRefusal::Excluded => "is excluded by the token's ip rules",
                IpRefusal::NotIncluded => "is not in the token's ip rules",
            };
            return deny(
                DenyReason::IpNotAllowed,
                format!("the client address \"{}\" {why}", request.client_ip),
            );
        }
        let prefix = settings.scope.prefix();
        if !request.target.path.starts_with(prefix) {
            return deny(
                DenyReason::OutOfScope,
                format!("the path \"{}\" is outside {prefix}", request.target.path),
            );
        }
        if self.rules.is_empty() {
            return Decision::Allow(Allowed {
                user: user.to_string(),
                line: None,
            });
        }
        let mut inputs = Inputs::new(
            &request.target.query_pairs,
            request.body.as_deref(),
            &self.json_paths,
            self.condition_bytes,
        );
        let url = &request.target.url;
        let url_matches = self.url_set.as_ref().map(|set| set.matching(url));
        let admitting = self.rules.iter().enumerate().find(|(index, rule)| {
            rule.method_holds(&request.method).unwrap_or(true)
                && url_matches
                    .as_ref()
                    .map_or_else(|| rule.url.matches(url), |m| m.matched(*index))
                && rule.conditions_hold(&mut inputs)
        });
        match admitting.map(|(_, rule)| rule) {
            Some(rule) => Decision::Allow(Allowed {
                user: user.to_string(),
                line: Some(rule.number),
            }),
            None => {
                let mut detail = format!("no restriction line matches {} {url}", request.method);
                if let Some(unread) = inputs.unread {
                    detail.push_str("; ");
                    detail.push_str(&unread);
                }
                deny(DenyReason::NoMatchingRule, detail)
            }
        }
    }
}

/// A method for a detail: methods are not secrets (the audit record holds the method), but
/// one that no REST API uses may be anything, so only its start is kept.
fn method_for_detail(method: &str) -> String {
    const KEPT: usize = 24;
    match method.char_indices().nth(KEPT) {
        Some((cut, _)) => format!("{}…", &method[..cut]),
        None => method.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Scope;
    use crate::target::canonicalize;

    fn request(scheme: AuthScheme, user: Option<&str>, method: &str, target: &str) -> RequestFacts {
        let target = match canonicalize(target, "https://wiki.example.com") {
            Ok(t) => t,
            Err(e) => panic!("{target}: {e}"),
        };
        RequestFacts {
            scheme,
            presented_user: user.map(String::from),
            method: method.to_string(),
            target,
            body: None,
            client_ip: "192.0.2.10".to_string(),
            now_ms: 100,
        }
    }

    fn rules(limit_to: &str) -> Rules {
        match Rules::compile(limit_to, "") {
            Ok(r) => r,
            Err(e) => panic!("{limit_to}: {e}"),
        }
    }

    fn outcome(decision: Decision) -> String {
        match decision {
            Decision::Allow(a) => format!("allow {} {:?}", a.user, a.line),
            Decision::Deny(d) => format!("deny {}", d.reason.as_str()),
        }
    }

    #[test]
    fn a_token_bound_to_the_empty_name_is_unbound() {
        let token = TokenFacts {
            user: Some(String::new()),
            valid_until: None,
            valid_from: None,
        };
        let r = rules("");
        let basic = request(AuthScheme::Basic, Some("bob"), "GET", "/rest/api");
        let bearer = request(AuthScheme::Bearer, None, "GET", "/rest/api");
        assert_eq!(
            outcome(r.decide(&token, &basic, &Settings::default())),
            "allow bob None"
        );
        assert_eq!(
            outcome(r.decide(&token, &bearer, &Settings::default())),
            "deny bearer-needs-user"
        );
    }

    #[test]
    fn the_url_set_and_the_lines_agree() {
        // The set runs when there are several lines; explain runs each line alone.
        let r = rules(
            "[get].*/rest/api/a.*\n\n[post].*/rest/api/b[QueryParam::x==1]\n.*/rest/api/b\n.*",
        );
        assert!(r.url_set.is_some());
        let token = TokenFacts::default();
        let settings = Settings { scope: Scope::Rest };
        for (method, target, expected) in [
            ("GET", "/rest/api/a1", "allow u Some(1)"),
            ("POST", "/rest/api/a1", "allow u Some(5)"),
            ("POST", "/rest/api/b?x=1", "allow u Some(3)"),
            ("POST", "/rest/api/b?x=2", "allow u Some(4)"),
        ] {
            let req = request(AuthScheme::Basic, Some("u"), method, target);
            assert_eq!(
                outcome(r.decide(&token, &req, &settings)),
                expected,
                "{method} {target}"
            );
            let first = r
                .explain(&req)
                .into_iter()
                .find(|c| c.matched)
                .map(|c| c.line);
            assert_eq!(format!("allow u {first:?}"), expected);
        }
    }

    fn detail(decision: Decision) -> String {
        match decision {
            Decision::Allow(a) => panic!("allowed: {a:?}"),
            Decision::Deny(d) => format!("{}: {}", d.reason.as_str(), d.detail),
        }
    }

    #[test]
    fn details_never_repeat_the_presented_user() {
        // A client that swaps user and token presents the token as the user name.
        let swapped = "tgk_0123456789abcdefghijklmnopqrstuvwxyz";
        let bound = TokenFacts {
            user: Some("alice".to_string()),
            valid_until: None,
            valid_from: None,
        };
        let r = rules("");
        for (token, presented) in [
            (&bound, swapped.to_string()),
            (&bound, format!("{swapped} ")),
            (&TokenFacts::default(), format!("{swapped}\r")),
            (&TokenFacts::default(), format!(" {swapped}")),
        ] {
            let req = request(AuthScheme::Basic, Some(&presented), "GET", "/rest/api");
            let text = detail(r.decide(token, &req, &Settings::default()));
            assert!(!text.contains("tgk_"), "{text}");
            assert!(
                text.starts_with("user-mismatch") || text.starts_with("bad-user-name"),
                "{text}"
            );
        }
        let req = request(AuthScheme::Basic, Some(swapped), "GET", "/rest/api");
        let text = detail(r.decide(&bound, &req, &Settings::default()));
        assert!(
            text.contains("\"alice\""),
            "the bound user may be named: {text}"
        );
    }

    #[test]
    fn bad_user_names_say_which_rule() {
        let r = rules("");
        let req = request(AuthScheme::Basic, Some("bob\u{0}"), "GET", "/rest/api");
        let text = detail(r.decide(&TokenFacts::default(), &req, &Settings::default()));
        assert!(text.contains("control characters"), "{text}");
        let token = TokenFacts {
            user: Some("admin ".to_string()),
            valid_until: None,
            valid_from: None,
        };
        let req = request(AuthScheme::Bearer, None, "GET", "/rest/api");
        let text = detail(r.decide(&token, &req, &Settings::default()));
        assert!(text.starts_with("bad-user-name"), "{text}");
        assert!(text.contains("whitespace"), "{text}");
    }

    #[test]
    fn a_refused_method_is_named_briefly() {
        let r = rules("");
        let long = "X".repeat(100);
        for (method, shown) in [
            ("TRACE", "\"TRACE\""),
            (&long, "\"XXXXXXXXXXXXXXXXXXXXXXXX…\""),
        ] {
            let req = request(AuthScheme::Basic, Some("u"), method, "/rest/api");
            let text = detail(r.decide(&TokenFacts::default(), &req, &Settings::default()));
            assert!(text.starts_with("method-not-allowed"), "{text}");
            assert!(text.contains(shown), "{text}");
        }
    }

    #[test]
    fn an_unread_condition_is_named_in_the_detail() {
        let r = rules(".*/rest/api/content[QueryParam::q==a*]");
        let many = vec!["q=s3cret"; 17].join("&");
        let long = format!("q=s3cret{}", "a".repeat(1100));
        for (query, why) in [(many, "17 values"), (long, "1106 bytes, over the 1024")] {
            let target = format!("/rest/api/content?{query}");
            let req = request(AuthScheme::Basic, Some("u"), "GET", &target);
            let text = detail(r.decide(&TokenFacts::default(), &req, &Settings::default()));
            assert!(text.starts_with("no-matching-rule"), "{text}");
            assert!(
                text.contains("[QueryParam::q==a*] was not checked"),
                "{text}"
            );
            assert!(text.contains(why), "{text}");
            assert!(
                !text.contains("s3cret"),
                "values are never repeated: {text}"
            );
        }
        // A condition that simply fails adds nothing.
        let req = request(AuthScheme::Basic, Some("u"), "GET", "/rest/api/content?q=b");
        let text = detail(r.decide(&TokenFacts::default(), &req, &Settings::default()));
        assert!(!text.contains("not checked"), "{text}");
    }
}

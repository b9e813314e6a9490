//! tokengate's policy as a WebAssembly component: the `decide` interface of `wit/policy.wit`.
//! The only crate that generates guest bindings; it converts between them and the library.
#![cfg(target_arch = "wasm32")]

/// The generated bindings; their glue code needs `unsafe`, which stays in here.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit/policy.wit", world: "policy" });

    use super::Component;
    export!(Component with_types_in self);
}

use bindings::exports::tokengate::policy::decide as wit;
use tokengate_policy as policy;

/// The exported component.
struct Component;

/// A compiled token, owned by the `rules` resource handle.
struct Rules(policy::Rules);

impl wit::Guest for Component {
    type Rules = Rules;

    fn validate_limit_to(text: String) -> Vec<wit::Problem> {
        problems(policy::validate_limit_to(&text))
    }

    fn validate_ip(text: String) -> Vec<wit::Problem> {
        problems(policy::validate_ip(&text))
    }

    fn canonicalize(
        target: String,
        public_base: String,
    ) -> Result<wit::CanonicalTarget, wit::TargetError> {
        policy::canonicalize(&target, &public_base)
            .map(to_wit_target)
            .map_err(to_wit_target_error)
    }
}

impl wit::GuestRules for Rules {
    fn compile(limit_to: String, ip: String) -> Result<wit::Rules, wit::CompileError> {
        policy::Rules::compile(&limit_to, &ip)
            .map(|rules| wit::Rules::new(Rules(rules)))
            .map_err(|e| wit::CompileError {
                limit_to: problems(e.limit_to),
                ip: problems(e.ip),
            })
    }

    fn lines(&self) -> Vec<String> {
        self.0.lines().into_iter().map(String::from).collect()
    }

    fn needs_body(&self) -> bool {
        self.0.needs_body()
    }

    fn decide(
        &self,
        token: wit::TokenFacts,
        request: wit::RequestFacts,
        settings: wit::Settings,
    ) -> wit::Decision {
        to_wit_decision(self.0.decide(
            &from_wit_token(token),
            &from_wit_request(request),
            &from_wit_settings(settings),
        ))
    }

    fn admit(
        &self,
        token: wit::TokenFacts,
        request: wit::RawRequest,
        settings: wit::Settings,
        public_base: String,
    ) -> Result<wit::Admission, wit::TargetError> {
        let request = policy::RawRequest {
            scheme: from_wit_scheme(request.scheme),
            presented_user: request.presented_user,
            method: request.method,
            target: request.target,
            body: request.body,
            client_ip: request.client_ip,
            now_ms: request.now_ms,
        };
        self.0
            .admit(
                &from_wit_token(token),
                request,
                &from_wit_settings(settings),
                &public_base,
            )
            .map(|admission| wit::Admission {
                path: admission.path,
                query: admission.query,
                decision: to_wit_decision(admission.decision),
            })
            .map_err(to_wit_target_error)
    }

    fn explain(&self, request: wit::RequestFacts) -> Vec<wit::LineCheck> {
        self.0
            .explain(&from_wit_request(request))
            .into_iter()
            .map(|c| wit::LineCheck {
                line: c.line,
                text: c.text,
                method: c.method,
                url: c.url,
                conditions: c
                    .conditions
                    .into_iter()
                    .map(|c| wit::ConditionCheck {
                        text: c.text,
                        matched: c.matched,
                    })
                    .collect(),
                matched: c.matched,
            })
            .collect()
    }
}

fn problems(list: Vec<policy::Problem>) -> Vec<wit::Problem> {
    list.into_iter()
        .map(|p| wit::Problem {
            line: p.line,
            message: p.message,
        })
        .collect()
}

fn to_wit_target(t: policy::CanonicalTarget) -> wit::CanonicalTarget {
    wit::CanonicalTarget {
        path: t.path,
        query: t.query,
        query_pairs: t.query_pairs,
        url: t.url,
    }
}

fn to_wit_target_error(e: policy::TargetError) -> wit::TargetError {
    wit::TargetError {
        reason: target_refusal(e.reason),
        detail: e.detail,
    }
}

fn from_wit_token(token: wit::TokenFacts) -> policy::TokenFacts {
    policy::TokenFacts {
        user: token.user,
        valid_until: token.valid_until,
        valid_from: token.valid_from,
    }
}

fn from_wit_settings(settings: wit::Settings) -> policy::Settings {
    policy::Settings {
        scope: match settings.scope {
            wit::Scope::Rest => policy::Scope::Rest,
            wit::Scope::Extender => policy::Scope::Extender,
        },
    }
}

fn from_wit_scheme(scheme: wit::AuthScheme) -> policy::AuthScheme {
    match scheme {
        wit::AuthScheme::Basic => policy::AuthScheme::Basic,
        wit::AuthScheme::Bearer => policy::AuthScheme::Bearer,
    }
}

fn to_wit_decision(decision: policy::Decision) -> wit::Decision {
    match decision {
        policy::Decision::Allow(a) => wit::Decision::Allow(wit::Allowed {
            user: a.user,
            line: a.line,
        }),
        policy::Decision::Deny(d) => wit::Decision::Deny(wit::Denied {
            reason: deny_reason(d.reason),
            detail: d.detail,
        }),
    }
}

fn from_wit_request(r: wit::RequestFacts) -> policy::RequestFacts {
    policy::RequestFacts {
        scheme: from_wit_scheme(r.scheme),
        presented_user: r.presented_user,
        method: r.method,
        target: policy::CanonicalTarget {
            path: r.target.path,
            query: r.target.query,
            query_pairs: r.target.query_pairs,
            url: r.target.url,
        },
        body: r.body,
        client_ip: r.client_ip,
        now_ms: r.now_ms,
    }
}

fn target_refusal(r: policy::TargetRefusal) -> wit::TargetRefusal {
    use policy::TargetRefusal as P;
    use wit::TargetRefusal as W;
    match r {
        P::NotOriginForm => W::NotOriginForm,
        P::NonAscii => W::NonAscii,
        P::BadEscape => W::BadEscape,
        P::EncodedSlash => W::EncodedSlash,
        P::Backslash => W::Backslash,
        P::EncodedDotSegment => W::EncodedDotSegment,
        P::AboveRoot => W::AboveRoot,
        P::PathParameter => W::PathParameter,
        P::EmptySegment => W::EmptySegment,
        P::TooLong => W::TooLong,
    }
}

fn deny_reason(r: policy::DenyReason) -> wit::DenyReason {
    use policy::DenyReason as P;
    use wit::DenyReason as W;
    match r {
        P::MethodNotAllowed => W::MethodNotAllowed,
        P::Expired => W::Expired,
        P::NotYetValid => W::NotYetValid,
        P::MissingUser => W::MissingUser,
        P::BadUserName => W::BadUserName,
        P::UserMismatch => W::UserMismatch,
        P::BearerNeedsUser => W::BearerNeedsUser,
        P::IpNotAllowed => W::IpNotAllowed,
        P::OutOfScope => W::OutOfScope,
        P::NoMatchingRule => W::NoMatchingRule,
    }
}

//! One step for hosts: canonicalise the raw target, then decide on it. A host makes one
//! call per request instead of two, and forwards exactly the target the decision saw.

use crate::decision::Decision;
use crate::facts::{AuthScheme, RequestFacts, Settings, TokenFacts};
use crate::rules::Rules;
use crate::target::{TargetError, canonicalize};

/// What a host knows about a request before canonicalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// How the token was presented.
    pub scheme: AuthScheme,
    /// The user name of a Basic credential; `None` for Bearer.
    pub presented_user: Option<String>,
    /// The HTTP method as sent.
    pub method: String,
    /// The request target as received (`/path?query`).
    pub target: String,
    /// The request body when the token has JSON conditions and the body was read.
    pub body: Option<String>,
    /// The client address (IPv4 or IPv6 text) as the host resolved it.
    pub client_ip: String,
    /// Now, in epoch milliseconds.
    pub now_ms: i64,
}

/// The checked target and the decision on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The canonical path: what is matched and what is forwarded.
    pub path: String,
    /// The canonical query as forwarded, without `?`; `None` when the target had none.
    pub query: Option<String>,
    /// The decision.
    pub decision: Decision,
}

impl Admission {
    /// The path and query a host forwards: exactly the checked ones.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }
}

impl Rules {
    /// Canonicalises `request.target` under `public_base`, then decides: what
    /// [`canonicalize`] and [`Rules::decide`] give one after the other.
    pub fn admit(
        &self,
        token: &TokenFacts,
        request: RawRequest,
        settings: &Settings,
        public_base: &str,
    ) -> Result<Admission, TargetError> {
        let target = canonicalize(&request.target, public_base)?;
        let facts = RequestFacts {
            scheme: request.scheme,
            presented_user: request.presented_user,
            method: request.method,
            target,
            body: request.body,
            client_ip: request.client_ip,
            now_ms: request.now_ms,
        };
        let decision = self.decide(token, &facts, settings);
        let RequestFacts { target, .. } = facts;
        Ok(Admission {
            path: target.path,
            query: target.query,
            decision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileError, Scope};

    #[test]
    fn admit_is_canonicalise_then_decide() -> Result<(), CompileError> {
        let rules = Rules::compile("[get].*/rest/api/space/A", "")?;
        let token = TokenFacts {
            user: Some("alice".into()),
            valid_until: None,
            valid_from: None,
        };
        let request = RawRequest {
            scheme: AuthScheme::Basic,
            presented_user: Some("alice".into()),
            method: "GET".into(),
            target: "/rest/api/x/../space/%41?b=%2f".into(),
            body: None,
            client_ip: "192.0.2.1".into(),
            now_ms: 0,
        };
        let settings = Settings { scope: Scope::Rest };
        let admitted = rules.admit(&token, request.clone(), &settings, "https://h");
        let Ok(admission) = admitted else {
            panic!("a canonical target: {admitted:?}");
        };
        assert_eq!(admission.path_and_query(), "/rest/api/space/A?b=%2F");
        assert!(matches!(admission.decision, Decision::Allow(_)));
        let refused = rules.admit(
            &token,
            RawRequest {
                target: "/rest/%2e%2e/x".into(),
                ..request
            },
            &settings,
            "https://h",
        );
        assert!(refused.is_err());
        Ok(())
    }
}

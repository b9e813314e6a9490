//! Which canonical paths are the admin API's: every spelling Extender itself would route
//! to `tokenTools` belongs to the gateway, and none of them is ever forwarded as a user.
//!
//! Extender's resources sit under `/rest/extender/{version}/tokenTools`, where the version
//! may be `1.0` or `latest` and a REST framework may fold case or ignore a trailing `/`.

/// The seed's admin paths.
pub const ADMIN_PREFIX: &str = "/rest/extender/1.0/tokenTools/";

/// An admin API endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `tokenTools/get`: list tokens.
    Get,
    /// `tokenTools/set`: create a token.
    Set,
    /// `tokenTools/delete`: revoke a token.
    Delete,
    /// `tokenTools/audit`: query the audit log.
    Audit,
    /// `tokenTools/rotate`: replace a token's value, keeping its settings.
    Rotate,
}

impl Endpoint {
    /// The endpoint's name, as in the path.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Set => "set",
            Self::Delete => "delete",
            Self::Audit => "audit",
            Self::Rotate => "rotate",
        }
    }
}

/// A path in the admin API's namespace: an endpoint, or a spelling the gateway answers
/// with 404 itself.
pub type AdminPath = Option<Endpoint>;

/// `Some` when `path` (canonical) lies in the admin namespace: `/rest/extender/<any
/// version>/tokentools[/…]`, `tokenTools` in any case. The inner value is the endpoint
/// when the path names one exactly (`1.0` or `latest`, one optional trailing `/`).
pub fn admin_path(path: &str) -> Option<AdminPath> {
    let rest = path.strip_prefix("/rest/extender/")?;
    let (version, rest) = rest.split_once('/')?;
    let (tools, tail) = match rest.split_once('/') {
        Some((tools, tail)) => (tools, Some(tail)),
        None => (rest, None),
    };
    if !tools.eq_ignore_ascii_case("tokentools") {
        return None;
    }
    let exact = matches!(version, "1.0" | "latest") && tools == "tokenTools";
    let name = tail.map(|tail| tail.strip_suffix('/').unwrap_or(tail));
    let endpoint = match name {
        Some("get") => Some(Endpoint::Get),
        Some("set") => Some(Endpoint::Set),
        Some("delete") => Some(Endpoint::Delete),
        Some("audit") => Some(Endpoint::Audit),
        Some("rotate") => Some(Endpoint::Rotate),
        _ => None,
    };
    Some(endpoint.filter(|_| exact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_token_tools_is_the_gateways() {
        assert_eq!(
            admin_path("/rest/extender/1.0/tokenTools/get"),
            Some(Some(Endpoint::Get))
        );
        assert_eq!(
            admin_path("/rest/extender/latest/tokenTools/set/"),
            Some(Some(Endpoint::Set))
        );
        for alias in [
            "/rest/extender/1.0/tokenTools",
            "/rest/extender/1.0/tokenTools/",
            "/rest/extender/1.0/TOKENTOOLS/get",
            "/rest/extender/2.0/tokenTools/get",
            "/rest/extender/1.0/tokenTools/get/x",
            "/rest/extender/1.0/tokentools/delete",
        ] {
            assert_eq!(admin_path(alias), Some(None), "{alias}");
        }
        for other in [
            "/rest/extender/1.0/other/get",
            "/rest/extender/tokenTools",
            "/rest/api/tokenTools/get",
        ] {
            assert_eq!(admin_path(other), None, "{other}");
        }
    }
}

//! Which client headers never reach the upstream: twins of the headers a host sets itself
//! (`X_Forwarded_User` beside `X-Forwarded-User`), and cookies of token requests.
//!
//! CGI-style upstreams (WSGI, PHP-FPM, several frameworks) read `-` and `_` as one
//! character and ignore case, so a twin would be read as the header the host set.

/// Headers a host sets on every forwarded request (besides the identity header), lower case.
pub const SET_BY_HOST: [&str; 5] = [
    "authorization",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

/// Whether the client header `name` must be dropped: it is, once `_` is read as `-` and
/// case is ignored, the identity header or a header in [`SET_BY_HOST`], but not spelled
/// as that header (the host removes or replaces the header itself).
pub fn is_twin(name: &str, identity_header: &str) -> bool {
    if !name.contains('_') {
        return false;
    }
    let same = |owned: &str| {
        name.len() == owned.len()
            && name
                .bytes()
                .zip(owned.bytes())
                .all(|(a, b)| fold(a) == fold(b))
    };
    same(identity_header) || SET_BY_HOST.iter().any(|owned| same(owned))
}

fn fold(byte: u8) -> u8 {
    match byte {
        b'_' => b'-',
        other => other.to_ascii_lowercase(),
    }
}

/// The request header that carries cookies.
pub const COOKIE: &str = "cookie";
/// The response header that sets cookies.
pub const SET_COOKIE: &str = "set-cookie";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_are_found_in_any_case() {
        for twin in [
            "X_Forwarded_User",
            "x_forwarded-user",
            "X-FORWARDED_USER",
            "X_Forwarded_For",
            "x_forwarded_host",
        ] {
            assert!(is_twin(twin, "x-forwarded-user"), "{twin}");
        }
        for other in [
            "X-Forwarded-User",
            "x_custom",
            "X_Forwarded_Users",
            "authorization",
        ] {
            assert!(!is_twin(other, "x-forwarded-user"), "{other}");
        }
    }
}

//! The HTTP methods REST APIs use, compared as HTTP defines methods: case-sensitively.
//! The decision refuses any other method, and hosts ask the same list for tokenless requests.

/// The methods a REST API uses, in the exact case HTTP defines them (RFC 9110 §9.1: method
/// names are case-sensitive). Method tags name these; every other method is refused.
pub const REST_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Whether `method`, as sent, is one of [`REST_METHODS`], exactly.
///
/// `get` and `gEt` are not `GET`: a server may read them as `GET` or as unknown methods, so
/// they are refused rather than guessed at. `CONNECT`, `TRACE` and WebDAV methods are
/// refused too: no REST API needs them and a proxy should not forward them.
pub fn is_rest_method(method: &str) -> bool {
    REST_METHODS.contains(&method)
}

/// The method named by `word` of a method tag (`[get,post]`): tag names are written in any
/// case and mean the method of that name.
pub(crate) fn tag_method(word: &str) -> Option<&'static str> {
    REST_METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_names_are_rest_methods() {
        for method in REST_METHODS {
            assert!(is_rest_method(method));
        }
        for method in [
            "get", "gEt", "Post", "CONNECT", "TRACE", "PROPFIND", "", "GET ",
        ] {
            assert!(!is_rest_method(method), "{method:?}");
        }
    }

    #[test]
    fn tag_words_name_methods_in_any_case() {
        assert_eq!(tag_method("gEt"), Some("GET"));
        assert_eq!(tag_method("options"), Some("OPTIONS"));
        assert_eq!(tag_method("trace"), None);
    }
}

//! The methods REST APIs use: a token request with any other method is refused, and
//! hosts refuse them for requests without a token too.

/// The methods REST APIs use, as HTTP spells them (methods are case-sensitive).
pub const REST_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Whether `method` is one REST APIs use (`CONNECT`, `TRACE` and `get` are not).
pub fn is_rest_method(method: &str) -> bool {
    REST_METHODS.contains(&method)
}

//! Token values on the gateway's side: generating them and their ids from the OS CSPRNG.
//! Their format, checksum and keyed digest are the shared core's (`tokengate_core`).

pub use tokengate_core::key::{Digest, KEY_LEN, ServerKey, digests_equal};
use tokengate_core::token_value::{BASE62, RANDOM_CHARS, assemble};
pub use tokengate_core::token_value::{
    GENERATED_LEN, PREFIX, ValueError, claims_generated, generated_well_formed, hint,
};

/// Characters of a token id.
const ID_CHARS: usize = 20;
/// The prefix of a filter credential (`tokengate filter credential create`), so secret
/// scanners and people tell it from a token.
pub const CREDENTIAL_PREFIX: &str = "tgf_";
/// Random base62 characters of a filter credential: 40 × log2(62) ≈ 238 bits.
const CREDENTIAL_CHARS: usize = 40;

/// Why a token value cannot be had.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The OS random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// A caller-chosen value that cannot be used.
    #[error(transparent)]
    Chosen(#[from] ValueError),
}

/// Random bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], TokenError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| TokenError::Random(err.to_string()))?;
    Ok(bytes)
}

/// `n` uniformly random base62 characters (rejection sampling: no modulo bias).
fn random_base62(n: usize) -> Result<String, TokenError> {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in random_bytes::<64>()? {
            // 248 = 4 × 62: bytes at or above it would bias the low characters.
            if byte < 248 && out.len() < n {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}

/// A new generated token.
pub fn generate() -> Result<String, TokenError> {
    Ok(assemble(&random_base62(RANDOM_CHARS)?))
}

/// A new filter credential.
pub fn generate_credential() -> Result<String, TokenError> {
    Ok(format!(
        "{CREDENTIAL_PREFIX}{}",
        random_base62(CREDENTIAL_CHARS)?
    ))
}

/// A new opaque token id (not a secret; never resembles a token).
pub fn new_id() -> Result<String, TokenError> {
    random_base62(ID_CHARS)
}

/// Checks a token value chosen by the caller of `set`.
pub fn validate_chosen(value: &str) -> Result<(), TokenError> {
    Ok(tokengate_core::token_value::validate_chosen(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_prefix_length_and_checksum() -> Result<(), TokenError> {
        let token = generate()?;
        assert_eq!(token.len(), GENERATED_LEN);
        assert!(generated_well_formed(&token));
        let mut broken = token.into_bytes();
        broken[10] = if broken[10] == b'a' { b'b' } else { b'a' };
        assert!(!generated_well_formed(&String::from_utf8_lossy(&broken)));
        Ok(())
    }

    #[test]
    fn digest_depends_on_key() {
        let a = ServerKey::new([1; KEY_LEN]).digest("token");
        let b = ServerKey::new([2; KEY_LEN]).digest("token");
        assert!(!digests_equal(&a, &b));
        assert!(digests_equal(
            &a,
            &ServerKey::new([1; KEY_LEN]).digest("token")
        ));
    }
}

//! The server key: token digests (HMAC-SHA256 under it) and the key id that ties a
//! database or a filter export to its key. Only digests of tokens are ever stored.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Length of the server key (the gateway's `server.key`), bytes.
pub const KEY_LEN: usize = 32;

/// What the key id is the HMAC of. It starts with a NUL byte, which no token value can
/// contain, so the key id is never the digest of a token.
pub const KEY_ID_INPUT: &str = "\u{0}tokengate key id";

/// Bytes of that HMAC shown as the key id (hex): enough to tell keys apart, too few to
/// matter as a digest.
pub const KEY_ID_BYTES: usize = 8;

/// What a fingerprint's HMAC starts with: a NUL byte, so that no fingerprint is the
/// digest of a token.
const FINGERPRINT_INPUT: &str = "\u{0}fingerprint\u{0}";
/// Bytes of a fingerprint.
const FINGERPRINT_BYTES: usize = 6;

/// An HMAC-SHA256 digest.
pub type Digest = [u8; 32];

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 64 hex characters.
    #[error("the key must be {} hex characters (the {KEY_LEN} bytes of the gateway's server.key), found {found} characters", KEY_LEN * 2)]
    Malformed {
        /// Characters found (after trimming white space).
        found: usize,
    },
}

/// The server key.
#[derive(Clone)]
pub struct ServerKey([u8; KEY_LEN]);

impl ServerKey {
    /// Wraps key bytes (the gateway's key file).
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads the key from its hex text (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let malformed = || KeyError::Malformed {
            found: text.chars().count(),
        };
        let bytes = hex::decode(text).map_err(|_| malformed())?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Self(bytes))
    }

    /// The keyed digest of `value`: computed for every presented token, malformed or
    /// not, so that failures take similar time.
    pub fn digest(&self, value: &str) -> Digest {
        // HMAC takes keys of any length: this cannot fail for a 32-byte key.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else {
            return [0; 32];
        };
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A short keyed hash of `text` (12 hex characters): lets the audit log tell two
    /// values apart, or match one an administrator already knows, without holding it.
    pub fn fingerprint(&self, text: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(FINGERPRINT_INPUT.as_bytes());
        mac.update(text.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..FINGERPRINT_BYTES])
    }

    /// The key id: the first [`KEY_ID_BYTES`] of the digest of [`KEY_ID_INPUT`], in hex.
    pub fn id(&self) -> String {
        hex::encode(&self.digest(KEY_ID_INPUT)[..KEY_ID_BYTES])
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// Constant-time digest comparison.
pub fn digests_equal(a: &Digest, b: &Digest) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn keys_are_64_hex_characters() {
        assert!(ServerKey::from_hex(&format!(" {KEY}\n")).is_ok());
        assert_eq!(
            ServerKey::from_hex("abcd").err(),
            Some(KeyError::Malformed { found: 4 })
        );
        assert!(ServerKey::from_hex(&KEY.replace('0', "g")).is_err());
    }

    #[test]
    fn the_key_id_is_short_and_not_a_token_digest() -> Result<(), KeyError> {
        let key = ServerKey::from_hex(KEY)?;
        assert_eq!(key.id().len(), KEY_ID_BYTES * 2);
        assert_eq!(
            key.id(),
            hex::encode(&key.digest(KEY_ID_INPUT)[..KEY_ID_BYTES])
        );
        assert!(!format!("{key:?}").contains("0001"));
        Ok(())
    }
}

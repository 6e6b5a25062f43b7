//! Bearer tokens: 256 random bits from the operating system, shown once, stored only as their
//! SHA-256 hash (issue 3, point 1).

use sha2::{Digest, Sha256};

/// Prefix that makes a saferplaces token recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "spt_";

/// A token could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The operating system's random source failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// A new random token: the prefix and 64 lower-case hex digits (256 bits).
pub fn new_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// The lower-case hex SHA-256 of `token`, as stored.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A short, non-secret identifier of a token for audit records: the first 12 hex digits of
/// its hash (S16 `auth_token_id`).
pub fn token_id(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert!(
            a[TOKEN_PREFIX.len()..]
                .bytes()
                .all(|c| c.is_ascii_hexdigit())
        );
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token_id(&token_hash("abc")), "ba7816bf8f01");
    }
}

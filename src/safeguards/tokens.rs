//! Bearer tokens: 256 random bits from the operating system, shown once, stored only as their
//! SHA-256 hash (issue 3, point 1). Every token has a lifetime (default 30 days, at most a year)
//! and can be revoked; the `Bearer` scheme is matched case-insensitively (RFC 9110 §11.1)
//! (issue 12, point 8).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::policy::TokenProblem;
use crate::domain::User;

/// Lifetime of a token when none is given: 30 days.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_hours(30 * 24);
/// Longest lifetime a token may be given: 365 days.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_hours(365 * 24);

/// Prefix that makes a saferplaces token recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "spt_";

/// A token could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The operating system's random source failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// A lifetime such as `30d` could not be read or is out of range.
    #[error("token lifetime {given:?}: {reason}")]
    Lifetime {
        /// The text given.
        given: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Reads a token lifetime: a positive whole number followed by `d` (days), `h` (hours), `m`
/// (minutes) or `s` (seconds), e.g. `30d`, `12h`, `90m`; at most [`MAX_TOKEN_LIFETIME`].
///
/// # Errors
///
/// [`TokenError::Lifetime`] for anything else (no unit, zero, negative, too long).
pub fn parse_lifetime(text: &str) -> Result<Duration, TokenError> {
    let err = |reason| TokenError::Lifetime {
        given: text.to_owned(),
        reason,
    };
    let t = text.trim();
    let unit_at = t
        .char_indices()
        .last()
        .map(|(i, _)| i)
        .ok_or_else(|| err("empty; give e.g. 30d, 12h or 90m"))?;
    let (number, unit) = t.split_at(unit_at);
    let seconds_per_unit: u64 = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(err("the unit must be d, h, m or s, e.g. 30d")),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("expected a whole number before the unit, e.g. 30d"));
    }
    let n: u64 = number.parse().map_err(|_| err("the number is too large"))?;
    let seconds = n
        .checked_mul(seconds_per_unit)
        .ok_or_else(|| err("the number is too large"))?;
    let lifetime = Duration::from_secs(seconds);
    if lifetime.is_zero() {
        return Err(err("a token must live for more than zero time"));
    }
    if lifetime > MAX_TOKEN_LIFETIME {
        return Err(err("longer than the 365-day maximum"));
    }
    Ok(lifetime)
}

/// The token in an `Authorization` header value when its scheme is `Bearer`, in any case
/// (`bearer`, `BEARER`), followed by whitespace and a non-empty token; `None` otherwise.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, rest) = header_value.trim().split_once([' ', '\t'])?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Now as Unix seconds (UTC); a clock before 1970 reads as 0.
pub fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The Unix second at which a token issued at `now_s` with `lifetime` expires.
pub fn expires_at(now_s: u64, lifetime: Duration) -> u64 {
    now_s.saturating_add(lifetime.as_secs())
}

/// Why `user`'s token is not accepted at `now_s` (Unix seconds), if it is not: revoked first,
/// then expired (the token stops being accepted at its expiry second).
pub fn token_problem(user: &User, now_s: u64) -> Option<TokenProblem> {
    if user.token_revoked_at.is_some() {
        Some(TokenProblem::Revoked)
    } else if now_s >= user.token_expires_at {
        Some(TokenProblem::Expired)
    } else {
        None
    }
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
    fn lifetimes_are_read_in_days_hours_minutes_and_seconds() {
        assert_eq!(parse_lifetime("30d").unwrap(), DEFAULT_TOKEN_LIFETIME);
        assert_eq!(parse_lifetime("12h").unwrap(), Duration::from_hours(12));
        assert_eq!(parse_lifetime("90m").unwrap(), Duration::from_mins(90));
        assert_eq!(parse_lifetime(" 5s ").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_lifetime("365d").unwrap(), MAX_TOKEN_LIFETIME);
        for bad in [
            "",
            "d",
            "30",
            "0d",
            "-1d",
            "1.5h",
            "30x",
            "366d",
            "99999999999999999999d",
            "3 d",
            "1é",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for header in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "BeArEr  abc ",
            "Bearer\tabc",
        ] {
            assert_eq!(bearer_token(header), Some("abc"), "{header:?}");
        }
        for header in [
            "Basic abc",
            "Bearer",
            "Bearer   ",
            "Bearerabc",
            "",
            "Token abc",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    #[test]
    fn a_token_is_refused_once_expired_or_revoked() {
        let mut user = User {
            id: 1,
            name: "u".to_owned(),
            role: crate::domain::Role::Planner,
            org: None,
            panels: vec![],
            token_expires_at: 1_000,
            token_revoked_at: None,
        };
        assert_eq!(token_problem(&user, 999), None);
        assert_eq!(token_problem(&user, 1_000), Some(TokenProblem::Expired));
        user.token_revoked_at = Some(500);
        assert_eq!(token_problem(&user, 600), Some(TokenProblem::Revoked));
        assert_eq!(expires_at(10, Duration::from_secs(5)), 15);
        assert_eq!(expires_at(u64::MAX, MAX_TOKEN_LIFETIME), u64::MAX);
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

//! Agent passwords, session tokens, and the identities host sites sign for the widget.
//!
//! Owns: the password hash format (PHC strings, argon2id with the crate's default
//! parameters) and a verification that takes as long for an unknown agent as for a wrong
//! password, so that a login attempt does not reveal which agent names exist; and the
//! session (resume) tokens: 256 random bits, given to the client once and stored only as a
//! SHA-256 hash, with how long each kind stays valid when unused.
//! Must not: store anything (see `store`), or run on the async runtime's threads: hashing
//! is deliberately slow, so callers use `spawn_blocking`.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

use app::protocol::{Problem, HOST_IDENTITY_MAX_SECS};

/// Shortest password an account may have (the command line's `agent add`, the Team panel,
/// the first run's setup page).
pub const MIN_PASSWORD_CHARS: usize = app::protocol::PASSWORD_MIN_CHARS;

/// A new password long enough, or the problem to tell the person.
pub fn check_new_password(password: &str) -> Result<(), Problem> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Problem::PasswordTooShort);
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Hashes a new password as an argon2id PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if check_new_password(password).is_err() {
        return Err(AuthError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// True when `password` matches `stored`. With no stored hash (no such agent) it checks
/// against a fixed dummy hash and returns false, taking the same time.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no agent has this password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    let (hash, exists) = match stored {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let ok = match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash cannot be parsed");
            false
        }
    };
    ok && exists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("correct horsE", Some(&hash)));
        assert!(!verify_password("", Some(&hash)));
    }

    #[test]
    fn unknown_agents_and_broken_hashes_never_verify() {
        assert!(!verify_password("no agent has this password", None));
        assert!(!verify_password("anything", Some("not a phc string")));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash_password("short"), Err(AuthError::TooShort)));
    }
}

/// A customer's resume token lapses after this long unused: a customer who comes back
/// within three months finds their conversation.
pub const CUSTOMER_SESSION_IDLE_MS: u64 = 90 * 24 * 3600 * 1000;
/// An agent's session lapses after this long unused (a reload keeps it alive).
pub const AGENT_SESSION_IDLE_MS: u64 = 12 * 3600 * 1000;
/// Both, as the store checks a session against the limit of its kind.
pub const SESSION_IDLE: crate::store::IdleLimits = crate::store::IdleLimits {
    customer_ms: CUSTOMER_SESSION_IDLE_MS,
    agent_ms: AGENT_SESSION_IDLE_MS,
};
/// Tokens are 43 characters; anything much longer is not one of ours.
const TOKEN_MAX_LEN: usize = 128;

/// A new session token and the hash to store for it.
pub fn new_token() -> Result<(String, String), AuthError> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| AuthError::Hash(format!("no randomness: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token).expect("a token made here has the right length");
    Ok((token, hash))
}

/// A new id for an uploaded file: 128 random bits in hex.
pub fn new_attachment_id() -> Result<app::protocol::AttachmentId, AuthError> {
    let mut bytes = [0u8; 16];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| AuthError::Hash(format!("no randomness: {e}")))?;
    app::protocol::AttachmentId::parse(&hex::encode(bytes))
        .map_err(|_| AuthError::Hash("a new attachment id is not one".into()))
}

/// The stored form of a token a client presented; `None` for something that cannot be a
/// token (too long), which callers treat like an unknown token.
pub fn token_hash(token: &str) -> Option<String> {
    if token.len() > TOKEN_MAX_LEN {
        return None;
    }
    Some(hex::encode(Sha256::digest(token.as_bytes())))
}

/// A host site's user as it signs them for the widget.
#[derive(Clone, Copy, Debug)]
pub struct HostUser<'a> {
    /// Their id on the site.
    pub id: &'a str,
    /// Their name, as the login gives it (trimmed).
    pub name: &'a str,
    /// Seconds since the epoch.
    pub expires: u64,
    /// The exact JSON text of what the site says about them besides, if anything.
    pub attributes: Option<&'a str>,
}

/// Whether `sig` (hex) is the host site's signature of its `user`: HMAC-SHA256 under the
/// widget secret of the id, a newline, the name, a newline and the expiry in decimal, and
/// when there are attributes, a newline and their text. Compared in constant time. (Whether
/// it has expired is the caller's question: see [`host_identity_expiry`].)
pub fn host_identity_signed(secret: &[u8], user: HostUser<'_>, sig: &str) -> bool {
    use hmac::Mac;
    let Ok(sig) = hex::decode(sig) else { return false };
    host_identity_mac(secret, user).verify_slice(&sig).is_ok()
}

/// What a host site computes for [`host_identity_signed`] (for tests and examples).
pub fn sign_host_identity(secret: &[u8], user: HostUser<'_>) -> String {
    use hmac::Mac;
    hex::encode(host_identity_mac(secret, user).finalize().into_bytes())
}

/// Whether a signature good until `expires` (seconds) is to be taken at `now_ms`: not once
/// expired, nor when it claims longer than [`HOST_IDENTITY_MAX_SECS`] ahead.
pub fn host_identity_expiry(expires: u64, now_ms: u64) -> Result<(), Problem> {
    let now = now_ms / 1000;
    if expires < now {
        Err(Problem::IdentityExpired)
    } else if expires - now > HOST_IDENTITY_MAX_SECS {
        Err(Problem::IdentityExpiresTooLate)
    } else {
        Ok(())
    }
}

/// The MAC of a host site's user, before it is finished or compared.
fn host_identity_mac(secret: &[u8], user: HostUser<'_>) -> hmac::Hmac<Sha256> {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(user.id.as_bytes());
    mac.update(b"\n");
    mac.update(user.name.as_bytes());
    mac.update(b"\n");
    mac.update(user.expires.to_string().as_bytes());
    if let Some(attributes) = user.attributes {
        mac.update(b"\n");
        mac.update(attributes.as_bytes());
    }
    mac
}

#[cfg(test)]
mod host_identity_tests {
    use super::*;

    #[test]
    fn only_the_secret_signs_a_host_identity() {
        let t = 1_800_000_000;
        let user = |id, name, expires| HostUser { id, name, expires, attributes: None };
        let sig = sign_host_identity(b"shared secret", user("user-42", "Ann", t));
        assert_eq!(sig.len(), 64);
        assert!(host_identity_signed(b"shared secret", user("user-42", "Ann", t), &sig));
        assert!(host_identity_signed(
            b"shared secret",
            user("user-42", "Ann", t),
            &sig.to_uppercase()
        ));
        let signed = |key: &[u8], id, name, expires, sig: &str| {
            host_identity_signed(key, user(id, name, expires), sig)
        };
        assert!(!signed(b"another secret", "user-42", "Ann", t, &sig), "another key");
        assert!(!signed(b"shared secret", "user-43", "Ann", t, &sig), "another user");
        assert!(!signed(b"shared secret", "user-42", "Bob", t, &sig), "another name");
        assert!(!signed(b"shared secret", "user-42", "Ann", t + 1, &sig), "a later expiry");
        assert!(!signed(b"shared secret", "user-42\nAnn", "", t, &sig), "the newline separates");
        assert!(!signed(b"shared secret", "user-42", "Ann", t, &sig[..62]), "cut short");
        assert!(!signed(b"shared secret", "user-42", "Ann", t, "zz"), "not hex");
        // Attributes are signed too: added, changed or dropped, the signature fails.
        let plan = |attributes| HostUser { attributes, ..user("user-42", "Ann", t) };
        let with = sign_host_identity(b"shared secret", plan(Some(r#"{"plan":"pro"}"#)));
        assert!(host_identity_signed(b"shared secret", plan(Some(r#"{"plan":"pro"}"#)), &with));
        assert!(!host_identity_signed(b"shared secret", plan(Some(r#"{"plan":"max"}"#)), &with));
        assert!(!host_identity_signed(b"shared secret", plan(None), &with), "dropped");
        assert!(
            !host_identity_signed(b"shared secret", plan(Some(r#"{"plan":"pro"}"#)), &sig),
            "added"
        );
    }

    #[test]
    fn a_host_identity_is_good_until_it_expires_and_for_a_day_at_most() {
        let now_ms = 1_800_000_000_000;
        let now = now_ms / 1000;
        assert_eq!(host_identity_expiry(now, now_ms), Ok(()));
        assert_eq!(host_identity_expiry(now + HOST_IDENTITY_MAX_SECS, now_ms), Ok(()));
        assert_eq!(host_identity_expiry(now - 1, now_ms), Err(Problem::IdentityExpired));
        assert_eq!(
            host_identity_expiry(now + HOST_IDENTITY_MAX_SECS + 1, now_ms),
            Err(Problem::IdentityExpiresTooLate)
        );
        assert_eq!(host_identity_expiry(u64::MAX, now_ms), Err(Problem::IdentityExpiresTooLate));
    }
}

//! Password hashing: argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1), computed on
//! the blocking pool so a burst of logins never stalls the async runtime.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;

const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing task was cancelled")]
    Cancelled,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
    .map_err(|_| PasswordError::Cancelled)?
}

/// A hash of a random password, verified against when the account does not exist, so that an
/// unknown username costs the same time as a wrong password and timing reveals nothing.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).expect("the OS random source works");
    argon2().hash_password(&random).expect("hashing a random password works").to_string()
});

/// Check a password against a stored hash (or against nothing, at the same cost). Returns false
/// for a malformed stored hash rather than failing: the user just cannot log in with it.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let (stored, real) = match &stored {
            Some(s) => (s.as_str(), true),
            None => (DUMMY_HASH.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(stored) else { return false };
        // Parameters come from the stored hash, so older hashes still verify after a change.
        let ok = argon2().verify_password(password.as_bytes(), &parsed).is_ok();
        ok && real
    })
    .await
    .map_err(|_| PasswordError::Cancelled)
}

/// Whether the password is on the list of common passwords (or trivially derived from the
/// username), which attackers try first.
pub fn is_common(password: &str, username: &str) -> bool {
    let lower = password.to_lowercase();
    lower == username
        || passwords::analyzer::is_common_password(password)
        || passwords::analyzer::is_common_password(&lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let hashed = hash("correct horse battery".into()).await.unwrap();
        assert!(hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hashed}");
        assert!(verify("correct horse battery".into(), Some(hashed.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(hashed)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
        assert!(!verify("anything".into(), Some("not a phc string".into())).await.unwrap());
    }

    #[test]
    fn common_passwords_are_recognised() {
        for common in ["password", "12345678", "qwertyuiop", "Password1", "iloveyou"] {
            assert!(is_common(common, "ada"), "{common} should count as common");
        }
        assert!(is_common("ada.lovelace", "ada.lovelace"));
        assert!(!is_common("violet-anchor-trombone", "ada"));
    }
}

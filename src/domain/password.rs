//! Password and username rules, and argon2id hashing kept off the async runtime.

use std::sync::Arc;

use argon2::password_hash::SaltString;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

use crate::api::{PASSWORD_CHARS, USERNAME_CHARS};

/// Length only, counted in characters (ASVS 6.2): no composition rules and no truncation, so a
/// long passphrase in any script is accepted as typed.
pub fn check_password(password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if !PASSWORD_CHARS.contains(&chars) {
        return Err(AppError::invalid_input(format!(
            "The password must be {} to {} characters long.",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )));
    }
    Ok(())
}

/// Letters of any script, digits, `_`, `-` and `.`; 3 to 32 characters. Returns the name trimmed.
pub fn check_username(username: &str) -> AppResult<&str> {
    let name = username.trim();
    let chars = name.chars().count();
    if !USERNAME_CHARS.contains(&chars) {
        return Err(AppError::invalid_input(format!(
            "The username must be {} to {} characters long.",
            USERNAME_CHARS.start(),
            USERNAME_CHARS.end()
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(AppError::invalid_input(
            "The username may contain letters, digits, '_', '-' and '.' only.",
        ));
    }
    Ok(name)
}

/// argon2id with OWASP's parameters (m=19456 KiB, t=2, p=1). Each hash takes ~20 MiB and tens of
/// milliseconds of one core, so hashing runs on the blocking pool behind a semaphore: a burst of
/// sign-ins queues here instead of starving request handling or eating memory.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so both failures cost the same time.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(AppError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
    let hash = argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(AppError::internal)?;
    Ok(hash.to_string())
}

impl PasswordHasher {
    /// `concurrency` of 0 means one less than the number of cores (at least one), which keeps a
    /// core free for everything else during a sign-in flood.
    pub fn new(concurrency: usize) -> Self {
        let concurrency = match concurrency {
            0 => {
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
            }
            n => n,
        };
        let dummy_hash = hash_blocking("not the password of anyone").expect("hashing works");
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            dummy_hash: dummy_hash.into(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(AppError::internal)
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash_blocking(&password)).await?
    }

    /// `stored` is `None` for an unknown user: the dummy hash is checked instead, and `false` returned.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<bool> {
        let user_exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .run(move || {
                PasswordHash::new(&stored)
                    .map(|parsed| {
                        argon2()
                            .verify_password(password.as_bytes(), &parsed)
                            .is_ok()
                    })
                    .unwrap_or(false)
            })
            .await?;
        Ok(user_exists && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_length_is_counted_in_characters_not_bytes() {
        assert!(check_password("密码密码密码密码").is_ok()); // 8 characters, 24 bytes
        assert!(check_password("short12").is_err());
        assert!(check_password(&"x".repeat(128)).is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn password_has_no_composition_rules() {
        assert!(check_password("aaaaaaaa").is_ok());
        assert!(check_password("correct horse battery staple").is_ok());
    }

    #[test]
    fn usernames_allow_any_script_but_no_spaces_or_symbols() {
        assert_eq!(check_username("  alice ").unwrap(), "alice");
        assert!(check_username("张三丰").is_ok());
        assert!(check_username("ab").is_err());
        assert!(check_username(&"a".repeat(33)).is_err());
        assert!(check_username("al ice").is_err());
        assert!(check_username("<script>").is_err());
    }

    #[tokio::test]
    async fn hash_verifies_only_the_right_password_and_every_hash_is_salted() {
        let hasher = PasswordHasher::new(1);
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert_ne!(hash, hasher.hash("correct horse".into()).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_user_never_verifies_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new(1);
        assert!(
            !hasher
                .verify("not the password of anyone".into(), None)
                .await
                .unwrap()
        );
    }
}

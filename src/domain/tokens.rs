//! Access tokens (HS256 JWTs naming a session row) and opaque secrets (refresh tokens, QR ids and
//! poll secrets), which the server stores only as SHA-256 hashes.

use crate::error::{AppError, AppResult};
use crate::proto::{SessionId, UserId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `typ` claim of an access token. Refresh tokens are not JWTs at all, and any JWT whose type
/// is not this one is refused, so neither kind of token can stand in for the other.
pub const ACCESS_TOKEN_TYPE: &str = "access";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: UserId,
    /// The session id: the row checked on every request.
    pub jti: SessionId,
    pub iat: i64,
    /// Not valid before (RFC 7519 §4.1.5): the issue time.
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub typ: String,
}

/// Signs and verifies access tokens with one pinned algorithm and one key.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl: Duration,
}

impl TokenKeys {
    /// `secret` must hold at least 256 bits (RFC 8725 §3.5).
    pub fn new(
        secret: &[u8],
        issuer: &str,
        audience: &str,
        access_ttl: Duration,
    ) -> Result<Self, String> {
        if secret.len() < 32 {
            return Err("the JWT secret (SESAME_JWT_SECRET) must be at least 32 bytes".into());
        }
        // Only HS256 is accepted, whatever the token's header claims (no "none", no RS/HS confusion).
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        validation.validate_nbf = true;
        // The same server issues and checks these tokens, so there is no clock skew to forgive.
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl,
        })
    }

    pub fn issue_access(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> AppResult<String> {
        let claims = AccessClaims {
            sub: user_id,
            jti: session_id,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            typ: ACCESS_TOKEN_TYPE.to_owned(),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with the server key. Used by `issue_access`, and by tests to forge
    /// tokens that are correctly signed but wrong in some other way.
    pub fn sign<T: Serialize>(&self, claims: &T) -> AppResult<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// Checks signature, algorithm, expiry, issuer, audience and type. The session row is checked
    /// separately (`domain::sessions::authenticate`).
    pub fn verify_access(&self, token: &str) -> AppResult<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AppError::token_expired(),
                _ => AppError::unauthorized(),
            })?;
        if data.claims.typ != ACCESS_TOKEN_TYPE {
            return Err(AppError::unauthorized());
        }
        Ok(data.claims)
    }
}

/// A fresh random secret: `bytes` from the OS CSPRNG, base64url without padding.
pub fn random_secret(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the OS random number generator works");
    URL_SAFE_NO_PAD.encode(buffer)
}

/// Refresh tokens and poll secrets carry 256 random bits, so a plain SHA-256 is enough to store
/// them: there is nothing to brute-force, unlike a password.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new refresh token (256 bits) and the hash to store.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let token = random_secret(32);
    let hash = hash_secret(&token);
    (token, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], "sesame", "sesame", Duration::minutes(15)).unwrap()
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(TokenKeys::new(&[7u8; 31], "sesame", "sesame", Duration::minutes(15)).is_err());
    }

    #[test]
    fn issued_token_verifies_with_all_claims() {
        let keys = keys();
        let (user, session) = (UserId::random(), SessionId::random());
        let claims = keys
            .verify_access(&keys.issue_access(user, session, Utc::now()).unwrap())
            .unwrap();
        assert_eq!(
            (claims.sub, claims.jti, claims.typ.as_str()),
            (user, session, "access")
        );
        assert_eq!(claims.exp - claims.iat, 15 * 60);
    }

    #[test]
    fn token_signed_with_another_key_is_rejected() {
        let other = TokenKeys::new(&[8u8; 32], "sesame", "sesame", Duration::minutes(15)).unwrap();
        let token = other
            .issue_access(UserId::random(), SessionId::random(), Utc::now())
            .unwrap();
        assert_eq!(
            keys().verify_access(&token).unwrap_err().code,
            crate::error::ErrorCode::Unauthorized
        );
    }

    #[test]
    fn a_well_signed_token_whose_nbf_lies_ahead_is_rejected() {
        let keys = keys();
        let token = keys
            .issue_access(UserId::random(), SessionId::random(), Utc::now())
            .unwrap();
        let mut claims = keys.verify_access(&token).unwrap();
        claims.nbf = Utc::now().timestamp() + 60;
        assert_eq!(
            keys.verify_access(&keys.sign(&claims).unwrap())
                .unwrap_err()
                .code,
            crate::error::ErrorCode::Unauthorized
        );
        // And one without nbf at all is refused too.
        let mut bare = serde_json::to_value(&claims).unwrap();
        bare.as_object_mut().unwrap().remove("nbf");
        assert!(keys.verify_access(&keys.sign(&bare).unwrap()).is_err());
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43); // 32 bytes in base64url
        assert_eq!(hash_secret(&a), hash_a);
    }
}

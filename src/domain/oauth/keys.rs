//! The ES256 keys that sign what apps receive (ID tokens, access tokens, logout tokens), and the
//! JWKS that publishes their public halves. Keys live in PostgreSQL, so every instance signs with
//! the same current key; each instance keeps what it read for a few seconds, so a token check
//! does not read the table. `sesame keys rotate` adds a key and makes it current: a superseded
//! key stays published until every token it signed has expired (the longest lives
//! `access_token_ttl`), then leaves the JWKS.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgPool;

use crate::db::signing_keys::{self, KeyRow};
use crate::error::{AppError, AppResult};

/// How long an instance trusts what it read: after a rotation, another instance signs with the
/// old key for at most this long, which is harmless (it is still published).
const REREAD_AFTER: Duration = Duration::from_secs(10);

/// One ES256 key pair as used here.
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    x: String,
    y: String,
}

/// The keys an instance signs and verifies with, read from the database now and then.
pub struct KeyRing {
    db: PgPool,
    /// Published for this long after being superseded.
    keep_published: Duration,
    cache: RwLock<Option<(Instant, Arc<Keys>)>>,
}

/// The current key first, then the superseded ones still published.
struct Keys(Vec<Key>);

impl KeyRing {
    pub fn new(db: PgPool, keep_published: Duration) -> Self {
        Self {
            db,
            keep_published,
            cache: RwLock::new(None),
        }
    }

    async fn keys(&self) -> AppResult<Arc<Keys>> {
        if let Some((read_at, keys)) = &*self.cache.read().expect("key cache lock")
            && read_at.elapsed() < REREAD_AFTER
        {
            return Ok(keys.clone());
        }
        self.reread().await
    }

    async fn reread(&self) -> AppResult<Arc<Keys>> {
        let mut rows = signing_keys::published(&self.db, self.keep_published).await?;
        if rows.is_empty() {
            // The very first start (or a database whose keys were all deleted): make one.
            create_key(&self.db).await?;
            rows = signing_keys::published(&self.db, self.keep_published).await?;
        }
        let keys = Arc::new(Keys(
            rows.into_iter()
                .map(Key::from_row)
                .collect::<AppResult<_>>()?,
        ));
        *self.cache.write().expect("key cache lock") = Some((Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// Signs `claims` with the current key; `typ` goes into the header (`JWT`, `at+jwt`,
    /// `logout+jwt`).
    pub async fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> AppResult<String> {
        let keys = self.keys().await?;
        let key = keys
            .0
            .first()
            .ok_or_else(|| AppError::internal("no signing key"))?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(AppError::internal)
    }

    /// Verifies a token this server signed: ES256 only (whatever the header says), a published
    /// key named by `kid`, the header `typ`, and `validation`'s claims. `None` for anything
    /// else; the caller decides what that means.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        validation: &Validation,
    ) -> AppResult<Option<T>> {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(None);
        };
        if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(typ) {
            return Ok(None);
        }
        let Some(kid) = header.kid else {
            return Ok(None);
        };
        let mut keys = self.keys().await?;
        if !keys.0.iter().any(|key| key.kid == kid) {
            // Perhaps signed a moment ago by another instance with a key newer than our copy.
            keys = self.reread().await?;
        }
        let Some(key) = keys.0.iter().find(|key| key.kid == kid) else {
            return Ok(None);
        };
        Ok(jsonwebtoken::decode::<T>(token, &key.decoding, validation)
            .ok()
            .map(|data| data.claims))
    }

    /// The public keys, as `GET /oauth/jwks` sends them (RFC 7517). Read fresh, so a key made by
    /// `keys rotate` is published before any instance signs with it.
    pub async fn jwks(&self) -> AppResult<serde_json::Value> {
        let keys = self.reread().await?;
        let keys: Vec<_> = keys
            .0
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": key.x,
                    "y": key.y,
                    "kid": key.kid,
                    "use": "sig",
                    "alg": "ES256",
                })
            })
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }
}

impl Key {
    fn from_row(row: KeyRow) -> AppResult<Self> {
        let decoding = DecodingKey::from_ec_components(&row.public_x, &row.public_y)
            .map_err(AppError::internal)?;
        Ok(Self {
            kid: row.kid,
            encoding: EncodingKey::from_ec_der(&row.private_der),
            decoding,
            x: row.public_x,
            y: row.public_y,
        })
    }
}

/// Makes a new key pair and stores it as the current key (the previous current one is marked
/// superseded now). Returns its `kid`.
pub async fn create_key(db: &PgPool) -> AppResult<String> {
    let secret = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(AppError::internal)?;
        // Fails only for 0 or a value at least the curve order: about 2^-32 of draws.
        if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
            break secret;
        }
    };
    let private_der = secret.to_pkcs8_der().map_err(AppError::internal)?;
    let point = secret.public_key().to_sec1_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(AppError::internal("a public key without coordinates"));
    };
    let kid = crate::domain::tokens::random_secret(12);
    let row = KeyRow {
        kid: kid.clone(),
        private_der: private_der.as_bytes().to_vec(),
        public_x: URL_SAFE_NO_PAD.encode(x),
        public_y: URL_SAFE_NO_PAD.encode(y),
    };
    signing_keys::insert_current(db, &row).await?;
    Ok(kid)
}

/// The claims checks every token of ours gets: the issuer, `exp` without leeway (the same server
/// issues and checks), and the audience when the caller names one.
pub fn validation(issuer: &str, audience: Option<&[&str]>) -> Validation {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    match audience {
        Some(audience) => validation.set_audience(audience),
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
    validation.leeway = 0;
    validation
}

//! The apps registered to sign people in through Sesame ("clients"), and how a client proves who it
//! is at the token endpoint: `client_secret_basic`, `client_secret_post`, or `none` for a public
//! client (RFC 6749 §2.3).

use sqlx::PgPool;

use crate::db::oauth_clients::{self, ClientRow};
use crate::domain::tokens::{hash_secret, random_secret};
use crate::error::{AppError, AppResult};

pub type Client = ClientRow;

/// The grants a client may be registered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    DeviceCode,
}

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

impl Grant {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::DeviceCode => DEVICE_CODE_GRANT,
        }
    }

    /// The name on the command line and in the token request (`device_code` is accepted for the
    /// long URN).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "device_code" | DEVICE_CODE_GRANT => Some(Self::DeviceCode),
            _ => None,
        }
    }
}

impl ClientRow {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows(&self, grant: Grant) -> bool {
        self.grant_types.iter().any(|g| g == grant.as_str())
    }
}

/// What `sesame client add` asks for.
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// Empty: `authorization_code` and `refresh_token`.
    pub grants: Vec<Grant>,
    pub backchannel_logout_uri: Option<String>,
}

/// The answer of `sesame client add`; the secret is shown this once and stored only hashed.
#[derive(Debug, serde::Serialize)]
pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
}

pub async fn register(db: &PgPool, new: NewClient) -> AppResult<Registered> {
    let id_ok = (1..=64).contains(&new.id.len())
        && new
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    if !id_ok {
        return Err(AppError::invalid_input(
            "The client id must be 1-64 of the characters A-Z a-z 0-9 . _ ~ -.",
        ));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::invalid_input(
            "The client name must be 1-64 characters.",
        ));
    }
    let grants = if new.grants.is_empty() {
        vec![Grant::AuthorizationCode, Grant::RefreshToken]
    } else {
        new.grants
    };
    let needs_redirect = grants.contains(&Grant::AuthorizationCode);
    if needs_redirect && new.redirect_uris.is_empty() {
        return Err(AppError::invalid_input(
            "A client of the authorization_code grant needs at least one --redirect-uri.",
        ));
    }
    for uri in &new.redirect_uris {
        check_redirect_uri(uri)?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        let parsed = url::Url::parse(uri)
            .map_err(|_| AppError::invalid_input(format!("{uri} is not an absolute URL.")))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.fragment().is_some() {
            return Err(AppError::invalid_input(
                "The back-channel logout URI must be an http(s) URL without a fragment.",
            ));
        }
    }
    let secret = (!new.public).then(|| random_secret(32));
    let row = ClientRow {
        id: new.id.clone(),
        name: name.to_owned(),
        secret_hash: secret.as_deref().map(hash_secret),
        redirect_uris: new.redirect_uris,
        grant_types: grants.iter().map(|g| g.as_str().to_owned()).collect(),
        backchannel_logout_uri: new.backchannel_logout_uri,
    };
    if !oauth_clients::insert(db, &row).await? {
        return Err(AppError::invalid_input(format!(
            "A client with the id {} exists already.",
            new.id
        )));
    }
    Ok(Registered {
        client_id: new.id,
        client_secret: secret,
    })
}

/// A redirect URI is compared exactly, so it must be an absolute URI without a fragment
/// (RFC 6749 §3.1.2). Plain `http` only to this machine (a native app's loopback listener,
/// RFC 8252 §7.3, or development): elsewhere codes would cross the network readable.
fn check_redirect_uri(uri: &str) -> AppResult<()> {
    let parsed = url::Url::parse(uri)
        .map_err(|_| AppError::invalid_input(format!("{uri} is not an absolute URI.")))?;
    if parsed.fragment().is_some() {
        return Err(AppError::invalid_input(
            "A redirect URI may not have a fragment (#...).",
        ));
    }
    if parsed.scheme() == "http" {
        let loopback = match parsed.host() {
            Some(url::Host::Domain(name)) => name == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if !loopback {
            return Err(AppError::invalid_input(
                "A redirect URI must use https (plain http only to localhost or a loopback address).",
            ));
        }
    }
    Ok(())
}

/// Replaces a confidential client's secret and returns the new one.
pub async fn rotate_secret(db: &PgPool, id: &str) -> AppResult<Registered> {
    let secret = random_secret(32);
    if !oauth_clients::set_secret_hash(db, id, &hash_secret(&secret)).await? {
        return Err(AppError::invalid_input(format!(
            "No confidential client with the id {id}."
        )));
    }
    Ok(Registered {
        client_id: id.to_owned(),
        client_secret: Some(secret),
    })
}

/// How a request to the token, introspection or revocation endpoint names its client.
#[derive(Debug, Default)]
pub struct ClientCredentials {
    pub id: Option<String>,
    pub secret: Option<String>,
}

/// The client the credentials prove. A confidential client must show its secret; a public client
/// must not claim one. Every failure is the same `invalid_client`, whatever was wrong.
pub async fn authenticate(db: &PgPool, credentials: &ClientCredentials) -> AppResult<Client> {
    let id = credentials
        .id
        .as_deref()
        .ok_or_else(AppError::invalid_client)?;
    let client = oauth_clients::find(db, id)
        .await?
        .ok_or_else(AppError::invalid_client)?;
    let proven = match (&client.secret_hash, &credentials.secret) {
        (Some(stored), Some(secret)) => constant_time_eq(stored, &hash_secret(secret)),
        (None, None) => true,
        _ => false,
    };
    if proven {
        Ok(client)
    } else {
        Err(AppError::invalid_client())
    }
}

/// Equal without an early exit, so the time taken says nothing about where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_absolute_without_fragment_and_plain_http_only_to_loopback() {
        assert!(check_redirect_uri("https://notes.example/callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("com.example.notes:/callback").is_ok());
        assert!(check_redirect_uri("http://notes.example/callback").is_err());
        assert!(check_redirect_uri("https://notes.example/cb#x").is_err());
        assert!(check_redirect_uri("/callback").is_err());
    }

    #[test]
    fn grants_parse_by_short_and_long_name() {
        assert_eq!(Grant::parse("device_code"), Some(Grant::DeviceCode));
        assert_eq!(Grant::parse(DEVICE_CODE_GRANT), Some(Grant::DeviceCode));
        assert_eq!(Grant::parse("password"), None);
    }
}
